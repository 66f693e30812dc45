"""Routing rules (self, labeller, nearest), the labeller's cache, what a bank knows about its
sources, and the leakage guard through `Memory` on GSM8K-like train/test ids."""

import json
from contextlib import nullcontext

import pytest

from memcollab_cli.errors import DataError
from memcollab_cli.jsonl import read_jsonl, write_jsonl
from memcollab_cli.memory import MemoryEntry
from memcollab_cli.memory.problems import problem_hash
from memcollab_cli.runtime.scripted import ScriptedModel
from memcollab_cli.tasks import Task
from memcollab_cli.use.arms import Arm
from memcollab_cli.use.recall import Memory
from memcollab_cli.use.routing import BankSources, NearestRouter, route_tasks

TRAIN = {  # GSM8K-like: train ids restart at 0, like test ids
    "7": ("Ann buys 3 apples at 2 dollars each. How much does she pay?", ("Money & Shopping",
                                                                          "Total Cost")),
    "8": ("A train travels 60 miles per hour for 3 hours. How far does it go?",
          ("Rates & Work", "Speed, Distance & Time")),
}


def gsm(task_id, question):
    return Task(id=task_id, benchmark="gsm8k", domain="math", question=question, answer="0")


def make_bank(tmp_path, with_hashes=False, with_workdir=True):
    """A bank distilled from train tasks 7 and 8, its work dir as `distill` leaves it."""
    entries = []
    for task_id, (problem, (cat, sub)) in TRAIN.items():
        source = {"task_id": task_id, "benchmark": "gsm8k", "pos": "p", "neg": "n"}
        if with_hashes:
            source["problem"] = problem_hash(problem)
        entries.append(MemoryEntry.create(cat, sub, f"the case of task {task_id}", "checking",
                                          "guessing", sources=[source], summarizer="big"))
    bank = tmp_path / "bank.jsonl"
    write_jsonl(bank, [e.to_dict() for e in sorted(entries, key=lambda e: (e.category, e.id))])
    if with_workdir:
        work = tmp_path / "bank.work"
        write_jsonl(work / "contrast-log.jsonl", [
            {"benchmark": "gsm8k", "task_id": k, "problem": p} for k, (p, _) in TRAIN.items()])
        write_jsonl(work / "categories.jsonl", [
            {"benchmark": "gsm8k", "task_id": k, "category": c, "subcategory": s,
             "classifier": "big"} for k, (_, (c, s)) in TRAIN.items()])
    return bank


@pytest.mark.parametrize("with_hashes,with_workdir", [(True, False), (False, True)])
def test_train_7_is_retrieved_for_test_7_but_not_for_the_same_problem(tmp_path, with_hashes,
                                                                      with_workdir):
    memory = Memory(make_bank(tmp_path, with_hashes, with_workdir))
    test7 = gsm("7", "Bob has 4 pears and eats 1. How many are left?")
    got = memory.recall(test7, "Money & Shopping", "Total Cost")
    assert len(got.memory_ids) == 1  # test 7 is another problem than train 7
    same = gsm("7", TRAIN["7"][0].upper())  # the same problem, however it is spelled
    assert memory.recall(same, "Money & Shopping", "Total Cost").memory_ids == []
    assert memory.retriever.unguarded == 0
    placebo = Memory(memory.path, placebo=True)
    assert placebo.recall(same, "Money & Shopping", "Total Cost").memory_ids == []


def test_bank_sources_from_the_work_dir(tmp_path):
    sources = BankSources.of_bank(make_bank(tmp_path), [])
    assert sources.labeller == "big"
    assert sources.labels[("gsm8k", "8")] == ("Rates & Work", "Speed, Distance & Time")
    assert sources.hashes[("gsm8k", "7")] == problem_hash(TRAIN["7"][0])
    bare = BankSources.of_bank(make_bank(tmp_path / "x", with_workdir=False),
                               Memory(make_bank(tmp_path / "y")).entries)
    assert bare.labeller == "big" and bare.problems == {}  # labeller from the entries


