"""Turn raw constraints into a bank: classify each source task, tag, merge near-duplicates, write.

Constraints that name their task's objects are dropped here as well as at contrast time, so a
bank rebuilt from older constraints gets the same rule without another model call.

The classifier is the summarizing model; it sees the problem text recorded in the contrast log
beside the constraints file. Labels are cached in `categories.jsonl` beside it, so rebuilding the
bank (say with another merge threshold) costs no model call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from memcollab_cli.build.contrast import log_path
from memcollab_cli.build.vocabulary import benchmark_vocabulary
from memcollab_cli.jsonl import append_jsonl, read_jsonl
from memcollab_cli.memory import (
    Constraint,
    Taxonomy,
    load_taxonomy,
    merge_entries,
    read_constraints,
    task_objects,
    taxonomy_for_benchmark,
    write_bank,
)
from memcollab_cli.memory.problems import problem_hash
from memcollab_cli.runtime.base import Model
from memcollab_cli.tasks import Task
from memcollab_cli.use.routing import classify


@dataclass
class BuildSummary:
    constraints: int = 0
    classified: int = 0  # tasks labelled now (the rest came from the cache)
    dropped: int = 0  # constraints naming their task's objects
    merged: int = 0  # entries folded into another
    kept: int = 0
    by_category: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def categories_path(constraints: Path) -> Path:
    return Path(constraints).with_name("categories.jsonl")


def label_tasks(constraints: list[Constraint], problems: dict, classifier: Model, cache: Path,
                taxonomy: str | None, parallel: int = 1) -> tuple[dict, int]:
    """(benchmark, task_id) -> (category, subcategory), classifying only what the cache lacks.

    Each cached label records the hash of the taxonomy that offered its choices (`Taxonomy.hash`,
    here rather than in the bank, whose lines are entries only); a label made under another
    version of the taxonomy is made again. Lines from before the hash was recorded are kept.
    """
    taxonomies: dict[str, Taxonomy] = {}

    def taxonomy_of(benchmark: str) -> Taxonomy:
        if benchmark not in taxonomies:
            taxonomies[benchmark] = load_taxonomy(taxonomy or taxonomy_for_benchmark(benchmark))
        return taxonomies[benchmark]

    labels = {(r["benchmark"], r["task_id"]): (r["category"], r["subcategory"])
              for r in (read_jsonl(cache) if cache.exists() else [])
              if r.get("taxonomy", taxonomy_of(r["benchmark"]).hash) == taxonomy_of(r["benchmark"]).hash}
    todo: dict[str, list[Task]] = {}
    for c in constraints:
        key = (c.benchmark, c.task_id)
        if key not in labels and key in problems:
            todo.setdefault(c.benchmark, [])
            if all(t.id != c.task_id for t in todo[c.benchmark]):
                todo[c.benchmark].append(Task(id=c.task_id, benchmark=c.benchmark, domain="",
                                              question=problems[key]))
    fresh = 0
    for benchmark, tasks in todo.items():
        tax = taxonomy_of(benchmark)
        for task_id, (cat, sub) in classify(classifier, tasks, tax, parallel).items():
            labels[(benchmark, task_id)] = (cat, sub)
            append_jsonl(cache, {"benchmark": benchmark, "task_id": task_id, "category": cat,
                                 "subcategory": sub, "classifier": classifier.name,
                                 "taxonomy": tax.hash})
            fresh += 1
    return labels, fresh


def build_bank(constraints_path: Path, classifier: Model, out: Path, *, taxonomy: str | None = None,
               threshold: int = 90, parallel: int = 1) -> tuple[BuildSummary, list]:
    """Write the bank `out` from `constraints_path`; returns the summary and the merge report."""
    constraints_path = Path(constraints_path)
    constraints = read_constraints(constraints_path) if constraints_path.exists() else []
    log = log_path(constraints_path)
    problems = {(r["benchmark"], r["task_id"]): r.get("problem", "")
                for r in (read_jsonl(log) if log.exists() else [])}
    total = len(constraints)
    constraints = [c for c in constraints if not _names_objects(c, problems, taxonomy)]
    labels, fresh = label_tasks(constraints, problems, classifier, categories_path(constraints_path),
                                taxonomy, parallel)
    entries = [_with_problem(c.to_entry(*labels.get((c.benchmark, c.task_id), ("Other", "Other"))),
                             problems) for c in constraints]
    merged, report = merge_entries(entries, threshold=threshold)
    write_bank(out, merged)
    summary = BuildSummary(constraints=total, classified=fresh, dropped=total - len(constraints),
                           merged=len(entries) - len(merged), kept=len(merged))
    for e in merged:
        summary.by_category[e.category] = summary.by_category.get(e.category, 0) + 1
    return summary, report


def _with_problem(entry, problems: dict):
    """Record each source's problem hash, which the leakage guard keys on (task ids are not
    unique across a benchmark's splits)."""
    for source in entry.sources:
        text = problems.get((source["benchmark"], source["task_id"]))
        if text:
            source["problem"] = problem_hash(text)
    return entry


def _names_objects(c: Constraint, problems: dict, taxonomy: str | None) -> bool:
    vocabulary = benchmark_vocabulary(c.benchmark, taxonomy)
    problem = problems.get((c.benchmark, c.task_id), "")
    return bool(vocabulary and problem and task_objects(c.text(), problem, vocabulary))
