"""Bad input through the CLI: one `Error: FILE:LINE: ...` line, exit 1, nothing written lost."""

from __future__ import annotations

import errno
import json
import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from memcollab_cli import jsonl
from memcollab_cli.cli import common
from memcollab_cli.cli.main import app
from memcollab_cli.runtime.scripted import ScriptedModel

BANK = Path(__file__).parent / "data" / "tiny_bank.jsonl"
TASKS = [{"id": "a", "question": "What is 2 + 3?", "answer": "5"},
         {"id": "b", "question": "What is 4 + 4?", "answer": "8"}]


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def one_error(result, pattern: str) -> str:
    """The command failed with one `Error: ...` line, the last on stderr (after any progress line)."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.stderr, result.stderr
    err = result.stderr.strip().splitlines()[-1]
    assert [line for line in result.stderr.splitlines() if "Error" in line] == [err], result.stderr
    assert re.match(r"Error: " + pattern, err), err
    return err


def lines(path, rows) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def tasks(tmp_path):
    return lines(tmp_path / "tasks.jsonl", TASKS)


@pytest.fixture
def scripted(monkeypatch):
    """`-m anything` opens a scripted model that answers every math task with 5."""
    def respond(request):
        return '{"category": "x", "subcategory": "y"}' if request.json_schema else "\\boxed{5}"

    monkeypatch.setattr(common, "open_model", lambda spec, *a, **k: ScriptedModel(name=spec, respond=respond))


BAD_LINES = {
    "utf8": (b'{"task_id": "b", "completion": "caf\xe9"}\n', r"not valid UTF-8 \(byte 0xe9 at column 36\)"),
    "deep": (b"[" * 100_000 + b"]" * 100_000 + b"\n", r"JSON nested too deeply to read"),
    "digits": (b'{"task_id": "b", "completion": ' + b"9" * 5000 + b"}\n",
               r"a number too long to read .* write integers of over 4300 digits as strings"),
}


@pytest.mark.parametrize("kind", sorted(BAD_LINES))
def test_grade_writes_a_bad_samples_line_back_failed_and_grades_the_rest(tmp_path, tasks, kind):
    # Issue 27: a line that cannot be graded costs that line, not the run.
    bad, message = BAD_LINES[kind]
    samples = tmp_path / "samples.jsonl"
    samples.write_bytes(b'{"task_id": "a", "completion": "5"}\n' + bad + b'{"task_id": "b", "completion": "8"}\n')
    out = tmp_path / "graded.jsonl"
    result = run("grade", samples, "-b", tasks, "-o", out)
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["passed"] for r in rows] == [True, False, True]
    assert rows[1]["line"] == 2 and re.match("error: " + message, rows[1]["result"]), rows[1]


@pytest.mark.parametrize("kind", sorted(BAD_LINES))
def test_bank_commands_on_a_bad_line(tmp_path, kind):
    bad, message = BAD_LINES[kind]
    bank = tmp_path / "bank.jsonl"
    bank.write_bytes(BANK.read_bytes() + bad)
    where = re.escape(f"{bank}:5: ")
    one_error(run("bank", "show", bank), where + message)
    merged = tmp_path / "merged.jsonl"
    merged.write_bytes(BANK.read_bytes())
    one_error(run("bank", "merge", bank, BANK, "-o", merged), where + message)
    assert merged.read_bytes() == BANK.read_bytes()
    result = run("bank", "validate", bank)  # lists every problem, one line each
    assert result.exit_code == 1 and re.match(where + message, result.stderr.strip())


def test_eval_inputs_with_bad_bytes(tmp_path, tasks, scripted):
    bank = tmp_path / "bank.jsonl"
    bank.write_bytes(BANK.read_bytes() + b'{"id": "\xff"}\n')
    outdir = tmp_path / "eval"
    one_error(run("eval", "-m", "m", "-b", tasks, "--bank", bank, "-o", outdir),
              re.escape(f"{bank}:5: not valid UTF-8"))
    bad_tasks = tmp_path / "bad_tasks.jsonl"
    bad_tasks.write_bytes(tasks.read_bytes() + b'{"id": "c", "question": "\xc3("}\n')
    one_error(run("eval", "-m", "m", "-b", bad_tasks, "-o", outdir), re.escape(f"{bad_tasks}:3: not valid UTF-8"))
    runs = tmp_path / "runs.jsonl"
    runs.write_bytes(b'\xfe{"task_id": 1}\n')
    one_error(run("eval", "--from-runs", runs), re.escape(f"{runs}:1: not valid UTF-8"))


@pytest.mark.parametrize("field, value, message", [
    ("tests", ["assert f(1) == 1"], r"'tests' must be one string of Python asserts \(join a list of "
                                    r"asserts with newlines\), got list"),
    ("setup_code", 5, r"'setup_code' must be Python source \(a string\) run after the solution, got int"),
    ("meta", [], r"'meta' must be an object, got list"),
    ("id", None, r"'id' must be a string or a number, got NoneType"),
])
def test_a_tasks_file_with_a_wrong_type(tmp_path, field, value, message):
    first = {"id": "e", "question": "Write f.", "tests": "assert f(1) == 1\n", "entry_point": "f"}
    path = lines(tmp_path / "code.jsonl", [first, {**first, "id": "f", field: value}])
    samples = lines(tmp_path / "samples.jsonl", [{"task_id": "e", "completion": "def f(x): return x"}])
    one_error(run("grade", samples, "-b", path), re.escape(f"{path}:2: ") + message)


FOREIGN = {
    "model as a string": ({"model": "qwen"}, r"'model' must be an object with a string 'name', got str"),
    "condition null": ({"condition": None}, r"'condition' must be an object with a string 'name', got "
                                            r"NoneType"),
    "unknown key": ({"colour": "red"}, r"unknown key 'colour'"),
    "a constraints line": (None, r"missing 'benchmark', 'model', 'condition', 'params', \.\.\."),
}


def _first_record(tmp_path, tasks):
    out = tmp_path / "runs.jsonl"
    assert run("solve", "-m", "m", "-b", tasks, "-o", out, "-n", "1").exit_code == 0
    return out, json.loads(out.read_text())


@pytest.mark.parametrize("case", sorted(FOREIGN))
def test_resuming_solve_into_a_file_with_a_foreign_record(tmp_path, tasks, scripted, case):
    out, record = _first_record(tmp_path, tasks)
    change, message = FOREIGN[case]
    foreign = {"when": "w", "enforce": "e", "avoid": "a", "task_id": "a"} if change is None else {**record, **change}
    out.write_text(out.read_text() + json.dumps(foreign) + "\n")
    before = out.read_bytes()
    err = one_error(run("solve", "-m", "m", "-b", tasks, "-o", out),
                    re.escape(f"{out}:2: not a trajectory record: ") + message)
    assert err.endswith("this --out file holds other records; write to a new --out")
    assert out.read_bytes() == before


@pytest.mark.parametrize("case", ["no model", "constraints file"])
def test_contrast_on_a_file_that_is_not_trajectories(tmp_path, tasks, scripted, case):
    good, record = _first_record(tmp_path, tasks)
    other = tmp_path / "other.jsonl"
    if case == "no model":
        lines(other, [{k: v for k, v in record.items() if k != "model"}])
        message = r"missing 'model'; pass files written by `memcollab solve`"
    else:
        lines(other, [{"avoid": "a", "enforce": "e", "when": "w", "task_id": "a", "benchmark": "tasks"}])
        message = r"missing 'model', 'condition', 'params', 'messages', \.\.\."
    out = tmp_path / "constraints.jsonl"
    out.write_text('{"kept": 1}\n')
    one_error(run("contrast", good, other, "-s", "m", "-o", out),
              re.escape(f"{other}:1: not a trajectory record: ") + message)
    assert out.read_text() == '{"kept": 1}\n'


def _enospc(*_a, **_k):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_during_solve_keeps_the_finished_records(tmp_path, tasks, scripted, monkeypatch):
    out, _ = _first_record(tmp_path, tasks)
    before = out.read_bytes()
    monkeypatch.setattr(jsonl.os, "fsync", _enospc)
    one_error(run("solve", "-m", "m", "-b", tasks, "-o", out),
              re.escape(f"{out}: cannot append a record (No space left on device); nothing partial was left"))
    assert out.read_bytes() == before


def test_a_full_disk_during_bank_merge_keeps_the_old_bank(tmp_path, monkeypatch):
    out = tmp_path / "merged.jsonl"
    out.write_text("old\n")
    monkeypatch.setattr(jsonl.os, "fsync", _enospc)
    one_error(run("bank", "merge", BANK, "-o", out), re.escape(f"{out}: cannot write (No space left on device)"))
    assert out.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["merged.jsonl", "merged.jsonl.lock"]


@pytest.mark.parametrize("command", ["eval", "transfer"])
def test_a_report_refuses_a_task_selection_without_its_benchmark(tmp_path, command):
    # Without -b the selection could not be applied, and the report would mix task sets.
    runs = tmp_path / "runs.jsonl"
    runs.write_text("")
    result = CliRunner().invoke(app, [command, "--from-runs", str(runs), "-n", "5"])
    assert result.exit_code == 2
    assert "add -b BENCHMARK" in result.stderr
