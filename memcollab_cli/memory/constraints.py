"""Raw constraints: what `contrast` writes, one line each, before classification and merging.

Also the guard rails around the summarizer's output: `constraint_schema(k)` is the JSON schema the
output is constrained to (llama.cpp turns it into a grammar), `clean_constraint` tidies the three
fields, and `validate_constraint` rejects constraints that are not abstract — too long, code, the
task's own numbers, or its answer — or that say nothing (mirror images, empty generalities, notes
about the problem: substance.py), with a reason that `contrast` records.

Left out: calling the summarizer (the pipeline does that) and classification (taxonomy.py).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from memcollab_cli.errors import DataError
from memcollab_cli.jsonl import dumps, sha256_text, stream_jsonl
from memcollab_cli.memory.bank import MemoryEntry, constraint_sentence, entry_id
from memcollab_cli.memory.substance import empty_field, mirror_image, problem_note

FORMAT = "memcollab.constraint/1"
FIELDS = ("when", "enforce", "avoid")
KEYS = ("avoid", "benchmark", "enforce", "format", "id", "localize", "neg", "pos", "prompt",
        "summarizer", "task_id", "when")
# Keys that files written before they existed lack, with the value that means "not recorded".
OPTIONAL_KEYS = {"localize": ""}

# 40 words per field: the paper's example ("When dealing with joint probability, enforce explicit
# case enumeration; avoid assuming independence") uses under ten; anything past 40 is a worked
# solution rather than a constraint. The schema's character limit is the same budget (~8 chars
# per word) so the grammar stops a runaway field before validation has to.
MAX_WORDS = 40
MIN_CHARS = 3
MAX_CHARS = 240

# Copying: a small summarizer often pastes the problem back instead of abstracting it. Five words
# in a row from the task ("the number of yellow flowers") are its wording, not a general rule.
COPY_NGRAM = 5
# A calculation with the task's quantities ("3 * 2 = 6") is a worked step, not a constraint.
_CALCULATION = re.compile(r"\d\s*[-+*/×÷=^]\s*\d")
# A capitalized word of the task inside a constraint is a name (Natalia, April, Albert), unless it
# is one of the words that start sentences anyway.
_SENTENCE_WORDS = {"a", "an", "and", "as", "at", "but", "each", "every", "for", "from", "how", "if",
                   "in", "it", "its", "of", "on", "or", "so", "the", "then", "there", "this", "to",
                   "what", "when", "where", "which", "while", "with", "let", "find", "given", "suppose",
                   "compute", "write", "return"}

# Signs of code, as (label, pattern). Patterns rather than substrings because constraints are
# prose that may say "return to the original equation" or use math notation such as f(x).
CODE_MARKERS = (
    ("`", re.compile(r"`")),
    ("def", re.compile(r"\bdef\s+\w+\s*\(")),
    ("==", re.compile(r"==")),
    ("return", re.compile(r"\breturn\s+[\w.]+\s*(?:[(\[+\-*/%<>]|$)", re.M)),
    ("lambda", re.compile(r"\blambda\b[\w\s,]*:")),
    ("print(", re.compile(r"\bprint\(")),
)

# A number: digits with optional thousands separators and decimals ("1,000", "3.5").
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_LEADING = {"when": re.compile(r"^\s*when\b[\s,:]*", re.I),
            "enforce": re.compile(r"^\s*enforce\b[\s,:]*", re.I),
            "avoid": re.compile(r"^\s*avoid\b[\s,:]*", re.I)}


# ---------------------------------------------------------------------------------------------
# the record


@dataclass
class Constraint:
    """One constraint distilled from one (pos, neg) pair.

    `pos`/`neg` are {model, record}: the model name and the trajectory record id. `neg` is
    {"model": "", "record": ""} for constraints summarized from a success alone (the self-memory
    baseline). `localize` names the hint the summarizer was given about where `neg` departs from
    the reference ("gsm8k-steps", "solution-numbers", "failing-test"; "" for none); it is not
    part of `id`, which is unique per line: it hashes the pair and the text, so the same sentence
    from two pairs gives two lines (merging happens later, in `distill`).
    """

    task_id: str
    benchmark: str
    when: str
    enforce: str
    avoid: str
    pos: dict
    neg: dict = field(default_factory=lambda: {"model": "", "record": ""})
    summarizer: str = ""
    prompt: str = ""
    localize: str = ""
    format: str = FORMAT
    id: str = ""

    def __post_init__(self):
        if not self.id:
            key = dumps({"benchmark": self.benchmark, "task_id": self.task_id,
                         "pos": self.pos["record"], "neg": self.neg["record"],
                         "text": entry_id(self.when, self.enforce, self.avoid)})
            self.id = sha256_text(key)[:16]

    def text(self) -> str:
        return constraint_sentence(self.when, self.enforce, self.avoid)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Constraint":
        return cls(**{k: d.get(k, OPTIONAL_KEYS.get(k)) for k in KEYS})

    def to_entry(self, category: str, subcategory: str) -> MemoryEntry:
        """The bank entry this constraint becomes once its task is classified (support 1)."""
        return MemoryEntry.create(
            category, subcategory, self.when, self.enforce, self.avoid,
            models={"preferred": [self.pos["model"]],
                    "unpreferred": [self.neg["model"]] if self.neg["model"] else []},
            sources=[{"task_id": self.task_id, "benchmark": self.benchmark,
                      "pos": self.pos["record"], "neg": self.neg["record"]}],
            support=1, summarizer=self.summarizer, prompt=self.prompt)


def read_constraints(path: str | Path) -> list[Constraint]:
    """Every constraint in a `contrast` output; unknown or missing keys raise with file:line."""
    out = []
    for lineno, d in stream_jsonl(path):
        unknown = sorted(set(d) - set(KEYS))
        if unknown:
            raise DataError(f"{path}:{lineno}: unknown key {unknown[0]!r} "
                            f"(expected one of {', '.join(KEYS)})")
        missing = [k for k in KEYS if k not in d and k not in OPTIONAL_KEYS]
        if missing:
            raise DataError(f"{path}:{lineno}: missing key {missing[0]!r}")
        for side in ("pos", "neg"):
            if not isinstance(d[side], dict) or set(d[side]) != {"model", "record"}:
                raise DataError(f"{path}:{lineno}: {side!r} must be an object with exactly "
                                "the keys 'model' and 'record'")
        out.append(Constraint.from_dict(d))
    return out


# ---------------------------------------------------------------------------------------------
# the summarizer's output


def constraint_schema(k: int = 3) -> dict:
    """JSON schema for `{"constraints": [{"when", "enforce", "avoid"}]}` with 0..k items.

    Uses only what llama.cpp's json-schema-to-grammar supports (enum-free strings with
    minLength/maxLength, arrays with minItems/maxItems, additionalProperties false). The grammar
    writes properties in this dict's order, so the fields come in the order of the reasoning:
    the situation, then what to do, then the mistake. Zero items is allowed: a pair may hold no
    lesson that transfers (a slip, a misread number), and a forced item is then noise.
    """
    text = {"type": "string", "minLength": MIN_CHARS, "maxLength": MAX_CHARS}
    item = {"type": "object", "properties": {f: dict(text) for f in FIELDS},
             "required": list(FIELDS), "additionalProperties": False}
    return {"type": "object",
            "properties": {"constraints": {"type": "array", "items": item,
                                           "minItems": 0, "maxItems": k}},
            "required": ["constraints"], "additionalProperties": False}


CONSTRAINT_SCHEMA = constraint_schema(3)


def clean_constraint(when: str, enforce: str, avoid: str) -> tuple[str, str, str]:
    """Strip what `text()` adds itself: a leading "When"/"enforce"/"avoid" and end punctuation.

    Models often echo the template ("when": "When adding fractions"), which would otherwise read
    "When When adding fractions, …".
    """
    out = []
    for name, value in zip(FIELDS, (when, enforce, avoid), strict=True):
        value = " ".join(value.split())
        value = _LEADING[name].sub("", value)
        out.append(value.strip(" ,;:.!"))
    return out[0], out[1], out[2]


def _numbers(text: str) -> set[str]:
    """Numbers in `text`, thousands separators dropped ("1,000" -> "1000")."""
    found = set()
    for m in _NUMBER.findall(text):
        # "1,000" is one number but "1,2" is a list; only drop commas before exactly 3 digits.
        found.add(re.sub(r",(?=\d{3}(?!\d))", "", m))
    return found


def _is_trivial(number: str) -> bool:
    # Single digits are everyday words of reasoning ("split into 2 cases", "divide by 3"):
    # forbidding them would reject most good constraints. Everything longer is a fingerprint.
    return len(number) == 1


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text.lower())


def _answer_forms(answer: str) -> str:
    """The gold answer without LaTeX wrappers that never appear in prose ($, \\boxed{})."""
    answer = answer.strip().strip("$")
    m = re.fullmatch(r"\\boxed\{(.*)\}", answer, flags=re.S)
    return _squash(m.group(1) if m else answer)


def validate_constraint(when: str, enforce: str, avoid: str, task_text: str,
                        answer: str = "", *, prompt_examples: str = "",
                        common_words: frozenset[str] | None = None, reference: str = "") -> str | None:
    """Why a constraint must be rejected, or None when it is acceptable.

    Checked in this order (the first failing rule is reported):
    - "empty 'when'": a field with no text;
    - "'enforce' too long (52 words > 40)";
    - "contains code ('==')": backticks, `def f(`, `==`, `return x`, `lambda x:`, `print(`;
    - "contains the answer": a numeric answer (2+ digits) appears as a number, or a non-numeric
      answer of 3+ characters appears verbatim (case and spaces ignored);
    - "quotes the task's numbers (48, 120)": a number of two or more characters that occurs in
      the task text, the answer or `reference` (what the summarizer was told of the reference
      solution, e.g. its intermediate results). Single digits are allowed (see `_is_trivial`),
      and so are numbers the task does not contain ("360 degrees"), which are general knowledge;
    - "contains a calculation": digits joined by an operator or "=" ("3 * 2 = 6");
    - "names the task's entities (April, Natalia)": a capitalized word of the task;
    - "names the task's objects (balls, flowers)": with `common_words` (the benchmark's shared
      vocabulary, see `common_vocabulary`), a word of the task that few other tasks use;
    - "copies the task's wording": five words in a row from the task text;
    - "copies the prompt's examples": five words in a row from `prompt_examples`, the style
      examples the summarizer was shown (small models paste them back), or a whole field of two
      words or more that is a phrase of it;
    - "repeats itself": two fields that say the same thing;
    - "mirror image": "avoid" is "enforce" with its polarity flipped ("considering the total" /
      "not considering the total");
    - "note about the problem ('the problem involves')": a remark on the problem statement or the
      attempts rather than a way of reasoning;
    - "empty generality ('enforce')": a field with no word beyond generic ones ("correct
      calculation", "be careful").
    A single-digit answer is therefore never caught by the answer rule; that is the price of
    allowing "two cases".
    """
    values = dict(zip(FIELDS, (when, enforce, avoid), strict=True))
    for name in FIELDS:
        if not values[name].strip():
            return f"empty {name!r}"
    for name in FIELDS:
        words = len(values[name].split())
        if words > MAX_WORDS:
            return f"{name!r} too long ({words} words > {MAX_WORDS})"
    joined = " ".join(values.values())
    for label, pattern in CODE_MARKERS:
        if any(pattern.search(v) for v in values.values()):
            return f"contains code ({label!r})"
    gold = _answer_forms(answer)
    if _NUMBER.fullmatch(gold.lstrip("-")):
        # A numeric answer is matched as a whole number, so "120" does not hit "1200".
        if _numbers(gold) & _numbers(joined) and not _is_trivial(gold.lstrip("-")):
            return "contains the answer"
    elif len(gold) >= 3 and gold in _squash(joined):
        return "contains the answer"
    quoted = _numbers(joined) & (_numbers(task_text) | _numbers(answer) | _numbers(reference))
    quoted = sorted((n for n in quoted if not _is_trivial(n)), key=lambda n: (len(n), n))
    if quoted:
        return f"quotes the task's numbers ({', '.join(quoted)})"
    if _CALCULATION.search(joined):
        return "contains a calculation"
    names = sorted(_names(task_text) & _names(joined))
    if names:
        return f"names the task's entities ({', '.join(names)})"
    if common_words is not None and (objects := task_objects(joined, task_text, common_words)):
        return f"names the task's objects ({', '.join(objects)})"
    if _ngrams(task_text) & _ngrams(joined):
        return "copies the task's wording"
    if prompt_examples and (_ngrams(prompt_examples) & _ngrams(joined) or _field_in(values, prompt_examples)):
        return "copies the prompt's examples"
    fields = [" ".join(_words(v)) for v in values.values()]
    if len(set(fields)) < len(fields):
        return "repeats itself"
    if mirror_image(enforce, avoid):
        return "mirror image"
    if note := problem_note(joined):
        return f"note about the problem ({note!r})"
    if empty := empty_field(values):
        return f"empty generality ({empty!r})"
    return None


def _field_in(values: dict[str, str], text: str) -> bool:
    """A field of two words or more that is a phrase of `text` ("the faulty reasoning itself")."""
    haystack = f" {' '.join(_words(text))} "
    return any(len(_words(v)) >= 2 and f" {' '.join(_words(v))} " in haystack for v in values.values())


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def _ngrams(text: str, n: int = COPY_NGRAM) -> set[tuple[str, ...]]:
    words = _words(text)
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def _names(text: str) -> set[str]:
    """Capitalized words of two or more letters, sentence-starting function words excepted."""
    return {w for w in re.findall(r"\b[A-Z][a-zA-Z]+\b", text) if w.lower() not in _SENTENCE_WORDS}


def _stem(word: str) -> str:
    """Crude singular, so "flowers" in a constraint matches "flower" in the task."""
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def content_words(text: str) -> set[str]:
    """Lower-case words of three letters or more, singular, function words left out."""
    return {_stem(w) for w in re.findall(r"[a-z]{3,}", text.lower()) if w not in _SENTENCE_WORDS}


def common_vocabulary(texts: list[str], min_share: float = 0.01) -> frozenset[str]:
    """Words used by at least `min_share` of `texts` (and by two at least): a benchmark's shared
    vocabulary ("total", "cost", "percent"), as opposed to one task's objects ("tulips")."""
    counts = Counter(w for text in texts for w in content_words(text))
    floor = max(2, math.ceil(min_share * len(texts)))
    return frozenset(w for w, n in counts.items() if n >= floor)


def problem_words(task_text: str, common_words: frozenset[str] | None) -> list[str]:
    """The words a constraint about `task_text` must not use: its names (April, Natalia) and, with
    the benchmark's vocabulary, its own objects (clip, tulip). Told to the summarizer up front,
    since a small model cannot tell which of its words belong to one problem."""
    common = common_words or frozenset()
    names = {n for n in _names(task_text) if n.lower() not in common}  # not "Yesterday", "He"
    objects = content_words(task_text) - common if common_words is not None else set()
    return sorted(names) + sorted(objects - {n.lower() for n in names})


def task_objects(constraint_text: str, task_text: str, common_words: frozenset[str]) -> list[str]:
    """Words of the task that the constraint repeats and the benchmark seldom uses: the task's own
    objects, which make a constraint a note about one problem rather than a reusable rule."""
    return sorted((content_words(constraint_text) & content_words(task_text)) - common_words)
