"""Where memcollab keeps models, benchmark data and caches.

`MEMCOLLAB_HOME` (default `~/.cache/memcollab`) holds `models/` and `data/`; `MEMCOLLAB_PROMPTS`
points at another prompt directory (default: the repository's `prompts/`).
"""

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def home() -> Path:
    """The memcollab cache directory (created on demand by the code that writes into it)."""
    return Path(os.environ.get("MEMCOLLAB_HOME", Path.home() / ".cache" / "memcollab"))


def models_dir() -> Path:
    return home() / "models"


def data_dir() -> Path:
    return home() / "data"


def prompts_dir() -> Path:
    return Path(os.environ.get("MEMCOLLAB_PROMPTS", REPO_ROOT / "prompts"))
