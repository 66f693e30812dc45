"""The solve loop's control flow, driven by a scripted model and real sandboxed execution."""

from memcollab_cli.agent import Episode, SolveParams, run_episodes
from memcollab_cli.runtime.scripted import ScriptedModel
from memcollab_cli.tasks import Task

MATH = Task(id="m1", benchmark="toy", domain="math", question="What is 6 times 7?", answer="42")
CODE = Task(id="c1", benchmark="toy", domain="code", question="Write add(a, b).", entry_point="add",
            tests="assert add(2, 3) == 5\nassert add(-1, 1) == 0", public_tests="assert add(1, 1) == 2")


def solve_one(task, *replies, max_turns=3):
    model = ScriptedModel(replies=list(replies))
    [episode] = run_episodes(model, [Episode(task, SolveParams(max_turns=max_turns), model={"name": "s"})])
    return episode.finish(), model


def test_math_first_reply_with_boxed_answer_ends_the_episode():
    t, model = solve_one(MATH, "6*7 = 42, so \\boxed{42}")
    assert (t.correct, t.verdict, t.turns, t.answer) == (True, "pass", 1, "42")
    assert len(model.history) == 1


def test_math_python_block_runs_and_its_output_comes_back():
    t, model = solve_one(MATH, "```python\nprint(6*7)\n```", "So the answer is \\boxed{42}.")
    assert t.correct and t.turns == 2
    feedback = model.history[1].messages[-1]["content"]
    assert "42" in feedback and feedback.startswith("Your program printed:")


def test_math_invented_output_block_is_cut_and_the_program_really_runs():
    invented = "```python\nprint(6*7)\n```\n```output\n41\n```\nSo \\boxed{41}."
    t, model = solve_one(MATH, invented, "It printed 42, so \\boxed{42}.")
    assert model.history[0].stop == ("```output",)
    assert t.messages[2]["content"] == "```python\nprint(6*7)\n```\n"  # cut where the fence opened
    assert "42" in t.messages[3]["content"] and "41" not in t.messages[3]["content"]
    assert (t.correct, t.turns, t.answer) == (True, 2, "42")


def test_code_requests_carry_no_stop_string():
    _, model = solve_one(CODE, "```python\ndef add(a, b):\n    return a + b\n```")
    assert model.history[0].stop == ()


def test_math_without_final_answer_is_no_answer_not_a_crash():
    t, _ = solve_one(MATH, "Let me think.", "Still thinking.", max_turns=2)
    assert (t.correct, t.verdict, t.turns) == (False, "no_answer", 2)
    assert "no final answer within 2 turns" in t.detail


def test_math_wrong_answer_fails():
    t, _ = solve_one(MATH, "\\boxed{41}")
    assert (t.correct, t.verdict) == (False, "fail")


def test_code_failing_public_example_gets_feedback_then_hidden_tests_grade():
    wrong = "```python\ndef add(a, b):\n    return a - b\n```"
    right = "```python\ndef add(a, b):\n    return a + b\n```"
    t, model = solve_one(CODE, wrong, right)
    assert (t.correct, t.turns) == (True, 2)
    feedback = model.history[1].messages[-1]["content"]  # names the public example that failed
    assert feedback.startswith("Your code failed on the examples:")
    assert "AssertionError at: assert add(1, 1) == 2" in feedback


def test_code_passing_public_examples_but_failing_hidden_tests_is_wrong():
    only_public = "```python\ndef add(a, b):\n    return 2\n```"
    t, _ = solve_one(CODE, only_public)
    assert (t.correct, t.turns, t.verdict) == (False, 1, "fail")


def test_code_at_turn_limit_is_graded_with_the_last_code():
    wrong = "```python\ndef add(a, b):\n    return a - b\n```"
    t, _ = solve_one(CODE, wrong, max_turns=1)
    assert (t.turns, t.verdict) == (1, "fail") and "return a - b" in t.answer


def test_parallel_driver_batches_requests_and_keeps_every_episode():
    calls = []

    class Recording(ScriptedModel):
        def complete_many(self, requests):
            calls.append(len(requests))
            return super().complete_many(requests)

    model = Recording(respond=lambda r: "\\boxed{42}")
    tasks = [Task(id=str(i), benchmark="toy", domain="math", question=f"q{i}", answer="42") for i in range(5)]
    done = list(run_episodes(model, [Episode(t, SolveParams()) for t in tasks], parallel=2))
    assert sorted(e.task.id for e in done) == ["0", "1", "2", "3", "4"]
    assert calls == [2, 2, 1]


def test_memory_block_goes_into_the_system_prompt():
    model = ScriptedModel(replies=["\\boxed{42}"])
    episode = Episode(MATH, SolveParams(), memory="\n\nWhen multiplying, enforce care.")
    list(run_episodes(model, [episode]))
    assert model.history[0].messages[0]["role"] == "system"
    assert model.history[0].messages[0]["content"].endswith("When multiplying, enforce care.")
