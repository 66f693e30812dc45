"""`bank blame`: per entry, won and lost against no memory on the tasks that retrieved it, from
hand-written transcripts of the small bank in tests/data."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from memcollab_cli.cli.main import app
from memcollab_cli.errors import DataError
from memcollab_cli.jsonl import write_jsonl
from memcollab_cli.memory import read_bank
from memcollab_cli.records import Trajectory
from memcollab_cli.use.arms import bank_sha256
from memcollab_cli.use.blame import blame

BANK = Path(__file__).parent / "data" / "tiny_bank.jsonl"
A, B, C, D = (e.id for e in read_bank(BANK))
NONE_RIGHT, BANK_RIGHT = {0, 1}, {2, 3, 4}
RETRIEVED = {0: [A], 1: [A], 2: [A, B], 3: [B], 4: [B], 5: [C]}  # D is never retrieved


def record(condition, task_id, correct, model="m"):
    return Trajectory(
        task_id=str(task_id), benchmark="toy", model={"name": model, "sha256": ""},
        condition=condition, params={"temperature": 0.0, "seed": 42}, messages=[], turns=1,
        answer="", correct=correct, verdict="pass" if correct else "fail").to_record()


def transcripts(tmp_path, sha=None, model="m"):
    sha = sha or bank_sha256(BANK)
    runs = [record({"name": "none"}, i, i in NONE_RIGHT, model) for i in range(6)]
    for name in ("tiny", "placebo:tiny"):  # the placebo, everywhere wrong, must not count
        runs += [record({"name": name, "bank": BANK.name, "bank_sha256": sha,
                         "memory_ids": ids}, i, name == "tiny" and i in BANK_RIGHT, model)
                 for i, ids in RETRIEVED.items()]
    # a record made with an earlier version of the bank, under the same name: not this bank's
    runs += [record({"name": "none"}, 6, True, model),
             record({"name": "tiny", "bank": BANK.name, "bank_sha256": "f" * 12,
                     "memory_ids": [A]}, 6, False, model)]
    path = tmp_path / f"{model}.jsonl"
    write_jsonl(path, runs)
    return path


def test_each_entry_is_charged_with_the_tasks_that_retrieved_it(tmp_path):
    found = blame(BANK, [transcripts(tmp_path)])
    assert (found.model, found.condition, found.tasks) == ("m", "tiny", 6)
    rows = {e.id: (e.n, e.won, e.lost) for e in found.entries}
    assert rows == {A: (3, 1, 2), B: (3, 3, 0), C: (1, 0, 0), D: (0, 0, 0)}
    assert [e.id for e in found.entries] == [A, C, D, B]  # worst net first, B last
    assert found.entries[-1].p_value == pytest.approx(0.25)  # exact McNemar, 3 against 0


def test_blame_refuses_an_edited_bank_and_an_ambiguous_model(tmp_path):
    with pytest.raises(DataError, match="no condition of 'm'.*used this bank"):
        blame(BANK, [transcripts(tmp_path, sha="0" * 12)])
    both = [transcripts(tmp_path, model="m"), transcripts(tmp_path, model="n")]
    with pytest.raises(DataError, match="2 models .*--model"):
        blame(BANK, both)
    assert blame(BANK, both, model="n").model == "n"


def test_bank_blame_through_the_cli(tmp_path):
    path = transcripts(tmp_path)
    args = ["bank", "blame", str(BANK), str(path)]
    result = CliRunner().invoke(app, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0
    assert [e["id"] for e in json.loads(result.stdout)["entries"]] == [A, C, D, B]
    table = CliRunner().invoke(app, args, catch_exceptions=False, terminal_width=200).stdout
    assert "m · tiny · 6 tasks against no memory" in table and A in table
    bad = CliRunner().invoke(app, [*args, "--model", "x"])
    assert bad.exit_code != 0 and "no records of 'x' (they hold m)" in bad.stderr
