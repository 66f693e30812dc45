"""Where the wrong attempt leaves the reference: GSM8K steps, worked solutions, failing tests."""

from memcollab_cli.build.localize import (
    first_departure,
    gsm8k_steps,
    locate,
    numbers_in,
    reference_task,
    solution_numbers,
)
from memcollab_cli.tasks import Task

QUESTION = ("Natalia sold clips to 48 of her friends in April, and then she sold half as many clips "
            "in May. How many clips did Natalia sell altogether in April and May?")
SOLUTION = ("Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n"
            "Natalia sold 48+24 = <<48+24=72>>72 clips altogether in April and May.\n#### 72")
TASK = Task(id="0", benchmark="gsm8k", domain="math", question=QUESTION, answer="72",
            meta={"solution": SOLUTION})


def neg(reply, answer="", detail="", verdict="fail"):
    return {"task_id": "0", "benchmark": "gsm8k", "answer": answer, "detail": detail, "verdict": verdict,
            "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": QUESTION},
                         {"role": "assistant", "content": reply}]}


def test_gsm8k_steps_in_order_without_annotations():
    assert gsm8k_steps(SOLUTION) == [
        (24.0, "Natalia sold 48/2 = 24 clips in May."),
        (72.0, "Natalia sold 48+24 = 72 clips altogether in April and May.")]
    assert gsm8k_steps("It costs 1,000/4 = <<1000/4=250.00>>$250.") == [(250.0, "It costs 1,000/4 = $250.")]


def test_numbers_are_normalised():
    assert numbers_in("1,000 and 24.50 and .5 and 3") == {1000.0, 24.5, 0.5, 3.0}


def test_the_first_result_never_reached():
    hint = locate(TASK, neg("She sold 48 * 2 = 96 in May, so 48 + 96 = 144. \\boxed{144}", "144"))
    assert hint.kind == "gsm8k-steps"
    assert hint.text == ("B's reasoning never reaches the intermediate result 24 "
                         "(reference step: Natalia sold 48/2 = 24 clips in May.)")
    assert "24" in hint.values  # kept out of the constraints by validate_constraint
    later = locate(TASK, neg("Half of 48 is 24.00; then 48 - 24 = 24. \\boxed{24}", "24"))
    assert "intermediate result 72 " in later.text


def test_every_result_reached_points_at_the_end():
    hint = locate(TASK, neg("24 in May, 72 in all, so the answer is \\boxed{7.2}", "7.2"))
    assert "reaches every intermediate result" in hint.text


def test_values_the_problem_states_are_not_departures():
    steps = [(48.0, "48 given"), (24.0, "half")]
    assert first_departure(steps, "nothing", "She has 48.") == (24.0, "half")


def test_worked_solutions_use_the_numbers_they_introduce():
    solution = "The sides are 3 and 4, so the hypotenuse is $\\sqrt{9+16}=5$. The area is 6."
    assert [v for v, _ in solution_numbers(solution, "A right triangle has legs 3 and 4.")] == [9, 16, 5, 6]
    task = Task(id="m1", benchmark="math500", domain="math", question="A right triangle has legs 3 and 4.",
                answer="6", meta={"solution": solution})
    hint = locate(task, {**neg("9 + 16 = 25, hypotenuse 25, area 50", "50"),
                         "messages": [{"role": "system", "content": "s"},
                                      {"role": "user", "content": task.question},
                                      {"role": "assistant", "content": "9 + 16 = 25, area 50"}]})
    assert hint.kind == "solution-numbers" and "intermediate result 5 " in hint.text


def test_code_uses_the_failing_test():
    task = Task(id="c1", benchmark="mbpp", domain="code", question="Write f.", entry_point="f",
                tests="assert f(2) == 4\n")
    hint = locate(task, neg("def f(x): return x", detail="assert f(2) == 4 failed: AssertionError"))
    assert hint.kind == "failing-test" and "assert f(2) == 4" in hint.text
    assert locate(task, neg("def f(x): return x")) is None  # no message recorded: no hint


def test_no_reference_no_hint():
    assert locate(None, neg("x")) is None
    bare = Task(id="u", benchmark="mine", domain="math", question="q", answer="1")
    assert locate(bare, neg("x")) is None
    assert reference_task({**neg("x"), "benchmark": "my-file"}) is None
