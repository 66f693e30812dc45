"""`contrast` with a scripted summarizer: the two turns, rejections, bad replies, resuming."""

import json

import pytest

from memcollab_cli.build import contrast as contrast_mod
from memcollab_cli.build.contrast import contrast, log_path
from memcollab_cli.errors import DataError
from memcollab_cli.jsonl import read_jsonl, write_jsonl
from memcollab_cli.memory.constraints import read_constraints
from memcollab_cli.runtime.scripted import ScriptedModel
from memcollab_cli.tasks import Task

PROBLEM = "A shop sells 12 pens in the morning and twice as many in the afternoon. How many pens in all?"
GOOD = {"when": "a later amount is described as a multiple of an earlier one",
        "enforce": "computing each stage's amount before adding them up",
        "avoid": "adding the multiplier itself as if it were an amount"}
MIRROR = {"when": "a total of several stages is asked for",
          "enforce": "considering every stage of the sequence",
          "avoid": "not considering every stage of the sequence"}
NOTE = {"when": "The problem involves a scenario with several stages",
        "enforce": "reading the relation between stages twice", "avoid": "skimming relations"}
EMPTY = {"when": "a multi-stage quantity is asked for", "enforce": "correct calculation",
         "avoid": "dropping the first stage from the sum"}


def record(task, model, correct, answer, reply):
    return {"task_id": task, "benchmark": "toy", "model": {"name": model, "sha256": "x"},
            "condition": {"name": "none"}, "params": {}, "turns": 1, "format": "memcollab.trajectory/1",
            "correct": correct, "verdict": "pass" if correct else "fail", "id": f"{model}-{task}",
            "answer": answer, "detail": "", "messages": [
                {"role": "system", "content": "Solve."}, {"role": "user", "content": PROBLEM},
                {"role": "assistant", "content": reply}]}


def runs(tmp_path, tasks=("t1", "t2", "t3")):
    strong = [record(t, "big", True, "36", "12 * 2 = 24, 12 + 24 = 36. \\boxed{36}") for t in tasks]
    weak = [record(t, "small", False, "26", "12 + 2 = 14, 12 + 14 = 26. \\boxed{26}") for t in tasks]
    paths = [tmp_path / "big.jsonl", tmp_path / "small.jsonl"]
    write_jsonl(paths[0], strong)
    write_jsonl(paths[1], weak)
    return paths


def reply(*items):
    return json.dumps({"constraints": list(items)})


def scripted(*json_replies):
    """A summarizer whose analysis turns answer 'analysis N' and whose JSON turns pop replies."""
    queue = list(json_replies)

    def respond(request):
        if request.json_schema is None:
            return f"analysis of: {request.messages[0]['content'][-40:]}"
        return queue.pop(0)
    return ScriptedModel("big", respond=respond)


def test_two_turns_the_analysis_goes_into_the_json_turn_and_the_log(tmp_path):
    model = scripted(reply(GOOD))
    out = tmp_path / "constraints.jsonl"
    s = contrast(runs(tmp_path, ("t1",)), model, out)
    first, second = model.history
    assert first.json_schema is None and len(first.messages) == 1
    assert "Attempt B (incorrect)" in first.messages[0]["content"]
    assert "Do not use these words of this problem: -." in second.messages[2]["content"]  # toy: none
    assert [m["role"] for m in second.messages] == ["user", "assistant", "user"]
    assert second.messages[1]["content"].startswith("analysis of:")
    props = second.json_schema["properties"]["constraints"]
    assert list(props["items"]["properties"]) == ["when", "enforce", "avoid"]
    assert props["minItems"] == 0
    (line,) = read_jsonl(log_path(out))
    assert line["analysis"].startswith("analysis of:") and line["reply"] == reply(GOOD)
    assert line["localize"] == "" and line["hint"] == ""  # toy benchmark: no reference
    assert s.accepted == 1 and s.localized == 0
    (c,) = read_constraints(out)
    assert c.localize == "" and line["accepted"] == [c.id]


def test_new_rules_are_counted_by_reason(tmp_path):
    out = tmp_path / "constraints.jsonl"
    s = contrast(runs(tmp_path, ("t1",)), scripted(reply(MIRROR, NOTE, EMPTY)), out)
    assert s.rejected == {"mirror image": 1, "note about the problem": 1, "empty generality": 1}
    reasons = [r["reason"] for r in read_jsonl(log_path(out))[0]["rejected"]]
    assert reasons == ["mirror image", "note about the problem ('the problem involves')",
                       "empty generality ('enforce')"]
    assert not out.exists() or read_constraints(out) == []


def test_zero_constraints_is_a_lesson_free_pair_not_an_error(tmp_path):
    s = contrast(runs(tmp_path, ("t1",)), scripted(reply()), tmp_path / "constraints.jsonl")
    assert (s.no_lesson, s.accepted, s.rejected) == (1, 0, {})


