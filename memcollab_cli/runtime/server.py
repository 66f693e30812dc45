"""The server engine: any OpenAI-compatible chat endpoint, over the standard library only.

Tested against llama.cpp's own server (run in-process by the `xllamacpp` package); written to
the common subset that llama-server, vLLM and Ollama accept: POST `{base}/chat/completions` with
explicit `temperature`, `top_p`, `top_k`, `min_p`, `seed`, `max_tokens` and `stop`. A JSON schema
goes as `response_format: {"type": "json_schema", "json_schema": {"name", "schema", "strict"}}`
(OpenAI's form; llama-server turns it into a grammar, vLLM and Ollama into guided decoding).

Connection errors, timeouts, HTTP 429 and 5xx are retried with exponential backoff, a bounded
number of times; other HTTP errors and malformed answers fail at once with a one-line ModelError.
`complete_many` sends requests concurrently from a small thread pool (I/O threads), so a server
with several slots batches them.

Token usage comes from `usage` (`prompt_tokens`, `completion_tokens`, and
`prompt_tokens_details.cached_tokens`) or llama.cpp's `timings.cache_n`.
Left out: streaming, tool calls, the legacy `/completions` endpoint, and the weights' sha256
(a server does not say which file it serves: `sha256` is "").
"""

from __future__ import annotations

import http.client
import json
import socket
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from memcollab_cli.errors import ModelError
from memcollab_cli.runtime.base import Completion, Request

_RETRY_STATUS = {429, 500, 502, 503, 504}


