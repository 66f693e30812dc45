"""`bank refine` end to end on smollm2-135m and GSM8K train: counts, evidence, determinism."""

import json

import pytest
from typer.testing import CliRunner

from memcollab_cli.cli.main import app
from memcollab_cli.errors import DataUnavailable
from memcollab_cli.memory import MemoryEntry, read_bank, validate_bank, write_bank
from memcollab_cli.tasks import load_tasks

pytestmark = pytest.mark.model


@pytest.fixture
def bank(tmp_path):
    try:
        load_tasks("gsm8k", "train", limit=1)
    except DataUnavailable as e:  # no network for the first pull
        pytest.skip(str(e))
    path = tmp_path / "bank.jsonl"
    write_bank(path, [
        MemoryEntry.create("Money & Shopping", "Total Cost", "adding up several purchases",
                           "multiplying each price by its quantity before adding", "adding prices alone",
                           models={"preferred": ["big"], "unpreferred": ["weak"]},
                           sources=[{"task_id": "0", "benchmark": "gsm8k", "pos": "p", "neg": "n"}]),
        MemoryEntry.create("Money & Shopping", "Total Cost", "a quantity is given per unit of time",
                           "converting every rate to the same unit", "mixing hours and minutes",
                           models={"preferred": ["big"], "unpreferred": ["weak"]},
                           sources=[{"task_id": "1", "benchmark": "gsm8k", "pos": "p", "neg": "n"}]),
    ])
    work = tmp_path / "bank.work"
    work.mkdir()
    (work / "categories.jsonl").write_text("".join(
        json.dumps({"benchmark": "gsm8k", "task_id": i, "category": "Money & Shopping",
                    "subcategory": "Total Cost", "classifier": "big"}) + "\n" for i in ("0", "1", "2")))
    return path


def refine(smollm2_path, bank, out, *extra):
    result = CliRunner().invoke(app, [str(a) for a in (
        "bank", "refine", bank, "-m", smollm2_path, "-b", "gsm8k", "--split", "train", "-o", out,
        "--tasks-per-entry", 2, "--min-net", 0, "--max-tokens", 48, "--max-turns", 1, "--n-ctx", 1024,
        "--parallel", 2, "--json", *extra)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_refine_on_a_real_model(smollm2_path, bank, tmp_path):
    first = refine(smollm2_path, bank, tmp_path / "a.jsonl")
    # Each entry: its source, then the labelled task most like its `when` (entry 0 shares no word
    # with tasks 1 and 2, so dataset order decides; entry 1 is nearer task 2 than task 0).
    assert sorted(tuple(d["task_ids"]) for d in first["decisions"]) == [("0", "1"), ("1", "2")]
    assert (first["baseline_solves"], first["trial_solves"], first["solved_now"]) == (3, 4, 7)
    assert first["model_calls"] == 7 and first["completion_tokens"] > 0
    work = tmp_path / "a.work"
    assert len((work / "baseline.jsonl").read_text().splitlines()) == 3
    assert len((work / "trials.jsonl").read_text().splitlines()) == 4
    kept = read_bank(tmp_path / "a.jsonl")
    assert validate_bank(tmp_path / "a.jsonl") == [] and len(kept) == first["kept"]
    for e in kept:  # --min-net 0 keeps every entry that did not lose more than it won
        ev = e.evidence
        assert ev["tasks"] == 2 and ev["won"] + ev["lost"] <= ev["tasks"] and ev["won"] >= ev["lost"]
        assert (ev["benchmark"], ev["split"]) == ("gsm8k", "train")
    second = refine(smollm2_path, bank, tmp_path / "b.jsonl")
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert (work / "evidence.jsonl").read_bytes() == (tmp_path / "b.work" / "evidence.jsonl").read_bytes()
    assert second["completion_tokens"] == first["completion_tokens"]


def test_a_pool_is_labelled_once_by_the_named_labeller(smollm2_path, bank, tmp_path):
    out = tmp_path / "a.jsonl"
    summary = refine(smollm2_path, bank, out, "--pool", 4, "--labeller", smollm2_path)
    labels = [json.loads(line) for line in (tmp_path / "a.work" / "labels.jsonl").read_text().splitlines()]
    assert [r["task_id"] for r in labels] == ["0", "1", "2", "3"]
    assert {r["classifier"] for r in labels} == {str(smollm2_path)}
    assert summary["trial_solves"] == 4  # the pool adds candidates; each entry still gets 2 tasks
    before = (tmp_path / "a.work" / "labels.jsonl").read_bytes()
    again = refine(smollm2_path, bank, out, "--pool", 4, "--labeller", smollm2_path)
    assert (tmp_path / "a.work" / "labels.jsonl").read_bytes() == before  # cached: no relabelling
    assert again["solved_now"] == 0 and again["decisions"] == summary["decisions"]
