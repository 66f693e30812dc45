import json

import pytest

from memcollab_cli.errors import DataError
from memcollab_cli.memory.taxonomy import load_taxonomy, taxonomy_for_benchmark

MATH_SUBJECTS = ["Prealgebra", "Algebra", "Number Theory", "Counting & Probability", "Geometry",
                 "Intermediate Algebra", "Precalculus"]


@pytest.mark.parametrize("name", ["math", "gsm8k", "code"])
def test_builtins_load_and_are_well_formed(name):
    t = load_taxonomy(name)
    assert t.name == name
    assert len(t.categories) >= 7
    for cat in t.categories.values():
        assert 3 <= len(cat.subcategories) <= 12
    schema = t.schema()
    assert schema["properties"]["category"]["enum"] == list(t.categories)
    assert len(schema["properties"]["subcategory"]["enum"]) == len(t.owner)
    assert schema["required"] == ["category", "subcategory"]


def test_math_has_the_seven_subjects():
    t = load_taxonomy("math")
    assert list(t.categories) == MATH_SUBJECTS
    assert all(6 <= len(c.subcategories) <= 12 for c in t.categories.values())
    assert "Distance & Midpoints" in t.categories["Prealgebra"].subcategories


def test_render():
    text = load_taxonomy("math").render()
    lines = text.splitlines()
    assert lines[0] == ("Prealgebra: Arithmetic, fractions, percents, simple equations, basic "
                        "shapes and statistics.")
    assert lines[1] == ("  - Fractions & Decimals: Operating on, comparing and converting "
                        "fractions and decimals.")


def test_normalize():
    t = load_taxonomy("math")
    assert t.normalize("Algebra", "Absolute Value") == ("Algebra", "Absolute Value")
    # Case and spacing are forgiven.
    assert t.normalize("algebra", "absolute  value") == ("Algebra", "Absolute Value")
    # A subcategory under the wrong category moves to its owner.
    assert t.normalize("Algebra", "Vieta's Formulas") == ("Intermediate Algebra",
                                                           "Vieta's Formulas")
    assert t.normalize("Nonsense", "GCD & LCM") == ("Number Theory", "GCD & LCM")
    # Unknown subcategory of a known category; nothing known at all.
    assert t.normalize("Geometry", "Fractals") == ("Geometry", "Other")
    assert t.normalize("Astrology", "Horoscopes") == ("Other", "Other")
    assert t.normalize("", "") == ("Other", "Other")


def test_hash_is_stable():
    assert load_taxonomy("math").hash == load_taxonomy("math").hash
    assert load_taxonomy("math").hash != load_taxonomy("code").hash


def test_for_benchmark():
    assert taxonomy_for_benchmark("gsm8k") == "gsm8k"
    assert taxonomy_for_benchmark("math500") == "math"
    assert taxonomy_for_benchmark("humaneval") == "code"
    assert taxonomy_for_benchmark("mbpp") == "code"
    assert taxonomy_for_benchmark("mbpp-sanitized") == "code"
    assert taxonomy_for_benchmark("my_problems") == "math"


def write(path, data):
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_user_taxonomy(tmp_path):
    path = write(tmp_path / "mine.json", {"Physics": {"description": "Mechanics and more.",
                                                      "subcategories": {"Kinematics": "Motion."}}})
    t = load_taxonomy(str(path))
    assert t.name == "mine"
    assert t.normalize("Physics", "Kinematics") == ("Physics", "Kinematics")


@pytest.mark.parametrize("data, message", [
    ([], "a taxonomy must be a non-empty JSON object"),
    ({"A": {"description": "d"}}, "category 'A': 'subcategories' must be a non-empty object"),
    ({"A": {"description": "", "subcategories": {"x": "y"}}},
     "category 'A': 'description' must be a non-empty string"),
    ({"A": {"description": "d", "subcategories": {"x": "y"}, "extra": 1}},
     "category 'A': unknown key 'extra'"),
    ({"A": {"description": "d", "subcategories": {"x": ""}}},
     "category 'A': subcategory 'x' needs a one-line description"),
    ({"A": {"description": "d", "subcategories": {"x": "y"}},
      "B": {"description": "d", "subcategories": {"x": "y"}}},
     "subcategory 'x' appears under both 'A' and 'B'; names must be unique"),
    ({"Other": {"description": "d", "subcategories": {"x": "y"}}},
     "category 'Other': the name must be non-empty and not 'Other'"),
])
def test_invalid_taxonomies_name_the_file(tmp_path, data, message):
    path = write(tmp_path / "bad.json", data)
    with pytest.raises(DataError) as err:
        load_taxonomy(path)
    assert str(err.value).startswith(f"{path}: ")
    assert message in str(err.value)


def test_bad_json_and_unknown_name(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"A": ', encoding="utf-8")
    with pytest.raises(DataError, match=r"broken.json:1: not valid JSON"):
        load_taxonomy(path)
    with pytest.raises(DataError, match="unknown taxonomy 'physics': use one of math, gsm8k, code"):
        load_taxonomy("physics")


def test_prompt_dir_override(tmp_path, monkeypatch):
    (tmp_path / "taxonomies").mkdir()
    write(tmp_path / "taxonomies" / "math.json",
          {"Only": {"description": "d", "subcategories": {"One": "o"}}})
    monkeypatch.setenv("MEMCOLLAB_PROMPTS", str(tmp_path))
    assert list(load_taxonomy("math").categories) == ["Only"]
    # Taxonomies missing from the override directory come from the repository.
    assert "String Manipulation" in load_taxonomy("code").categories
