"""The memory bank: one reasoning constraint per JSONL line, read strictly, written canonically.

A bank is what `distill` produces and `solve --memory` reads. Its lines are sorted by
(category, subcategory, id) and carry no timestamps, so the same inputs give the same bytes and
one changed constraint is a one-line `git diff`. People edit banks by hand, so reading is strict:
an unknown key (a typo such as `enforse`), a missing key, a wrong type, an empty field or a
duplicate id is an error naming the file and the line.

Left out: merging (`dedup.py`), retrieval (`retrieval.py`) and diffs (`diff.py`). An entry's id is
not re-checked against its text on reading, so a hand-edited constraint keeps its old id until the
next `distill`/`bank merge` recomputes it (see `entry_id`).
"""

from __future__ import annotations

import hashlib
import re
import string
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from memcollab_cli.errors import DataError
from memcollab_cli.filelock import hold_lock
from memcollab_cli.jsonl import iter_lines, write_jsonl

FORMAT = "memcollab.bank/1"

KEYS = ("avoid", "category", "enforce", "format", "id", "models", "prompt", "sources",
        "subcategory", "summarizer", "support", "when")
MODEL_KEYS = ("preferred", "unpreferred")
SOURCE_KEYS = ("benchmark", "neg", "pos", "task_id")
# Optional: what identifies the source problem for the leakage guard (`memory.problems`): the
# hash of its text, and the dataset split its task id belongs to.
OPTIONAL_SOURCE_KEYS = ("problem", "split")
# Optional: written by `bank refine` (wins and losses when the entry was tried on training tasks),
# absent from every other entry, so banks without it read and write byte for byte as before.
OPTIONAL_KEYS = ("evidence",)
EVIDENCE_KEYS = ("baseline", "benchmark", "lost", "model", "prompt", "split", "tasks", "won")
EVIDENCE_COUNTS = ("lost", "tasks", "won")
# Fields that must hold non-empty text. `summarizer` and `prompt` may be empty: an entry written
# by hand has neither.
NONEMPTY_TEXT = ("id", "category", "subcategory", "when", "enforce", "avoid")
ID_PATTERN = re.compile(r"^[0-9a-f]{16}$")

_WS = re.compile(r"\s+")
_END_PUNCT = string.punctuation + string.whitespace


# ---------------------------------------------------------------------------------------------
# ids and the entry itself


def normalize_text(text: str) -> str:
    """Lowercase, collapse whitespace and strip punctuation at both ends."""
    return _WS.sub(" ", text.lower()).strip(_END_PUNCT)


def constraint_sentence(when: str, enforce: str, avoid: str) -> str:
    """The paper's form of a constraint, as prompts show it and rules check it."""
    return f"When {when}, enforce {enforce}; avoid {avoid}."


def entry_id(when: str, enforce: str, avoid: str) -> str:
    """The bank id: first 16 hex digits of sha256 of the normalized "when|enforce|avoid".

    Category is deliberately not part of the id, so re-classifying an entry shows in a diff as a
    change of the same entry rather than a removal plus an addition.
    """
    key = "|".join(normalize_text(part) for part in (when, enforce, avoid))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def _source_key(source: dict) -> tuple:
    return tuple(source[k] for k in SOURCE_KEYS)


@dataclass
class MemoryEntry:
    """One constraint: "When <when>, enforce <enforce>; avoid <avoid>." plus its provenance.

    `models` and `sources` are kept sorted (and sources de-duplicated) so that merged entries and
    rebuilt banks serialize identically whatever order they were assembled in.
    """

    id: str
    category: str
    subcategory: str
    when: str
    enforce: str
    avoid: str
    models: dict = field(default_factory=lambda: {"preferred": [], "unpreferred": []})
    sources: list = field(default_factory=list)  # [{task_id, benchmark, pos, neg}]
    support: int = 1
    summarizer: str = ""
    prompt: str = ""
    format: str = FORMAT
    evidence: dict | None = None  # {benchmark, split, tasks, won, lost, model, prompt, baseline}

    def __post_init__(self):
        self.models = {k: sorted(set(self.models.get(k, []))) for k in MODEL_KEYS}
        unique = {_source_key(s): {k: s[k] for k in SOURCE_KEYS + OPTIONAL_SOURCE_KEYS if k in s}
                  for s in self.sources}
        self.sources = [unique[k] for k in sorted(unique)]

    @classmethod
    def create(cls, category: str, subcategory: str, when: str, enforce: str, avoid: str,
               **fields) -> "MemoryEntry":
        """A new entry whose id is computed from its text."""
        return cls(id=entry_id(when, enforce, avoid), category=category, subcategory=subcategory,
                   when=when, enforce=enforce, avoid=avoid, **fields)

    def text(self) -> str:
        """The constraint as one sentence, the form injected into prompts."""
        return constraint_sentence(self.when, self.enforce, self.avoid)

    @property
    def task_keys(self) -> set[tuple[str, str]]:
        """(benchmark, task_id) of every task this entry was distilled from."""
        return {(s["benchmark"], s["task_id"]) for s in self.sources}

    def to_dict(self) -> dict:
        return {
            "id": self.id, "category": self.category, "subcategory": self.subcategory,
            "when": self.when, "enforce": self.enforce, "avoid": self.avoid,
            "models": {k: list(self.models[k]) for k in MODEL_KEYS},
            "sources": [dict(s) for s in self.sources], "support": self.support,
            "summarizer": self.summarizer, "prompt": self.prompt, "format": self.format,
            **({"evidence": dict(self.evidence)} if self.evidence is not None else {}),
        }

    @classmethod
    def from_dict(cls, d: dict) -> "MemoryEntry":
        """Build an entry from a dict already checked by `check_entry_dict`."""
        return cls(**{k: d[k] for k in KEYS}, **{k: d[k] for k in OPTIONAL_KEYS if k in d})


