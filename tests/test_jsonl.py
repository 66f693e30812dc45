"""The shared JSONL reader and writers: bad bytes, absurd JSON, gzip, full disks."""

from __future__ import annotations

import errno
import gzip
import json
import os

import pytest

from memcollab_cli import jsonl
from memcollab_cli.errors import DataError
from memcollab_cli.jsonl import append_jsonl, read_jsonl, repair_tail, stream_jsonl, write_jsonl

GOOD = b'{"a": 1}\n'


def write(path, data: bytes):
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("bad, message", [
    (b'{"a": "caf\xe9"}\n', r"x.jsonl:2: not valid UTF-8 \(byte 0xe9 at column 11\); save the file as UTF-8"),
    (b"[" * 100_000 + b"]" * 100_000 + b"\n", r"x.jsonl:2: JSON nested too deeply to read"),
    (b'{"n": ' + b"7" * 5000 + b"}\n", r"x.jsonl:2: a number too long to read .*write integers of over "
                                      r"4300 digits as strings"),
    (b'{"a": \n', r"x.jsonl:2: not valid JSON \(Expecting value\); fix or delete the line"),
    (b"[1, 2]\n", r"x.jsonl:2: expected a JSON object, got list"),
])
def test_a_bad_line_is_one_error_naming_file_and_line(tmp_path, bad, message):
    path = write(tmp_path / "x.jsonl", GOOD + bad + GOOD)
    with pytest.raises(DataError, match=message) as info:
        read_jsonl(path)
    assert "\n" not in str(info.value)


def test_the_same_problems_in_a_gzip_file(tmp_path):
    path = write(tmp_path / "x.jsonl.gz", gzip.compress(GOOD + b'{"a": "\xff"}\n'))
    with pytest.raises(DataError, match=r"x.jsonl.gz:2: not valid UTF-8"):
        read_jsonl(path)


def test_gzip_is_read_by_its_magic_bytes_whatever_the_name(tmp_path):
    records = [{"i": i, "text": "é" * i} for i in range(5)]
    plain = tmp_path / "a.jsonl"
    write_jsonl(plain, records)
    squeezed = write(tmp_path / "b.jsonl", gzip.compress(plain.read_bytes()))
    assert read_jsonl(squeezed) == read_jsonl(plain) == records
    assert jsonl.sha256_file(squeezed) == jsonl.sha256_file(plain)


