"""GGUF files without llama.cpp: sanity checks, a few metadata keys, and a cached sha256.

`check_gguf(path)` catches the usual ways a model file is unusable (missing, a directory, not
GGUF, truncated by an interrupted download) *before* llama.cpp sees it, because llama.cpp only
says "Failed to load model from file" for all of them. `read_metadata(path)` reads the key/value
section with a small pure-Python parser (spec: ggml-org/ggml `docs/gguf.md`) so `models list`
can show a model's name, architecture and whether it has a chat template without loading it.
`file_sha256(path)` hashes the weights once and keeps the digest in a `<file>.sha256` sidecar,
keyed by size and mtime, so every run can record which weights it used for free.

Left out: tensor data (never read), writing GGUF, and GGUF v1 (2023, pre-release; rejected with
a clear message).
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

from memcollab_cli.errors import ModelError

MAGIC = b"GGUF"
_REDOWNLOAD = "download it again (a catalog model: `memcollab models pull NAME`)"

# ---------------------------------------------------------------------------------------------
# value types of the key/value section: id -> struct format (fixed-size scalars only)
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
            10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9

# ggml tensor types: id -> (elements per block, bytes per block), to compute how large the
# file must be. Types missing here (new quantizations) just skip the size check.
_GGML_TYPES = {
    0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34),
    9: (32, 36), 10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176),
    14: (256, 210), 15: (256, 292), 16: (256, 66), 17: (256, 74), 18: (256, 98),
    19: (256, 50), 20: (32, 18), 21: (256, 110), 22: (256, 82), 23: (256, 136), 24: (1, 1),
    25: (1, 2), 26: (1, 4), 27: (1, 8), 28: (1, 8), 29: (256, 56), 30: (1, 2),
    34: (256, 54), 35: (256, 66), 39: (32, 17),
}


class _Truncated(Exception):
    """The header or key/value section ends before the file does."""


@dataclass
class GGUFInfo:
    """What the header says about a file."""

    version: int
    tensor_count: int
    kv_count: int
    metadata: dict = field(default_factory=dict)  # scalars and strings; arrays as their length
    expected_size: int | None = None  # bytes the tensors need; None if a type is unknown


class _Reader:
    """Little-endian reads over a memory map (fast enough for 300k-string vocabularies)."""

    def __init__(self, buf, pos: int = 0):
        self.buf, self.pos = buf, pos

    def unpack(self, fmt: str):
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.buf):
            raise _Truncated
        (value,) = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += size
        return value

    def string(self, keep: bool = True) -> str | None:
        n = self.unpack("<Q")
        if self.pos + n > len(self.buf):
            raise _Truncated
        raw = self.buf[self.pos:self.pos + n] if keep else None
        self.pos += n
        return raw.decode("utf-8", errors="replace") if keep else None

    def value(self, vtype: int, keep: bool = True):
        if vtype in _SCALARS:
            return self.unpack(_SCALARS[vtype])
        if vtype == _STRING:
            return self.string(keep)
        if vtype == _ARRAY:
            itype, count = self.unpack("<I"), self.unpack("<Q")
            if itype in _SCALARS:  # fixed size: skip in one step
                self.pos += count * struct.calcsize(_SCALARS[itype])
                if self.pos > len(self.buf):
                    raise _Truncated
            else:
                for _ in range(count):
                    self.value(itype, keep=False)
            return count  # arrays (vocabularies, merges) are summarized by their length
        raise ValueError(f"unknown GGUF value type {vtype}")


def _missing(path: Path) -> ModelError:
    return ModelError(f"{path}: no such model file; check the path, or use a catalog name "
                      "(`memcollab models list`)")


def inspect_gguf(path: str | Path, *, tensors: bool = True) -> GGUFInfo:
    """Parse header, key/value section and (if `tensors`) tensor infos; raise ModelError if bad."""
    path = Path(path)
    if not path.exists():
        raise _missing(path)
    if not path.is_file():
        raise ModelError(f"{path}: is not a file; give the path of a .gguf file")
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(24)
        if len(head) < 4 or head[:4] != MAGIC:
            hint = " (a split part? join the parts first)" if path.suffix != ".gguf" else ""
            raise ModelError(f"{path}: not a GGUF file (starts with {head[:4]!r}){hint}; "
                             "memcollab runs llama.cpp GGUF models only")
        if len(head) < 24:
            raise ModelError(f"{path}: truncated GGUF file ({size} bytes); {_REDOWNLOAD}")
        version = struct.unpack_from("<I", head, 4)[0]
        if version < 2:
            raise ModelError(f"{path}: GGUF version {version} is too old for llama.cpp; "
                             "convert it again with a current llama.cpp")
        tensor_count, kv_count = struct.unpack_from("<QQ", head, 8)
        info = GGUFInfo(version, tensor_count, kv_count)
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            r = _Reader(buf, 24)
            try:
                for _ in range(kv_count):
                    key = r.string()
                    vtype = r.unpack("<I")
                    info.metadata[key] = r.value(vtype)
                if tensors:
                    alignment = int(info.metadata.get("general.alignment", 32))
                    info.expected_size = _tensor_end(r, tensor_count, alignment)
            except _Truncated:
                raise ModelError(f"{path}: truncated GGUF file ({size} bytes, header cut "
                                 f"short); {_REDOWNLOAD}") from None
            except (ValueError, UnicodeDecodeError, struct.error) as e:
                raise ModelError(f"{path}: corrupt GGUF header ({e}); {_REDOWNLOAD}") from None
    if info.expected_size is not None and size < info.expected_size:
        raise ModelError(f"{path}: truncated GGUF file ({size} of {info.expected_size} bytes); "
                         f"{_REDOWNLOAD}")
    return info


def _tensor_end(r: _Reader, tensor_count: int, alignment: int) -> int | None:
    """Read the tensor infos; return the byte offset where the last tensor's data ends."""
    end = 0
    known = True
    for _ in range(tensor_count):
        r.string(keep=False)
        n_dims = r.unpack("<I")
        elements = 1
        for _ in range(n_dims):
            elements *= r.unpack("<Q")
        ttype, offset = r.unpack("<I"), r.unpack("<Q")
        if ttype not in _GGML_TYPES:
            known = False
            continue
        block, nbytes = _GGML_TYPES[ttype]
        end = max(end, offset + elements // block * nbytes)
    data_start = -(-r.pos // alignment) * alignment  # the data section starts aligned
    return data_start + end if known else None


def check_gguf(path: str | Path) -> GGUFInfo:
    """Raise a one-line ModelError if `path` cannot be a usable GGUF model; return its header."""
    return inspect_gguf(path, tensors=True)


def read_metadata(path: str | Path) -> dict:
    """A few facts from the key/value section, without loading the model.

    Keys: `name`, `architecture`, `chat_template` (bool: does the file carry one), `context_length`,
    `file_type`, `version`, `tensor_count`.
    """
    info = inspect_gguf(path, tensors=False)
    md = info.metadata
    arch = md.get("general.architecture")
    return {
        "name": md.get("general.name"),
        "architecture": arch,
        "chat_template": isinstance(md.get("tokenizer.chat_template"), str),
        "context_length": md.get(f"{arch}.context_length") if arch else None,
        "file_type": md.get("general.file_type"),
        "version": info.version,
        "tensor_count": info.tensor_count,
    }


def chat_template(path: str | Path) -> str | None:
    """The Jinja chat template stored in the file, or None."""
    value = inspect_gguf(path, tensors=False).metadata.get("tokenizer.chat_template")
    return value if isinstance(value, str) else None


# ---------------------------------------------------------------------------------------------
# content hash, cached beside the file


def file_sha256(path: str | Path) -> str:
    """sha256 of the file, cached in `<file>.sha256` as JSON {sha256, size, mtime_ns}.

    The cache is trusted only while size and mtime match, so replacing the file rehashes it.
    A read-only directory just means no cache (hashing a 1 GB file takes ~2 s).
    """
    path = Path(path)
    st = path.stat()
    sidecar = path.with_name(path.name + ".sha256")
    try:
        cached = json.loads(sidecar.read_text(encoding="utf-8"))
        if cached.get("size") == st.st_size and cached.get("mtime_ns") == st.st_mtime_ns:
            return str(cached["sha256"])
    except (OSError, ValueError, KeyError, AttributeError):
        pass
    digest = hash_file(path)
    write_sha256_sidecar(path, digest)
    return digest


def write_sha256_sidecar(path: Path, digest: str) -> None:
    """Record a known digest (e.g. just verified by `pull`) so the first run need not rehash."""
    st = path.stat()
    sidecar = path.with_name(path.name + ".sha256")
    record = {"sha256": digest, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    tmp = sidecar.with_name(f".{sidecar.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(record, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, sidecar)
    except OSError:
        tmp.unlink(missing_ok=True)


def hash_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()
