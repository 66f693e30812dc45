"""GGUF checks and metadata on small files written here, plus the real test model."""

from __future__ import annotations

import json
import os
import struct

import pytest

from memcollab_cli.errors import ModelError
from memcollab_cli.runtime import gguf


def _s(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("<Q", len(raw)) + raw


def write_gguf(path, *, template: str | None = "{{ messages }}", version: int = 3,
               n_floats: int = 8, cut: int = 0):
    """A minimal GGUF: a few KVs (one string array), one F32 tensor of `n_floats` values."""
    kvs = [("general.architecture", 8, _s("llama")), ("general.name", 8, _s("Tiny")),
           ("llama.context_length", 4, struct.pack("<I", 2048)),
           ("tokenizer.ggml.tokens", 9, struct.pack("<IQ", 8, 2) + _s("a") + _s("b")),
           ("tokenizer.ggml.scores", 9, struct.pack("<IQ", 6, 2) + struct.pack("<ff", 0, 0))]
    if template is not None:
        kvs.append(("tokenizer.chat_template", 8, _s(template)))
    body = b"GGUF" + struct.pack("<IQQ", version, 1, len(kvs))
    for key, vtype, value in kvs:
        body += _s(key) + struct.pack("<I", vtype) + value
    body += _s("w") + struct.pack("<I", 1) + struct.pack("<Q", n_floats) + struct.pack("<IQ", 0, 0)
    body += b"\0" * (-len(body) % 32) + struct.pack(f"<{n_floats}f", *range(n_floats))
    path.write_bytes(body[:len(body) - cut] if cut else body)
    return path


def test_valid_file_and_metadata(tmp_path):
    path = write_gguf(tmp_path / "tiny.gguf")
    info = gguf.check_gguf(path)
    assert (info.version, info.tensor_count, info.expected_size) == (3, 1, path.stat().st_size)
    md = gguf.read_metadata(path)
    assert md["name"] == "Tiny" and md["architecture"] == "llama"
    assert md["chat_template"] is True and md["context_length"] == 2048
    assert gguf.chat_template(path) == "{{ messages }}"


def test_no_chat_template(tmp_path):
    md = gguf.read_metadata(write_gguf(tmp_path / "base.gguf", template=None))
    assert md["chat_template"] is False


def test_missing_file(tmp_path):
    with pytest.raises(ModelError, match=r"nope\.gguf: no such model file"):
        gguf.check_gguf(tmp_path / "nope.gguf")


def test_directory(tmp_path):
    with pytest.raises(ModelError, match="is not a file"):
        gguf.check_gguf(tmp_path)


def test_not_gguf(tmp_path):
    path = tmp_path / "model.gguf"
    path.write_bytes(b"PK\x03\x04 this is a zip")
    with pytest.raises(ModelError, match=r"not a GGUF file \(starts with b'PK\\x03\\x04'\)"):
        gguf.check_gguf(path)


def test_empty_and_tiny_files(tmp_path):
    empty = tmp_path / "empty.gguf"
    empty.write_bytes(b"")
    with pytest.raises(ModelError, match="not a GGUF file"):
        gguf.check_gguf(empty)
    tiny = tmp_path / "tiny.gguf"
    tiny.write_bytes(b"GGUF\x03\x00")
    with pytest.raises(ModelError, match="truncated GGUF file"):
        gguf.check_gguf(tiny)


def test_truncated_header(tmp_path):
    path = write_gguf(tmp_path / "cut.gguf")
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(ModelError, match=r"truncated GGUF file \(60 bytes, header cut short\)"):
        gguf.check_gguf(path)


def test_truncated_tensor_data(tmp_path):
    path = write_gguf(tmp_path / "cut.gguf", cut=4)
    size = path.stat().st_size
    with pytest.raises(ModelError, match=rf"truncated GGUF file \({size} of {size + 4} bytes\)"):
        gguf.check_gguf(path)


def test_old_version(tmp_path):
    with pytest.raises(ModelError, match="GGUF version 1 is too old"):
        gguf.check_gguf(write_gguf(tmp_path / "v1.gguf", version=1))


def test_sha256_sidecar_cache(tmp_path):
    path = write_gguf(tmp_path / "m.gguf")
    digest = gguf.file_sha256(path)
    assert digest == gguf.hash_file(path)
    sidecar = tmp_path / "m.gguf.sha256"
    record = json.loads(sidecar.read_text())
    assert record["sha256"] == digest and record["size"] == path.stat().st_size
    # the sidecar is trusted while size and mtime match ...
    sidecar.write_text(json.dumps({**record, "sha256": "cached"}))
    assert gguf.file_sha256(path) == "cached"
    # ... and ignored once the file changes
    write_gguf(path, n_floats=16)
    os.utime(path, ns=(record["mtime_ns"] + 10**9, record["mtime_ns"] + 10**9))
    assert gguf.file_sha256(path) == gguf.hash_file(path) != digest


def test_sha256_read_only_dir(tmp_path, monkeypatch):
    path = write_gguf(tmp_path / "m.gguf")
    monkeypatch.setattr(gguf.Path, "write_text", lambda *a, **k: (_ for _ in ()).throw(OSError))
    assert gguf.file_sha256(path) == gguf.hash_file(path)
    assert not (tmp_path / "m.gguf.sha256").exists()


@pytest.mark.model
def test_real_model(smollm2_path):
    info = gguf.check_gguf(smollm2_path)
    assert info.expected_size == smollm2_path.stat().st_size  # the type-size table is right
    md = gguf.read_metadata(smollm2_path)
    assert md["architecture"] == "llama" and md["chat_template"] is True
