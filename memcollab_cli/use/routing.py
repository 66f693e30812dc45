"""Routing: which (category, subcategory) a task is filed under, so it meets the right memory.

A bank's entries are labelled when the bank is built (by its labeller, the model that classified
the source tasks); a task being solved must be labelled by a rule that agrees with that one, or
it asks a question the bank files under another name. Three rules:

- `self` (the paper's): the solving model classifies its own task. Two models then disagree
  with each other and with the bank's labeller.
- `labeller`: the bank's labeller classifies the task too, so both sides come from one model.
  Its labels are cached in `labels.jsonl` beside the output, keyed by labeller, taxonomy and
  problem hash, so each task costs one model call once, whatever model solves it afterwards.
- `nearest`: the label of the most similar training task the bank knows (its sources and its
  classification cache), by TF-IDF over problem text. No model call.

Classification (`classify`) is a model call constrained to the taxonomy's names by a JSON schema,
so a small model cannot invent a category.

`BankSources` reads what a bank knows about its training tasks from its work directory
(`NAME.work/`: the contrast log holds each source's problem text, `categories.jsonl` the
labeller's labels) and, where a source carries it, from the bank itself.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, closing, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from memcollab_cli import prompts
from memcollab_cli.errors import DataError, ModelError
from memcollab_cli.jsonl import append_jsonl, read_jsonl, repair_tail
from memcollab_cli.memory import MemoryEntry, Taxonomy, load_taxonomy, taxonomy_for_benchmark
from memcollab_cli.memory.problems import ProblemIndex, problem_hash
from memcollab_cli.memory.taxonomy import OTHER
from memcollab_cli.runtime.base import Model, Request
from memcollab_cli.tasks import Task

CLASSIFY_TOKENS = 64


def classify(model: Model, tasks: list[Task], taxonomy: Taxonomy, parallel: int = 1) -> dict[str, tuple[str, str]]:
    """(category, subcategory) for each task id, as the given model sees it."""
    template = prompts.load("classify")
    schema = taxonomy.schema()
    requests = [Request(messages=[{"role": "user", "content": template.render(
        taxonomy=taxonomy.render(), problem=t.question)}], max_tokens=CLASSIFY_TOKENS,
        temperature=0.0, seed=42, json_schema=schema) for t in tasks]
    out: dict[str, tuple[str, str]] = {}
    for start in range(0, len(requests), max(1, parallel)):
        batch = requests[start:start + max(1, parallel)]
        for task, completion in zip(tasks[start:start + len(batch)], model.complete_many(batch), strict=True):
            out[task.id] = taxonomy.normalize(*_parse_classification(completion.text))
    return out


def _parse_classification(text: str) -> tuple[str, str]:
    try:
        obj = json.loads(text)
        return str(obj.get("category", "")), str(obj.get("subcategory", ""))
    except (json.JSONDecodeError, AttributeError):
        return "", ""  # normalize() maps unknowns to the fallback category


ROUTINGS = ("self", "labeller", "nearest")  # by label; memory.selection has the direct rules
DEFAULT_ROUTING = "labeller"
Label = tuple[str, str]


def work_dir(bank: Path) -> Path:
    """`NAME.work/` beside `NAME.jsonl`, where `distill` keeps a bank's intermediate files."""
    bank = Path(bank)
    return bank.with_name(bank.stem + ".work")


@dataclass
class BankSources:
    """The training tasks behind a bank: problem texts, labels and who labelled them."""

    problems: dict[tuple[str, str], str] = field(default_factory=dict)  # (benchmark, id) -> text
    labels: dict[tuple[str, str], Label] = field(default_factory=dict)
    labeller: str = ""

    @property
    def hashes(self) -> dict[tuple[str, str], str]:
        return {k: problem_hash(v) for k, v in self.problems.items()}

    @classmethod
    def of_bank(cls, bank: Path, entries: Sequence[MemoryEntry]) -> "BankSources":
        work = work_dir(bank)
        log, cache = work / "contrast-log.jsonl", work / "categories.jsonl"
        problems = {(r["benchmark"], r["task_id"]): r["problem"]
                    for r in (read_jsonl(log) if log.exists() else []) if r.get("problem")}
        labels: dict[tuple[str, str], Label] = {}
        classifiers: Counter = Counter()
        for r in read_jsonl(cache) if cache.exists() else []:
            labels[(r["benchmark"], r["task_id"])] = (r["category"], r["subcategory"])
            classifiers[r.get("classifier", "")] += 1
        for e in entries:  # sorted by label, so the first entry citing a source wins
            for s in e.sources:
                labels.setdefault((s["benchmark"], s["task_id"]), (e.category, e.subcategory))
        # The build classifies with its summarizer; the cache says so explicitly when present.
        if not classifiers:
            classifiers = Counter(e.summarizer for e in entries)
        classifiers.pop("", None)
        return cls(problems=problems, labels=labels,
                   labeller=classifiers.most_common(1)[0][0] if classifiers else "")


