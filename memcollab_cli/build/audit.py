"""Audit a contrast run without a model: how often its constraints say nothing reusable.

For a work directory (`constraints.jsonl` + `contrast-log.jsonl`), every constraint the summarizer
proposed — the accepted ones from the constraints file, the rejected ones from the log — is
checked against the rules that catch non-lessons, each rule on its own (a constraint may break
several): mirror images, the task's objects, notes about the problem, empty generalities. Rates
are given over the proposals (what the summarizer writes) and over the accepted constraints
(what reached the bank's input), with constraints kept per pair. Old logs, written before these
rules existed, are audited the same way: that is the "before" of issue 9.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from memcollab_cli.build.contrast import log_path
from memcollab_cli.build.vocabulary import benchmark_vocabulary
from memcollab_cli.jsonl import stream_jsonl
from memcollab_cli.memory.bank import constraint_sentence
from memcollab_cli.memory.constraints import FIELDS, clean_constraint, read_constraints, task_objects
from memcollab_cli.memory.substance import empty_field, mirror_image, problem_note

RULES = ("mirror image", "task's objects", "problem note", "empty generality")


def broken_rules(when: str, enforce: str, avoid: str, problem: str, benchmark: str) -> set[str]:
    """Which of RULES the constraint breaks (the objects rule only where the benchmark's
    vocabulary can be read)."""
    found = set()
    if mirror_image(enforce, avoid):
        found.add("mirror image")
    vocabulary = benchmark_vocabulary(benchmark)
    text = constraint_sentence(when, enforce, avoid)
    if vocabulary is not None and task_objects(text, problem, vocabulary):
        found.add("task's objects")
    if problem_note(" ".join((when, enforce, avoid))):
        found.add("problem note")
    if empty_field(dict(zip(FIELDS, (when, enforce, avoid), strict=True))):
        found.add("empty generality")
    return found


@dataclass
class Audit:
    name: str
    pairs: int = 0
    no_lesson: int = 0  # pairs answered with zero constraints
    proposed: list = field(default_factory=list)  # set of broken rules per proposal
    kept: list = field(default_factory=list)  # same, per accepted constraint

    def rate(self, which: str, rule: str) -> float:
        items = getattr(self, which)
        return sum(rule in r for r in items) / len(items) if items else 0.0

    def to_dict(self) -> dict:
        return {"name": self.name, "pairs": self.pairs, "no_lesson": self.no_lesson,
                "proposed": len(self.proposed), "kept": len(self.kept),
                "kept_per_pair": len(self.kept) / self.pairs if self.pairs else 0.0,
                "rates": {which: {rule: self.rate(which, rule) for rule in RULES}
                          for which in ("proposed", "kept")}}


def _constraints_path(workdir: Path) -> Path:
    workdir = Path(workdir)
    return workdir / "constraints.jsonl" if workdir.is_dir() else workdir


def logged_pairs(workdir: Path) -> set[tuple[str, str, str]]:
    """(task_id, pos, neg) of every pair in a run's contrast log."""
    return {(r["task_id"], r["pos"], r["neg"]) for _, r in stream_jsonl(log_path(_constraints_path(workdir)))}


def audit_workdir(workdir: Path, name: str | None = None,
                  only: set[tuple[str, str, str]] | None = None) -> Audit:
    """Audit `workdir/constraints.jsonl` and its contrast log (or a constraints file's path);
    `only` keeps the pairs of another run (a partial rerun compared on its own pairs)."""
    constraints_path = _constraints_path(workdir)
    by_id = {c.id: c for c in read_constraints(constraints_path)} if constraints_path.exists() else {}
    audit = Audit(name or str(workdir))
    for _, line in stream_jsonl(log_path(constraints_path)):
        if only is not None and (line["task_id"], line["pos"], line["neg"]) not in only:
            continue
        audit.pairs += 1
        problem, benchmark = line["problem"], line["benchmark"]
        if not line["accepted"] and not line["rejected"]:
            audit.no_lesson += 1
        for cid in line["accepted"]:
            c = by_id[cid]
            broken = broken_rules(c.when, c.enforce, c.avoid, problem, benchmark)
            audit.kept.append(broken)
            audit.proposed.append(broken)
        for r in line["rejected"]:
            if all(isinstance(r.get(f), str) for f in FIELDS):
                audit.proposed.append(broken_rules(*clean_constraint(*(r[f] for f in FIELDS)),
                                                   problem, benchmark))
    return audit


def merged(name: str, audits: list[Audit]) -> Audit:
    out = Audit(name)
    for a in audits:
        out.pairs += a.pairs
        out.no_lesson += a.no_lesson
        out.proposed += a.proposed
        out.kept += a.kept
    return out


def markdown(audits: list[Audit]) -> str:
    head = ("| run | pairs | no lesson | proposed | kept | kept/pair | "
            + " | ".join(f"{r} (proposed / kept)" for r in RULES) + " |")
    rows = [head, "|" + "---|" * (6 + len(RULES))]
    for a in audits:
        cells = [a.name, str(a.pairs), str(a.no_lesson), str(len(a.proposed)), str(len(a.kept)),
                 f"{len(a.kept) / a.pairs:.2f}" if a.pairs else "-"]
        cells += [f"{a.rate('proposed', r):.0%} / {a.rate('kept', r):.0%}" for r in RULES]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)
