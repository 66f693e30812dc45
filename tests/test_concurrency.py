"""Two writers of one file: a second `solve` is refused, two `bank merge`s run one after the other,
and an interrupted `grade` says truthfully what it saved."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from memcollab_cli.cli.main import app
from memcollab_cli.errors import DataError
from memcollab_cli.memory import dedup, read_bank
from memcollab_cli.memory.bank import MemoryEntry, write_bank
from memcollab_cli.runtime.scripted import ScriptedModel
from memcollab_cli.tasks import Task
from memcollab_cli.use.solve import solve

TASKS = [Task(id=str(i), benchmark="toy", domain="math", question=f"What is {i} + {i}?", answer=str(2 * i))
         for i in range(4)]
REFUSED = r"another memcollab run is writing this file \(lock runs.jsonl.lock is held\); wait for it to finish"


def gated_model(gate: threading.Event, started: threading.Event) -> ScriptedModel:
    def respond(request):
        started.set()
        assert gate.wait(30), "the test never opened the gate"
        return "\\boxed{0}"
    return ScriptedModel(name="slow", respond=respond)


def test_a_second_solve_into_the_same_file_is_refused_and_nothing_is_duplicated(tmp_path):
    out = tmp_path / "runs.jsonl"
    gate, started = threading.Event(), threading.Event()
    first = threading.Thread(target=solve, args=(gated_model(gate, started), TASKS, out))
    first.start()
    assert started.wait(30)
    second = ScriptedModel(name="slow", respond=lambda r: "\\boxed{0}")
    with pytest.raises(DataError, match=REFUSED):
        solve(second, TASKS, out)
    assert second.history == []  # refused before any model call
    gate.set()
    first.join(30)
    ids = [json.loads(line)["task_id"] for line in out.read_text().splitlines()]
    assert ids == ["0", "1", "2", "3"]
    assert solve(second, TASKS, out).skipped == 4  # the lock is free again


def test_a_rerun_with_nothing_to_write_reads_without_the_lock(tmp_path):
    from memcollab_cli.filelock import hold_lock

    out = tmp_path / "runs.jsonl"
    model = ScriptedModel(name="m", respond=lambda r: "\\boxed{0}")
    solve(model, TASKS[:2], out)
    with hold_lock(out):  # another run is writing to the file
        assert solve(model, TASKS[:2], out).skipped == 2  # two distills sharing a runs file
        with pytest.raises(DataError, match=REFUSED):
            solve(model, TASKS, out)  # two tasks to write: refused, as before
    assert len(out.read_text().splitlines()) == 2


SLOW_SOLVE = """
import sys, time
from pathlib import Path
from memcollab_cli.use.solve import solve
from memcollab_cli.runtime.scripted import ScriptedModel
from memcollab_cli.tasks import load_tasks

def respond(request):  # holds the lock until the test creates the release file
    Path(sys.argv[2]).touch()
    release = Path(sys.argv[2] + ".release")
    for _ in range(1200):
        if release.exists():
            break
        time.sleep(0.05)
    return "\\\\boxed{5}"

solve(ScriptedModel(name="m", respond=respond), load_tasks(sys.argv[1]), Path(sys.argv[3]))
"""


def test_two_solve_processes_on_one_output(tmp_path):
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text("".join(json.dumps({"id": str(i), "question": "What is 2 + 3?", "answer": "5"}) + "\n"
                             for i in range(3)))
    out, started = tmp_path / "runs.jsonl", tmp_path / "started"
    first = subprocess.Popen([sys.executable, "-c", SLOW_SOLVE, str(tasks), str(started), str(out)])
    deadline = time.time() + 60
    while not started.exists() and time.time() < deadline:
        time.sleep(0.05)
    second = subprocess.run([sys.executable, "-m", "memcollab_cli", "solve", "-m", "scripted", "-b", str(tasks),
                             "-o", str(out)], capture_output=True, text=True, timeout=60)
    Path(f"{started}.release").touch()
    assert first.wait(60) == 0
    assert second.returncode == 1
    last = second.stderr.strip().splitlines()[-1]  # after the progress line
    assert last.startswith(f"Error: {out}: another memcollab run is writing this file")
    assert "Traceback" not in second.stderr
    assert [json.loads(line)["task_id"] for line in out.read_text().splitlines()] == ["0", "1", "2"]


def entry(word: str) -> MemoryEntry:
    return MemoryEntry.create("Algebra", "Linear Equations", f"a {word} equation is given",
                              f"isolating the {word} variable", f"dividing by the {word} term",
                              sources=[{"task_id": word, "benchmark": "toy", "pos": "p", "neg": "n"}])


def test_two_merges_into_one_bank_lose_no_update(tmp_path, monkeypatch):
    bank, a, b = tmp_path / "x.jsonl", tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    write_bank(bank, [entry("base")])
    write_bank(a, [entry("alpha")])
    write_bank(b, [entry("beta")])
    real_read = dedup.read_bank

    def slow_read(path):  # widen the read-merge-write window: without the lock one update is lost
        entries = real_read(path)
        time.sleep(0.3)
        return entries

    monkeypatch.setattr(dedup, "read_bank", slow_read)
    threads = [threading.Thread(target=dedup.merge_bank_files, args=([bank, other], bank))
               for other in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(s["task_id"] for e in read_bank(bank) for s in e.sources) == ["alpha", "base", "beta"]


def test_two_merge_processes_into_one_bank(tmp_path):
    bank, a, b = tmp_path / "x.jsonl", tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    write_bank(bank, [entry("base")])
    write_bank(a, [entry("alpha")])
    write_bank(b, [entry("beta")])
    procs = [subprocess.Popen([sys.executable, "-m", "memcollab_cli", "bank", "merge", str(bank), str(other),
                               "-o", str(bank)], stderr=subprocess.PIPE, text=True) for other in (a, b)]
    assert [p.wait(120) for p in procs] == [0, 0], [p.stderr.read() for p in procs]
    assert sorted(s["task_id"] for e in read_bank(bank) for s in e.sources) == ["alpha", "base", "beta"]


def test_an_interrupted_grade_says_nothing_was_saved(tmp_path, monkeypatch):
    from memcollab_cli.use import grade

    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text(json.dumps({"id": "a", "question": "What is 2 + 3?", "answer": "5"}) + "\n")
    samples = tmp_path / "samples.jsonl"
    samples.write_text(json.dumps({"task_id": "a", "completion": "5"}) + "\n")
    out = tmp_path / "graded.jsonl"
    out.write_text('{"earlier": true}\n')

    def interrupt(*_a):
        raise KeyboardInterrupt

    monkeypatch.setattr(grade, "grade_completion", interrupt)
    result = CliRunner().invoke(app, ["grade", str(samples), "-b", str(tasks), "-o", str(out)])
    assert result.exit_code == 130
    assert result.stderr.strip() == (f"Interrupted: nothing was saved ({out} is written only when every "
                                     "line is graded); rerun the same command.")
    assert out.read_text() == '{"earlier": true}\n'
    assert [p.name for p in Path(tmp_path).iterdir() if p.name.endswith(".tmp")] == []


def test_a_file_system_without_flock_runs_unguarded(tmp_path, monkeypatch):
    import errno

    from memcollab_cli import filelock

    def no_flock(fd, op):
        if op & filelock.fcntl.LOCK_UN:
            raise AssertionError("unlocking a lock never taken")
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(filelock.fcntl, "flock", no_flock)
    out = tmp_path / "runs.jsonl"
    assert solve(ScriptedModel(name="m", respond=lambda r: "\\boxed{0}"), TASKS, out).solved == 4
