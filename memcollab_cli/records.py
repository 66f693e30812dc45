"""The trajectory record: one task solved by one model under one condition.

On disk each record is one JSONL line (see DESIGN.md); `to_dict`/`from_dict` are the exact
shapes. The record keeps the raw messages, the extracted answer and the verdict together.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from memcollab_cli.jsonl import dumps, sha256_text

FORMAT = "memcollab.trajectory/1"


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
    usage: Usage = field(default_factory=Usage)
    format: str = FORMAT

    @property
    def id(self) -> str:
        """Stable id from what determines the run: task, model, condition and parameters."""
        key = {k: v for k, v in self.to_dict().items()
               if k in ("task_id", "benchmark", "model", "condition", "params")}
        return sha256_text(dumps(key))[:16]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["usage"]["seconds"] = round(d["usage"]["seconds"], 3)
        return d

    def to_record(self) -> dict:
        """The on-disk line: the record plus its id."""
        return {**self.to_dict(), "id": self.id}

    @classmethod
    def from_dict(cls, d: dict) -> "Trajectory":
        d = {k: v for k, v in d.items() if k != "id"}
        usage = Usage(**d.pop("usage", {}))
        return cls(**d, usage=usage)
