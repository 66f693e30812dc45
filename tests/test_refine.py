"""`bank refine`: control flow on a scripted model whose replies depend on the entry in the prompt."""

import json
import re

import pytest
from typer.testing import CliRunner

from memcollab_cli.agent import SolveParams
from memcollab_cli.build import refine as refine_mod
from memcollab_cli.build.refine import choose_tasks, refine, workdir_for
from memcollab_cli.cli.main import app
from memcollab_cli.errors import DataError
from memcollab_cli.memory import MemoryEntry, read_bank, validate_bank, write_bank
from memcollab_cli.runtime.scripted import ScriptedModel
from memcollab_cli.tasks import Task

CAT, SUB = "Arithmetic", "Sums"
# Task id -> (question, gold answer); without memory the model gets tasks 3 and 4 right.
TASKS = {
    "1": ("Add the apples 2 + 3 and say the sum.", "5"),
    "2": ("Add the pears 4 + 4 and say the sum.", "8"),
    "3": ("Add the plums 1 + 1 and say the sum.", "2"),
    "4": ("Add the figs 6 + 1 and say the sum.", "7"),
    "5": ("Add the kiwis 3 + 3 and say the sum.", "6"),
    "6": ("Add the limes 5 + 4 and say the sum.", "9"),
}
RIGHT_WITHOUT_MEMORY = {"3", "4"}
HELPS, HURTS = "carry every digit", "round every number"


def gsm_tasks():
    return [Task(id=i, benchmark="gsm8k", domain="math", question=q, answer=a) for i, (q, a) in TASKS.items()]


def entry(enforce, task_id, category=CAT, subcategory=SUB):
    return MemoryEntry.create(category, subcategory, "adding two numbers", enforce, "guessing",
                              models={"preferred": ["big"], "unpreferred": ["weak"]},
                              sources=[{"task_id": task_id, "benchmark": "gsm8k", "pos": "p", "neg": "n"}],
                              summarizer="big", prompt="abc")


def respond(request):
    """Right with the helpful entry, wrong with the harmful one, else right only on 3 and 4."""
    system, question = request.messages[0]["content"], request.messages[1]["content"]
    task_id, gold = next((i, a) for i, (q, a) in TASKS.items() if q == question)
    right = HELPS in system or (HURTS not in system and task_id in RIGHT_WITHOUT_MEMORY)
    return f"The sum is \\boxed{{{gold if right else '0'}}}."


@pytest.fixture
def bank(tmp_path, monkeypatch):
    monkeypatch.setattr(refine_mod, "load_tasks",
                        lambda benchmark, split, limit=None, mbpp_dir=None: gsm_tasks()[:limit])
    path = tmp_path / "bank.jsonl"
    write_bank(path, [entry(HELPS, "1"), entry(HURTS, "2")])
    work = tmp_path / "bank.work"
    work.mkdir()
    (work / "categories.jsonl").write_text("".join(
        json.dumps({"benchmark": "gsm8k", "task_id": i, "category": CAT, "subcategory": SUB,
                    "classifier": "big"}) + "\n" for i in TASKS))
    return path


def run(bank, out, model=None, **kw):
    model = model or ScriptedModel("weak", respond=respond)
    kw.setdefault("tasks_per_entry", 6)
    return refine(bank, model, out, benchmark="gsm8k", split="train", **kw), model


def test_helpful_entry_is_kept_with_evidence_and_harmful_one_dropped(bank, tmp_path):
    out = tmp_path / "refined.jsonl"
    summary, model = run(bank, out)
    [kept] = read_bank(out)
    assert HELPS in kept.text()
    assert kept.evidence == {"benchmark": "gsm8k", "split": "train", "tasks": 6, "won": 4, "lost": 0,
                             "model": "weak", "prompt": kept.evidence["prompt"], "baseline": "none"}
    assert re.fullmatch(r"[0-9a-f]{12}", kept.evidence["prompt"])
    assert (summary.kept, summary.dropped, summary.entries) == (1, 1, 2)
    # Cost: each task once without memory, once per entry with it; one turn each here.
    assert (summary.baseline_solves, summary.trial_solves, summary.solved_now) == (6, 12, 18)
    assert summary.model_calls == len(model.history) == 18
    assert summary.completion_tokens > 0
    decisions = {d["text"].split("enforce ")[1].split(";")[0]: d
                 for d in map(json.loads, (workdir_for(out) / "evidence.jsonl").read_text().splitlines())}
    assert (decisions[HURTS]["won"], decisions[HURTS]["lost"], decisions[HURTS]["kept"]) == (0, 2, False)
    assert validate_bank(out) == []


