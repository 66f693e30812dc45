"""The worked-examples arm: verified solutions of the most similar training problems, in place
of constraints (issue 9, item 8; not in the paper).

If abstract constraints cannot beat one or two concrete solved problems, users should know.
`Examples` reads trajectory files (say the strong model's runs a bank was built from, solved on a
train split), keeps the verified ones (one per problem), and for a task returns the `k` nearest by
TF-IDF over problem text, rendered with `prompts/examples_block.txt`. The leakage guard applies:
a trajectory of the very problem being solved (same problem hash) is never shown.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from memcollab_cli import prompts
from memcollab_cli.errors import DataError
from memcollab_cli.jsonl import sha256_file, sha256_text
from memcollab_cli.memory.problems import ProblemIndex, problem_hash
from memcollab_cli.records import stream_trajectories
from memcollab_cli.tasks import Task

EXAMPLE_CHARS = 1500  # per example: a long transcript would crowd out the task itself


@dataclass(frozen=True)
class Example:
    record_id: str
    benchmark: str
    task_id: str
    problem: str
    solution: str  # the model's turns and the program output it saw, in order


def _example(path: Path, lineno: int, rec: dict) -> Example | None:
    """The worked example of one checked trajectory record; None when it was not verified."""
    if not rec["correct"]:
        return None
    messages = rec["messages"]
    first_user = next((i for i, m in enumerate(messages) if m["role"] == "user"), None)
    if first_user is None:
        raise DataError(f"{path}:{lineno}: a trajectory record without the user's problem; pass "
                        "files written by `memcollab solve`")
    turns = [m["content"].strip() for m in messages[first_user + 1:]]
    return Example(record_id=rec["id"], benchmark=rec["benchmark"], task_id=rec["task_id"],
                   problem=messages[first_user]["content"],
                   solution="\n\n".join(t for t in turns if t))


def _clip(text: str) -> str:
    return text if len(text) <= EXAMPLE_CHARS else text[:EXAMPLE_CHARS] + "\n…"


class Examples:
    """Verified trajectories from `paths`, answering `recall(task)` with the nearest ones."""

    def __init__(self, paths: Iterable[str | Path], k: int = 2):
        self.paths = [Path(p) for p in paths]
        self.k = k
        seen: set[str] = set()
        self.examples: list[Example] = []
        for path in self.paths:
            for lineno, rec in stream_trajectories(path):
                ex = _example(path, lineno, rec)
                if ex is not None and problem_hash(ex.problem) not in seen:
                    seen.add(problem_hash(ex.problem))
                    self.examples.append(ex)
        if not self.examples:
            raise DataError(f"{', '.join(map(str, self.paths))}: no verified trajectory to use "
                            "as a worked example")
        self.hashes = [problem_hash(e.problem) for e in self.examples]
        self.index = ProblemIndex([e.problem for e in self.examples])
        self.template = prompts.load("examples_block")

    @property
    def sha256(self) -> str:
        """One short hash over the files' contents, recorded in each trajectory's condition."""
        return sha256_text("".join(sha256_file(p)
                                   for p in self.paths))[:12]

    def recall(self, task: Task) -> tuple[str, list[str]]:
        """(prompt block, record ids of the examples shown); ("", []) when none is similar."""
        own = problem_hash(task.question)
        found = self.index.nearest(task.question, self.k,
                                   skip=[i for i, h in enumerate(self.hashes) if h == own])
        chosen = [self.examples[i] for i, _ in found]
        if not chosen:
            return "", []
        body = "\n\n".join(f"Example {n}.\nProblem: {e.problem.strip()}\nSolution:\n"
                           f"{_clip(e.solution)}" for n, e in enumerate(chosen, start=1))
        return self.template.render(examples=body), [e.record_id for e in chosen]
