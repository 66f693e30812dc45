"""`evaluate`, `results_from_runs` and `merge_runs`: hand-written trajectory files for the
arithmetic, and a ScriptedModel that is right whenever memory is in its prompt for the runs."""

import io
import json
import re

import pytest

from memcollab_cli.errors import DataError, MemcollabError
from memcollab_cli.jsonl import read_jsonl, write_jsonl
from memcollab_cli.records import Trajectory
from memcollab_cli.use.evaluate import (
    merge_runs,
    paired_arms,
    plan_conditions,
    read_runs,
    results_from_runs,
    run_path,
)


def record(model, condition, task_id, correct, benchmark="toy", turns=1, temperature=0.0):
    return Trajectory(
        task_id=str(task_id), benchmark=benchmark, model={"name": model, "sha256": ""},
        condition={"name": condition}, params={"temperature": temperature, "seed": 42},
        messages=[], turns=turns, answer="", correct=correct,
        verdict="pass" if correct else "fail").to_record()


# outcome per task 0..9: none right on 0-3; bank right on 2-8 (wins 4-8, losses 0-1)
NONE_RIGHT = {0, 1, 2, 3}
BANK_RIGHT = {2, 3, 4, 5, 6, 7, 8}


def toy_runs(model="m"):
    return ([record(model, "none", i, i in NONE_RIGHT) for i in range(10)]
            + [record(model, "bank", i, i in BANK_RIGHT, turns=2) for i in range(10)])


# ---------------------------------------------------------------------------------------------
# pure: from trajectory files


def test_results_from_runs_counts_and_pairs(tmp_path):
    path = tmp_path / "m.jsonl"
    write_jsonl(path, toy_runs())
    result = results_from_runs([path])
    assert result.models == ["m"] and result.conditions == ["none", "bank"]
    none, bank = result.rows("m")
    assert (none.n, none.correct, none.vs_none) == (10, 4, None)
    assert (bank.n, bank.correct, bank.mean_turns) == (10, 7, 2.0)
    d = bank.vs_none
    assert (d.both, d.wins, d.losses, d.neither) == (2, 5, 2, 1)
    assert d.diff == pytest.approx(0.3)
    assert d.p_value == pytest.approx(2 * (1 + 7 + 21) / 128)  # exact McNemar, b=5, c=2
    assert bank.ci_low == pytest.approx(0.3968, abs=1e-4)  # Wilson 7/10
    assert result.worse() == []
    assert result.to_dict()["results"][1]["vs_none"]["wins"] == 5


def test_turns_are_paired_with_no_memory_task_by_task(tmp_path):
    # none: 1 turn everywhere; bank: 3 turns on task 0, 1 on task 1, 2 on the rest
    path = tmp_path / "m.jsonl"
    write_jsonl(path, [record("m", "none", i, i in NONE_RIGHT) for i in range(10)]
                + [record("m", "bank", i, i in BANK_RIGHT, turns={0: 3, 1: 1}.get(i, 2))
                   for i in range(10)])
    none, bank = results_from_runs([path]).rows("m")
    assert none.turns_vs_none is None and none.turns_per_solved == 1.0
    t = bank.turns_vs_none
    assert (t.n, t.lower, t.higher) == (10, 0, 9)
    assert t.diff == pytest.approx(1.0)  # (2 + 0 + 8 * 1) / 10
    assert t.p_value == pytest.approx(2 / 2 ** 9)  # sign test: 9 higher, 0 lower
    assert bank.turns_per_solved == 2.0  # solved tasks 2-8 took 2 turns each
    assert results_from_runs([path]).to_dict()["results"][1]["turns_vs_none"]["higher"] == 9


def test_paired_arms_compares_any_two_conditions(tmp_path):
    path = tmp_path / "m.jsonl"
    write_jsonl(path, toy_runs() + [record("m", "other", i, i < 5) for i in range(8)])
    d = paired_arms([path], "m", "bank", "other")  # over the 8 tasks both ran
    assert (d.n, d.both, d.wins, d.losses, d.neither) == (8, 3, 3, 2, 0)
    assert paired_arms([path], "m", "bank", "none", tasks=[("toy", "4")]).wins == 1
    with pytest.raises(DataError, match="'nope' and 'none'.*bank, none, other"):
        paired_arms([path], "m", "nope", "none")


