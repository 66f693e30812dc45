"""Entries chosen without a label: the gold set (oracle), `when`-clause matching, a model that
picks from the list, their placebo, and the model-free retrieval report against a gold set."""

import json
from contextlib import nullcontext

import pytest

from memcollab_cli.errors import DataError
from memcollab_cli.jsonl import read_jsonl, write_jsonl
from memcollab_cli.memory import MemoryEntry, write_bank
from memcollab_cli.memory.problems import problem_hash
from memcollab_cli.memory.selection import ClauseMatcher, GoldSet
from memcollab_cli.runtime.scripted import ScriptedModel
from memcollab_cli.tasks import Task
from memcollab_cli.use.arms import Arm
from memcollab_cli.use.choose import choose_entries
from memcollab_cli.use.gold_report import RuleScore, label_accuracy, score_rules
from memcollab_cli.use.results import results_from_runs
from memcollab_cli.use.solve import solve

PERCENT = MemoryEntry.create("Percentages & Discounts", "Percent of a Quantity",
                             "a percent of an amount is asked", "multiplying by p/100",
                             "multiplying by p")
TIMES = MemoryEntry.create("Ratios & Proportions", "Part-to-Part Ratios",
                           "one quantity is a number of times another", "multiplying",
                           "adding")
AVERAGE = MemoryEntry.create("Averages", "Mean of a Set", "the average of several values is asked",
                             "dividing the sum by the count", "dividing by the wrong count")
CHANGE = MemoryEntry.create("Money & Shopping", "Making Change",
                            "change from a payment is asked", "subtracting the cost",
                            "giving the cost")
ENTRIES = [PERCENT, TIMES, AVERAGE, CHANGE]
QUESTIONS = {
    "0": "A shirt costs 40 dollars. What is 25 percent of its price?",
    "1": "Tom has 3 times as many apples as Ann, who has 4. What is the average of their apples?",
    "2": "Sam walks to school.",
}
APPLIES = {"0": [PERCENT.id], "1": [TIMES.id, AVERAGE.id], "2": []}


def gsm(task_id):
    return Task(id=task_id, benchmark="gsm8k", domain="math", question=QUESTIONS[task_id],
                answer="0")


@pytest.fixture
def bank(tmp_path):
    path = tmp_path / "hand.jsonl"
    write_bank(path, ENTRIES)
    return path


@pytest.fixture
def gold(tmp_path):
    path = tmp_path / "applies.jsonl"
    write_jsonl(path, [{"benchmark": "gsm8k", "split": "test", "task_id": k,
                        "problem": problem_hash(q), "applies": APPLIES[k]}
                       for k, q in QUESTIONS.items()])
    return path


def test_gold_set_reads_applies_by_problem_and_names_bad_lines(tmp_path, gold):
    found = GoldSet.read(gold, [e.id for e in ENTRIES])
    assert found.entries_for(QUESTIONS["1"]) == (TIMES.id, AVERAGE.id)
    assert found.entries_for("  " + QUESTIONS["2"].upper()) == ()  # hashed as normalized text
    with pytest.raises(DataError, match="no line for the problem"):
        found.entries_for("A problem nobody read.")
    with pytest.raises(DataError, match="not in the bank"):
        GoldSet.read(gold, [PERCENT.id])
    bad = tmp_path / "bad.jsonl"
    bad.write_text(gold.read_text() + '{"task_id": "9", "applies": []}\n')
    with pytest.raises(DataError, match=r"bad\.jsonl:4: a gold line has the keys"):
        GoldSet.read(bad)
    with pytest.raises(DataError, match="no such gold file"):
        GoldSet.read(tmp_path / "missing.jsonl")


def test_clause_matching_uses_content_words_not_function_words():
    matcher = ClauseMatcher(ENTRIES, "when", threshold=0.3)
    assert matcher.match(QUESTIONS["0"])[0] == PERCENT
    assert [e for e, _ in matcher.scores("Is it the one of the that?")] == []  # stopwords only
    assert AVERAGE in matcher.match("Find the average of the values 3, 5 and 7.")


def test_gold_routing_delivers_exactly_the_applicable_entries_and_a_placebo_of_others(
        tmp_path, bank, gold):
    out = tmp_path / "runs" / "m.jsonl"
    solver = ScriptedModel(name="m", respond=lambda r: "\\boxed{1}")
    tasks = [gsm(k) for k in QUESTIONS]
    solve(solver, tasks, out, arm=Arm(bank=bank, routing="gold", gold=gold))
    solve(solver, tasks, out, arm=Arm(bank=bank, routing="gold", gold=gold, placebo=True))
    recs = {(r["condition"]["name"], r["task_id"]): r for r in read_jsonl(out)}
    real = {k: recs[("hand@gold", k)] for k in QUESTIONS}
    fake = {k: recs[("placebo:hand@gold", k)] for k in QUESTIONS}
    assert real["0"]["condition"]["memory_ids"] == [PERCENT.id]
    assert set(real["1"]["condition"]["memory_ids"]) == {TIMES.id, AVERAGE.id}
    assert real["2"]["condition"]["memory_ids"] == [] and fake["2"]["condition"]["memory_ids"] == []
    assert real["0"]["condition"]["gold_sha256"] and real["0"]["condition"]["level"] == "gold"
    for k in ("0", "1"):
        drawn = fake[k]["condition"]["memory_ids"]
        assert len(drawn) == len(APPLIES[k]) and not set(drawn) & set(APPLIES[k])
        assert fake[k]["condition"]["header"] == "label"
        # the same block header: only the entries differ
        head = [m["content"].split("\n1. ")[0][-120:] for m in (real[k]["messages"][0],
                                                                fake[k]["messages"][0])]
        assert head[0] == head[1]
    with pytest.raises(DataError, match="needs the gold file"):
        solve(solver, [gsm("0")], tmp_path / "other.jsonl", arm=Arm(bank=bank, routing="gold"))
    # the report names the rule that delivered (these records carry no label)
    cells = results_from_runs([out]).cells
    assert cells[("m", "hand@gold")].routing["routing"] == "gold"
    assert cells[("m", "placebo:hand@gold")].routing["with_memory"] == 2