class ServerModel:
    """A model served over HTTP (see the module docstring)."""

    engine = "server"

    def __init__(self, base_url: str, model: str | None = None, *, timeout: float = 600.0,
                 retries: int = 3, backoff: float = 0.5, max_backoff: float = 8.0,
                 concurrency: int = 4, api_key: str | None = None):
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = model or self.base_url.split("://", 1)[-1]
        self.sha256 = ""
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.concurrency = max(1, concurrency)
        self.api_key = api_key

    # -- one request -----------------------------------------------------------------------

    def payload(self, request: Request) -> dict:
        """The JSON body sent for `request`; every sampling parameter explicit."""
        body = {
            "messages": list(request.messages),
            "temperature": request.temperature,
            "top_p": 1.0,
            "top_k": 0,  # llama.cpp / vLLM extension: 0 = off (ignored by servers without it)
            "min_p": 0.0,
            "seed": request.seed,
            "max_tokens": request.max_tokens,
            "stream": False,
        }
        if request.stop:
            body["stop"] = list(request.stop)
        if self.model:
            body["model"] = self.model
        if request.json_schema is not None:
            body["response_format"] = {"type": "json_schema", "json_schema": {
                "name": "output", "schema": request.json_schema, "strict": True}}
        return body

    def _post(self, path: str, body: dict) -> dict:
        url = f"{self.base_url}{path}"
        data = json.dumps(body).encode("utf-8")
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(min(self.backoff * 2 ** (attempt - 1), self.max_backoff))
            req = urllib.request.Request(url, data=data, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    raw = resp.read()
            except urllib.error.HTTPError as e:
                detail = _error_detail(e)
                if e.code in _RETRY_STATUS:
                    last = f"HTTP {e.code}: {detail}"
                    continue
                raise ModelError(f"{url} rejected the request (HTTP {e.code}: {detail}); "
                                 "check the model name and the server's limits (context size)"
                                 ) from None
            except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError,
                    socket.timeout) as e:
                reason = getattr(e, "reason", e)
                last = _describe_reason(reason)
                continue
            try:
                answer = json.loads(raw)
            except (ValueError, RecursionError):  # also bad UTF-8, absurd nesting or digits
                raise ModelError(f"{url} answered with something that is not JSON "
                                 f"({raw[:80]!r}); is this an OpenAI-compatible server?") from None
            if not isinstance(answer, dict):
                raise ModelError(f"{url} answered with JSON that is not an object; is this an "
                                 "OpenAI-compatible server?")
            return answer
        tries = self.retries + 1
        hint = " — is the server running?" if "refused" in last else ""
        raise ModelError(f"cannot reach {url}: {last}{hint} (gave up after {tries} "
                         f"attempt{'s' if tries > 1 else ''})")

    def complete(self, request: Request) -> Completion:
        start = time.perf_counter()
        answer = self._post("/chat/completions", self.payload(request))
        seconds = time.perf_counter() - start
        text, finish, usage = self._read_answer(answer)
        return Completion(
            text=text,
            prompt_tokens=usage["prompt_tokens"],
            completion_tokens=usage["completion_tokens"],
            seconds=seconds,
            cached_tokens=usage["cached_tokens"],
            finish_reason=finish,
            extra={"sampling": {k: v for k, v in self.payload(request).items()
                                if k not in ("messages", "response_format", "stream")},
                   "server_model": answer.get("model")},
        )

    def _read_answer(self, answer: dict) -> tuple[str, str, dict]:
        """(text, finish reason, token counts) of a chat completion; ModelError naming a bad field."""
        url = f"{self.base_url}/chat/completions"

        def bad(field: str, value, expected: str) -> ModelError:
            shown = json.dumps(value)[:60] if value is not None else "null"
            return ModelError(f"{url} answered with a malformed reply: '{field}' must be {expected}, "
                              f"got {shown}; is this an OpenAI-compatible chat endpoint?")

        choices = answer.get("choices")
        if not choices or not isinstance(choices, list):
            error = answer.get("error")
            raise ModelError(f"{url} answered without choices{f' ({str(error)[:200]})' if error else ''}; "
                             "is this an OpenAI-compatible chat endpoint?")
        choice = choices[0]
        if not isinstance(choice, dict):
            raise bad("choices[0]", choice, "an object")
        message = choice.get("message")
        if not isinstance(message, dict):
            raise bad("choices[0].message", message, "an object")
        text = _content_text(message.get("content"))
        if text is None:
            raise bad("choices[0].message.content", message.get("content"), "a string")
        finish = choice.get("finish_reason") or "stop"
        if not isinstance(finish, str):
            raise bad("choices[0].finish_reason", finish, "a string")
        counts = {}
        usage, timings = answer.get("usage") or {}, answer.get("timings") or {}
        if not isinstance(usage, dict):
            raise bad("usage", usage, "an object")
        if not isinstance(timings, dict):
            timings = {}  # llama.cpp's own extra: only a fallback for the cached count
        details = usage.get("prompt_tokens_details") or {}
        if not isinstance(details, dict):
            raise bad("usage.prompt_tokens_details", details, "an object")
        for key, value, where in (("prompt_tokens", usage.get("prompt_tokens"), "usage.prompt_tokens"),
                                  ("completion_tokens", usage.get("completion_tokens"),
                                   "usage.completion_tokens"),
                                  ("cached_tokens", details.get("cached_tokens", timings.get("cache_n")),
                                   "usage.prompt_tokens_details.cached_tokens")):
            if value is None:
                value = 0
            whole = (isinstance(value, int) and not isinstance(value, bool)) or \
                (isinstance(value, float) and value.is_integer())  # not NaN nor Infinity
            if not whole or value < 0:
                raise bad(where, value, "a whole number >= 0")
            counts[key] = int(value)
        return text, finish, counts

    def complete_many(self, requests: list[Request]) -> list[Completion]:
        """Concurrently, `concurrency` at a time; results in request order; first error raised."""
        if len(requests) <= 1 or self.concurrency == 1:
            return [self.complete(r) for r in requests]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(requests))) as pool:
            return list(pool.map(self.complete, requests))

    def describe(self) -> dict:
        return {"engine": self.engine, "url": self.base_url, "model": self.model,
                "concurrency": self.concurrency, "timeout": self.timeout,
                "retries": self.retries, "sha256": ""}

    def close(self) -> None:
        pass  # stateless: every request opens its own connection


def _content_text(content) -> str | None:
    """A message's text: a string, null (a reply of tool calls only), or OpenAI's list of parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(p, dict) and isinstance(p.get("text", ""), str)
                                         for p in content):
        return "".join(p.get("text", "") for p in content)
    return None


def _describe_reason(reason) -> str:
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return "timed out"
    if isinstance(reason, ConnectionResetError):
        return "connection reset"
    text = str(getattr(reason, "strerror", None) or reason)
    return text.lower() if text else type(reason).__name__


def _error_detail(e: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(e.read() or b"{}")
        err = body.get("error", body)
        msg = err.get("message") if isinstance(err, dict) else err
        return str(msg)[:200] if msg else e.reason
    except (ValueError, RecursionError, AttributeError, OSError):
        return str(e.reason)
