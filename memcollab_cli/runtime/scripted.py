"""A scripted engine for tests: replies come from a queue or a function, prompts are recorded.

Modelled on llm's MockModel: `enqueue()` canned replies, read `history` to see what was sent.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from memcollab_cli.runtime.base import Completion, Request


class ScriptedModel:
    def __init__(self, name: str = "scripted", replies: list[str] | None = None,
                 respond: Callable[[Request], str] | None = None):
        self.name = name
        self.sha256 = ""
        self._queue: deque[str] = deque(replies or [])
        self._respond = respond
        self.history: list[Request] = []

    def enqueue(self, *replies: str) -> None:
        self._queue.extend(replies)

    def complete(self, request: Request) -> Completion:
        self.history.append(request)
        if self._queue:
            text = self._queue.popleft()
        elif self._respond is not None:
            text = self._respond(request)
        else:
            raise AssertionError("ScriptedModel ran out of replies")
        cuts = [text.find(s) for s in request.stop if s and s in text]
        if cuts:  # like llama.cpp: the text ends before the first stop string, which is dropped
            text = text[: min(cuts)]
        prompt_tokens = sum(len(m["content"].split()) for m in request.messages)
        return Completion(text=text, prompt_tokens=prompt_tokens,
                          completion_tokens=len(text.split()), seconds=0.001)

    def complete_many(self, requests: list[Request]) -> list[Completion]:
        return [self.complete(r) for r in requests]

    def describe(self) -> dict:
        return {"engine": "scripted"}

    def close(self) -> None:
        pass
