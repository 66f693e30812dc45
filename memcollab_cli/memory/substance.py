"""Does a constraint teach anything? Three ways a well-formed constraint still says nothing.

- a mirror image: "enforce considering the total; avoid not considering the total" — the avoid
  field is the enforce field with its polarity flipped, so the pair states one idea, not two;
- an empty generality: "enforce correct calculation" — no word outside a short list of words that
  fit every problem, so there is nothing to apply;
- a note about the problem (or the attempts) instead of a way of reasoning: "The problem involves
  a scenario where…", "the problem statement is ambiguous", "Attempt B adds…".

`validate_constraint` (constraints.py) calls these after its own rules; they are kept here so
each module stays small.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher

# Words that carry only polarity or emphasis: remove them from "enforce" and "avoid" and what is
# left is the idea itself. "fail to", "make sure", "take into account" lose all their words.
POLARITY_WORDS = frozenset("""
    not no never none nothing without don't doesn't didn't isn't aren't cannot can't won't
    correct correctly incorrect incorrectly right wrong wrongly proper properly improper improperly
    accurate accurately inaccurate inaccurately precise precisely careful carefully careless
    carelessly always avoid avoiding fail fails failing failed failure mistake mistakes mistaken
    mistakenly error errors erroneous erroneously ensure ensuring make making sure consider
    considers considering considered account accounts accounting accounted take takes taking
    ignore ignores ignoring ignored neglect neglects neglecting neglected overlook overlooks
    overlooking overlooked forget forgets forgetting forgot omit omits omitting omitted miss
    misses missing missed skip skips skipping skipped include includes including included
    exclude excludes excluding excluded lack lacks lacking check checks checking checked verify
    verifies verifying verified
""".split())
# Function words that never change what a field means.
_FILLER = frozenset("the a an of to in into for on at by is are be being was were that it its "
                    "their this".split())
# Two fields this similar after normalising (difflib ratio of their word lists) say the same,
# and so do two that differ by one inserted word ("the initial weight" vs "the weight").
MIRROR_RATIO = 0.9

# Words that fit every problem: a field made only of these (and function words) is empty.
GENERIC_WORDS = frozenset("""
    correct correctly incorrect incorrectly right wrong wrongly proper properly accurate accurately
    inaccurate careful carefully careless precise precisely exact exactly
    calculation calculations calculate calculating calculated compute computing computation
    computations math mathematical arithmetic operation operations
    problem problems question questions task answer answers result results solution solutions
    solve solving solved step steps mistake mistakes error errors reasoning thinking think
    approach method methods logic logical process work working check checking verify verifying
    attention detail details be being make making sure ensure ensuring do doing done use using
    apply applying follow following way ways thing things value values number numbers
    avoid avoiding not no never all each every some any other given information data
    proceed proceeding perform performing handle handling deal dealing consider considering
    quantity quantities amount amounts situation situations kind kinds type types
""".split())
_FUNCTION = frozenset("the a an of to in into for on at by is are be was were that it its and or "
                      "with as when while before after from this these those there than then".split())

# A note about the problem statement or the two attempts rather than a rule for other problems.
_PROBLEM_NOTE = re.compile(
    r"\b(?:the problem(?:'s)? (?:involves|involved|statement|should|states|says|mentions|describes|"
    r"specifies|is about|is ambiguous|is unclear|does not|doesn't)"
    r"|problem statement|this (?:problem|question|task)|the given (?:problem|question)"
    r"|attempts? [ab]\b|solution [ab]\b|the solver|(?-i:\bB\b))",  # "B" alone: attempt B
    re.I)


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z][a-z']*", text.lower())


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def _idea(text: str) -> list[str]:
    """The words of a field without polarity, emphasis or function words; "misreading" -> "reading"."""
    out = []
    for w in _words(text):
        if w.startswith("mis") and len(w) > 6:  # miscalculating, misreading, misinterpreting
            w = w[3:]
        if w not in POLARITY_WORDS and w not in _FILLER:
            out.append(_stem(w))
    return out


def mirror_image(enforce: str, avoid: str) -> bool:
    """True when "avoid" is "enforce" with its polarity flipped (or nearly word for word so)."""
    a, b = _idea(enforce), _idea(avoid)
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    common = sum(block.size for block in matcher.get_matching_blocks())
    return len(a) + len(b) - 2 * common <= 1 or matcher.ratio() >= MIRROR_RATIO


def empty_field(values: dict[str, str]) -> str | None:
    """The first field (name) with no word outside GENERIC_WORDS and function words, if any."""
    for name, text in values.items():
        content = [w for w in _words(text) if w not in _FUNCTION and w not in GENERIC_WORDS
                   and _stem(w) not in GENERIC_WORDS]
        if not content:
            return name
    return None


def problem_note(text: str) -> str | None:
    """The phrase that marks `text` as a note about the problem or the attempts, if any."""
    m = _PROBLEM_NOTE.search(text)
    return m.group(0).lower() if m else None
