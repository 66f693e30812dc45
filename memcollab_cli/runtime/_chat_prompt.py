"""The chat prompt a llama-cpp-python chat handler would send, captured instead of generated.

The batched engine decodes its own tokens, but its prompts must be exactly those of the
sequential engine: the same chat template, special tokens and stop strings. llama-cpp-python's
chat handlers format the messages, tokenize the prompt with the real model and then call
`llama.create_completion(prompt=tokens, stop=[...])`; handing them a stand-in `Llama` that
raises at that call gives those tokens and stop strings without generating anything.
"""

from __future__ import annotations

from memcollab_cli.errors import ModelError
from memcollab_cli.runtime.base import Request


class _Captured(Exception):
    """Raised by the stand-in Llama once the chat handler has formatted the prompt."""


class _PromptCapture:
    """A stand-in for `llama_cpp.Llama` handed to a chat handler: records, never generates."""

    def __init__(self, llm):
        self._llm = llm
        self.prompt: list[int] = []
        self.stop: list[str] = []
        self.stopping_criteria = None

    def __getattr__(self, name):
        return getattr(self._llm, name)

    def create_completion(self, *, prompt, stop=None, stopping_criteria=None, **_):
        self.prompt = list(prompt)
        self.stop = [] if stop is None else [stop] if isinstance(stop, str) else list(stop)
        self.stopping_criteria = stopping_criteria
        raise _Captured


def chat_prompt(llm, request: Request, name: str) -> tuple[list[int], list[str]]:
    """Prompt tokens and stop strings for `request`, as `llm`'s chat handler would send them."""
    from llama_cpp import llama_chat_format

    handler = (llm.chat_handler or llm._chat_handlers.get(llm.chat_format)
               or llama_chat_format.get_chat_completion_handler(llm.chat_format))
    capture = _PromptCapture(llm)
    try:
        handler(llama=capture, messages=list(request.messages), stop=list(request.stop),
                max_tokens=request.max_tokens, temperature=request.temperature, seed=request.seed)
    except _Captured:
        return capture.prompt, capture.stop
    raise ModelError(f"{name}: chat format {llm.chat_format!r} cannot be batched "
                     "(its handler does not call create_completion); use --parallel 1")
