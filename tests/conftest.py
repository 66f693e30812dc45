"""Shared fixtures: a home of its own for every test, and real small models for tests marked
`@pytest.mark.model`.

The cache directory is read once at import, before any test points MEMCOLLAB_HOME elsewhere,
so the model fixtures always use (and, if needed, fill) the user's real model cache.
Deselect the slow tests with `pytest -m "not model"`. MBPP is read from `MEMCOLLAB_MBPP` only
(`make test` sets it); tests that need it skip without it.
"""

from __future__ import annotations

import os

import pytest

from memcollab_cli import paths

REAL_HOME = paths.home()
TEST_MODEL = "smollm2-135m"


@pytest.fixture(autouse=True)
def own_home(tmp_path_factory, monkeypatch):
    """Every test gets its own MEMCOLLAB_HOME, so nothing it writes there reaches the user's
    cache. The real home's models and benchmark files are linked in one by one: a test reads
    them, and a write (a pull, a hash sidecar) replaces the link by rename, never the file."""
    home = tmp_path_factory.mktemp("home")
    for sub in ("models", "data"):
        (home / sub).mkdir()
        real = REAL_HOME / sub
        for f in sorted(real.iterdir()) if real.is_dir() else []:
            if f.is_file():
                (home / sub / f.name).symlink_to(f)
    monkeypatch.setenv("MEMCOLLAB_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def smollm2_path():
    """Path of smollm2-135m in the real cache, pulled (98 MB) if absent; skips if that fails."""
    from memcollab_cli.errors import ModelError
    from memcollab_cli.runtime import catalog
    from memcollab_cli.runtime.pull import pull_model

    entry = catalog.get(TEST_MODEL)
    path = REAL_HOME / "models" / entry.file
    if path.is_file() and path.stat().st_size == entry.size:
        return path
    saved = os.environ.get("MEMCOLLAB_HOME")
    os.environ["MEMCOLLAB_HOME"] = str(REAL_HOME)
    try:
        return pull_model(TEST_MODEL)
    except ModelError as e:
        pytest.skip(f"cannot get {TEST_MODEL}: {e}")
    finally:
        if saved is None:
            os.environ.pop("MEMCOLLAB_HOME", None)
        else:
            os.environ["MEMCOLLAB_HOME"] = saved


@pytest.fixture(scope="session")
def smollm2(smollm2_path):
    """smollm2-135m loaded once per session (n_ctx 1024, CPU threads as the machine has)."""
    pytest.importorskip("llama_cpp")
    from memcollab_cli.runtime.llama import LlamaModel

    model = LlamaModel(smollm2_path, name=TEST_MODEL, n_ctx=1024, seed=42)
    model.load()
    yield model
    model.close()
