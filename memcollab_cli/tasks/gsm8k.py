"""GSM8K (Cobbe et al.): grade-school word problems, ids the 0-based line numbers of the file."""

from __future__ import annotations

from pathlib import Path

from memcollab_cli.jsonl import stream_jsonl
from memcollab_cli.tasks.base import Task


def read_gsm8k(path: Path) -> list[Task]:
    """Every task of one GSM8K file; the gold answer is what follows `####`, commas dropped."""
    tasks = []
    for i, (_, row) in enumerate(stream_jsonl(path)):
        answer = row["answer"].split("####")[-1].strip().replace(",", "")
        tasks.append(
            Task(
                id=str(i),
                benchmark="gsm8k",
                domain="math",
                question=row["question"],
                answer=answer,
                solution=row["answer"],
                meta={"solution": row["answer"]},
            )
        )
    return tasks