def test_trials_put_the_entry_alone_in_the_system_prompt(bank, tmp_path):
    _, model = run(bank, tmp_path / "refined.jsonl")
    systems = [r.messages[0]["content"] for r in model.history]
    assert sum(HELPS in s and HURTS not in s for s in systems) == 6
    assert sum(HURTS in s and HELPS not in s for s in systems) == 6
    assert sum("carry" not in s and "round" not in s for s in systems) == 6
    assert all(r.temperature == 0.0 and r.seed == 42 for r in model.history)


def any_memory_helps(request):
    """A model that gets every task right once any memory block is in the prompt, whatever it says."""
    system, question = request.messages[0]["content"], request.messages[1]["content"]
    task_id, gold = next((i, a) for i, (q, a) in TASKS.items() if q == question)
    right = "Reasoning constraints" in system or task_id in RIGHT_WITHOUT_MEMORY
    return f"The sum is \\boxed{{{gold if right else '0'}}}."


def test_against_the_placebo_an_entry_must_beat_any_memory_block(bank, tmp_path):
    summary, _ = run(bank, tmp_path / "none.jsonl", ScriptedModel("weak", respond=any_memory_helps))
    assert summary.kept == 2  # against no memory, content-free help looks like a win
    summary, model = run(bank, tmp_path / "placebo.jsonl", ScriptedModel("weak", respond=any_memory_helps),
                         against="placebo")
    assert (summary.kept, summary.baseline_solves, summary.trial_solves) == (0, 6, 12)
    placebo = [r for r in model.history if refine_mod.PLACEBO[1] in r.messages[0]["content"]]
    assert len(placebo) == 6 and all(CAT in r.messages[0]["content"] for r in placebo)
    assert {d["won"] for d in summary.decisions} == {0}


def test_min_net_is_a_threshold(bank, tmp_path):
    summary, _ = run(bank, tmp_path / "a.jsonl", min_net=5)
    assert summary.kept == 0 and read_bank(tmp_path / "a.jsonl") == []
    summary, _ = run(bank, tmp_path / "b.jsonl", min_net=-2)
    assert summary.kept == 2


def test_a_rerun_resumes_without_a_model_call_and_gives_the_same_bytes(bank, tmp_path):
    out = tmp_path / "refined.jsonl"
    run(bank, out)
    first = out.read_bytes()
    summary, model = run(bank, out)
    assert model.history == [] and summary.solved_now == 0
    assert summary.model_calls == 18  # the cost of the decision, from the work files
    assert out.read_bytes() == first


def test_an_interrupted_run_resumes_where_it_stopped(bank, tmp_path):
    calls = []

    def dies_after_five(request):
        if len(calls) == 5:
            raise KeyboardInterrupt
        calls.append(1)
        return respond(request)

    with pytest.raises(KeyboardInterrupt):
        run(bank, tmp_path / "refined.jsonl", ScriptedModel("weak", respond=dies_after_five))
    summary, model = run(bank, tmp_path / "refined.jsonl")
    assert len(model.history) == 18 - 5 and summary.solved_now == 13
    run(bank, tmp_path / "fresh.jsonl")
    assert (tmp_path / "refined.jsonl").read_bytes() == (tmp_path / "fresh.jsonl").read_bytes()


def test_batched_run_gives_the_same_bank(bank, tmp_path):
    run(bank, tmp_path / "one.jsonl")
    run(bank, tmp_path / "four.jsonl", params=SolveParams(parallel=4))
    assert (tmp_path / "one.jsonl").read_bytes() == (tmp_path / "four.jsonl").read_bytes()


def test_other_settings_in_the_work_files_are_an_error(bank, tmp_path):
    run(bank, tmp_path / "refined.jsonl")
    with pytest.raises(DataError, match=r"baseline.jsonl:1: made with another model or other settings"):
        run(bank, tmp_path / "refined.jsonl", params=SolveParams(max_tokens=64))