# ---------------------------------------------------------------------------------------------
# validation


def _is_str_list(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) and v for v in value)


def check_entry_dict(d: dict) -> list[str]:
    """Every problem with one bank line, as messages without the file:line prefix."""
    problems = []
    for key in sorted(set(d) - set(KEYS) - set(OPTIONAL_KEYS)):
        problems.append(f"unknown key {key!r} (expected one of {', '.join(KEYS)})")
    for key in KEYS:
        if key not in d:
            problems.append(f"missing key {key!r}")
    for key in NONEMPTY_TEXT + ("summarizer", "prompt"):
        if key in d and not isinstance(d[key], str):
            problems.append(f"{key!r} must be a string, got {type(d[key]).__name__}")
        elif key in NONEMPTY_TEXT and key in d and not d[key].strip():
            problems.append(f"{key!r} is empty")
    if isinstance(d.get("id"), str) and d["id"].strip() and not ID_PATTERN.match(d["id"]):
        problems.append(f"'id' must be 16 lowercase hex digits, got {d['id']!r}")
    if "format" in d and d["format"] != FORMAT:
        problems.append(f"'format' must be {FORMAT!r}, got {d['format']!r}")
    support = d.get("support")
    if "support" in d and (not isinstance(support, int) or isinstance(support, bool)
                           or support < 1):
        problems.append(f"'support' must be an integer >= 1, got {support!r}")
    models = d.get("models")
    if "models" in d:
        if not isinstance(models, dict) or set(models) != set(MODEL_KEYS):
            problems.append("'models' must be an object with exactly the keys "
                            "'preferred' and 'unpreferred'")
        elif not all(_is_str_list(models[k]) for k in MODEL_KEYS):
            problems.append("'models.preferred' and 'models.unpreferred' must be lists of "
                            "non-empty strings")
    if "sources" in d:
        sources = d["sources"]
        if not isinstance(sources, list):
            problems.append(f"'sources' must be a list, got {type(sources).__name__}")
        else:
            for i, s in enumerate(sources):
                if (not isinstance(s, dict) or not set(SOURCE_KEYS) <= set(s)
                        or not set(s) <= set(SOURCE_KEYS + OPTIONAL_SOURCE_KEYS)):
                    problems.append(f"'sources[{i}]' must be an object with the keys "
                                    f"{', '.join(SOURCE_KEYS)} (and optionally "
                                    f"{', '.join(OPTIONAL_SOURCE_KEYS)})")
                elif not all(isinstance(v, str) for v in s.values()):
                    problems.append(f"'sources[{i}]' values must be strings")
                elif not (s["task_id"] and s["benchmark"] and s["pos"]):
                    # `neg` may be empty: self-memory entries come from a success alone.
                    problems.append(f"'sources[{i}]' needs non-empty task_id, benchmark and pos")
    if "evidence" in d:
        problems += _evidence_problems(d["evidence"])
    return problems


def _evidence_problems(ev) -> list[str]:
    if not isinstance(ev, dict) or set(ev) != set(EVIDENCE_KEYS):
        return [f"'evidence' must be an object with exactly the keys {', '.join(EVIDENCE_KEYS)}"]
    if not all(isinstance(ev[k], int) and not isinstance(ev[k], bool) and ev[k] >= 0
               for k in EVIDENCE_COUNTS):
        return ["'evidence.tasks', 'evidence.won' and 'evidence.lost' must be integers >= 0"]
    if ev["won"] + ev["lost"] > ev["tasks"]:
        return [f"'evidence' counts {ev['won']} won + {ev['lost']} lost on only {ev['tasks']} tasks"]
    if not all(isinstance(ev[k], str) for k in ("baseline", "benchmark", "model", "prompt", "split")):
        return ["'evidence.baseline', 'evidence.benchmark', 'evidence.model', 'evidence.prompt' and "
                "'evidence.split' must be strings"]
    return []


