"""The model protocol every engine implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, TypedDict


class Message(TypedDict):
    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass(frozen=True)
class Request:
    """One chat completion. Every sampling parameter is explicit and recorded by callers."""

    messages: list[Message]
    max_tokens: int = 512
    temperature: float = 0.0
    seed: int = 42
    json_schema: dict | None = None  # constrain output to this schema (grammar) when given
    stop: tuple[str, ...] = ()


@dataclass
class Completion:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    cached_tokens: int = 0  # prompt tokens reused from the KV cache (prefix reuse)
    finish_reason: str = "stop"  # "stop" | "length"
    extra: dict = field(default_factory=dict)

    @property
    def tokens_per_second(self) -> float:
        return self.completion_tokens / self.seconds if self.seconds > 0 else 0.0


class Model(Protocol):
    """What the rest of memcollab may use of a model, and nothing more."""

    name: str  # catalog name or file stem, used in records and banks
    sha256: str  # content hash of the weights ("" where unknown, e.g. a server)

    def complete(self, request: Request) -> Completion: ...

    def complete_many(self, requests: list[Request]) -> list[Completion]:
        """Several independent requests; engines that can batch do so, others run them in turn."""
        ...

    def describe(self) -> dict:
        """Engine facts worth recording: chat format, context size, GPU layers, batch size."""
        ...

    def close(self) -> None: ...


def runtime_facts(model: Model) -> dict:
    """`model.describe()` as a trajectory records it: engine facts only, without what the
    record's `model` already says (name, sha256) or where this machine keeps the file (path)."""
    describe = getattr(model, "describe", None)  # test doubles may leave it out
    facts = describe() if callable(describe) else {}
    return {k: v for k, v in facts.items() if k not in ("name", "sha256", "path")}