def test_a_bank_is_also_paired_with_its_own_placebo(tmp_path):
    from rich.console import Console

    from memcollab_cli.use import report

    path = tmp_path / "m.jsonl"  # placebo right on 0-5: the bank wins 6-8, loses 0-1
    write_jsonl(path, toy_runs() + [record("m", "placebo:bank", i, i < 6) for i in range(10)])
    result = results_from_runs([path])
    d = result.cell("m", "bank").vs_placebo
    assert (d.n, d.both, d.wins, d.losses, d.neither) == (10, 4, 3, 2, 1)
    assert result.cell("m", "placebo:bank").vs_placebo is None
    assert result.cell("m", "none").vs_placebo is None
    assert result.to_dict()["results"][1]["vs_placebo"]["wins"] == 3
    console = Console(width=200, record=True, file=io.StringIO())
    for table in report.eval_tables(result):
        console.print(table)
    assert "m · each bank against its placebo" in console.export_text()


def test_paired_difference_only_over_shared_tasks(tmp_path):
    path = tmp_path / "m.jsonl"
    recs = [record("m", "none", i, True) for i in range(4)]
    recs += [record("m", "bank", i, False) for i in range(2, 8)]
    write_jsonl(path, recs)
    bank = results_from_runs([path]).cell("m", "bank")
    assert bank.n == 6 and bank.vs_none.n == 2 and bank.vs_none.losses == 2
    assert results_from_runs([path], tasks=[("toy", "3")]).cell("m", "bank").n == 1


def test_difference_over_the_tasks_that_received_memory(tmp_path):
    # A small bank: tasks 0-3 get memory (bank right on 2-3, none right on 0-3: 2 losses), the
    # rest get none and still flip by batching (bank right on 4-8: 5 wins). Overall +0.3; over
    # the tasks with memory -0.5.
    runs = toy_runs()
    for rec in runs[10:]:
        rec["condition"] = {"name": "bank", "bank": "bank.jsonl", "category": "c",
                            "memory_ids": ["a"] if int(rec["task_id"]) < 4 else []}
    path = tmp_path / "m.jsonl"
    write_jsonl(path, runs)
    bank = results_from_runs([path]).cell("m", "bank")
    assert bank.vs_none.diff == pytest.approx(0.3)
    d = bank.with_memory
    assert (d.n, d.both, d.wins, d.losses, d.neither) == (4, 2, 0, 2, 0)
    assert d.diff == pytest.approx(-0.5)
    assert bank.to_dict()["vs_none_with_memory"]["n"] == 4
    from rich.console import Console

    from memcollab_cli.use.report import routing_tables

    console = Console(width=200, record=True, file=io.StringIO())
    for table in routing_tables(results_from_runs([path]), "m"):
        console.print(table)
    text = console.export_text()
    assert "Δ pp with memory" in text and "-50.0 [" in text
    # every task with memory, or none: no subgroup to report
    for rec in runs[10:]:
        rec["condition"]["memory_ids"] = ["a"]
    write_jsonl(path, runs)
    assert results_from_runs([path]).cell("m", "bank").with_memory is None


