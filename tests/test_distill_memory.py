"""`distill` holds at most one model in memory at a time, and releases each when done with it.

Engines load on their first request and free their weights on `close()`, so a ledger that marks
a model loaded at its first request after a close, and unloaded at `close()`, sees exactly what
a llama.cpp engine would hold. The real-model version is in tests/test_distill_models.py.
"""

from __future__ import annotations

import json

import pytest

from memcollab_cli.agent import SolveParams
from memcollab_cli.build.distill import distill
from memcollab_cli.runtime.base import Request
from memcollab_cli.runtime.scripted import ScriptedModel
from memcollab_cli.tasks import Task

TASKS = [Task(id=str(i), benchmark="easy", domain="math", question=f"What is {i} + 2?",
              answer=str(i + 2)) for i in range(3)]


class Ledger:
    """Which models are loaded now, the most ever loaded at once, and every load in order."""

    def __init__(self):
        self.live: set[str] = set()
        self.peak = 0
        self.loads: list[str] = []


class TrackedModel(ScriptedModel):
    """A scripted engine that loads lazily and unloads on close, as LlamaModel does."""

    def __init__(self, name: str, ledger: Ledger, right: bool):
        super().__init__(name=name, respond=self._reply)
        self.ledger, self.right = ledger, right

    def complete(self, request: Request):
        if self.name not in self.ledger.live:
            self.ledger.live.add(self.name)
            self.ledger.loads.append(self.name)
            self.ledger.peak = max(self.ledger.peak, len(self.ledger.live))
        return super().complete(request)

    def close(self) -> None:
        self.ledger.live.discard(self.name)

    def _reply(self, request: Request) -> str:
        schema = json.dumps(request.json_schema or {})
        if "constraints" in schema:  # contrast
            return json.dumps({"constraints": [{
                "when": "a sum of two whole numbers is asked",
                "enforce": "add the two addends digit by digit and recheck the total",
                "avoid": "guessing the total without adding"}]})
        if request.json_schema is not None:  # classification
            return json.dumps({"category": "Arithmetic", "subcategory": "Addition"})
        question = request.messages[-1]["content"]
        n = int(question.split("What is ")[1].split(" ")[0]) + 2
        return f"The answer is \\boxed{{{n if self.right else n + 1}}}."


def _distill(tmp_path, strong, weak, summarizer=None, mode="collab"):
    return distill(strong, weak, TASKS, tmp_path / "bank.jsonl", mode=mode, summarizer=summarizer,
                   params=SolveParams(max_turns=1, max_tokens=32))


def test_collab_with_a_summarizer_loads_one_model_at_a_time(tmp_path):
    ledger = Ledger()
    strong, weak, summarizer = (TrackedModel(n, ledger, right=n != "weak")
                                for n in ("strong", "weak", "summarizer"))
    summary = _distill(tmp_path, strong, weak, summarizer)
    assert summary.contrast["pairs"] == 3  # the summarizer really ran
    assert ledger.loads == ["strong", "weak", "summarizer"]
    assert ledger.peak == 1 and ledger.live == set()


def test_the_strong_model_summarizes_after_the_weak_one_is_released(tmp_path):
    ledger = Ledger()
    strong, weak = TrackedModel("strong", ledger, right=True), TrackedModel("weak", ledger, right=False)
    _distill(tmp_path, strong, weak)
    assert ledger.loads == ["strong", "weak", "strong"]  # reloaded to summarize
    assert ledger.peak == 1 and ledger.live == set()


@pytest.mark.parametrize("mode", ["self", "self-contrast"])
def test_one_model_modes_keep_it_loaded_between_its_stages(tmp_path, mode):
    ledger = Ledger()
    strong = TrackedModel("strong", ledger, right=True)
    _distill(tmp_path, strong, None, mode=mode)
    assert ledger.loads == ["strong"] and ledger.live == set()
