"""A condition's schedule does not depend on its memory: input order, a fresh prompt cache, and
so one bank under two names gives identical runs at any --parallel; the noise-floor arm."""

import json
import re
import shutil

import pytest

from memcollab_cli.agent import SolveParams
from memcollab_cli.jsonl import read_jsonl, write_jsonl
from memcollab_cli.memory import MemoryEntry
from memcollab_cli.runtime.scripted import ScriptedModel
from memcollab_cli.tasks import Task, load_tasks
from memcollab_cli.use.arms import SHIFTED, Arm, schedule
from memcollab_cli.use.evaluate import evaluate

CATEGORY, SUBCATEGORY = "Prealgebra", "Order of Operations & Arithmetic"


class NeighbourModel(ScriptedModel):
    """Right or wrong depending on what a real batched engine's numerics depend on: the other
    prompts in the batch and the prompt left in its cache by the previous call (cleared by
    `reset`). Deterministic for a given schedule; different schedules give different answers."""

    def __init__(self, name="tiny"):
        super().__init__(name=name, respond=lambda r: "")
        self.cache = ""
        self.resets = 0

    def reset(self):
        self.cache = ""
        self.resets += 1

    def complete_many(self, requests):
        batch = "|".join(sorted(r.messages[-1]["content"] for r in requests))
        out = []
        for r in requests:
            self.history.append(r)
            if r.json_schema is not None:
                text = json.dumps({"category": CATEGORY, "subcategory": SUBCATEGORY})
            else:
                a = int(re.search(r"What is (\d+)", r.messages[1]["content"])[1])
                state = f"{batch}#{self.cache}#{r.messages[0]['content']}"
                right = sum(map(ord, state)) % 3 != 0
                text = f"\\boxed{{{a + 3 if right else a + 4}}}"
            out.append(self._completion(r, text))
        self.cache = requests[-1].messages[0]["content"]
        return out

    def complete(self, request):
        return self.complete_many([request])[0]

    def _completion(self, request, text):
        from memcollab_cli.runtime.base import Completion

        return Completion(text=text, prompt_tokens=1, completion_tokens=1, seconds=0.001)


def write_bank(path):
    entries = [MemoryEntry.create(CATEGORY, SUBCATEGORY, f"adding case {i}", f"check {i}",
                                  f"guessing {i}", summarizer="tiny",
                                  sources=[{"task_id": f"t{i}", "benchmark": "train", "split": "train", "pos": "a",
                                            "neg": "b"}]) for i in range(3)]
    write_jsonl(path, [e.to_dict() for e in sorted(entries, key=lambda e: e.id)])
    return path


@pytest.fixture
def toy(tmp_path):
    tasks_file = tmp_path / "toy.jsonl"
    write_jsonl(tasks_file, [{"id": str(i), "question": f"What is {i} + 3?", "answer": str(i + 3)}
                             for i in range(9)])
    bank = write_bank(tmp_path / "banks" / "first.jsonl")
    twin = tmp_path / "banks" / "second.jsonl"
    shutil.copy(bank, twin)
    return load_tasks(str(tasks_file)), bank, twin


def transcripts(path, condition):
    return {r["task_id"]: r["messages"] for r in read_jsonl(path)
            if r["condition"]["name"] == condition}


@pytest.mark.parametrize("parallel", [1, 2, 3, 4])
def test_one_bank_under_two_names_gives_identical_runs(toy, tmp_path, parallel):
    tasks, bank, twin = toy
    model = NeighbourModel()
    result = evaluate(model, tasks, tmp_path / "runs", {"first": bank, "second": twin},
                      placebo=True, noise_floor=True, params=SolveParams(parallel=parallel))
    out = tmp_path / "runs" / "tiny.jsonl"
    first, second = transcripts(out, "first"), transcripts(out, "second")
    assert first == second and len(first) == len(tasks)
    a, b = result.cell("tiny", "first"), result.cell("tiny", "second")
    assert (a.vs_none.wins, a.vs_none.losses) == (b.vs_none.wins, b.vs_none.losses)
    assert model.resets == len(result.conditions)  # every condition starts from a fresh cache


def test_the_model_is_sensitive_to_its_schedule(toy, tmp_path):
    """The control for the test above: the same prompts on another schedule do flip, so
    identical runs there are the schedule's doing, and the noise floor measures it."""
    tasks, bank, _ = toy
    flips = []
    for parallel in (1, 2, 3, 4):
        result = evaluate(NeighbourModel(), tasks, tmp_path / f"p{parallel}", noise_floor=True,
                          params=SolveParams(parallel=parallel))
        floor = result.noise_floor("tiny")
        flips.append(floor.wins + floor.losses)
        reported = result.to_dict()["noise_floor"]["tiny"]
        assert (reported["n"], reported["discordant"]) == (9, flips[-1])
        assert reported["transcripts_differ"] >= flips[-1]  # a flip is a differing transcript
    assert any(flips)
    # without the reset, a condition would start from another condition's cache
    model = NeighbourModel()
    model.reset = lambda: None
    evaluate(model, tasks, tmp_path / "no-reset", {"first": bank}, routing="self")
    stale = transcripts(tmp_path / "no-reset" / "tiny.jsonl", "first")
    fresh = NeighbourModel()
    evaluate(fresh, tasks, tmp_path / "fresh", {"first": bank}, routing="self")
    assert stale != transcripts(tmp_path / "fresh" / "tiny.jsonl", "first")


