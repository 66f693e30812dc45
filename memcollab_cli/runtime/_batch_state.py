"""What the batched engine keeps per request in flight and per KV slot."""

from __future__ import annotations

from dataclasses import dataclass, field

from memcollab_cli.runtime.base import Request


@dataclass
class Seq:
    """One request in flight."""

    ticket: int
    request: Request
    prompt: list[int]
    stops: list[bytes]
    max_tokens: int
    submitted: float
    slot: int = -1
    cached: int = 0
    todo: list[int] = field(default_factory=list)  # prompt tokens not yet evaluated
    out: list[int] = field(default_factory=list)  # generated tokens (no end-of-generation token)
    pos: int = 0  # position of the next token fed
    logit_row: int = -1  # index in this step's batch whose logits sample the next token
    text: bytearray = field(default_factory=bytearray)  # `out` as bytes, kept for stop strings
    sampler: object = None  # llama_sampler_p for temperature > 0 or a JSON schema
    admitted: float = 0.0


@dataclass
class Slot:
    kv: list[int] = field(default_factory=list)  # tokens whose KV sits at positions 0..len-1
    seq: Seq | None = None
