"""The embedded engine: a GGUF model run in-process by llama-cpp-python.

`LlamaModel` wraps one `llama_cpp.Llama`, loaded lazily on the first call and released by
`close()`. Every sampling parameter is passed explicitly, because llama-cpp-python's defaults are
not the paper's (`create_chat_completion` samples at temperature 0.2 with top-k 40, top-p 0.95,
min-p 0.05; `Llama()` seeds randomly). Temperature 0 is greedy decoding; above 0 we sample from
the plain temperature-scaled distribution (top-k, top-p, min-p off) with the request's seed.

Prefix reuse: `Llama` keeps the tokens of the previous call and, on the next, re-evaluates only
the part of the new prompt after the longest common prefix. Callers that put a stable block
(system prompt, retrieved memory) first and order work by prefix get that block for free; each
`Completion.cached_tokens` says how many prompt tokens were reused.

Engine errors are translated here: a bad file, a model too large for memory, a prompt longer
than the context window and a missing chat template each get a one-line ModelError or a warning.

Left out: batched decoding (that is `runtime.batched`, which wraps this engine), streaming,
embeddings, LoRA, multimodal models.
Thread safety: none. `Llama` is not re-entrant, and loading redirects the process's stdout and
stderr file descriptors (llama_cpp/_utils.py `suppress_stdout_stderr`), so load before starting
a live display and never from a worker thread.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from pathlib import Path

from memcollab_cli.errors import ModelError
from memcollab_cli.runtime import gguf
from memcollab_cli.runtime.base import Completion, Request


class ChatFormatWarning(UserWarning):
    """A model without a chat template is being run with a guessed prompt format."""


_warned_no_template: set[str] = set()


def _lcp(a, b) -> int:
    """Length of the longest common prefix of two token sequences."""
    n = 0
    for x, y in zip(a, b, strict=False):  # stop at the shorter
        if x != y:
            break
        n += 1
    return n


def _available_memory() -> int | None:
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


class LlamaModel:
    """A local GGUF model behind the `Model` protocol (see the module docstring)."""

    engine = "llama"

    def __init__(self, path: str | Path, *, name: str | None = None, n_ctx: int = 4096,
                 gpu_layers: int | None = None, chat_format: str | None = None,
                 n_threads: int | None = None, n_threads_batch: int | None = None,
                 n_batch: int = 512, seed: int = 42, verbose: bool = False):
        self.path = Path(path)
        self.name = name or self.path.stem
        self.n_ctx = n_ctx
        self.requested_gpu_layers = gpu_layers
        self.requested_chat_format = chat_format
        # MEMCOLLAB_THREADS caps threads machine-wide: two llama.cpp processes whose threads
        # outnumber the cores spin-wait on each other and slow down many times over.
        self.n_threads = n_threads or int(os.environ.get("MEMCOLLAB_THREADS", 0)) or os.cpu_count() or 1
        self.n_threads_batch = n_threads_batch or self.n_threads
        self.n_batch = n_batch
        self.seed = seed
        self.verbose = verbose
        self._llm = None  # the llama_cpp.Llama, created by load()
        self._sha256: str | None = None
        self._grammars: dict[str, object] = {}  # schema JSON -> LlamaGrammar (compiling is slow)
        self._cached = 0  # prompt tokens reused by the last call (set by the prefix hook)

    # -- loading ---------------------------------------------------------------------------

    @property
    def sha256(self) -> str:
        if self._sha256 is None:
            self._sha256 = gguf.file_sha256(self.path)
        return self._sha256

    @property
    def gpu_layers(self) -> int:
        """Layers offloaded: all (-1) when the build can offload and none were asked for."""
        if self.requested_gpu_layers is not None:
            return self.requested_gpu_layers
        return -1 if _gpu_offload_supported() else 0

    def load(self):
        """Load the model once (later calls return the same `Llama`)."""
        if self._llm is not None:
            return self._llm
        gguf.check_gguf(self.path)  # clear messages for missing, truncated or non-GGUF files
        has_template = gguf.read_metadata(self.path)["chat_template"]
        if not has_template and self.requested_chat_format is None:
            key = str(self.path.resolve())
            if key not in _warned_no_template:
                _warned_no_template.add(key)
                # warnings (not print): the CLI shows it on stderr, tests can assert it
                warnings.warn(f"{self.path.name} has no chat template; llama-cpp-python falls "
                              "back to the 'llama-2' prompt format, which this model may not "
                              "know; pass --chat-format (e.g. chatml, gemma) if it answers badly",
                              ChatFormatWarning, stacklevel=2)
        try:
            import llama_cpp
        except ImportError as e:
            raise ModelError(f"llama-cpp-python is not installed ({e}); run "
                             "`pip install llama-cpp-python==0.3.36`") from None
        try:
            self._llm = llama_cpp.Llama(
                model_path=str(self.path), n_ctx=self.n_ctx, n_batch=min(self.n_batch, self.n_ctx),
                n_gpu_layers=self.gpu_layers, seed=self.seed, n_threads=self.n_threads,
                n_threads_batch=self.n_threads_batch, chat_format=self.requested_chat_format,
                verbose=self.verbose)
        except ValueError as e:
            raise self._load_error(e) from None
        self._install_prefix_hook(self._llm)
        return self._llm

    def _install_prefix_hook(self, llm) -> None:
        """Evaluate every prompt the same way, so the same request always gives the same text.

        Llama.generate keeps the longest common prefix of the KV cache and evaluates the rest of
        the prompt in one batch; for a repeated prompt it re-evaluates only the last token. A
        token's logits differ in the last bits between a batch and a single-token decode, and
        at a near-tie greedy decoding then takes another path (seen on smollm2-135m: a repeated
        request answered differently). So before generate runs we apply one canonical split:
        reuse the cached prefix (at most all but the last prompt token), evaluate the rest up to
        the last token as a batch, and leave the last token to generate, which then decodes it
        alone. This also tells us exactly how many prompt tokens came from the cache.
        """
        original = llm.generate

        def generate(tokens, *args, **kwargs):
            tokens = list(tokens)
            n = len(tokens)
            keep = min(_lcp(llm._input_ids.tolist(), tokens), max(n - 1, 0))
            if keep < llm.n_tokens:
                if not llm._ctx.kv_cache_seq_rm(-1, keep, -1):  # recurrent models cannot
                    llm.reset()
                    keep = 0
                llm.n_tokens = keep
            if keep < n - 1:
                llm.eval(tokens[keep:n - 1])
            self._cached = keep
            return original(tokens, *args, **kwargs)

        llm.generate = generate  # an instance attribute: _create_completion calls self.generate

    def _load_error(self, e: Exception) -> ModelError:
        size = self.path.stat().st_size
        avail = _available_memory()
        # A model that does not fit fails with the same generic message as a broken one.
        if avail is not None and size + self.n_ctx * 64 * 1024 > avail:
            return ModelError(f"cannot load {self.path}: it needs about {size / 1e9:.1f} GB and "
                              f"{avail / 1e9:.1f} GB of memory is free; close other programs, "
                              "use a smaller model or quantization, or lower --n-ctx")
        return ModelError(f"llama.cpp cannot load {self.path} ({e}); lower --n-ctx, or check "
                          "that this llama-cpp-python supports its architecture "
                          "(pip install -U llama-cpp-python)")

    def reset(self) -> None:
        """Forget the cached prompt, so the next call evaluates its whole prompt afresh (a run
        that starts with `reset` does not depend on what ran before it)."""
        if self._llm is not None:
            self._llm.reset()

    def close(self) -> None:
        """Free the weights and the context; the model loads again if used afterwards."""
        if self._llm is not None:
            self._llm.close()
            self._llm = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- generation ------------------------------------------------------------------------

    def sampling(self, request: Request) -> dict:
        """The exact sampling arguments passed to llama-cpp-python for `request`."""
        return {
            "temperature": request.temperature,  # 0 selects llama.cpp's greedy sampler
            "top_k": 0,  # 0 = off: sample from the whole temperature-scaled distribution
            "top_p": 1.0, "min_p": 0.0, "typical_p": 1.0,
            "repeat_penalty": 1.0, "presence_penalty": 0.0, "frequency_penalty": 0.0,
            "mirostat_mode": 0,
            "seed": request.seed, "max_tokens": request.max_tokens, "stop": list(request.stop),
        }

    def grammar(self, schema: dict):
        """The llama-cpp-python grammar of a JSON schema, compiled once per schema."""
        # Never sort the keys: the grammar writes an object's properties in the schema's order,
        # and that order is part of the request (a summarizer's fields follow its reasoning).
        key = json.dumps(schema)
        if key not in self._grammars:
            from llama_cpp import LlamaGrammar
            try:
                self._grammars[key] = LlamaGrammar.from_json_schema(key, verbose=False)
            except Exception as e:  # the converter raises assorted errors on odd schemas
                raise ModelError(f"cannot turn the JSON schema into a grammar ({e}); simplify "
                                 "the schema (objects, arrays, strings, numbers, enums)") from None
        return self._grammars[key]

    def complete(self, request: Request) -> Completion:
        llm = self.load()
        kwargs = self.sampling(request)
        if request.json_schema is not None:
            kwargs["grammar"] = self.grammar(request.json_schema)
        self._cached = 0
        start = time.perf_counter()
        try:
            out = llm.create_chat_completion(messages=list(request.messages), **kwargs)
        except ValueError as e:
            if "exceed context window" in str(e):
                raise ModelError(f"{self.name}: {e} ({self.n_ctx} tokens); rerun with a larger "
                                 "--n-ctx or a shorter prompt") from None
            raise
        seconds = time.perf_counter() - start
        usage = out["usage"]
        prompt_tokens = usage["prompt_tokens"]
        choice = out["choices"][0]
        return Completion(
            text=choice["message"]["content"] or "",
            prompt_tokens=prompt_tokens,
            completion_tokens=usage["completion_tokens"],
            seconds=seconds,
            cached_tokens=self._cached,
            finish_reason=choice.get("finish_reason") or "stop",
            extra={"sampling": {k: v for k, v in kwargs.items() if k != "grammar"},
                   "json_schema": request.json_schema is not None},
        )

    def complete_many(self, requests: list[Request]) -> list[Completion]:
        # In turn, in the given order, so consecutive requests with a shared prefix reuse it.
        return [self.complete(r) for r in requests]

    # -- facts -----------------------------------------------------------------------------

    def describe(self) -> dict:
        """Engine facts for run records. Loads the model (the chat format is known only then)."""
        import llama_cpp

        llm = self.load()
        return {
            "engine": self.engine,
            "name": self.name,
            "path": str(self.path),
            "sha256": self.sha256,
            "chat_format": llm.chat_format,
            "n_ctx": llm.n_ctx(),
            "n_batch": llm.n_batch,
            "gpu_layers": self.gpu_layers,
            "gpu_offload": _gpu_offload_supported(),
            "n_threads": self.n_threads,
            "n_threads_batch": self.n_threads_batch,
            "llama_cpp": llama_cpp.__version__,
            "batch": 1,
        }


def _gpu_offload_supported() -> bool:
    try:
        import llama_cpp
    except ImportError:
        return False
    return bool(llama_cpp.llama_supports_gpu_offload())