def test_tasks_run_in_input_order_whatever_memory_they_get(tmp_path):
    tasks = [Task(id=str(i), benchmark="toy", domain="math", question=f"What is {i} + 3?",
                  answer=str(i + 3)) for i in (5, 1, 4, 2, 3, 0)]
    bank = tmp_path / "b.jsonl"
    entries = [MemoryEntry.create(CATEGORY, SUBCATEGORY, f"case {i} when {i} is added", f"c{i}",
                                  f"g{i}", summarizer="tiny", sources=[
                                      {"task_id": f"t{i}", "benchmark": "train", "split": "train", "pos": "a",
                                       "neg": "b"}]) for i in range(6)]
    write_jsonl(bank, [e.to_dict() for e in sorted(entries, key=lambda e: e.id)])
    model = NeighbourModel()
    from memcollab_cli.use.solve import solve

    solve(model, tasks, tmp_path / "out.jsonl", arm=Arm(bank=bank, top_p=1),
          params=SolveParams(parallel=2))
    asked = [r.messages[1]["content"] for r in model.history if r.json_schema is None]
    assert asked == [t.question for t in tasks]
    memories = {tuple(r["condition"]["memory_ids"]) for r in read_jsonl(tmp_path / "out.jsonl")}
    assert len(memories) > 1  # tasks got different memory, and still ran in input order


def test_shifted_schedule_gives_every_task_new_neighbours():
    tasks = [Task(id=str(i), benchmark="toy", domain="math", question="q") for i in range(10)]
    for parallel in (1, 2, 4):
        order = [int(t.id) for t in schedule(tasks, Arm(schedule=SHIFTED), parallel)]
        assert sorted(order) == list(range(10))
        stride = max(2, parallel + 1)
        # neighbours in the new order were `stride` apart, except where a pass wraps around
        steps = [b - a for a, b in zip(order, order[1:], strict=False)]
        assert sum(s == stride for s in steps) >= len(steps) - stride + 1
        assert all(abs(s) != 1 for s in steps)
    assert [t.id for t in schedule(tasks, Arm(), 3)] == [t.id for t in tasks]


# ---------------------------------------------------------------------------------------------
# the same on a real model: identical transcripts is determinism, never a claim about wording


@pytest.mark.model
@pytest.mark.parametrize("parallel", [1, 2, 3, 4])
def test_real_model_one_bank_under_two_names_gives_identical_transcripts(
        smollm2_path, tmp_path, parallel):
    pytest.importorskip("llama_cpp")
    from memcollab_cli.runtime.batched import BatchedLlamaModel
    from memcollab_cli.runtime.llama import LlamaModel

    tasks_file = tmp_path / "toy.jsonl"
    write_jsonl(tasks_file, [{"id": str(i), "question": f"Tom has {i + 2} apples and buys {i}"
                              " more. How many apples does he have?", "answer": str(2 * i + 2)}
                             for i in range(5)])
    tasks = load_tasks(str(tasks_file))
    banks = tmp_path / "banks"
    banks.mkdir()
    entries = [MemoryEntry.create(CATEGORY, SUBCATEGORY, f"adding apples case {i}",
                                  f"count each group {i}", f"skipping a group {i}",
                                  summarizer="smollm2-135m", sources=[
                                      {"task_id": f"t{i}", "benchmark": "train", "split": "train", "pos": "a",
                                       "neg": "b"}]) for i in range(3)]
    write_jsonl(banks / "first.jsonl", [e.to_dict() for e in sorted(entries, key=lambda e: e.id)])
    shutil.copy(banks / "first.jsonl", banks / "second.jsonl")
    if parallel == 1:
        model = LlamaModel(smollm2_path, name="smollm2-135m", n_ctx=4096, seed=42)
    else:
        model = BatchedLlamaModel(smollm2_path, name="smollm2-135m", parallel=parallel,
                                  n_ctx=4096)
    try:
        evaluate(model, tasks, tmp_path / "runs", {"first": banks / "first.jsonl",
                                                   "second": banks / "second.jsonl"},
                 params=SolveParams(parallel=parallel, max_tokens=32, max_turns=2))
    finally:
        model.close()
    out = tmp_path / "runs" / "smollm2-135m.jsonl"
    first, second = transcripts(out, "first"), transcripts(out, "second")
    assert len(first) == len(tasks) and first == second