def test_nearest_labels_by_the_most_similar_training_problem(tmp_path):
    router = NearestRouter(BankSources.of_bank(make_bank(tmp_path), []))
    assert router.label(gsm("1", "A car travels 50 miles per hour for 2 hours.")) == (
        "Rates & Work", "Speed, Distance & Time")
    # its own training problem is skipped: the nearest other one answers
    assert router.label(gsm("7", TRAIN["7"][0])) == ("Rates & Work", "Speed, Distance & Time")
    assert router.label(gsm("2", "zzz qqq")) == ("Other", "Other")
    with pytest.raises(DataError, match="routing 'nearest' needs the problem texts"):
        NearestRouter(BankSources())


def classifier(name, answer=("Money & Shopping", "Total Cost")):
    def respond(request):
        assert request.json_schema is not None
        return json.dumps({"category": answer[0], "subcategory": answer[1]})
    return ScriptedModel(name=name, respond=respond)


def test_labeller_routing_asks_the_labeller_once_per_task(tmp_path):
    tasks = [gsm("0", "Ann pays 3 dollars."), gsm("1", "A train goes 5 miles.")]
    sources = BankSources(labeller="big")
    solver, big = ScriptedModel(name="small"), classifier("big")
    opened = []

    def open_model(name):
        opened.append(name)
        return nullcontext(big)

    cache = tmp_path / "labels.jsonl"
    labels, who = route_tasks("labeller", solver, tasks, sources, cache=cache,
                              open_model=open_model)
    assert who == "big" and opened == ["big"] and len(big.history) == 2
    assert labels == {"0": ("Money & Shopping", "Total Cost"), "1": ("Money & Shopping",
                                                                    "Total Cost")}
    assert solver.history == []  # the solving model was never asked
    again, _ = route_tasks("labeller", solver, tasks + [gsm("2", "New one.")], sources,
                           cache=cache, open_model=open_model)
    assert opened == ["big", "big"] and len(big.history) == 3  # only the new task
    assert again["0"] == labels["0"]
    assert [r["problem"] for r in read_jsonl(cache)][:2] == [problem_hash(t.question)
                                                            for t in tasks]
    # --labeller overrides what the bank records; a bank with none needs it
    other = classifier("other", ("Rates & Work", "Speed, Distance & Time"))
    got, who = route_tasks("labeller", solver, tasks[:1], sources, labeller="other", cache=cache,
                           open_model=lambda name: nullcontext(other))
    assert who == "other" and got["0"] == ("Rates & Work", "Speed, Distance & Time")
    with pytest.raises(DataError, match="no labeller is recorded"):
        route_tasks("labeller", solver, tasks, BankSources(), cache=cache)


def test_self_routing_asks_the_solving_model():
    solver = classifier("small", ("Rates & Work", "Work Rates"))
    labels, who = route_tasks("self", solver, [gsm("0", "x")], BankSources())
    assert who == "small" and labels == {"0": ("Rates & Work", "Work Rates")}


def test_routing_is_recorded_and_resuming_under_another_rule_is_refused(tmp_path):
    from memcollab_cli.use.solve import solve

    bank = make_bank(tmp_path)
    solver = ScriptedModel(name="small", respond=lambda r: "\\boxed{6}")
    out = tmp_path / "runs" / "small.jsonl"
    task = gsm("0", "Cara buys 2 apples at 3 dollars each. How much?")
    solve(solver, [task], out, arm=Arm(bank=bank, routing="nearest"))
    cond = read_jsonl(out)[0]["condition"]
    assert (cond["routing"], cond["labeller"], cond["category"]) == ("nearest", "nearest",
                                                                     "Money & Shopping")
    assert cond["level"] == "subcategory" and solver.history[0].json_schema is None
    with pytest.raises(DataError, match="routed by 'nearest', this run routes by 'self'"):
        solve(solver, [task, gsm("1", "y")], out, arm=Arm(bank=bank, routing="self"))