class NearestRouter:
    """Labels a task with the label of the most similar known training problem."""

    def __init__(self, sources: BankSources, where: str = "the bank"):
        keys = sorted(k for k in sources.labels if k in sources.problems)
        if not keys:
            raise DataError(f"{where}: routing 'nearest' needs the problem texts and labels of "
                            "the bank's training tasks (NAME.work/contrast-log.jsonl and "
                            "categories.jsonl beside the bank); use --routing labeller or self")
        self.labels = [sources.labels[k] for k in keys]
        texts = [sources.problems[k] for k in keys]
        self.hashes = [problem_hash(t) for t in texts]
        self.index = ProblemIndex(texts)

    def label(self, task: Task) -> Label:
        own = problem_hash(task.question)  # its own label would be no evidence of similarity
        found = self.index.nearest(task.question, 1,
                                   skip=[i for i, h in enumerate(self.hashes) if h == own])
        return self.labels[found[0][0]] if found else (OTHER, OTHER)


def labels_path(out: Path) -> Path:
    """The labeller's classification cache for an output file (or directory of them)."""
    out = Path(out)
    return (out if out.suffix == "" else out.parent) / "labels.jsonl"


def read_label_cache(cache: Path) -> dict[tuple, Label]:
    """(classifier, taxonomy hash, problem hash) -> label, from a labels cache (none if absent)."""
    cache = Path(cache)
    if not cache.exists():
        return {}
    repair_tail(cache)
    return {(r["classifier"], r["taxonomy"], r["problem"]): (r["category"], r["subcategory"])
            for r in read_jsonl(cache)}


def model_opener(model: Model, open_model: Callable[[str], AbstractContextManager[Model]] | None
                 ) -> Callable[[str], AbstractContextManager[Model]]:
    """Opens a helper model by name (a labeller, a chooser): the solving model itself when it is
    the one named (left open), else through `open_model`, else loaded and closed after use."""
    def opener(spec: str):
        if spec == model.name:
            return nullcontext(model)
        if open_model is None:
            from memcollab_cli.runtime import load_model

            return closing(load_model(spec))
        return open_model(spec)

    return opener


def labeller_labels(tasks: Sequence[Task], labeller: str, cache: Path,
                    open_model: Callable[[str], AbstractContextManager[Model]], classify: Callable,
                    taxonomy: str | None = None,
                    on_label: Callable[[int], None] | None = None) -> dict[str, Label]:
    """Labels by `labeller` for each task id. Only tasks missing from `cache` open the model
    (`open_model(name)`, a context manager) and call it; `on_label(to_label)` follows each call."""
    cache = Path(cache)
    known = read_label_cache(cache)
    out: dict[str, Label] = {}
    todo: dict[str, list[Task]] = {}
    taxonomies: dict[str, Taxonomy] = {}
    for t in tasks:
        name = taxonomy or taxonomy_for_benchmark(t.benchmark)
        tax = taxonomies.setdefault(name, load_taxonomy(name))
        key = (labeller, tax.hash, problem_hash(t.question))
        if key in known:
            out[t.id] = known[key]
        else:
            todo.setdefault(name, []).append(t)
    if not todo:
        return out
    with open_model(labeller) as model:
        for name, group in todo.items():
            tax = taxonomies[name]
            for t in group:  # the cache grows one label at a time: a kill loses nothing
                label = classify(model, [t], tax, 1)[t.id]
                append_jsonl(cache, {"benchmark": t.benchmark, "task_id": t.id,
                                     "problem": problem_hash(t.question), "classifier": labeller,
                                     "taxonomy": tax.hash, "category": label[0],
                                     "subcategory": label[1]})
                out[t.id] = label
                if on_label:
                    on_label(sum(map(len, todo.values())))
    return out


