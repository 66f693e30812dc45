"""The worked-examples arm: verified training trajectories of the most similar problems."""

import pytest

from memcollab_cli.errors import DataError
from memcollab_cli.jsonl import read_jsonl, write_jsonl
from memcollab_cli.records import Trajectory
from memcollab_cli.runtime.scripted import ScriptedModel
from memcollab_cli.tasks import Task
from memcollab_cli.use.evaluate import evaluate
from memcollab_cli.use.examples import Examples


def trajectory(task_id, problem, correct, reply):
    return Trajectory(
        task_id=task_id, benchmark="gsm8k", model={"name": "big", "sha256": ""},
        condition={"name": "none"}, params={}, turns=1, answer="", correct=correct,
        verdict="pass" if correct else "fail",
        messages=[{"role": "system", "content": "You solve."},
                  {"role": "user", "content": problem},
                  {"role": "assistant", "content": reply}]).to_record()


TRAIN = [
    trajectory("0", "Ann buys 3 apples at 2 dollars each. How much?", True,
               "3 * 2 = 6. \\boxed{6}"),
    trajectory("1", "A train travels 60 miles per hour for 3 hours. How far?", True,
               "60 * 3 = 180. \\boxed{180}"),
    trajectory("2", "Bob buys 4 apples at 5 dollars each. How much?", False,
               "4 + 5 = 9. \\boxed{9}"),  # wrong: never an example
    trajectory("3", "A car travels 50 miles per hour for 2 hours. How far?", True,
               "50 * 2 = 100. \\boxed{100}"),
]


def task(task_id, question):
    return Task(id=task_id, benchmark="gsm8k", domain="math", question=question, answer="0")


def test_nearest_verified_examples_and_the_guard(tmp_path):
    runs = tmp_path / "train.jsonl"
    write_jsonl(runs, TRAIN)
    ex = Examples([runs], k=2)
    assert len(ex.examples) == 3
    block, ids = ex.recall(task("0", "Cid buys 4 apples at 5 dollars each. How much?"))
    assert ids[0] == TRAIN[0]["id"] and TRAIN[2]["id"] not in ids
    assert "Worked examples" in block and "3 * 2 = 6" in block
    # The very problem being solved (same text, another id or split) is never its own example.
    _, ids = ex.recall(task("7", "A train travels 60 miles per hour for 3 hours. How far?"))
    assert TRAIN[1]["id"] not in ids and ids[0] == TRAIN[3]["id"]
    assert ex.recall(task("9", "zzz")) == ("", [])
    write_jsonl(tmp_path / "bad.jsonl", [TRAIN[2]])
    with pytest.raises(DataError, match="no verified trajectory"):
        Examples([tmp_path / "bad.jsonl"])


def test_eval_adds_the_examples_arm(tmp_path):
    runs = tmp_path / "train.jsonl"
    write_jsonl(runs, TRAIN)
    tasks = [task("0", "Cid buys 4 apples at 5 dollars each. How much?"),
             task("1", "A bus travels 40 miles per hour for 2 hours. How far?")]

    def respond(request):  # right only when shown worked examples
        return "\\boxed{0}" if "Worked examples" in request.messages[0]["content"] else "no"

    result = evaluate(ScriptedModel(name="small", respond=respond), tasks, tmp_path / "out",
                      examples=(runs,))
    assert result.conditions == ["none", "examples"]
    cell = result.cell("small", "examples")
    assert (cell.correct, cell.vs_none.wins) == (2, 2)
    assert cell.routing == {"routing": "similar problems", "labeller": "", "n": 2,
                            "with_memory": 2, "stand_ins": 0}
    recs = [r for r in read_jsonl(tmp_path / "out" / "small.jsonl")
            if r["condition"]["name"] == "examples"]
    assert recs[0]["condition"]["examples"] == ["train.jsonl"]
    assert len(recs[0]["condition"]["memory_ids"]) == 2


def test_solve_command_takes_examples(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from memcollab_cli.cli import common
    from memcollab_cli.cli.main import app

    runs = tmp_path / "train.jsonl"
    write_jsonl(runs, TRAIN)
    tasks = tmp_path / "gsm8k.jsonl"
    write_jsonl(tasks, [{"id": "0", "question": "Cid buys 4 apples at 5 dollars each. How much?",
                         "answer": "20"}])
    monkeypatch.setattr(common, "open_model", lambda spec, *a, **k: ScriptedModel(
        name=spec, respond=lambda r: "\\boxed{20}"))
    out = tmp_path / "out.jsonl"
    res = CliRunner().invoke(app, ["solve", "-m", "small", "-b", str(tasks), "-o", str(out),
                                   "--examples", str(runs)])
    assert res.exit_code == 0, res.output
    assert read_jsonl(out)[0]["condition"]["name"] == "examples"
    res = CliRunner().invoke(app, ["solve", "-m", "small", "-b", str(tasks), "-o", str(out),
                                   "--examples", str(runs), "--bank", str(runs)])
    assert res.exit_code == 2 and "not both" in res.output