def _problems(path: Path) -> Iterator[tuple[str | None, MemoryEntry | None]]:
    """Walk a bank, yielding ("path:line: problem", None) or (None, entry) per line."""
    first_line: dict[str, int] = {}
    for lineno, obj, problem in iter_lines(path):  # gzip too; a bad line is a problem, not a stop
        where = f"{path}:{lineno}"
        if problem:
            yield f"{where}: {problem}", None
            continue
        problems = check_entry_dict(obj)
        if problems:
            for p in problems:
                yield f"{where}: {p}", None
            continue
        if obj["id"] in first_line:
            yield (f"{where}: duplicate id {obj['id']!r} (first on line {first_line[obj['id']]}); "
                   "run 'memcollab bank merge' to combine them"), None
            continue
        first_line[obj["id"]] = lineno
        yield None, MemoryEntry.from_dict(obj)


def read_bank(path: str | Path) -> list[MemoryEntry]:
    """All entries of a bank, in file order; the first problem raises DataError with file:line."""
    entries = []
    for problem, entry in _problems(Path(path)):
        if problem:
            raise DataError(problem)
        entries.append(entry)
    return entries


def validate_bank(path: str | Path) -> list[str]:
    """Every problem in a bank ("path:line: message"), empty when the bank is valid."""
    return [problem for problem, _ in _problems(Path(path)) if problem]


# ---------------------------------------------------------------------------------------------
# writing


def sort_key(entry: MemoryEntry) -> tuple[str, str, str]:
    return (entry.category, entry.subcategory, entry.id)


@contextmanager
def bank_lock(path: str | Path, timeout: float = 30.0):
    """Hold the exclusive lock on `<path>.lock` while reading-merging-writing or writing `path`.

    A second writer waits up to `timeout` seconds, then gets a DataError (see
    `memcollab_cli.filelock`).
    """
    busy = (f"{path}: another process is writing this bank (lock {Path(path).name}.lock held for "
            f"{timeout:g}s); wait for it to finish and retry")
    with hold_lock(path, timeout=timeout, busy=busy) as lock:
        yield lock


def write_bank(path: str | Path, entries: Iterable[MemoryEntry], lock_timeout: float = 30.0
               ) -> None:
    """Atomically write a bank sorted by (category, subcategory, id), under `bank_lock`."""
    update_bank(path, lambda: entries, lock_timeout)


def update_bank(path: str | Path, make_entries: Callable[[], Iterable[MemoryEntry]],
                lock_timeout: float = 30.0) -> list[MemoryEntry]:
    """Write what `make_entries()` returns to `path`, calling it with the lock already held.

    Whatever it reads (`path` itself, in `bank merge X A -o X`) cannot change before the write,
    so two updates of one bank run one after the other and neither is lost. Duplicate ids are
    refused (merge first with `dedup.merge_entries`): a bank with them could not be read back.
    """
    with bank_lock(path, timeout=lock_timeout):
        entries = sorted(make_entries(), key=sort_key)
        seen: set[str] = set()
        for e in entries:
            if e.id in seen:
                raise DataError(f"{path}: two entries share id {e.id!r}; merge them before writing")
            seen.add(e.id)
        write_jsonl(path, (e.to_dict() for e in entries))
    return entries


# ---------------------------------------------------------------------------------------------
# statistics


def bank_stats(entries: Iterable[MemoryEntry]) -> dict:
    """Counts for `bank stats`: entries by category, subcategory and model, support histogram."""
    entries = list(entries)
    categories: Counter = Counter()
    subcategories: dict[str, Counter] = {}
    preferred: Counter = Counter()
    unpreferred: Counter = Counter()
    support: Counter = Counter()
    for e in entries:
        categories[e.category] += 1
        subcategories.setdefault(e.category, Counter())[e.subcategory] += 1
        preferred.update(e.models["preferred"])
        unpreferred.update(e.models["unpreferred"])
        support[e.support] += 1
    return {
        "entries": len(entries),
        "sources": sum(len(e.sources) for e in entries),
        "categories": dict(sorted(categories.items())),
        "subcategories": {c: dict(sorted(s.items())) for c, s in sorted(subcategories.items())},
        "preferred": dict(sorted(preferred.items())),
        "unpreferred": dict(sorted(unpreferred.items())),
        "support": dict(sorted(support.items())),
    }