def route_tasks(rule: str, model: Model, tasks: Sequence[Task], sources: BankSources, *,
                labeller: str = "", cache: Path | None = None,
                open_model: Callable[[str], AbstractContextManager[Model]] | None = None,
                parallel: int = 1, where: str = "the bank",
                on_label: Callable[[int], None] | None = None) -> tuple[dict[str, Label], str]:
    """(labels by task id, who labelled) under `rule`; see the module docstring. `on_label`
    follows each labeller call (`labeller_labels`)."""
    if rule == "nearest":
        router = NearestRouter(sources, where)
        return {t.id: router.label(t) for t in tasks}, "nearest"
    if rule == "self" and cache is not None:  # the same fact as a labeller's: cached alike
        return labeller_labels(tasks, model.name, cache, lambda name: nullcontext(model),
                               classify), model.name
    if rule == "self":
        labels: dict[str, Label] = {}
        by_benchmark: dict[str, list[Task]] = {}
        for t in tasks:
            by_benchmark.setdefault(t.benchmark, []).append(t)
        for group in by_benchmark.values():
            taxonomy = load_taxonomy(taxonomy_for_benchmark(group[0].benchmark))
            labels.update(classify(model, group, taxonomy, parallel))
        return labels, model.name
    if rule != "labeller":
        raise DataError(f"unknown routing {rule!r}: choose one of {', '.join(ROUTINGS)}")
    name = labeller or sources.labeller
    if not name:
        raise DataError(f"{where}: no labeller is recorded (no categories.jsonl beside it and no "
                        "summarizer in its entries); give one with --labeller MODEL")
    if cache is None:
        raise DataError("routing 'labeller' needs a cache file for its labels")

    opener = model_opener(model, open_model)
    try:
        return labeller_labels(tasks, name, cache, opener, classify, on_label=on_label), name
    except ModelError as e:
        if labeller:
            raise
        raise DataError(f"{where}: its labeller {name!r} (recorded with the bank) cannot be "
                        f"loaded ({e}); name one with --labeller MODEL, or use --routing self "
                        "or nearest") from None


def labels_from_runs(paths: Sequence[Path], cache: Path, taxonomy: str | None = None) -> dict:
    """Add to `cache` the labels that trajectories recorded when their solving model labelled
    its own task (routing `self`, the only rule before routing was recorded): the same prompt,
    the same fact, no model call. Returns {added, known, conflicts} (conflicts: a model that
    labelled one problem two ways; the first label seen is kept)."""
    from memcollab_cli.records import stream_trajectories

    cache = Path(cache)
    seen = read_label_cache(cache)
    counts = {"added": 0, "known": 0, "conflicts": 0}
    taxonomies: dict[str, Taxonomy] = {}
    for path in paths:
        for _, rec in stream_trajectories(path):
            cond = rec["condition"]
            if "category" not in cond or cond.get("routing", "self") != "self":
                continue
            question = next(m["content"] for m in rec["messages"] if m["role"] == "user")
            name = taxonomy or taxonomy_for_benchmark(rec["benchmark"])
            tax = taxonomies.setdefault(name, load_taxonomy(name))
            model = rec["model"]["name"]
            key = (model, tax.hash, problem_hash(question))
            label = (cond["category"], cond.get("subcategory", ""))
            if key in seen:
                counts["known" if seen[key] == label else "conflicts"] += 1
                continue
            seen[key] = label
            append_jsonl(cache, {"benchmark": rec["benchmark"], "task_id": rec["task_id"],
                                 "problem": key[2], "classifier": model, "taxonomy": tax.hash,
                                 "category": label[0], "subcategory": label[1]})
            counts["added"] += 1
    return counts


def agreement(a: dict[str, Label], b: dict[str, Label]) -> dict:
    """How often two labellings of the same tasks agree: category, and category + subcategory."""
    shared = sorted(a.keys() & b.keys())
    same_cat = sum(a[k][0] == b[k][0] for k in shared)
    same_sub = sum(a[k] == b[k] for k in shared)
    return {"n": len(shared), "category": same_cat, "subcategory": same_sub}
