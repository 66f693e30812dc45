"""The memory bank and everything done to it without a model.

- `bank`: the entry record, strict reading, locked atomic writing, statistics;
- `constraints`: raw `contrast` output, the summarizer's schema and the abstraction guard;
- `pairing`: which trajectories are contrasted;
- `dedup`: exact and near-duplicate merging;
- `taxonomy`: category labels and the classifier's schema;
- `retrieval`: category-filtered TF-IDF retrieval and the random placebo;
- `diff`: entry-level differences between two banks.

Model calls (contrast, classification, solving) live in `build/` and `use/`, on top of these.
"""

from memcollab_cli.memory.bank import (
    FORMAT,
    MemoryEntry,
    bank_lock,
    bank_stats,
    entry_id,
    read_bank,
    validate_bank,
    write_bank,
)
from memcollab_cli.memory.constraints import (
    CONSTRAINT_SCHEMA,
    Constraint,
    clean_constraint,
    common_vocabulary,
    constraint_schema,
    content_words,
    read_constraints,
    task_objects,
    validate_constraint,
)
from memcollab_cli.memory.dedup import Merge, merge_banks, merge_entries
from memcollab_cli.memory.diff import BankDiff, diff_banks
from memcollab_cli.memory.pairing import POLICIES, Pair, make_pairs
from memcollab_cli.memory.retrieval import (
    Retrieval,
    Retriever,
    random_entries,
    render_memory_block,
)
from memcollab_cli.memory.taxonomy import Taxonomy, load_taxonomy, taxonomy_for_benchmark

__all__ = [
    "CONSTRAINT_SCHEMA", "FORMAT", "POLICIES", "BankDiff", "Constraint",
    "MemoryEntry", "Merge", "Pair", "Retrieval", "Retriever", "Taxonomy", "bank_lock",
    "bank_stats", "clean_constraint", "common_vocabulary", "constraint_schema", "content_words",
    "diff_banks", "entry_id",
    "load_taxonomy", "make_pairs", "merge_banks", "merge_entries", "random_entries", "read_bank",
    "read_constraints", "render_memory_block", "taxonomy_for_benchmark",
    "task_objects", "validate_bank", "validate_constraint", "write_bank",
]