@pytest.mark.parametrize("benchmark, split", [("gsm8k", "test"), ("gsm8k", None), ("tasks.jsonl", "test")])
def test_test_tasks_never_shape_a_bank(bank, tmp_path, benchmark, split):
    model = ScriptedModel("weak", respond=respond)
    with pytest.raises(DataError, match="test"):
        refine(bank, model, tmp_path / "r.jsonl", benchmark=benchmark, split=split)
    assert model.history == [] and not (tmp_path / "r.jsonl").exists()


def test_cli_refuses_the_test_split_before_loading_a_model(bank, tmp_path):
    result = CliRunner().invoke(app, ["bank", "refine", str(bank), "-m", "no-such-model", "-b", "gsm8k",
                                      "--split", "test", "-o", str(tmp_path / "r.jsonl")])
    assert result.exit_code == 1
    assert result.output.startswith("Error: refine tries entries on training tasks only")


def test_source_from_another_split_is_an_error(bank, tmp_path):
    (tmp_path / "bank.work" / "contrast-log.jsonl").write_text(json.dumps(
        {"benchmark": "gsm8k", "task_id": "1", "problem": "A test problem that shares the id."}) + "\n")
    with pytest.raises(DataError, match="task 1 of another split"):
        run(bank, tmp_path / "r.jsonl")


def test_refining_in_place_is_refused(bank):
    with pytest.raises(DataError, match="in place"):
        run(bank, bank)


def test_choose_tasks_sources_first_then_subcategory_then_similarity():
    tasks = [Task(id=str(i), benchmark="gsm8k", domain="math", question=q, answer="1") for i, q in enumerate([
        "A train leaves at noon.", "Count the apples in the basket.", "Pears and plums.",
        "Pears cost two dollars.", "Apples are red.", "Unlabelled apples apples apples."])]
    labels = {("gsm8k", "0"): (CAT, SUB), ("gsm8k", "1"): (CAT, "Other"), ("gsm8k", "2"): (CAT, "Other"),
              ("gsm8k", "3"): (CAT, SUB), ("gsm8k", "4"): ("Money", SUB)}
    e = MemoryEntry.create(CAT, SUB, "counting apples in a basket", "x", "y",
                           sources=[{"task_id": "0", "benchmark": "gsm8k", "pos": "p", "neg": "n"}])
    assert [t.id for t in choose_tasks(e, tasks, labels, 4)] == ["0", "3", "1", "2"]
    assert [t.id for t in choose_tasks(e, tasks, labels, 1)] == ["0"]
    untested = MemoryEntry.create("Geometry", SUB, "w", "x", "y")
    assert choose_tasks(untested, tasks, labels, 4) == []


# -- the optional `evidence` key of the bank format ---------------------------------------------


def test_banks_without_evidence_read_and_write_byte_for_byte(tmp_path):
    path = tmp_path / "old.jsonl"
    write_bank(path, [entry(HELPS, "1")])
    before = path.read_bytes()
    assert b"evidence" not in before
    write_bank(path, read_bank(path))
    assert path.read_bytes() == before


def test_evidence_round_trips_and_is_checked(tmp_path):
    ev = {"benchmark": "gsm8k", "split": "train", "tasks": 4, "won": 2, "lost": 1, "model": "m", "prompt": "h",
          "baseline": "none"}
    path = tmp_path / "bank.jsonl"
    e = entry(HELPS, "1")
    e.evidence = ev
    write_bank(path, [e])
    assert read_bank(path)[0].evidence == ev
    bad = [dict(ev, won=4), {k: v for k, v in ev.items() if k != "model"}, dict(ev, tasks="4")]
    for i, evidence in enumerate(bad):
        line = dict(json.loads(path.read_text()), evidence=evidence)
        (tmp_path / f"bad{i}.jsonl").write_text(json.dumps(line) + "\n")
    problems = [validate_bank(tmp_path / f"bad{i}.jsonl") for i in range(3)]
    assert "4 won + 1 lost on only 4 tasks" in problems[0][0]
    assert "exactly the keys" in problems[1][0]
    assert "integers >= 0" in problems[2][0]


def test_source_recorded_as_another_split_is_an_error(bank, tmp_path, monkeypatch):
    from memcollab_cli.memory import bank as bank_format

    if "split" not in getattr(bank_format, "OPTIONAL_SOURCE_KEYS", ()):
        pytest.skip("this bank format records no split in a source")
    e = entry(HELPS, "1")
    e.sources[0]["split"] = "test"
    write_bank(bank, [e])
    with pytest.raises(DataError, match="gsm8k test task 1, not train"):
        run(bank, tmp_path / "r.jsonl")


