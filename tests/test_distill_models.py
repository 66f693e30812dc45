"""`distill` on real GGUF models holds at most one model's weights at a time.

Every `llama_cpp.Llama` the run creates is counted while it lives (created, not yet closed), so
the peak is the number of models in memory at once, whatever engine wraps them.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest
from typer.testing import CliRunner

from memcollab_cli.cli.main import app

pytestmark = pytest.mark.model

TASKS = [("a", "What is 2 + 3?", "5"), ("b", "What is 10 minus 4?", "6")]


@pytest.fixture
def live_llamas(monkeypatch):
    llama_cpp = pytest.importorskip("llama_cpp")
    ledger = {"live": 0, "peak": 0, "created": 0}
    real = llama_cpp.Llama

    class Counted(real):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._counted = True
            ledger["created"] += 1
            ledger["live"] += 1
            ledger["peak"] = max(ledger["peak"], ledger["live"])

        def close(self):
            if getattr(self, "_counted", False):
                self._counted = False
                ledger["live"] -= 1
            super().close()

    monkeypatch.setattr(llama_cpp, "Llama", Counted)
    return ledger


@pytest.mark.parametrize("parallel", ["1", "2"])
def test_distill_loads_one_model_at_a_time(smollm2_path, tmp_path, live_llamas, parallel):
    weak = tmp_path / "smollm2-copy.gguf"  # the same weights under another name: a second model
    try:
        os.link(smollm2_path, weak)
    except OSError:
        shutil.copy(smollm2_path, weak)
    tasks = tmp_path / "easy.jsonl"
    tasks.write_text("".join(json.dumps({"id": i, "question": q, "answer": a}) + "\n" for i, q, a in TASKS))
    result = CliRunner().invoke(app, [
        "distill", "--strong", str(smollm2_path), "--weak", str(weak), "-b", str(tasks), "--split", "test",
        "--pair-policy", "prefer-strong", "--k", "1", "--max-tokens", "24", "--max-turns", "1",
        "--n-ctx", "1024", "-p", parallel, "-o", str(tmp_path / "bank.jsonl"), "--json"],
        catch_exceptions=False)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert [s["model"] for s in summary["solve"]] == ["smollm2-135m", "smollm2-copy"]
    assert summary["contrast"]["pairs"] == 2  # the strong model was loaded again to summarize
    assert live_llamas == {"live": 0, "peak": 1, "created": 3}
