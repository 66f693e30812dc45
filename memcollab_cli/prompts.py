"""Prompt templates: one plain-text file per prompt in `prompts/`, `{{name}}` placeholders.

Double braces were chosen because `$` collides with LaTeX and single braces with code. Values are
substituted once and never re-scanned, so a task that contains `{{` is safe. Each rendered prompt
is identified by the sha256 of its template, recorded in every output that used it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from memcollab_cli.errors import PromptError
from memcollab_cli.jsonl import sha256_text
from memcollab_cli.paths import prompts_dir

PLACEHOLDER = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")


@dataclass(frozen=True)
class Template:
    name: str
    text: str

    @property
    def hash(self) -> str:
        """Short content hash of the template, recorded as `prompt` in outputs."""
        return sha256_text(self.text)[:12]

    @property
    def variables(self) -> set[str]:
        return set(PLACEHOLDER.findall(self.text))

    def render(self, **values: object) -> str:
        missing = sorted(self.variables - values.keys())
        if missing:
            raise PromptError(f"prompt {self.name!r} needs values for: {', '.join(missing)}")
        return PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), self.text)


@lru_cache(maxsize=None)
def _load(directory: Path, name: str) -> Template:
    path = directory / f"{name}.txt"
    if not path.exists():
        raise PromptError(f"prompt {name!r} not found: expected {path} (set MEMCOLLAB_PROMPTS?)")
    return Template(name=name, text=path.read_text(encoding="utf-8").rstrip("\n"))


def load(name: str) -> Template:
    """The template `prompts/<name>.txt`."""
    return _load(prompts_dir(), name)


def all_templates() -> list[Template]:
    return [load(p.stem) for p in sorted(prompts_dir().glob("*.txt"))]