def test_duplicates_counted_once_and_conflicts_refused(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    write_jsonl(a, toy_runs())
    write_jsonl(b, toy_runs()[:3])
    assert results_from_runs([a, b]).cell("m", "none").n == 10
    write_jsonl(b, [record("m", "none", 0, True, temperature=0.7)])
    with pytest.raises(DataError, match=r"b\.jsonl:1: a second, different record for task '0'"):
        read_runs([a, b])


def test_not_a_trajectory_names_file_and_line(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text(json.dumps(record("m", "none", 0, True)) + "\n" + '{"id": "zz"}\n')
    with pytest.raises(DataError, match=r"x\.jsonl:2: not a trajectory record"):
        results_from_runs([path])


def test_merge_is_deterministic_and_deduplicated(tmp_path):
    recs = toy_runs("b") + toy_runs("a")
    s0, s1 = tmp_path / "s0.jsonl", tmp_path / "s1.jsonl"
    write_jsonl(s0, recs[1::2])
    write_jsonl(s1, recs[0::2] + recs[:5])  # overlapping shards
    out1, out2 = tmp_path / "m1.jsonl", tmp_path / "m2.jsonl"
    assert merge_runs([s0, s1], out1) == 40
    merge_runs([s1, s0], out2)
    assert out1.read_bytes() == out2.read_bytes()
    keys = [(r["model"]["name"], r["condition"]["name"], r["task_id"]) for r in read_jsonl(out1)]
    assert keys[:11] == [("a", "none", str(i)) for i in range(10)] + [("a", "bank", "0")]


def test_merge_refuses_a_file_that_a_run_is_writing(tmp_path):
    from memcollab_cli.filelock import hold_lock

    path = tmp_path / "m.jsonl"
    write_jsonl(path, toy_runs())
    with hold_lock(path):  # as `solve` holds it for a whole run
        with pytest.raises(DataError, match="a memcollab run is writing this file"):
            merge_runs([path], path)
    assert merge_runs([path], path) == 20


def test_plan_conditions_refuses_colliding_stems(tmp_path):
    (tmp_path / "x").mkdir()
    a, b = tmp_path / "bank.jsonl", tmp_path / "x" / "bank.jsonl"
    plan = plan_conditions({"one": a}, placebo=True)
    assert [(c.name, c.label) for c in plan] == [("none", "none"), ("bank", "one"),
                                                 ("placebo:bank", "placebo:one")]
    with pytest.raises(MemcollabError, match="share the file name 'bank'"):
        plan_conditions({"one": a, "two": b}, placebo=False)
    assert run_path(tmp_path, "org/model:Q4").name == "org_model_Q4.jsonl"


def test_run_path_takes_the_compressed_run_where_only_it_exists(tmp_path):
    assert run_path(tmp_path, "m").name == "m.jsonl"
    (tmp_path / "m.jsonl.gz").write_bytes(b"")
    assert run_path(tmp_path, "m").name == "m.jsonl.gz"
    (tmp_path / "m.jsonl").write_text("")  # both: the plain file, as before
    assert run_path(tmp_path, "m").name == "m.jsonl"


# ---------------------------------------------------------------------------------------------
# with a scripted model through the real solve pipeline

CATEGORY, SUBCATEGORY = "Prealgebra", "Order of Operations & Arithmetic"


def entry(i, category, subcategory):
    from memcollab_cli.memory import MemoryEntry

    return MemoryEntry.create(category, subcategory, f"adding numbers case {i}",
                              f"check the sum {i} twice", f"guessing {i}",
                              sources=[{"task_id": f"train-{i}", "benchmark": "train", "split": "train",
                                        "pos": "a", "neg": "b"}],
                              summarizer="tiny").to_dict()  # the labeller: the scripted model


def write_bank(path, n_geometry=3):
    lines = [entry(i, CATEGORY, SUBCATEGORY) for i in range(2)]
    lines += [entry(10 + i, "Geometry", "Areas of Polygons") for i in range(n_geometry)]
    write_jsonl(path, sorted(lines, key=lambda e: (e["category"], e["subcategory"], e["id"])))
    return path


def write_tasks(path, n=6):
    write_jsonl(path, [{"id": str(i), "question": f"What is {i} + 3?", "answer": str(i + 3)}
                       for i in range(n)])
    return path


def respond(request):
    """Classify everything as arithmetic; answer right with memory, else only for even numbers."""
    if request.json_schema is not None:
        return json.dumps({"category": CATEGORY, "subcategory": SUBCATEGORY})
    system, question = request.messages[0]["content"], request.messages[1]["content"]
    a = int(re.search(r"What is (\d+)", question)[1])
    right = "Reasoning constraints" in system or a % 2 == 0
    return f"The sum is \\boxed{{{a + 3 if right else a + 4}}}"


@pytest.fixture
def toy(tmp_path):
    from memcollab_cli.tasks import load_tasks

    tasks_file = write_tasks(tmp_path / "toy.jsonl")
    return {"tasks_file": tasks_file, "tasks": load_tasks(str(tasks_file)),
            "bank": write_bank(tmp_path / "banks" / "arith.jsonl"),
            "bank2": write_bank(tmp_path / "banks" / "arith2.jsonl", n_geometry=1),
            "outdir": tmp_path / "runs"}


def scripted(name="tiny"):
    from memcollab_cli.runtime.scripted import ScriptedModel

    return ScriptedModel(name=name, respond=respond)


def test_evaluate_bank_beats_none_and_placebo_ignores_category(toy):
    from memcollab_cli.use.evaluate import evaluate

    model = scripted()
    started = []
    result = evaluate(model, toy["tasks"], toy["outdir"], {"mem": toy["bank"]}, placebo=True,
                      on_condition=lambda s: started.append(s.condition))
    assert started == ["none", "arith", "placebo:arith"]
    assert result.conditions == ["none", "arith", "placebo:arith"]
    none, bank, placebo = result.rows("tiny")
    assert (none.correct, bank.correct, placebo.correct) == (3, 6, 6)
    assert bank.label == "mem" and placebo.label == "placebo:mem"
    assert bank.vs_none.wins == 3 and bank.vs_none.losses == 0
    records = read_jsonl(toy["outdir"] / "tiny.jsonl")
    assert len(records) == 18
    placebo_ids = {i for r in records if r["condition"]["name"] == "placebo:arith"
                   for i in r["condition"]["memory_ids"]}
    real = [r["condition"]["memory_ids"] for r in records if r["condition"]["name"] == "arith"]
    geometry = {json.loads(line)["id"] for line in toy["bank"].read_text().splitlines()
                if json.loads(line)["category"] == "Geometry"}
    assert all(len(ids) == 2 and not set(ids) & geometry for ids in real)
    assert placebo_ids & geometry  # drawn from the whole bank, not the task's category
    assert all(len(r["condition"]["memory_ids"]) == 2 for r in records
               if r["condition"]["name"] == "placebo:arith")


def test_rerun_with_one_more_bank_runs_only_that_bank(toy):
    from memcollab_cli.use.evaluate import evaluate

    first = scripted()
    evaluate(first, toy["tasks"], toy["outdir"], {"mem": toy["bank"]})
    n = len(toy["tasks"])
    assert len(first.history) == n + 2 * n  # none: solve; bank: classify + solve
    second = scripted()
    result = evaluate(second, toy["tasks"], toy["outdir"], {"mem": toy["bank"],
                                                            "mem2": toy["bank2"]})
    # only the new bank, and its tasks' labels come from the labeller's cache
    assert len(second.history) == n
    assert all("Reasoning constraints" in r.messages[0]["content"] for r in second.history)
    assert len(read_jsonl(toy["outdir"] / "labels.jsonl")) == n
    assert [c.n for c in result.rows("tiny")] == [n, n, n]


def respond_by_parity(request):
    """Even tasks are arithmetic, which the geometry-only bank has nothing for."""
    if request.json_schema is not None:
        a = int(re.search(r"What is (\d+)", request.messages[-1]["content"])[1])
        label = (CATEGORY, SUBCATEGORY) if a % 2 == 0 else ("Geometry", "Areas of Polygons")
        return json.dumps({"category": label[0], "subcategory": label[1]})
    return respond(request)


def geometry_bank(path):
    write_jsonl(path, [entry(10 + i, "Geometry", "Areas of Polygons") for i in range(3)])
    return path


def test_a_task_without_memory_takes_the_no_memory_transcript(toy):
    from rich.console import Console

    from memcollab_cli.runtime.scripted import ScriptedModel
    from memcollab_cli.use import report
    from memcollab_cli.use.evaluate import evaluate

    model = ScriptedModel(name="tiny", respond=respond_by_parity)
    bank = geometry_bank(toy["bank"].with_name("geo.jsonl"))
    result = evaluate(model, toy["tasks"], toy["outdir"], {"geo": bank}, placebo=True)
    solved = [r for r in model.history if r.json_schema is None]
    n = len(toy["tasks"])
    assert len(solved) == n + 2 * (n // 2)  # none; then only the odd tasks, under bank and placebo
    records = read_jsonl(toy["outdir"] / "tiny.jsonl")
    none = {r["task_id"]: r for r in records if r["condition"]["name"] == "none"}
    for name in ("geo", "placebo:geo"):
        arm = {r["task_id"]: r for r in records if r["condition"]["name"] == name}
        assert sorted(arm, key=int) == [str(i) for i in range(n)]
        for task_id, r in arm.items():
            if int(task_id) % 2 == 0:
                assert r["condition"]["memory_ids"] == []
                assert r["condition"]["stand_in"] == none[task_id]["id"]
                assert r["messages"] == none[task_id]["messages"] and r["id"] != none[task_id]["id"]
            else:
                assert "stand_in" not in r["condition"] and r["condition"]["memory_ids"]
    _, bank_row, placebo_row = result.rows("tiny")
    assert bank_row.routing["stand_ins"] == placebo_row.routing["stand_ins"] == n // 2
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(report.routing_table(result, "tiny"))
    text = console.export_text()
    assert "50.0%" in text and "(3 reused)" in text
    cost = next(t for t in report.eval_tables(result) if str(t.title).endswith("tokens and time"))
    assert cost.caption.startswith(f"{2 * (n // 2)} reused no-memory transcripts")


def test_a_stand_in_needs_the_identical_prompt_and_can_be_refused(toy):
    from memcollab_cli.runtime.scripted import ScriptedModel
    from memcollab_cli.use.arms import ArmSettings
    from memcollab_cli.use.evaluate import evaluate

    bank = geometry_bank(toy["bank"].with_name("geo.jsonl"))
    evaluate(ScriptedModel(name="tiny", respond=respond_by_parity), toy["tasks"], toy["outdir"])
    runs = toy["outdir"] / "tiny.jsonl"
    records = read_jsonl(runs)
    records[0]["messages"][0]["content"] += " (another prompt)"  # task 0: not the prompt a bank gives
    write_jsonl(runs, records)
    model = ScriptedModel(name="tiny", respond=respond_by_parity)
    evaluate(model, toy["tasks"], toy["outdir"], {"geo": bank})
    solved = [r.messages[1]["content"] for r in model.history if r.json_schema is None]
    assert solved == [f"What is {i} + 3?" for i in range(6) if i % 2 or i == 0]

    model = ScriptedModel(name="tiny", respond=respond_by_parity)
    evaluate(model, toy["tasks"], toy["outdir"].with_name("again"), {"geo": bank},
             settings=ArmSettings(reuse=False))
    assert len([r for r in model.history if r.json_schema is None]) == 2 * len(toy["tasks"])


def test_edited_bank_is_not_mixed_with_old_results(toy):
    from memcollab_cli.use.evaluate import evaluate

    evaluate(scripted(), toy["tasks"], toy["outdir"], {"mem": toy["bank"]})
    write_bank(toy["bank"], n_geometry=2)
    with pytest.raises(DataError, match="different version of that bank"):
        evaluate(scripted(), toy["tasks"], toy["outdir"], {"mem": toy["bank"]})


def test_merged_shards_report_equals_unsharded(toy, tmp_path):
    from memcollab_cli.tasks import load_tasks
    from memcollab_cli.use.evaluate import evaluate

    banks = {"mem": toy["bank"]}
    whole = evaluate(scripted(), toy["tasks"], tmp_path / "whole", banks, placebo=True)
    shards = []
    for i in range(2):
        part = load_tasks(str(toy["tasks_file"]), shard=f"{i}/2")
        evaluate(scripted(), part, tmp_path / f"s{i}", banks, placebo=True)
        shards.append(tmp_path / f"s{i}" / "tiny.jsonl")
    merged = tmp_path / "merged.jsonl"
    merge_runs(shards, merged)
    plan = plan_conditions(banks, placebo=True)
    from_merged = results_from_runs([merged], conditions=[c.name for c in plan],
                                    labels={c.name: c.label for c in plan})
    assert from_merged.to_dict() == whole.to_dict()
    # and without merging first: the shards read together give the same numbers
    assert results_from_runs(shards).to_dict()["results"] == \
        results_from_runs([tmp_path / "whole" / "tiny.jsonl"]).to_dict()["results"]


def test_eval_command_runs_a_model(toy, monkeypatch):
    import typer
    from typer.testing import CliRunner

    from memcollab_cli.cli import common, eval_cmd

    opened = []

    def open_model(spec, *args, **kwargs):
        opened.append(spec)
        return scripted(spec)

    monkeypatch.setattr(common, "open_model", open_model)
    app = typer.Typer()
    app.command(name="eval")(eval_cmd.eval_)
    app.command(name="other")(lambda: None)
    args = ["eval", "-m", "tiny", "-b", str(toy["tasks_file"]), "--bank", f"mem={toy['bank']}",
            "--placebo", "-o", str(toy["outdir"]), "--json", "--fail-if-worse"]
    res = CliRunner().invoke(app, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert [(c["name"], c["label"]) for c in data["conditions"]] == [
        ("none", "none"), ("arith", "mem"), ("placebo:arith", "placebo:mem")]
    assert [r["correct"] for r in data["results"]] == [3, 6, 6]
    assert opened == ["tiny"]
    res = CliRunner().invoke(app, args + ["--shard", "0/2"], catch_exceptions=False)
    assert [r["n"] for r in json.loads(res.stdout)["results"]] == [3, 3, 3]
