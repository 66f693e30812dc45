"""Turn a model spec from the command line into a `Model`.

A spec is one of:

- a path to a GGUF file: `models/qwen.gguf`, `~/m.gguf` (embedded llama.cpp engine);
- a catalog name: `qwen2.5-coder-0.5b` (see `memcollab models list`; pulled into
  `paths.models_dir()` by `memcollab models pull NAME`);
- a server URL, `http(s)://HOST:PORT[/v1][?options]#MODEL`: an OpenAI-compatible endpoint
  (llama.cpp's llama-server, vLLM, Ollama). `/v1` is added when missing. `#MODEL` is the model
  name sent in each request (Ollama and vLLM need it; llama-server ignores it) and names the
  model in records. Options: `concurrency` (parallel requests in `complete_many`, default 4),
  `timeout` (seconds per request, default 600), `retries` (default 3). Example:
  `http://127.0.0.1:8080/v1?concurrency=8#qwen2.5-coder-1.5b`. An API key, where one is
  needed, comes from the environment variable `MEMCOLLAB_API_KEY`;
- `scripted`: the scripted test engine (no replies queued; for wiring tests).

`parallel` (the CLI's `--parallel N`): for a GGUF file, N > 1 gives the batched engine
(`runtime.batched.BatchedLlamaModel`, N sequences decoded together, `n_ctx` tokens each); for a
server it is the request concurrency unless the URL sets `concurrency`.

Nothing is loaded here: engines load lazily on their first request. Left out: guessing
specs (a name that is neither a file nor in the catalog is an error listing the choices).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from memcollab_cli.errors import ModelError
from memcollab_cli.runtime import catalog
from memcollab_cli.runtime.base import Model


def _parse_server(spec: str, parallel: int = 1):
    from memcollab_cli.runtime.server import ServerModel

    parts = urlsplit(spec)
    if not parts.hostname:
        raise ModelError(f"{spec!r}: a server URL needs a host, e.g. http://127.0.0.1:8080#model")
    path = parts.path.rstrip("/")
    if not path.endswith("/v1"):
        path += "/v1"
    base = f"{parts.scheme}://{parts.netloc}{path}"
    options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    known = {"concurrency": int, "timeout": float, "retries": int}
    kwargs = {}
    for key, value in options.items():
        if key not in known:
            raise ModelError(f"{spec!r}: unknown option {key!r}; use {', '.join(known)}")
        try:
            kwargs[key] = known[key](value)
        except ValueError:
            raise ModelError(f"{spec!r}: option {key}={value!r} is not a number") from None
    if parallel > 1:
        kwargs.setdefault("concurrency", parallel)
    return ServerModel(base, model=parts.fragment or None,
                       api_key=os.environ.get("MEMCOLLAB_API_KEY"), **kwargs)


def load_model(spec: str, *, n_ctx: int = 4096, gpu_layers: int | None = None,
               chat_format: str | None = None, n_threads: int | None = None,
               verbose: bool = False, parallel: int = 1) -> Model:
    """The model named by `spec` (see the module docstring). Engine options apply to GGUF files."""
    from memcollab_cli.runtime.llama import LlamaModel

    def engine(path, **kw):
        if parallel > 1:
            from memcollab_cli.runtime.batched import BatchedLlamaModel

            return BatchedLlamaModel(path, parallel=parallel, **kw)
        return LlamaModel(path, **kw)

    spec = spec.strip()
    if spec == "scripted":
        from memcollab_cli.runtime.scripted import ScriptedModel

        return ScriptedModel()
    if spec.startswith(("http://", "https://")):
        return _parse_server(spec, parallel)
    options = dict(n_ctx=n_ctx, gpu_layers=gpu_layers, chat_format=chat_format,
                   n_threads=n_threads, verbose=verbose)
    if spec in catalog.names():
        return engine(catalog.resolve(spec), name=spec, **options)
    path = Path(spec).expanduser()
    if path.exists() or path.suffix == ".gguf" or os.sep in spec:
        from memcollab_cli.runtime import gguf

        gguf.check_gguf(path)  # fail now, with the file named, not at the first request
        # resolved on both sides: a models directory of symlinks still names its files
        entry = next((e for e in catalog.list_models() if e.path.resolve() == path.resolve()), None)
        return engine(path, name=entry.name if entry else path.stem, **options)
    raise ModelError(f"unknown model {spec!r}: not a file, not a catalog name "
                     f"({', '.join(catalog.names())}) and not a server URL (http://HOST:PORT#MODEL)")