def test_a_placebo_with_the_old_mixed_header_is_not_extended(tmp_path, bank):
    out = tmp_path / "m.jsonl"
    solver = ScriptedModel(name="m", respond=lambda r: "\\boxed{1}")
    arm = Arm(bank=bank, routing="lexical", placebo=True, threshold=0.0)
    solve(solver, [gsm("0")], out, arm=arm)
    old = read_jsonl(out)[0]
    del old["condition"]["header"]  # as records made before the header was fixed
    write_jsonl(out, [old])
    solve(solver, [gsm("0")], out, arm=arm)  # nothing to add: fine
    with pytest.raises(DataError, match="headed 'mixed'"):
        solve(solver, [gsm("0"), gsm("1")], out, arm=arm)


def test_lexical_routing_records_its_threshold_and_names_its_condition(tmp_path, bank):
    out = tmp_path / "m.jsonl"
    solver = ScriptedModel(name="m", respond=lambda r: "\\boxed{1}")
    solve(solver, [gsm("0"), gsm("2")], out, arm=Arm(bank=bank, routing="lexical"))
    recs = {r["task_id"]: r["condition"] for r in read_jsonl(out)}
    assert recs["0"]["name"] == "hand@lexical" and recs["0"]["threshold"] == 0.1
    assert recs["0"]["memory_ids"][0] == PERCENT.id and recs["2"]["memory_ids"] == []


def test_a_chooser_picks_by_number_and_is_asked_once_per_problem(tmp_path):
    chooser = ScriptedModel(name="big", replies=['{"numbers": [3, 3, 99, 2]}', "not json"])
    cache = tmp_path / "choices.jsonl"
    opened = []

    def open_model(name):
        opened.append(name)
        return nullcontext(chooser)

    tasks = [gsm("1"), gsm("2")]
    got = choose_entries("big", open_model, ENTRIES, tasks, cache)
    assert got == {"1": [AVERAGE.id, TIMES.id], "2": []}  # repeats and out-of-range dropped
    prompt = chooser.history[0].messages[0]["content"]
    assert prompt.index("1. " + PERCENT.when) < prompt.index(QUESTIONS["1"])  # list first: cached
    again = choose_entries("big", open_model, ENTRIES, tasks, cache)
    assert again == got and opened == ["big"] and len(read_jsonl(cache)) == 2


def test_rule_scores_count_precision_recall_and_reach(gold):
    score = RuleScore("x")
    score.add([PERCENT.id, TIMES.id], [PERCENT.id])
    score.add([], [TIMES.id, AVERAGE.id])
    assert (score.precision, score.recall, score.reached, score.given) == (0.5, 1 / 3, 1, 1)
    tasks = [gsm(k) for k in QUESTIONS]
    labels = {"0": ("Percentages & Discounts", "Percent of a Quantity"),
              "1": ("Averages", "Mean of a Set"), "2": ("Averages", "Mean of a Set")}
    rows = {s.rule: s for s in score_rules(ENTRIES, GoldSet.read(gold), tasks, {"lab": labels},
                                           picks={"big": {"1": [TIMES.id]}})}
    assert (rows["lab"].correct, rows["lab"].delivered, rows["lab"].applicable) == (2, 3, 3)
    assert rows["choose: big"].n == 1 and rows["choose: big"].precision == 1.0
    assert label_accuracy({"lab": labels}, {"0": labels["0"], "1": ("Averages", "Weighted")}) == [
        {"labeller": "lab", "n": 2, "category": 2, "subcategory": 1}]


def test_route_gold_reports_every_rule_without_a_model(tmp_path, bank, gold):
    from typer.testing import CliRunner

    from memcollab_cli.cli.main import app

    tasks = tmp_path / "gsm8k.jsonl"
    write_jsonl(tasks, [{"id": k, "question": q, "answer": "1"} for k, q in QUESTIONS.items()])
    runs = tmp_path / "runs"
    write_jsonl(runs / "labels.jsonl", [
        {"benchmark": "gsm8k", "task_id": "0", "problem": problem_hash(QUESTIONS["0"]),
         "classifier": "big", "taxonomy": "t", "category": "Averages",
         "subcategory": "Mean of a Set"}])
    res = CliRunner().invoke(app, ["route", "-b", str(tasks), "--bank", str(bank), "--gold",
                                   str(gold), "-o", str(runs), "--json"])
    assert res.exit_code == 0, res.output
    rows = {r["rule"]: r for r in json.loads(res.stdout)["rules"]}
    assert rows["labels: big"]["n"] == 1 and rows["labels: big"]["reached"] == 0
    assert rows["lexical ≥0.10"]["n"] == 3
    res = CliRunner().invoke(app, ["route", "-b", str(tasks), "--bank", str(bank)])
    assert res.exit_code == 2 and "--model" in res.output
