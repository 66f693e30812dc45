"""`solve` as a library function: records on disk, resume, settings guard, summary."""

import json

import pytest

from memcollab_cli.agent import SolveParams
from memcollab_cli.errors import DataError
from memcollab_cli.records import Trajectory
from memcollab_cli.runtime.scripted import ScriptedModel
from memcollab_cli.tasks import Task
from memcollab_cli.use.solve import solve

TASKS = [Task(id=str(i), benchmark="toy", domain="math", question=f"What is {i} + {i}?", answer=str(2 * i))
         for i in range(4)]


def doubling_model():
    def respond(request):
        i = int(request.messages[1]["content"].split()[2])
        return f"\\boxed{{{2 * i if i % 2 == 0 else 0}}}"  # right on even tasks only
    return ScriptedModel(name="doubler", respond=respond)


def test_records_follow_the_trajectory_format(tmp_path):
    out = tmp_path / "runs.jsonl"
    summary = solve(doubling_model(), TASKS, out)
    lines = out.read_text().splitlines()
    assert len(lines) == 4
    rec = json.loads(lines[0])
    assert list(rec) == sorted(rec)  # keys sorted on disk
    for key in ("task_id", "benchmark", "model", "condition", "params", "messages", "turns", "answer",
                "correct", "verdict", "usage", "id"):
        assert key in rec
    assert rec["params"]["seed"] == 42 and rec["params"]["temperature"] == 0.0
    assert len(rec["params"]["prompt"]) == 12
    assert Trajectory.from_dict(rec).to_record() == rec  # round trip
    assert (summary.correct, summary.graded, summary.accuracy) == (2, 4, 0.5)


def test_rerun_resumes_and_skips_finished_tasks(tmp_path):
    out = tmp_path / "runs.jsonl"
    solve(doubling_model(), TASKS[:2], out)
    model = doubling_model()
    summary = solve(model, TASKS, out)
    assert (summary.skipped, summary.solved, summary.graded) == (2, 2, 4)
    assert len(model.history) == 2
    ids = [json.loads(line)["task_id"] for line in out.read_text().splitlines()]
    assert sorted(ids) == ["0", "1", "2", "3"]


def test_engine_facts_are_recorded_outside_params_and_old_records_resume(tmp_path):
    out = tmp_path / "runs.jsonl"
    model = doubling_model()
    model.describe = lambda: {"engine": "llama.cpp", "chat_format": "chatml", "name": "doubler",
                              "sha256": "", "path": "/somewhere/doubler.gguf"}
    solve(model, TASKS[:2], out)
    first = json.loads(out.read_text().splitlines()[0])
    assert first["runtime"] == {"engine": "llama.cpp", "chat_format": "chatml"}
    assert "chat_format" not in first["params"]
    # A record written before the field existed: the same id, and a rerun resumes from it.
    old = {k: v for k, v in first.items() if k != "runtime"}
    assert Trajectory.from_dict(old).id == first["id"]
    out.write_text(json.dumps(old) + "\n")
    summary = solve(doubling_model(), TASKS[:2], out)
    assert (summary.skipped, summary.solved) == (1, 1)


def test_a_partial_last_line_from_a_crash_is_dropped_and_redone(tmp_path):
    out = tmp_path / "runs.jsonl"
    solve(doubling_model(), TASKS[:2], out)
    with open(out, "a") as fh:
        fh.write('{"task_id": "2", "trunc')
    solve(doubling_model(), TASKS, out)
    ids = [json.loads(line)["task_id"] for line in out.read_text().splitlines()]
    assert sorted(ids) == ["0", "1", "2", "3"]


def test_resuming_with_other_settings_is_refused(tmp_path):
    out = tmp_path / "runs.jsonl"
    solve(doubling_model(), TASKS[:1], out)
    with pytest.raises(DataError, match=r"runs.jsonl:1: made with other settings \(max_turns\)"):
        solve(doubling_model(), TASKS, out, params=SolveParams(max_turns=5))


def test_same_inputs_give_the_same_records_but_for_timings(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    solve(doubling_model(), TASKS, a)
    solve(doubling_model(), TASKS, b)

    def strip(path):
        recs = [json.loads(line) for line in path.read_text().splitlines()]
        for r in recs:
            r["usage"].pop("seconds")
        return recs
    assert strip(a) == strip(b)