@pytest.mark.parametrize("bad", ['{"constraints": 5}', '{"constraints": [5, "x"]}', "[1, 2]", '"text"',
                                 "not json at all", '{"constraints": {"when": "a"}}'])
def test_a_reply_of_the_wrong_shape_is_counted_never_a_traceback(tmp_path, bad):
    out = tmp_path / "constraints.jsonl"
    s = contrast(runs(tmp_path, ("t1",)), scripted(bad), out)
    assert s.rejected == {"unparseable reply": 1} and s.accepted == 0
    assert read_jsonl(log_path(out))[0]["reply"] == bad


def test_fields_that_are_not_text_are_rejected(tmp_path):
    out = tmp_path / "constraints.jsonl"
    s = contrast(runs(tmp_path, ("t1",)), scripted(reply({**GOOD, "when": 5}, GOOD)), out)
    assert s.rejected == {"malformed constraint": 1} and s.accepted == 1


def test_a_kill_between_the_two_appends_does_not_duplicate_on_resume(tmp_path, monkeypatch):
    paths, out = runs(tmp_path), tmp_path / "constraints.jsonl"
    real_append = contrast_mod.append_jsonl

    def append_then_die(path, rec):
        if path == log_path(out) and rec["task_id"] == "t2":
            raise KeyboardInterrupt  # killed after t2's constraints, before its log line
        real_append(path, rec)
    monkeypatch.setattr(contrast_mod, "append_jsonl", append_then_die)
    with pytest.raises(KeyboardInterrupt):
        contrast(paths, scripted(reply(GOOD), reply(GOOD), reply(GOOD)), out)
    assert [c.task_id for c in read_constraints(out)] == ["t1", "t2"]  # t2's is unlogged
    monkeypatch.setattr(contrast_mod, "append_jsonl", real_append)
    s = contrast(paths, scripted(reply(GOOD), reply(GOOD)), out)
    assert (s.resumed, s.dropped_unlogged, s.accepted) == (1, 1, 2)
    ids = [c.id for c in read_constraints(out)]
    assert [c.task_id for c in read_constraints(out)] == ["t1", "t2", "t3"] and len(set(ids)) == 3
    logged = [i for line in read_jsonl(log_path(out)) for i in line["accepted"]]
    assert sorted(logged) == sorted(ids)


def test_constraints_without_their_log_are_an_error_not_a_guess(tmp_path):
    paths, out = runs(tmp_path, ("t1",)), tmp_path / "constraints.jsonl"
    contrast(paths, scripted(reply(GOOD)), out)
    log_path(out).unlink()
    with pytest.raises(DataError, match="contrast log .* is missing"):
        contrast(paths, scripted(reply(GOOD)), out)


def test_resume_skips_done_pairs_and_batches_by_parallel(tmp_path):
    paths, out = runs(tmp_path), tmp_path / "constraints.jsonl"
    calls = []

    class Counting(ScriptedModel):
        def complete_many(self, requests):
            calls.append(len(requests))
            return super().complete_many(requests)
    model = Counting("big", respond=lambda r: reply(GOOD) if r.json_schema else "analysis")
    s = contrast(paths, model, out, parallel=2)
    assert s.accepted == 3 and calls == [2, 2, 1, 1]  # analyses then JSON, two pairs at a time
    again = contrast(paths, model, out, parallel=2)
    assert again.resumed == 3 and calls == [2, 2, 1, 1] and len(read_constraints(out)) == 3


def test_localize_puts_the_departure_in_the_prompt_and_the_record(tmp_path, monkeypatch):
    solution = ("In the afternoon it sells 12*2 = <<12*2=24>>24 pens.\n"
                "In all 12+24 = <<12+24=36>>36 pens.\n#### 36")
    task = Task(id="t1", benchmark="gsm8k", domain="math", question=PROBLEM, answer="36",
                meta={"solution": solution})
    monkeypatch.setattr(contrast_mod, "reference_task", lambda rec: task)
    out = tmp_path / "constraints.jsonl"
    quoting = {**GOOD, "enforce": "reaching 24 before adding"}
    model = scripted(reply(GOOD, quoting))
    s = contrast(runs(tmp_path, ("t1",)), model, out)
    prompt = model.history[0].messages[0]["content"]
    assert "never reaches the intermediate result 24 (reference step: In the afternoon it sells " \
           "12*2 = 24 pens.)" in prompt
    line = read_jsonl(log_path(out))[0]
    assert line["localize"] == "gsm8k-steps" and "24" in line["hint"]
    assert s.localized == 1 and s.rejected == {"quotes the task's numbers": 1}
    assert read_constraints(out)[0].localize == "gsm8k-steps"
    # The pure form: no hint, and a different resume key, so the pair is summarized again.
    plain = scripted(reply(GOOD))
    s2 = contrast(runs(tmp_path, ("t1",)), plain, out, localize=False)
    assert s2.resumed == 0 and "reference solution" not in plain.history[0].messages[0]["content"]
