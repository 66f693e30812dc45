"""The model-free audit of a contrast run (bench/contrast_audit.py's numbers)."""

from memcollab_cli.build.audit import audit_workdir, logged_pairs, markdown, merged
from memcollab_cli.jsonl import write_jsonl
from memcollab_cli.memory.constraints import Constraint


def make_workdir(tmp_path):
    pos, neg = {"model": "big", "record": "p1"}, {"model": "small", "record": "n1"}
    kept = Constraint(task_id="t1", benchmark="toy", when="a total of several stages is asked for",
                      enforce="considering every stage", avoid="not considering every stage",
                      pos=pos, neg=neg)
    write_jsonl(tmp_path / "constraints.jsonl", [kept.to_dict()])
    write_jsonl(tmp_path / "contrast-log.jsonl", [
        {"task_id": "t1", "benchmark": "toy", "pos": "p1", "neg": "n1", "problem": "Some pens.",
         "accepted": [kept.id], "rejected": [
             {"when": "The problem involves pens", "enforce": "correct calculation",
              "avoid": "adding the rate as an amount", "reason": "whatever"},
             {"when": 5, "enforce": "x", "avoid": "y", "reason": "malformed"}]},
        {"task_id": "t2", "benchmark": "toy", "pos": "p2", "neg": "n2", "problem": "More pens.",
         "accepted": [], "rejected": []}])
    return tmp_path


def test_rates_over_proposals_and_kept_constraints(tmp_path):
    a = audit_workdir(make_workdir(tmp_path), "before")
    assert (a.pairs, a.no_lesson, len(a.proposed), len(a.kept)) == (2, 1, 2, 1)
    assert a.rate("kept", "mirror image") == 1.0 and a.rate("proposed", "mirror image") == 0.5
    assert a.rate("proposed", "problem note") == 0.5 and a.rate("proposed", "empty generality") == 0.5
    assert a.rate("proposed", "task's objects") == 0.0  # toy benchmark: no vocabulary, rule off
    d = merged("all", [a, a]).to_dict()
    assert (d["pairs"], d["kept"], d["kept_per_pair"]) == (4, 2, 0.5)
    table = markdown([a])
    assert "| before | 2 | 1 | 2 | 1 | 0.50 | 50% / 100% |" in table


def test_only_the_pairs_of_another_run(tmp_path):
    work = make_workdir(tmp_path)
    assert logged_pairs(work) == {("t1", "p1", "n1"), ("t2", "p2", "n2")}
    a = audit_workdir(work, "x", only={("t2", "p2", "n2")})
    assert (a.pairs, len(a.proposed)) == (1, 0)
