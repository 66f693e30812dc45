"""Task taxonomies: the two-level (category -> subcategory) labels that memory is filed under.

A taxonomy is a JSON file `{category: {"description": str, "subcategories": {name: str}}}`.
Built-in ones live in `prompts/taxonomies/` (math: the seven MATH subjects; gsm8k: hand-designed
word-problem kinds; code: HumanEval/MBPP kinds), where a user can read and edit them like the
prompts; any other JSON file of the same shape can be passed by path. Subcategory names must be
unique across categories, so a subcategory alone says which category owns it.

Left out: calling a model to classify (the pipeline renders `render()` into prompts/classify.txt
and constrains the reply with `schema()`); growing the taxonomy from new tasks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from memcollab_cli.errors import DataError
from memcollab_cli.jsonl import dumps, sha256_text
from memcollab_cli.paths import REPO_ROOT, prompts_dir

BUILTIN = ("math", "gsm8k", "code")
# Label for a value the taxonomy does not know. Never offered to the model (it is not in the
# schema's enums), so it only appears when a reply ignored the grammar.
OTHER = "Other"


@dataclass(frozen=True)
class Category:
    description: str
    subcategories: dict[str, str]  # name -> one-line description, in file order


@dataclass(frozen=True)
class Taxonomy:
    name: str
    categories: dict[str, Category]  # in file order

    @property
    def owner(self) -> dict[str, str]:
        """subcategory -> the category that owns it."""
        return {s: c for c, cat in self.categories.items() for s in cat.subcategories}

    @property
    def hash(self) -> str:
        """Short content hash, to record which taxonomy labelled a bank."""
        data = {c: {"description": cat.description, "subcategories": cat.subcategories}
                for c, cat in self.categories.items()}
        return sha256_text(dumps(data))[:12]

    def schema(self) -> dict:
        """JSON schema for the classifier's reply: {"category": enum, "subcategory": enum}.

        The subcategory enum lists every subcategory (a grammar cannot tie it to the chosen
        category); `normalize` repairs a mismatched pair afterwards.
        """
        return {
            "type": "object",
            "properties": {
                "category": {"type": "string", "enum": list(self.categories)},
                "subcategory": {"type": "string", "enum": list(self.owner)},
            },
            "required": ["category", "subcategory"],
            "additionalProperties": False,
        }

    def render(self) -> str:
        """The taxonomy as indented text for the classification prompt."""
        lines = []
        for name, cat in self.categories.items():
            lines.append(f"{name}: {cat.description}")
            lines.extend(f"  - {sub}: {desc}" for sub, desc in cat.subcategories.items())
        return "\n".join(lines)

    def normalize(self, category: str, subcategory: str) -> tuple[str, str]:
        """Map a classifier's reply onto the taxonomy.

        - exact names, or the same ignoring case and spacing: kept;
        - a known subcategory under the wrong category: the category that owns it (the
          subcategory is the more specific answer, so it is trusted);
        - a known category with an unknown subcategory: (category, "Other"), so retrieval
          falls back to the category level;
        - neither known: ("Other", "Other"), which retrieves nothing.
        """
        cats = {_fold(c): c for c in self.categories}
        subs = {_fold(s): s for s in self.owner}
        sub = subs.get(_fold(subcategory or ""))
        if sub is not None:
            return self.owner[sub], sub
        cat = cats.get(_fold(category or ""))
        if cat is not None:
            return cat, OTHER
        return OTHER, OTHER


def _fold(name: str) -> str:
    return " ".join(name.casefold().split())


# ---------------------------------------------------------------------------------------------
# loading


def _builtin_path(name: str) -> Path:
    # A user prompt directory (MEMCOLLAB_PROMPTS) may override a taxonomy; otherwise the
    # repository's copy is used, so pointing prompts elsewhere does not lose the taxonomies.
    for directory in (prompts_dir(), REPO_ROOT / "prompts"):
        path = directory / "taxonomies" / f"{name}.json"
        if path.exists():
            return path
    raise DataError(f"built-in taxonomy {name!r} is missing: expected "
                    f"{REPO_ROOT / 'prompts' / 'taxonomies' / (name + '.json')}")


def _parse(path: Path, data) -> dict[str, Category]:
    shape = ('expected {"<category>": {"description": "...", '
             '"subcategories": {"<name>": "<description>"}}}')
    if not isinstance(data, dict) or not data:
        raise DataError(f"{path}: a taxonomy must be a non-empty JSON object; {shape}")
    categories: dict[str, Category] = {}
    owner: dict[str, str] = {}
    for name, body in data.items():
        where = f"{path}: category {name!r}"
        if not name.strip() or name == OTHER:
            raise DataError(f"{where}: the name must be non-empty and not {OTHER!r}")
        if not isinstance(body, dict):
            raise DataError(f"{where}: {shape}")
        unknown = sorted(set(body) - {"description", "subcategories"})
        if unknown:
            raise DataError(f"{where}: unknown key {unknown[0]!r} "
                            "(expected description, subcategories)")
        desc, subs = body.get("description"), body.get("subcategories")
        if not isinstance(desc, str) or not desc.strip():
            raise DataError(f"{where}: 'description' must be a non-empty string")
        if not isinstance(subs, dict) or not subs:
            raise DataError(f"{where}: 'subcategories' must be a non-empty object of "
                            "name -> description")
        for sub, sub_desc in subs.items():
            if not sub.strip() or sub == OTHER:
                raise DataError(f"{where}: subcategory names must be non-empty and not "
                                f"{OTHER!r}")
            if not isinstance(sub_desc, str) or not sub_desc.strip():
                raise DataError(f"{where}: subcategory {sub!r} needs a one-line description")
            if sub in owner:
                raise DataError(f"{path}: subcategory {sub!r} appears under both "
                                f"{owner[sub]!r} and {name!r}; names must be unique")
            owner[sub] = name
        categories[name] = Category(desc, dict(subs))
    return categories


def load_taxonomy(name_or_path: str | Path) -> Taxonomy:
    """A built-in taxonomy by name (math, gsm8k, code) or a JSON file by path."""
    text = str(name_or_path)
    if text in BUILTIN:
        path = _builtin_path(text)
    else:
        path = Path(text)
        if not path.is_file():
            raise DataError(f"unknown taxonomy {text!r}: use one of {', '.join(BUILTIN)} "
                            "or a path to a JSON file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DataError(f"{path}:{e.lineno}: not valid JSON ({e.msg})") from None
    return Taxonomy(name=text if text in BUILTIN else path.stem,
                    categories=_parse(path, data))


def taxonomy_for_benchmark(benchmark: str) -> str:
    """The built-in taxonomy for a benchmark: gsm8k, math500 -> math, humaneval/mbpp* -> code.

    Anything else (a user's JSONL of problems) gets the math taxonomy.
    """
    b = benchmark.lower()
    if b.startswith("gsm8k"):
        return "gsm8k"
    if b.startswith(("humaneval", "mbpp")):
        return "code"
    return "math"
