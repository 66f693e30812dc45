import difflib
import hashlib
import json
import threading
import time

import pytest

from memcollab_cli.errors import DataError
from memcollab_cli.memory.bank import (
    FORMAT,
    KEYS,
    MemoryEntry,
    bank_lock,
    bank_stats,
    entry_id,
    normalize_text,
    read_bank,
    validate_bank,
    write_bank,
)


def make(when="adding fractions", enforce="a common denominator", avoid="adding denominators",
         category="Prealgebra", subcategory="Fractions & Decimals", task="t1", support=1,
         pos_model="big", neg_model="small"):
    return MemoryEntry.create(
        category, subcategory, when, enforce, avoid,
        models={"preferred": [pos_model], "unpreferred": [neg_model]},
        sources=[{"task_id": task, "benchmark": "math500", "pos": f"p-{task}", "neg": f"n-{task}"}],
        support=support, summarizer="big", prompt="abc123")


def sample_bank():
    return [
        make(),
        make("counting arrangements", "divide by symmetries", "overcounting rotations",
             "Counting & Probability", "Permutations & Arrangements", task="t2"),
        make("solving absolute value equations", "split into both sign cases",
             "keeping only the positive case", "Algebra", "Absolute Value", task="t3"),
    ]


def test_normalize_text_and_id():
    assert normalize_text("  Adding   FRACTIONS, ") == "adding fractions"
    assert normalize_text("...keep (inner) punctuation!") == "keep (inner) punctuation"
    a = entry_id("Adding fractions.", "a common  denominator", "adding denominators!")
    b = entry_id("adding fractions", "A common denominator", "adding denominators")
    # The id is sha256 of the normalized fields joined by "|", cut to 16 hex digits.
    oracle = hashlib.sha256(b"adding fractions|a common denominator|adding denominators")
    assert a == b == oracle.hexdigest()[:16] == "eb4357ed560cdb60"
    assert entry_id("adding fractions", "a common denominator", "other") != a


def test_entry_roundtrip_and_text():
    e = make()
    d = e.to_dict()
    assert sorted(d) == sorted(KEYS)
    assert d["format"] == FORMAT
    assert MemoryEntry.from_dict(d) == e
    assert e.text() == ("When adding fractions, enforce a common denominator; "
                        "avoid adding denominators.")


def test_models_and_sources_are_sorted_and_unique():
    src = [{"task_id": "b", "benchmark": "x", "pos": "1", "neg": "2"},
           {"task_id": "a", "benchmark": "x", "pos": "1", "neg": "2"},
           {"task_id": "b", "benchmark": "x", "pos": "1", "neg": "2"}]
    e = MemoryEntry.create("C", "S", "w", "e", "a",
                           models={"preferred": ["z", "a", "z"], "unpreferred": []}, sources=src)
    assert e.models == {"preferred": ["a", "z"], "unpreferred": []}
    assert [s["task_id"] for s in e.sources] == ["a", "b"]


def test_write_read_sorted(tmp_path):
    path = tmp_path / "bank.jsonl"
    write_bank(path, sample_bank())
    entries = read_bank(path)
    assert [(e.category, e.subcategory) for e in entries] == [
        ("Algebra", "Absolute Value"),
        ("Counting & Probability", "Permutations & Arrangements"),
        ("Prealgebra", "Fractions & Decimals"),
    ]
    assert sorted(entries, key=lambda e: e.id) == sorted(sample_bank(), key=lambda e: e.id)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith('{"avoid": "keeping only the positive case", "category": "Algebra"')


