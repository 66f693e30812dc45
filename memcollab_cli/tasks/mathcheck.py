"""Math answers: pull the final answer out of a model's text, and check it against the gold one.

`extract_answer` looks for the last answer marker (`\\boxed{}`/`\\fbox{}` with nested braces,
"Final answer: X", "The answer is X", "#### X") and returns None when there is none, so that a
missing answer is graded `no_answer` and never matched by accident. `check_math` settles plain
numbers itself (GSM8K: commas, `$`, units, percent signs) and hands everything else to
math-verify, which compares with sympy (fractions, radicals, intervals, tuples, sets).

What it leaves out: multiple-choice letters, answers spread over several boxes (only the last
box counts), and any partial credit.
"""

from __future__ import annotations

import re
import threading
from fractions import Fraction

from memcollab_cli.tasks.base import Verdict

# ---------------------------------------------------------------------------------------------
# Extraction

_BOX = re.compile(r"\\(?:boxed|fbox)\s*\{")
_PHRASES = [
    re.compile(r"final\s+answer\s*(?:is)?\s*[:：]?\s*(?P<ans>.+)", re.IGNORECASE),
    re.compile(r"\bthe\s+(?:correct\s+)?answer\s+is\s*[:：]?\s*(?P<ans>.+)", re.IGNORECASE),
    re.compile(r"^\s*####\s*(?P<ans>.+)", re.MULTILINE),
]
# Markdown and punctuation a model puts around an answer, never part of it.
_WRAPPERS = re.compile(r"^[\s*_:`]+|[\s*_`]+$")


def _boxed_contents(text: str) -> list[tuple[int, str]]:
    """(start, content) of every complete \\boxed{...}, braces balanced."""
    found = []
    for m in _BOX.finditer(text):
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        if depth == 0:
            found.append((m.start(), text[m.end() : i - 1]))
    return found


def _clean_phrase(answer: str) -> str:
    answer = answer.strip()
    # A sentence ends at ". " or a final "." (a decimal point is followed by a digit).
    answer = re.split(r"\.(?:\s|$)", answer, maxsplit=1)[0]
    answer = _WRAPPERS.sub("", answer)
    if len(answer) >= 2 and answer[0] == answer[-1] == "$":
        answer = answer[1:-1]
    answer = re.sub(r"^\\\(|\\\)$|^\\\[|\\\]$", "", answer).strip()
    return answer.rstrip(".").strip()


def extract_answer(text: str | None) -> str | None:
    """The final answer in `text`, or None if it states none. The last marker in the text wins."""
    if not text:
        return None
    candidates: list[tuple[int, str]] = list(_boxed_contents(text))
    for pattern in _PHRASES:
        for m in pattern.finditer(text):
            line = m["ans"].split("\n", 1)[0]
            boxed = _boxed_contents(line)
            # "The answer is $\boxed{5}$" counts once, as the box.
            if boxed:
                answer = boxed[-1][1]
            elif _BOX.search(line):
                continue  # a box cut off mid-answer (a truncated reply): no answer
            else:
                answer = _clean_phrase(line)
            if answer:
                candidates.append((m.start(), answer))
    if not candidates:
        return None
    answer = max(candidates, key=lambda c: c[0])[1].strip()
    return answer or None


# ---------------------------------------------------------------------------------------------
# Checking

_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:/\d+)?")
_FRAC = re.compile(r"([-+]?)\\[dt]?frac\{(\d+)\}\{(\d+)\}")
# Trailing unit words ("18 dollars", "5 cm"), but not a constant or variable ("2 pi", "2x").
_UNIT_WORDS = re.compile(r"(?<=\d)(?:\s+(?!pi\b|sqrt\b)[a-zA-Z]{2,}\.?)+$")


def _as_number(text: str) -> Fraction | None:
    """A plain number written the way GSM8K answers are: `$1,000.50`, `18 dollars`, `25%`."""
    s = text.strip()
    s = re.sub(r"\\(?:text|mbox|mathrm)\{\s*([^{}]*)\}", r" \1", s)  # \text{ cm} -> cm
    for mark in ("\\$", "$", "\\!", "\\,", "\\%", "%", "{,}"):
        s = s.replace(mark, "," if mark == "{,}" else "")
    s = re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", s).strip()  # thousands separators only
    s = _UNIT_WORDS.sub("", s).strip().rstrip(".")
    if frac := _FRAC.fullmatch(s):
        sign = -1 if frac[1] == "-" else 1
        return sign * Fraction(int(frac[2]), int(frac[3])) if int(frac[3]) else None
    if not _NUMBER.fullmatch(s):
        return None
    try:
        return Fraction(s)
    except (ValueError, ZeroDivisionError):
        return None


def _normalize(text: str) -> str:
    s = re.sub(r"\\left|\\right|\\!|\\,|\\;|\s|\$", "", text)
    return s.rstrip(".")


def _math_verify(gold: str, predicted: str) -> bool:
    from math_verify import parse, verify  # imports sympy: only when needed
    from math_verify.errors import TimeoutException

    # math-verify enforces its time limits with signal.alarm, which only the main thread may
    # use; elsewhere the caller's own timeout has to do.
    main = threading.current_thread() is threading.main_thread()
    limit = 5 if main else None

    def strict(call, *args, **kwargs):
        """`call` with raise_on_error, which alone tells a timeout from "no parse": a timeout
        says nothing of the answer (a busy machine is enough), so it is an error, never a fail;
        any other breakdown stays what it was, no parse or no match."""
        try:
            return call(*args, raise_on_error=True, **kwargs)
        except TimeoutException as e:  # a BaseException
            raise TimeoutError(f"no result within {limit} s") from e
        except Exception:
            return None

    gold_parsed = strict(parse, f"${gold}$", parsing_timeout=limit)
    pred_parsed = strict(parse, f"${predicted}$", parsing_timeout=limit)
    if not gold_parsed or not pred_parsed:
        return False
    return bool(strict(verify, gold_parsed, pred_parsed, timeout_seconds=limit))


def check_math(gold: str, predicted: str | None) -> Verdict:
    """Grade `predicted` against the `gold` answer.

    `predicted` is an extracted answer or a reply with an answer marker (see extract_answer).
    Verdicts: pass, fail, no_answer (nothing to grade), error (math-verify broke down).
    """
    # A whole reply is reduced to its final answer; text without a marker is taken as the answer.
    predicted = extract_answer(predicted) or predicted
    if predicted is None or not predicted.strip():
        return Verdict(False, "no_answer", "no final answer found")
    predicted = predicted.strip()
    detail = f"expected {gold!r}, got {predicted!r}"
    if _normalize(gold) == _normalize(predicted):
        return Verdict(True, "pass", detail)
    gold_number, pred_number = _as_number(gold), _as_number(predicted)
    if gold_number is not None and pred_number is not None:
        # Exact, up to a rounded decimal such as 0.333333 for 1/3.
        same = abs(gold_number - pred_number) <= Fraction(1, 10**6)
        return Verdict(same, "pass" if same else "fail", detail)
    try:
        same = _math_verify(gold, predicted)
    except Exception as e:  # math-verify raises on pathological input and on its own timeout
        return Verdict(False, "error", f"{detail}; math-verify failed: {type(e).__name__}: {e}")
    return Verdict(same, "pass" if same else "fail", detail)
