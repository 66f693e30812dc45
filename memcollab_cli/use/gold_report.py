"""How well each delivery rule puts a bank's entries in front of the tasks they are about.

Measured against a gold set (`memory.selection.GoldSet`) without running a model: label rules
read their labels from a labels cache (`routing.labeller_labels` writes it; one labelling per
classifier found there), `nearest` takes the label of the most similar labelled training problem,
`hand` the hand-checked labels, and the direct rules (`lexical`, `global`) need nothing. For each
rule, over the tasks it labels:

- precision: the share of delivered entries that apply to their task;
- recall: the share of applicable (task, entry) pairs that were delivered (at most top_p a task,
  so a task with more applicable entries than top_p caps it);
- reached: tasks given at least one applicable entry; given: tasks given any memory.

`label_accuracy` compares each labelling with the hand labels: the same category, the same
category and subcategory. `gold_report` puts it all together, as `memcollab route --gold` prints it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from memcollab_cli.errors import DataError
from memcollab_cli.jsonl import read_jsonl
from memcollab_cli.memory import MemoryEntry, Retriever, read_bank
from memcollab_cli.memory.problems import ProblemIndex, problem_hash
from memcollab_cli.memory.selection import THRESHOLDS, ClauseMatcher, GoldSet
from memcollab_cli.tasks import Task
from memcollab_cli.use.routing import read_label_cache

Label = tuple[str, str]


@dataclass
class RuleScore:
    """One rule's delivery, counted against the gold set."""

    rule: str
    n: int = 0  # tasks the rule routed
    given: int = 0  # tasks that received any entry
    reached: int = 0  # tasks that received at least one applicable entry
    delivered: int = 0  # (task, entry) pairs delivered
    correct: int = 0  # delivered pairs that apply
    applicable: int = 0  # applicable pairs on the routed tasks

    def add(self, delivered: Sequence[str], applies: Sequence[str]) -> None:
        hits = len(set(delivered) & set(applies))
        self.n += 1
        self.given += bool(delivered)
        self.reached += hits > 0
        self.delivered += len(delivered)
        self.correct += hits
        self.applicable += len(applies)

    @property
    def precision(self) -> float:
        return self.correct / self.delivered if self.delivered else 0.0

    @property
    def recall(self) -> float:
        return self.correct / self.applicable if self.applicable else 0.0

    def to_dict(self) -> dict:
        return {"rule": self.rule, "n": self.n, "given": self.given, "reached": self.reached,
                "delivered": self.delivered, "correct": self.correct,
                "applicable": self.applicable, "precision": round(self.precision, 4),
                "recall": round(self.recall, 4)}


def cached_labellings(cache: Path, tasks: Sequence[Task]) -> dict[str, dict[str, Label]]:
    """{classifier: {task id: label}} for the tasks a labels cache holds, by problem hash."""
    by_hash = {problem_hash(t.question): t.id for t in tasks}
    out: dict[str, dict[str, Label]] = {}
    for (classifier, _, problem), label in read_label_cache(cache).items():
        if problem in by_hash:
            out.setdefault(classifier, {})[by_hash[problem]] = label
    return out


def nearest_labels(tasks: Sequence[Task], pool: Sequence[Task], pool_labels: Mapping[str, Label]
                   ) -> dict[str, Label]:
    """Each task labelled as its most similar problem among the labelled `pool` tasks
    (`pool_labels`: pool task id -> label)."""
    labelled = [t for t in pool if t.id in pool_labels]
    if not labelled:
        raise DataError("no task of the nearest-neighbour pool has a label; check the pool's "
                        "benchmark and split")
    index = ProblemIndex([t.question for t in labelled])
    out = {}
    for t in tasks:
        found = index.nearest(t.question, 1)
        if found:
            out[t.id] = pool_labels[labelled[found[0][0]].id]
    return out


def hand_labels(path: Path, tasks: Sequence[Task]) -> dict[str, Label]:
    """task id -> (category, subcategory) from a hand-label file, matched by problem hash."""
    by_hash = {problem_hash(t.question): t.id for t in tasks}
    return {by_hash[r["problem"]]: (r["category"], r["subcategory"]) for r in read_jsonl(path)
            if r["problem"] in by_hash}


