"""The trajectory record: one task solved by one model under one condition.

On disk each record is one JSONL line (see DESIGN.md); `to_dict`/`from_dict` are the exact
shapes. The record keeps the raw messages, the extracted answer and the verdict together.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path

from memcollab_cli.errors import DataError
from memcollab_cli.jsonl import dumps, sha256_text, stream_jsonl

FORMAT = "memcollab.trajectory/1"
READ_HINT = "pass files written by `memcollab solve`, `eval` or `transfer`"


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    seconds: float = 0.0

    def add(self, prompt_tokens: int, completion_tokens: int, cached_tokens: int, seconds: float):
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens
        self.cached_tokens += cached_tokens
        self.seconds += seconds

    def add_to(self, totals) -> None:
        """Add these counts to a run summary's prompt_tokens, cached_tokens, completion_tokens
        and model_seconds (`solve`'s and `refine`'s summaries)."""
        totals.prompt_tokens += self.prompt_tokens
        totals.cached_tokens += self.cached_tokens
        totals.completion_tokens += self.completion_tokens
        totals.model_seconds += self.seconds


@dataclass
class Trajectory:
    task_id: str
    benchmark: str
    model: dict  # {name, sha256}
    condition: dict  # {name, bank, memory_ids, category, subcategory}
    params: dict  # {temperature, seed, max_tokens, max_turns, prompt, parallel}
    messages: list[dict]
    turns: int
    answer: str
    correct: bool
    verdict: str
    detail: str = ""
    isolation: str = ""  # the sandbox code ran in (tasks.isolation()); "" when none ran
    usage: Usage = field(default_factory=Usage)
    format: str = FORMAT
    # What the engine said of itself (runtime.base.runtime_facts: chat format, context, threads,
    # batch). Outside `params` and the id on purpose: the same run on another machine or build
    # is the same experiment, and files written before the field existed still resume.
    runtime: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        """Stable id from what determines the run: task, model, condition and parameters."""
        key = {k: v for k, v in self.to_dict().items()
               if k in ("task_id", "benchmark", "model", "condition", "params")}
        return sha256_text(dumps(key))[:16]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["usage"]["seconds"] = round(d["usage"]["seconds"], 3)
        if not d["runtime"]:  # optional: absent rather than empty
            del d["runtime"]
        return d

    def to_record(self) -> dict:
        """The on-disk line: the record plus its id."""
        return {**self.to_dict(), "id": self.id}

    @classmethod
    def from_dict(cls, d: dict, where: str = "", hint: str = READ_HINT) -> "Trajectory":
        """The record of one line; a DataError `where: ...` names the first field that is wrong."""
        problem = record_problem(d)
        if problem:
            raise DataError(f"{where or 'trajectory'}: not a trajectory record: {problem}; {hint}")
        d = {k: v for k, v in d.items() if k != "id"}
        usage = Usage(**d.pop("usage", {}))
        return cls(**d, usage=usage)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


# What each field must hold: (test, what to say). Fields added to Trajectory later are accepted
# with any value until they get a line here.
_FIELD_CHECKS = {
    "task_id": (lambda v: isinstance(v, str), "a string"),
    "benchmark": (lambda v: isinstance(v, str), "a string"),
    "model": (lambda v: isinstance(v, dict) and isinstance(v.get("name"), str)
              and isinstance(v.get("sha256", ""), str), "an object with a string 'name'"),
    "condition": (lambda v: isinstance(v, dict) and isinstance(v.get("name"), str),
                  "an object with a string 'name'"),
    "params": (lambda v: isinstance(v, dict), "an object"),
    "messages": (lambda v: isinstance(v, list) and all(
        isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
        for m in v), "a list of {role, content} objects with string values"),
    "turns": (lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
    "answer": (lambda v: isinstance(v, str), "a string"),
    "correct": (lambda v: isinstance(v, bool), "true or false"),
    "verdict": (lambda v: isinstance(v, str), "a string"),
    "detail": (lambda v: isinstance(v, str), "a string"),
    "usage": (lambda v: isinstance(v, dict) and set(v) <= {f.name for f in fields(Usage)}
              and all(_is_number(x) for x in v.values()),
              "an object of token counts and seconds (" + ", ".join(f.name for f in fields(Usage)) + ")"),
    "format": (lambda v: v == FORMAT, repr(FORMAT)),
    "runtime": (lambda v: isinstance(v, dict), "an object"),
    "id": (lambda v: isinstance(v, str), "a string"),
}


def record_problem(d: dict) -> str:
    """What makes `d` not a trajectory record ("" when it is one): the first problem found."""
    known = {f.name for f in fields(Trajectory)} | {"id"}
    missing = [f.name for f in fields(Trajectory) if f.name not in d
               and f.default is MISSING and f.default_factory is MISSING]
    if missing:
        return f"missing {', '.join(map(repr, missing[:4]))}{', ...' if len(missing) > 4 else ''}"
    unknown = sorted(set(d) - known)
    if unknown:
        return f"unknown key {unknown[0]!r}"
    for key, (ok, what) in _FIELD_CHECKS.items():
        if key in d and not ok(d[key]):
            return f"{key!r} must be {what}, got {_shown(d[key])}"
    return ""


def _shown(value) -> str:
    text = dumps(value) if isinstance(value, (dict, list)) else repr(value)
    return f"{type(value).__name__} {text[:40]}{'...' if len(text) > 40 else ''}"


def stream_trajectories(path: str | Path, hint: str = READ_HINT) -> Iterator[tuple[int, dict]]:
    """(line number, record) for each line of a trajectory file, every line checked.

    Records keep their on-disk shape (dicts); one written without an `id` gets it computed.
    """
    for lineno, rec in stream_jsonl(path):
        trajectory = Trajectory.from_dict(rec, where=f"{path}:{lineno}", hint=hint)
        if "id" not in rec:
            rec = {**rec, "id": trajectory.id}
        yield lineno, rec


def read_trajectories(path: str | Path, hint: str = READ_HINT) -> list[dict]:
    return [rec for _, rec in stream_trajectories(path, hint)]