def test_the_table_names_each_entry_and_the_cost(bank, tmp_path, capsys, monkeypatch):
    from memcollab_cli.cli.refine_cmd import render_refine

    monkeypatch.setenv("COLUMNS", "200")
    summary, _ = run(bank, tmp_path / "refined.jsonl")
    render_refine(summary.to_dict(), as_json=False)
    out = capsys.readouterr().out
    assert all(d["id"] in out for d in summary.decisions)
    assert "kept 1 of 2 entries (net ≥ 1); 6 solves without memory + 12 with an entry (18 run now) = " \
           "18 model calls" in out


def test_the_default_model_is_the_bank_s_weak_model(bank):
    from memcollab_cli.cli.refine_cmd import default_model

    assert default_model(read_bank(bank), bank) == "weak"
    with pytest.raises(DataError, match="pass -m MODEL"):
        default_model([], bank)


def test_a_labelled_pool_gives_every_entry_the_tasks_it_asks_for(tmp_path, monkeypatch):
    """The bank's cache labels only its sources; --pool has the labeller label the rest, once."""
    from memcollab_cli.build.refine import label_pool

    monkeypatch.setattr(refine_mod, "load_tasks",
                        lambda benchmark, split, limit=None, mbpp_dir=None: gsm_tasks()[:limit])
    cat, sub = "Money & Shopping", "Total Cost"
    bank = tmp_path / "bank.jsonl"
    write_bank(bank, [entry(HELPS, "1", cat, sub), entry(HURTS, "2", cat, sub)])
    (tmp_path / "bank.work").mkdir()
    (tmp_path / "bank.work" / "categories.jsonl").write_text("".join(
        json.dumps({"benchmark": "gsm8k", "task_id": i, "category": cat, "subcategory": sub,
                    "classifier": "big"}) + "\n" for i in ("1", "2")))

    def labeller_or_solver(request):  # "big" labels every task Total Cost, and solves like `respond`
        if request.json_schema:
            return json.dumps({"category": cat, "subcategory": sub})
        return respond(request)

    out = tmp_path / "refined.jsonl"
    short, _ = run(bank, out, ScriptedModel("big", respond=labeller_or_solver))
    assert short.short == 2 and {len(d["task_ids"]) for d in short.decisions} == {2}  # the 2 sources

    big = ScriptedModel("big", respond=labeller_or_solver)
    counted = []
    pool, who = label_pool(bank, big, out, benchmark="gsm8k", split="train", size=5,
                           on_label=counted.append)
    assert who == "big" and len(big.history) == 5 and counted == [5] * 5
    assert sorted(pool) == [("gsm8k", str(i)) for i in range(1, 6)]
    assert len((workdir_for(out) / "labels.jsonl").read_text().splitlines()) == 5
    summary, _ = run(bank, out, big, pool_labels=pool, tasks_per_entry=5)
    assert summary.short == 0 and {len(d["task_ids"]) for d in summary.decisions} == {5}
    assert [d["task_ids"][0] for d in summary.decisions] == ["1", "2"]  # its source first

    other = ("Percentages & Discounts", "Discounts")  # the pool disagrees on tasks 1 and 3
    clash, _ = run(bank, tmp_path / "clash.jsonl", big, tasks_per_entry=5,
                   pool_labels={**pool, ("gsm8k", "1"): other, ("gsm8k", "3"): other})
    hurts = next(d for d in clash.decisions if HURTS in d["text"])
    assert sorted(hurts["task_ids"]) == ["1", "2", "4", "5"]  # the bank's own label of 1 wins

    again = ScriptedModel("big", respond=labeller_or_solver)
    label_pool(bank, again, out, benchmark="gsm8k", split="train", size=5)
    assert again.history == []  # cached


def test_a_pool_without_a_labeller_is_an_error(bank, tmp_path):
    from memcollab_cli.build.refine import label_pool

    (tmp_path / "bank.work" / "categories.jsonl").unlink()
    unlabelled = [MemoryEntry.create(CAT, SUB, "adding", "carrying", "guessing")]
    write_bank(bank, unlabelled)
    with pytest.raises(DataError, match="no labeller is recorded.*--labeller MODEL"):
        label_pool(bank, ScriptedModel("weak", respond=respond), tmp_path / "r.jsonl",
                   benchmark="gsm8k", split="train", size=3)