def cached_picks(cache: Path, entries: Sequence[MemoryEntry], tasks: Sequence[Task]
                 ) -> dict[str, dict[str, list[str]]]:
    """{chooser: {task id: entry ids}} from a choices cache (`use.choose`), for this bank's
    situations under the current prompt."""
    from memcollab_cli import prompts
    from memcollab_cli.jsonl import sha256_text
    from memcollab_cli.use.choose import cached_choices, situations

    key, prompt = sha256_text(situations(entries))[:12], prompts.load("choose_entries").hash
    out: dict[str, dict[str, list[str]]] = {}
    found = cached_choices(cache)
    for chooser in sorted({k[0] for k in found}):
        picks = {t.id: found[(chooser, key, prompt, problem_hash(t.question))] for t in tasks
                 if (chooser, key, prompt, problem_hash(t.question)) in found}
        if picks:
            out[chooser] = picks
    return out


def score_rules(entries: Sequence[MemoryEntry], gold: GoldSet, tasks: Sequence[Task],
                labellings: Mapping[str, Mapping[str, Label]], top_p: int = 3,
                thresholds: Mapping[str, float] | None = None,
                picks: Mapping[str, Mapping[str, list[str]]] | None = None) -> list[RuleScore]:
    """A score per labelling (label routing, as `Memory.recall` retrieves), per direct rule and
    per chooser whose picks are given (`cached_picks`)."""
    thresholds = {**THRESHOLDS, **(thresholds or {})}
    retriever = Retriever(entries)
    rules: dict[str, Callable[[Task], list[str] | None]] = {}
    for name, labels in labellings.items():
        rules[name] = lambda t, labels=labels: (
            retriever.retrieve(t.question, *labels[t.id], top_p=top_p).ids
            if t.id in labels else None)
    for rule, field in (("lexical", "when"), ("global", "text")):
        matcher = ClauseMatcher(entries, field, thresholds[rule])
        rules[f"{rule} ≥{thresholds[rule]:.2f}"] = (
            lambda t, m=matcher: [e.id for e in m.match(t.question)][:top_p])
    for chooser, chosen in (picks or {}).items():
        rules[f"choose: {chooser}"] = lambda t, c=chosen: c[t.id][:top_p] if t.id in c else None
    scores = []
    for name, deliver in rules.items():
        score = RuleScore(name)
        for t in tasks:
            delivered = deliver(t)
            if delivered is not None:
                score.add(delivered, gold.entries_for(t.question))
        scores.append(score)
    return scores


def label_accuracy(labellings: Mapping[str, Mapping[str, Label]], hand: Mapping[str, Label]
                   ) -> list[dict]:
    """Per labelling: tasks with a hand label, same category, same category and subcategory."""
    rows = []
    for name, labels in labellings.items():
        shared = sorted(hand.keys() & labels.keys())
        rows.append({"labeller": name, "n": len(shared),
                     "category": sum(labels[k][0] == hand[k][0] for k in shared),
                     "subcategory": sum(labels[k] == hand[k] for k in shared)})
    return rows


def gold_report(bank: Path, gold_path: Path, tasks: Sequence[Task], outdir: Path, *,
                hand_path: Path | None = None, nearest_from: Path | None = None,
                pool: Sequence[Task] = (), top_p: int = 3) -> dict:
    """Every rule's delivery of `bank` to `tasks`, scored against the gold file: label rules from
    `outdir/labels.jsonl` (one per classifier), `nearest` from the labelled `pool` tasks of
    `nearest_from`, `hand labels` from `hand_path`, the direct rules, and any chooser cached in
    `outdir/choices.jsonl`; with hand labels, each labelling's accuracy against them."""
    entries = read_bank(bank)
    gold = GoldSet.read(gold_path, [e.id for e in entries])
    labellings = {f"labels: {k}": v for k, v in
                  cached_labellings(Path(outdir) / "labels.jsonl", tasks).items()}
    if nearest_from is not None:
        for name, labels in cached_labellings(nearest_from, pool).items():
            labellings[f"nearest ({name})"] = nearest_labels(tasks, pool, labels)
    hand = hand_labels(hand_path, tasks) if hand_path is not None else {}
    accuracy = label_accuracy(labellings, hand) if hand else []
    if hand:
        labellings["hand labels"] = hand
    picks = cached_picks(Path(outdir) / "choices.jsonl", entries, tasks)
    scores = score_rules(entries, gold, tasks, labellings, top_p=top_p, picks=picks)
    return {"bank": Path(bank).name, "gold": Path(gold_path).name, "n": len(tasks),
            "top_p": top_p, "rules": [s.to_dict() for s in scores], "label_accuracy": accuracy}
