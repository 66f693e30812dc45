"""Routing `choose`: a model reads the bank's `when` clauses and names those that hold.

The bank's situations are listed once, numbered, before the problem, so llama.cpp reuses their
tokens from the prompt cache and each task costs its own problem and a few answer tokens. The
answer is constrained to {"numbers": [...]} by a JSON schema; numbers out of range or repeated
are dropped. Choices are cached in `choices.jsonl` beside the output, keyed by chooser, the
listed situations, the prompt and the problem hash, so a task is asked once whatever model
solves it afterwards (the `labels.jsonl` habit). Meant for banks of tens of entries: every
entry is in every prompt.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

from memcollab_cli import prompts
from memcollab_cli.jsonl import append_jsonl, read_jsonl, repair_tail, sha256_text
from memcollab_cli.memory import MemoryEntry
from memcollab_cli.memory.problems import problem_hash
from memcollab_cli.runtime.base import Model, Request
from memcollab_cli.tasks import Task

CHOOSE_TOKENS = 48


def choices_path(out: Path) -> Path:
    """The chooser's cache for an output file (or directory of them)."""
    out = Path(out)
    return (out if out.suffix == "" else out.parent) / "choices.jsonl"


def situations(entries: Sequence[MemoryEntry]) -> str:
    return "\n".join(f"{k}. {e.when}" for k, e in enumerate(entries, start=1))


def cached_choices(cache: Path, chooser: str | None = None) -> dict[tuple, list[str]]:
    """(chooser, situations key, prompt, problem hash) -> entry ids, from a choices cache."""
    cache = Path(cache)
    if not cache.exists():
        return {}
    repair_tail(cache)
    return {(r["chooser"], r["situations"], r["prompt"], r["problem"]): r["ids"]
            for r in read_jsonl(cache) if chooser is None or r["chooser"] == chooser}


def choose_entries(chooser: str, open_model: Callable, entries: Sequence[MemoryEntry],
                   tasks: Sequence[Task], cache: Path, k: int = 3,
                   on_task: Callable[[], None] | None = None) -> dict[str, list[str]]:
    """Entry ids the chooser names for each task, best first; only uncached tasks open the
    model (`open_model(chooser)`, a context manager)."""
    template = prompts.load("choose_entries")
    listed = situations(entries)
    key = sha256_text(listed)[:12]
    known = cached_choices(cache, chooser)
    out: dict[str, list[str]] = {}
    todo = []
    for t in tasks:
        found = known.get((chooser, key, template.hash, problem_hash(t.question)))
        if found is None:
            todo.append(t)
        else:
            out[t.id] = found
    if not todo:
        return out
    schema = {"type": "object", "properties": {"numbers": {
        "type": "array", "items": {"type": "integer"}, "maxItems": k}}, "required": ["numbers"]}
    with open_model(chooser) as model:
        for t in todo:  # one at a time, cached as it goes: a kill loses nothing
            text = template.render(situations=listed, problem=t.question, k=k)
            reply = _ask(model, Request(messages=[{"role": "user", "content": text}],
                                        max_tokens=CHOOSE_TOKENS, temperature=0.0, seed=42,
                                        json_schema=schema))
            ids = [entries[n - 1].id for n in _numbers(reply, len(entries))][:k]
            append_jsonl(cache, {"benchmark": t.benchmark, "task_id": t.id,
                                 "problem": problem_hash(t.question), "chooser": chooser,
                                 "situations": key, "prompt": template.hash, "ids": ids})
            out[t.id] = ids
            if on_task:
                on_task()
    return out


def _ask(model: Model, request: Request) -> str:
    return model.complete_many([request])[0].text


def _numbers(text: str, n: int) -> list[int]:
    """The distinct in-range numbers of a reply, in order; none for a reply that is not JSON."""
    try:
        numbers = json.loads(text).get("numbers", [])
    except (json.JSONDecodeError, AttributeError):
        return []
    seen: list[int] = []
    for x in numbers if isinstance(numbers, list) else []:
        if isinstance(x, int) and not isinstance(x, bool) and 1 <= x <= n and x not in seen:
            seen.append(x)
    return seen