def test_a_cut_gzip_file_is_an_error_not_a_traceback(tmp_path):
    data = gzip.compress(GOOD * 1000)
    path = write(tmp_path / "x.jsonl.gz", data[: len(data) // 2])
    with pytest.raises(DataError, match=r"x.jsonl.gz:\d+: the gzip data is damaged or cut short"):
        read_jsonl(path)


def test_gz_writes_are_deterministic_gzip(tmp_path):
    a, b = tmp_path / "a.jsonl.gz", tmp_path / "b" / "a.jsonl.gz"
    write_jsonl(a, [{"x": 1}])
    write_jsonl(b, [{"x": 1}])
    assert a.read_bytes() == b.read_bytes() and a.read_bytes()[:2] == jsonl.GZIP_MAGIC
    assert gzip.decompress(a.read_bytes()) == b'{"x": 1}\n'


def test_appending_to_gz_adds_members_and_a_torn_member_is_repaired(tmp_path):
    path = tmp_path / "runs.jsonl.gz"
    for i in range(3):
        append_jsonl(path, {"i": i})
    whole = path.read_bytes()
    assert gzip.decompress(whole).decode().splitlines() == ['{"i": 0}', '{"i": 1}', '{"i": 2}']
    member = gzip.compress(b'{"i": 3}\n', mtime=0)
    path.write_bytes(whole + member[:-5])  # killed mid-append
    repair_tail(path)
    assert path.read_bytes() == whole
    append_jsonl(path, {"i": 3})
    assert [r["i"] for r in read_jsonl(path)] == [0, 1, 2, 3]


def test_a_gz_file_holding_a_partial_line_loses_only_that_line(tmp_path):
    path = write(tmp_path / "runs.jsonl.gz", gzip.compress(GOOD + b'{"a": 2}\n{"a": 3'))
    repair_tail(path)
    assert read_jsonl(path) == [{"a": 1}, {"a": 2}]


def test_damage_inside_a_gz_file_is_not_silently_cut_away(tmp_path):
    data = bytearray(gzip.compress(GOOD * 50) + gzip.compress(GOOD))
    data[20] ^= 0xFF  # corrupt the first member's deflate data
    path = write(tmp_path / "runs.jsonl.gz", bytes(data))
    with pytest.raises(DataError, match=r"the gzip data is damaged at byte 0 .* `gzip -dc`"):
        repair_tail(path)
    assert path.read_bytes() == bytes(data)


def test_a_lone_surrogate_is_written_escaped_not_a_crash(tmp_path):
    path = write(tmp_path / "in.jsonl", b'{"c": "\\ud800"}\n')
    [record] = read_jsonl(path)
    write_jsonl(tmp_path / "out.jsonl", [record])
    assert read_jsonl(tmp_path / "out.jsonl") == [record]


def enospc(*_args, **_kw):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_append_on_a_full_disk_leaves_no_partial_line(tmp_path, monkeypatch):
    path = tmp_path / "runs.jsonl"
    append_jsonl(path, {"i": 0})
    before = path.read_bytes()
    monkeypatch.setattr(jsonl.os, "fsync", enospc)  # the bytes were written, then fsync fails
    with pytest.raises(DataError, match=r"runs.jsonl: cannot append a record \(No space left on device\); "
                                        r"nothing partial was left in it — free some disk space"):
        append_jsonl(path, {"i": 1, "long": "x" * 10_000})
    assert path.read_bytes() == before


def test_append_to_dev_full_is_one_error(tmp_path):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    with pytest.raises(DataError, match=r"/dev/full: cannot append a record \(No space left on device\)"):
        append_jsonl("/dev/full", {"i": 0})


def test_atomic_write_on_a_full_disk_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "bank.jsonl"
    write_jsonl(path, [{"old": True}])
    monkeypatch.setattr(jsonl.os, "fsync", enospc)
    with pytest.raises(DataError, match=r"bank.jsonl: cannot write \(No space left on device\)"):
        write_jsonl(path, [{"new": True}] * 100)
    assert read_jsonl(path) == [{"old": True}]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bank.jsonl"]  # no temporary left


def test_a_program_error_inside_an_atomic_write_is_not_relabelled(tmp_path):
    with pytest.raises(ZeroDivisionError):
        with jsonl.atomic_open(tmp_path / "x.jsonl") as fh:
            fh.write("partial")
            1 / 0  # noqa: B018
    assert list(tmp_path.iterdir()) == []


def test_an_atomic_write_gets_the_permissions_a_plain_write_would(tmp_path):
    old = os.umask(0o022)
    try:
        write_jsonl(tmp_path / "bank.jsonl", [{"a": 1}])
        assert (tmp_path / "bank.jsonl").stat().st_mode & 0o777 == 0o644  # not mkstemp's 0600
        (tmp_path / "bank.jsonl").chmod(0o640)
        write_jsonl(tmp_path / "bank.jsonl", [{"a": 2}])
        assert (tmp_path / "bank.jsonl").stat().st_mode & 0o777 == 0o640  # a replaced file keeps its own
    finally:
        os.umask(old)


def test_names(tmp_path):
    assert jsonl.jsonl_stem("runs/qwen.jsonl.gz") == jsonl.jsonl_stem("qwen.jsonl") == "qwen"
    assert jsonl.is_jsonl_name("t.jsonl.gz") and not jsonl.is_jsonl_name("t.json")


def test_stream_reports_line_numbers_counting_blank_lines(tmp_path):
    path = write(tmp_path / "x.jsonl", b'{"a": 1}\n\n{"a": 2}\n')
    assert [n for n, _ in stream_jsonl(path)] == [1, 3]
    assert json.loads(path.read_text().splitlines()[2]) == {"a": 2}
