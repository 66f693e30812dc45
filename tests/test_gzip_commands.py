"""Every command that reads JSONL takes `.jsonl.gz` too; `solve` resumes into a `.gz` output."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from memcollab_cli.cli import common
from memcollab_cli.cli.main import app
from memcollab_cli.jsonl import read_jsonl
from memcollab_cli.runtime.scripted import ScriptedModel

BANK = Path(__file__).parent / "data" / "tiny_bank.jsonl"
TASKS = [{"id": "a", "question": "What is 2 + 3?", "answer": "5"},
         {"id": "b", "question": "What is 4 + 4?", "answer": "8"},
         {"id": "c", "question": "What is 1 + 4?", "answer": "5"}]


def run(*args):
    result = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def squeeze(path: Path) -> Path:
    """A gzip copy of `path` beside it, named `<name>.gz`."""
    target = path.with_name(path.name + ".gz")
    target.write_bytes(gzip.compress(path.read_bytes()))
    return target


@pytest.fixture
def tasks(tmp_path):
    plain = tmp_path / "tasks.jsonl"
    plain.write_text("".join(json.dumps(t) + "\n" for t in TASKS))
    return squeeze(plain)


@pytest.fixture
def scripted(monkeypatch):
    """`-m NAME` opens a scripted model: NAME "right" answers 5 to everything, others 8."""
    def open_model(spec, *a, **k):
        def respond(request):
            if request.json_schema:  # classification or a summarizer's JSON
                return '{"category": "Prealgebra", "subcategory": "Fractions & Decimals", "constraints": []}'
            return "\\boxed{5}" if spec == "right" else "\\boxed{8}"
        return ScriptedModel(name=spec, respond=respond)

    monkeypatch.setattr(common, "open_model", open_model)


def test_grade_reads_gz_samples_and_gz_tasks(tmp_path, tasks):
    samples = tmp_path / "samples.jsonl"
    samples.write_text('{"task_id": "a", "completion": "5"}\n{"task_id": "b", "completion": "7"}\n')
    result = run("grade", squeeze(samples), "-b", tasks, "--json")
    assert json.loads(result.stdout)["passed"] == 1
    graded = tmp_path / "samples_results.jsonl.gz"  # compressed like its input
    assert [r["passed"] for r in read_jsonl(graded)] == [True, False]


def test_bank_commands_on_gz_banks(tmp_path):
    bank = squeeze(Path(shutil.copy(BANK, tmp_path / "tiny.jsonl")))
    assert json.loads(run("bank", "stats", bank, "--json").stdout)["entries"] == 4
    run("bank", "validate", bank)
    assert "Prealgebra" in run("bank", "show", bank).stdout
    assert "0 added, 0 removed, 0 changed" in run("bank", "diff", BANK, bank).stderr
    merged = tmp_path / "merged.jsonl.gz"
    run("bank", "merge", bank, BANK, "-o", merged)
    assert gzip.decompress(merged.read_bytes()) == BANK.read_bytes()


def test_solve_reads_gz_tasks_and_resumes_into_a_gz_file(tmp_path, tasks, scripted):
    out = tmp_path / "runs.jsonl.gz"
    run("solve", "-m", "right", "-b", tasks, "-o", out, "-n", "2")
    whole = out.read_bytes()
    out.write_bytes(whole + gzip.compress(b'{"task_id": "c", "half": ')[:-6])  # killed mid-append
    result = run("solve", "-m", "right", "-b", tasks, "-o", out, "--json")
    assert (json.loads(result.stdout)["skipped"], json.loads(result.stdout)["solved"]) == (2, 1)
    assert out.read_bytes().startswith(whole)
    assert [r["task_id"] for r in read_jsonl(out)] == ["a", "b", "c"]
    plain = tmp_path / "plain.jsonl"
    run("solve", "-m", "right", "-b", tasks.with_suffix(""), "-o", plain)

    def without_seconds(path):
        return [{**r, "usage": {**r["usage"], "seconds": 0}} for r in read_jsonl(path)]

    assert without_seconds(out) == without_seconds(plain)  # same records, same benchmark name


def test_contrast_reads_gz_runs(tmp_path, tasks, scripted):
    right, wrong = tmp_path / "right.jsonl.gz", tmp_path / "wrong.jsonl.gz"
    run("solve", "-m", "right", "-b", tasks, "-o", right)
    run("solve", "-m", "wrong", "-b", tasks, "-o", wrong)
    result = run("contrast", right, wrong, "-s", "right", "-o", tmp_path / "constraints.jsonl", "--json")
    assert json.loads(result.stdout)["pairs"] == 3  # every task: one right, one wrong


def test_eval_and_transfer_read_gz_banks_tasks_and_runs(tmp_path, tasks, scripted):
    bank = squeeze(Path(shutil.copy(BANK, tmp_path / "tiny.jsonl")))
    outdir = tmp_path / "eval"
    report = json.loads(run("eval", "-m", "right", "-b", tasks, "--bank", bank, "-o", outdir, "--json").stdout)
    assert [c["name"] for c in report["conditions"]] == ["none", "tiny"]
    merged = tmp_path / "all.jsonl.gz"
    run("eval", "--merge", merged, outdir / "right.jsonl")
    assert merged.read_bytes()[:2] == b"\x1f\x8b"
    again = json.loads(run("eval", "--from-runs", merged, "--json").stdout)
    assert again["results"] == report["results"]
    table = json.loads(run("transfer", "--from-runs", merged, "--json").stdout)
    assert table["models"] == ["right"]


def test_distill_reads_gz_tasks(tmp_path, tasks, scripted):
    bank = tmp_path / "bank.jsonl.gz"
    summary = json.loads(run("distill", "--strong", "right", "--weak", "wrong", "-b", tasks, "--split", "test",
                             "--max-turns", "1", "-o", bank, "--json").stdout)
    assert [s["graded"] for s in summary["solve"]] == [3, 3]
    assert bank.exists() and bank.read_bytes()[:2] == b"\x1f\x8b"  # written compressed, as named
    run("bank", "validate", bank)


def test_distill_resumes_from_compressed_runs_in_runs_dir(tmp_path, tasks, scripted):
    runs = tmp_path / "runs"

    def distill(bank):
        return json.loads(run("distill", "--strong", "right", "--weak", "wrong", "-b", tasks, "--split",
                              "test", "--max-turns", "1", "--runs-dir", runs, "-o", bank, "--json").stdout)

    distill(tmp_path / "first.jsonl")
    for plain in runs.glob("*.jsonl"):  # ship the runs compressed, as banks/ does
        squeeze(plain)
        plain.unlink()
    summary = distill(tmp_path / "second.jsonl")
    assert [(s["graded"], s["solved"]) for s in summary["solve"]] == [(3, 0), (3, 0)]
    assert sorted(p.name for p in runs.glob("*.jsonl*") if p.suffix != ".lock") == [
        "right.jsonl.gz", "wrong.jsonl.gz"]  # resumed in place: no plain copy started