def test_rebuild_is_byte_identical(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    write_bank(a, sample_bank())
    write_bank(b, list(reversed(sample_bank())))
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes().endswith(b"}\n")


def test_one_changed_constraint_is_one_line_diff(tmp_path):
    path = tmp_path / "bank.jsonl"
    write_bank(path, sample_bank())
    before = path.read_text(encoding="utf-8").splitlines()
    entries = sample_bank()
    entries[1] = make("counting arrangements", "divide by the symmetry group size",
                      "overcounting rotations", "Counting & Probability",
                      "Permutations & Arrangements", task="t2")
    write_bank(path, entries)
    after = path.read_text(encoding="utf-8").splitlines()
    changes = [line for line in difflib.unified_diff(before, after, lineterm="", n=0)
               if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert len(changes) == 2
    assert changes[0].startswith("-") and "divide by symmetries" in changes[0]
    assert changes[1].startswith("+") and "symmetry group size" in changes[1]


def write_lines(path, objs):
    path.write_text("".join((o if isinstance(o, str) else json.dumps(o)) + "\n" for o in objs),
                    encoding="utf-8")


def test_unknown_key_names_file_and_line(tmp_path):
    path = tmp_path / "bank.jsonl"
    good = make().to_dict()
    bad = make("other", "x", "y").to_dict()
    bad["enforse"] = bad.pop("enforce")
    write_lines(path, [good, "", bad])
    with pytest.raises(DataError) as err:
        read_bank(path)
    assert str(err.value) == (
        f"{path}:3: unknown key 'enforse' (expected one of avoid, category, enforce, format, id, "
        "models, prompt, sources, subcategory, summarizer, support, when)")


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.pop("avoid"), "missing key 'avoid'"),
    (lambda d: d.update(support="3"), "'support' must be an integer >= 1, got '3'"),
    (lambda d: d.update(support=True), "'support' must be an integer >= 1, got True"),
    (lambda d: d.update(when="  "), "'when' is empty"),
    (lambda d: d.update(category=3), "'category' must be a string, got int"),
    (lambda d: d.update(id="XYZ"), "'id' must be 16 lowercase hex digits, got 'XYZ'"),
    (lambda d: d.update(format="memcollab.bank/0"),
     "'format' must be 'memcollab.bank/1', got 'memcollab.bank/0'"),
    (lambda d: d.update(models={"preferred": "a", "unpreferred": []}),
     "'models.preferred' and 'models.unpreferred' must be lists of non-empty strings"),
    (lambda d: d.update(sources=[{"task_id": "t"}]),
     "'sources[0]' must be an object with the keys benchmark, neg, pos, task_id (and "
     "optionally problem, split)"),
    (lambda d: d.update(sources=[{"task_id": "t", "benchmark": "b", "pos": "p", "neg": "",
                                  "problme": "x"}]),
     "'sources[0]' must be an object with the keys benchmark, neg, pos, task_id (and "
     "optionally problem, split)"),
])
def test_field_errors(tmp_path, mutate, message):
    path = tmp_path / "bank.jsonl"
    d = make().to_dict()
    mutate(d)
    write_lines(path, [d])
    with pytest.raises(DataError) as err:
        read_bank(path)
    assert str(err.value) == f"{path}:1: {message}"


def test_malformed_json_and_duplicates(tmp_path):
    path = tmp_path / "bank.jsonl"
    write_lines(path, [make().to_dict(), "{oops", make().to_dict(), "[1]"])
    with pytest.raises(DataError, match=r"bank.jsonl:2: not valid JSON"):
        read_bank(path)
    problems = validate_bank(path)
    assert len(problems) == 3
    assert problems[0].startswith(f"{path}:2: not valid JSON")
    assert problems[1] == (f"{path}:3: duplicate id '{make().id}' (first on line 1); "
                           "run 'memcollab bank merge' to combine them")
    assert problems[2] == f"{path}:4: expected a JSON object, got list"


def test_validate_bank_reports_all_problems(tmp_path):
    path = tmp_path / "bank.jsonl"
    d = make().to_dict()
    d["enforse"] = d.pop("enforce")
    d["support"] = 0
    write_lines(path, [d, make("x", "y", "z").to_dict()])
    assert validate_bank(path) == [
        f"{path}:1: unknown key 'enforse' (expected one of avoid, category, enforce, format, id, "
        "models, prompt, sources, subcategory, summarizer, support, when)",
        f"{path}:1: missing key 'enforce'",
        f"{path}:1: 'support' must be an integer >= 1, got 0",
    ]
    good = tmp_path / "good.jsonl"
    write_bank(good, sample_bank())
    assert validate_bank(good) == []


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_bank(tmp_path / "nope.jsonl")


def test_write_refuses_duplicate_ids(tmp_path):
    with pytest.raises(DataError, match="two entries share id"):
        write_bank(tmp_path / "b.jsonl", [make(), make(task="t9")])


def test_second_writer_times_out(tmp_path):
    path = tmp_path / "bank.jsonl"
    with bank_lock(path):
        with pytest.raises(DataError, match="another process is writing this bank"):
            write_bank(path, sample_bank(), lock_timeout=0.1)
    assert not path.exists()
    write_bank(path, sample_bank(), lock_timeout=0.1)  # released: now it works
    assert len(read_bank(path)) == 3


def test_second_writer_waits_for_the_first(tmp_path):
    path = tmp_path / "bank.jsonl"
    released = threading.Event()

    def hold():
        with bank_lock(path):
            time.sleep(0.2)
        released.set()

    t = threading.Thread(target=hold)
    t.start()
    time.sleep(0.05)
    write_bank(path, sample_bank(), lock_timeout=5)
    assert released.is_set()
    t.join()
    assert len(read_bank(path)) == 3


def test_bank_stats():
    entries = sample_bank() + [make("w", "e", "a", support=3, pos_model="small",
                                    neg_model="big")]
    assert bank_stats(entries) == {
        "entries": 4,
        "sources": 4,
        "categories": {"Algebra": 1, "Counting & Probability": 1, "Prealgebra": 2},
        "subcategories": {"Algebra": {"Absolute Value": 1},
                          "Counting & Probability": {"Permutations & Arrangements": 1},
                          "Prealgebra": {"Fractions & Decimals": 2}},
        "preferred": {"big": 3, "small": 1},
        "unpreferred": {"big": 1, "small": 3},
        "support": {1: 3, 3: 1},
    }
