"""A benchmark's shared vocabulary: what tells a reusable constraint from a note about one task.

"When a discount applies to the total cost" is reusable; "when counting the tulips" is not. The
difference is that most words of the first are used across the benchmark, while "tulips" belongs
to one problem. The vocabulary is every word that at least 1% of the benchmark's problems use (all
splits), plus the taxonomy's own words, which name the concepts constraints are filed under.
"""

from __future__ import annotations

from functools import lru_cache

from memcollab_cli.errors import MemcollabError
from memcollab_cli.memory import common_vocabulary, content_words, load_taxonomy, taxonomy_for_benchmark
from memcollab_cli.tasks.data import BENCHMARKS, load_tasks

# Below this many problems, "seldom used" is noise: the rule is off.
MIN_PROBLEMS = 100


@lru_cache(maxsize=8)
def benchmark_vocabulary(benchmark: str, taxonomy: str | None = None,
                         min_share: float = 0.01) -> frozenset[str] | None:
    """The shared vocabulary of `benchmark`, or None when its problems cannot be read here;
    `min_share` other than 1% only for studying the rule (bench/object_rule.py)."""
    splits = list(BENCHMARKS[benchmark].splits) if benchmark in BENCHMARKS else [None]
    try:
        texts = [t.question for split in splits for t in load_tasks(benchmark, split=split)]
        tax = load_taxonomy(taxonomy or taxonomy_for_benchmark(benchmark))
    except MemcollabError:
        return None
    if len(texts) < MIN_PROBLEMS:
        return None
    return common_vocabulary(texts, min_share) | content_words(tax.render())  # every name and description
