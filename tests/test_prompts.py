"""Every template in prompts/ renders with exactly the values the code passes it."""

import re

import pytest

from memcollab_cli import prompts
from memcollab_cli.errors import PromptError

# The keyword arguments each template's `.render(...)` call site passes (grep `.render(`):
# agent/episode.py (solve_*, *_feedback, *_no_*), use/recall.py (classify, memory_block),
# build/refine.py (memory_block), use/examples.py, build/contrast.py,
# use/choose.py (choose_entries).
PASSED = {
    "solve_math": {"memory"},
    "solve_code": {"memory"},
    "math_feedback": {"output"},
    "math_no_answer": set(),
    "code_feedback": {"output"},
    "code_no_code": set(),
    "classify": {"taxonomy", "problem"},
    "memory_block": {"kind", "constraints"},
    "examples_block": {"examples"},
    "contrast": {"problem", "preferred", "unpreferred", "hint"},
    "contrast_json": {"k", "problem_words"},
    "summarize_success": {"problem", "preferred", "k"},
    "choose_entries": {"situations", "problem", "k"},
}


def test_every_template_is_listed():
    assert {t.name for t in prompts.all_templates()} == set(PASSED)


@pytest.mark.parametrize("name", sorted(PASSED))
def test_renders_with_the_values_the_code_passes(name):
    template = prompts.load(name)
    assert template.variables == PASSED[name]  # none missing, none passed in vain
    values = {v: f"<{v.upper()}>" for v in PASSED[name]}
    text = template.render(**values)
    assert not re.search(r"\{\{|\}\}", text), "a placeholder the pattern does not recognise"
    for v in values.values():
        assert v in text


def test_a_missing_value_is_an_error():
    with pytest.raises(PromptError, match="needs values for: output"):
        prompts.load("math_feedback").render()