def test_route_command_compares_the_rules(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from memcollab_cli.cli import common
    from memcollab_cli.cli.main import app

    bank = make_bank(tmp_path)
    tasks = tmp_path / "gsm8k.jsonl"  # a user file: its stem names the benchmark and taxonomy
    write_jsonl(tasks, [{"id": "7", "question": "Cid buys 5 apples at 2 dollars each. Cost?",
                         "answer": "10"},
                        {"id": "8", "question": TRAIN["8"][0], "answer": "180"}])
    models = {"big": classifier("big"), "small": classifier("small", ("Averages", "Mean of a Set"))}
    monkeypatch.setattr(common, "open_model", lambda spec, *a, **k: models[spec])
    res = CliRunner().invoke(app, ["route", "-m", "small", "-b", str(tasks), "--bank", str(bank),
                                   "-o", str(tmp_path / "runs"), "--json"])
    assert res.exit_code == 0, res.output
    rows = {r["rule"]: r for r in json.loads(res.stdout)["rules"]}
    assert rows["labeller"]["agreement"] == {"n": 2, "category": 2, "subcategory": 2}
    assert rows["self"]["agreement"]["category"] == 0 and rows["self"]["with_memory"] == 0
    assert rows["labeller"]["levels"] == {"subcategory": 2}
    assert rows["nearest"]["labeller"] == "nearest" and rows["nearest"]["with_memory"] == 2
    assert len(models["big"].history) == 2  # the labeller was asked once per task


def test_the_cli_offers_the_pipeline_rules_and_default():
    from memcollab_cli.cli import common
    from memcollab_cli.memory.selection import DIRECT_RULES
    from memcollab_cli.use import routing

    assert common.ROUTINGS == routing.ROUTINGS + DIRECT_RULES
    assert common.DEFAULT_ROUTING == routing.DEFAULT_ROUTING


def test_labels_recorded_in_runs_fill_the_cache(tmp_path):
    from memcollab_cli.records import Trajectory
    from memcollab_cli.use.routing import labels_from_runs

    def rec(cond, question, label):
        return Trajectory(
            task_id="0", benchmark="gsm8k", model={"name": "small", "sha256": ""},
            condition={"name": cond, "bank": "b.jsonl", "memory_ids": [], "category": label[0],
                       "subcategory": label[1]}, params={}, turns=1, answer="", correct=False,
            verdict="fail", messages=[{"role": "system", "content": "s"},
                                      {"role": "user", "content": question}]).to_record()

    runs = tmp_path / "small.jsonl"
    money, rates = ("Money & Shopping", "Total Cost"), ("Rates & Work", "Work Rates")
    write_jsonl(runs, [rec("a", "Ann pays 3 dollars.", money), rec("b", "Ann pays 3 dollars.",
                                                                   money),
                       rec("c", "Ann pays 3 dollars.", rates)])
    cache = tmp_path / "labels.jsonl"
    assert labels_from_runs([runs], cache) == {"added": 1, "known": 1, "conflicts": 1}
    solver = ScriptedModel(name="small")  # asked nothing: its label is cached
    labels, who = route_tasks("self", solver, [gsm("9", "Ann pays 3 dollars.")], BankSources(),
                              cache=cache)
    assert labels == {"9": money} and solver.history == []


def test_a_recorded_labeller_that_cannot_be_loaded_says_what_to_do(tmp_path):
    from memcollab_cli.errors import ModelError

    def cannot(name):
        raise ModelError(f"unknown model {name!r}")

    with pytest.raises(DataError, match="its labeller 'hand-written' .* --labeller MODEL"):
        route_tasks("labeller", ScriptedModel(name="small"), [gsm("0", "x")],
                    BankSources(labeller="hand-written"), cache=tmp_path / "l.jsonl",
                    open_model=cannot)


def test_a_bank_the_guard_cannot_read_is_named(tmp_path):
    from memcollab_cli.use.arms import UnguardedWarning
    from memcollab_cli.use.solve import solve

    bank = make_bank(tmp_path, with_hashes=False, with_workdir=False)
    solver = ScriptedModel(name="big", respond=lambda r: json.dumps(
        {"category": "Money & Shopping", "subcategory": "Total Cost"}) if r.json_schema
        else "\\boxed{3}")
    with pytest.warns(UnguardedWarning, match="2 entries have a source the leakage guard"):
        solve(solver, [gsm("0", "Ann pays 3 dollars.")], tmp_path / "o.jsonl",
              arm=Arm(bank=bank, routing="self"))
