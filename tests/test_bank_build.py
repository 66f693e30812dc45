"""Bank building drops constraints that name their task's objects, without a model call."""


from memcollab_cli.build import bank_build
from memcollab_cli.build.vocabulary import benchmark_vocabulary
from memcollab_cli.jsonl import read_jsonl, write_jsonl
from memcollab_cli.memory import common_vocabulary, load_taxonomy, read_bank
from memcollab_cli.memory.constraints import Constraint
from memcollab_cli.runtime.scripted import ScriptedModel

PROBLEMS = {"1": "A garden has roses and tulips. How many flowers are there in total?",
            "2": "Sam buys apples and pays the total cost. How much does Sam pay?"}
PROBLEMS_BY_KEY = {("gsm8k", t): p for t, p in PROBLEMS.items()}


def _constraint(task_id, when, enforce, avoid):
    return Constraint(task_id=task_id, benchmark="gsm8k", when=when, enforce=enforce, avoid=avoid,
                      pos={"model": "big", "record": "r" + task_id}, neg={"model": "small", "record": "w"},
                      summarizer="big", prompt="p")


def test_build_drops_object_constraints_from_the_cache_alone(tmp_path, monkeypatch):
    vocabulary = common_vocabulary([PROBLEMS["2"]] * 3) | {"many", "there"}
    monkeypatch.setattr(bank_build, "benchmark_vocabulary", lambda benchmark, taxonomy=None: vocabulary)
    work = tmp_path / "bank.work"
    work.mkdir()
    write_jsonl(work / "constraints.jsonl", [
        _constraint("1", "counting the tulips", "adding roses and tulips", "skipping the roses").to_dict(),
        _constraint("2", "a total cost is asked", "summing each price", "dropping a price").to_dict()])
    write_jsonl(work / "contrast-log.jsonl", [{"task_id": t, "benchmark": "gsm8k", "problem": p}
                                              for t, p in PROBLEMS.items()])
    write_jsonl(work / "categories.jsonl", [
        {"benchmark": "gsm8k", "task_id": t, "category": "Money & Shopping", "subcategory": "Total Cost",
         "classifier": "big"} for t in PROBLEMS])
    model = ScriptedModel([])  # any call would fail: labels come from the cache
    summary, _ = bank_build.build_bank(work / "constraints.jsonl", model, tmp_path / "bank.jsonl")
    assert (summary.constraints, summary.dropped, summary.kept) == (2, 1, 1)
    [entry] = read_bank(tmp_path / "bank.jsonl")
    assert entry.when == "a total cost is asked"


def test_labels_record_their_taxonomy_and_another_version_is_relabelled(tmp_path):
    cache = tmp_path / "categories.jsonl"
    label = {"benchmark": "gsm8k", "category": "Money & Shopping", "subcategory": "Total Cost",
             "classifier": "big"}
    write_jsonl(cache, [{**label, "task_id": "1"},  # from before the hash was recorded: kept
                        {**label, "task_id": "2", "taxonomy": "0ld0ld0ld0ld"}])  # another version
    constraints = [_constraint(t, "w", "e", "a") for t in PROBLEMS]
    model = ScriptedModel(replies=['{"category": "Rates & Work", "subcategory": "Work Rates"}'])
    labels, fresh = bank_build.label_tasks(constraints, PROBLEMS_BY_KEY, model, cache, None)
    assert fresh == 1 and len(model.history) == 1  # only task 2 is labelled again
    assert labels[("gsm8k", "1")] == ("Money & Shopping", "Total Cost")
    assert labels[("gsm8k", "2")] == ("Rates & Work", "Work Rates")
    assert read_jsonl(cache)[-1]["taxonomy"] == load_taxonomy("gsm8k").hash


def test_benchmark_vocabulary_needs_enough_problems(tmp_path):
    small = tmp_path / "small.jsonl"
    write_jsonl(small, [{"id": str(i), "question": "Add the apples.", "answer": "1"} for i in range(5)])
    assert benchmark_vocabulary(str(small), "gsm8k") is None
    big = tmp_path / "big.jsonl"
    write_jsonl(big, [{"id": str(i), "question": f"Add the apples of basket {i}.", "answer": "1"}
                      for i in range(150)])
    vocabulary = benchmark_vocabulary(str(big), "gsm8k")
    assert {"apple", "basket"} <= vocabulary  # used by every problem
    assert {"discount", "speed"} <= vocabulary  # the taxonomy's concept words
    assert "tulip" not in vocabulary


