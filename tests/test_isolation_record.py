"""The sandbox in force is part of every trajectory; records written before it was still load."""

from memcollab_cli.agent import Episode, SolveParams, run_episodes
from memcollab_cli.records import Trajectory
from memcollab_cli.runtime.scripted import ScriptedModel
from memcollab_cli.tasks import Task, isolation

CODE = Task(id="c", benchmark="t", domain="code", question="Write f(x) returning x + 1.", entry_point="f",
            tests="assert f(1) == 2\n", public_tests="assert f(0) == 1\n")  # fmt: skip
MATH = Task(id="m", benchmark="t", domain="math", question="1 + 1?", answer="2")


def _solve(task, reply):
    model = ScriptedModel(replies=[reply])
    episode = Episode(task, SolveParams(max_turns=1), condition={"name": "none"}, model={"name": "s"})
    [episode] = run_episodes(model, [episode])
    return episode.finish()


def test_code_trajectories_record_the_isolation():
    t = _solve(CODE, "```python\ndef f(x):\n    return x + 1\n```")
    assert t.correct and t.isolation == isolation()
    assert t.to_dict()["isolation"] == isolation()


def test_math_without_code_records_none():
    assert _solve(MATH, "\\boxed{2}").isolation == ""


def test_a_record_from_before_the_field_still_loads():
    t = _solve(MATH, "\\boxed{2}")
    old = {k: v for k, v in t.to_record().items() if k != "isolation"}
    loaded = Trajectory.from_dict(old)
    assert loaded.isolation == "" and loaded.id == t.id
