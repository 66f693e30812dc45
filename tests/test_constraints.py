import json

import pytest

from memcollab_cli.errors import DataError
from memcollab_cli.jsonl import write_jsonl
from memcollab_cli.memory.bank import entry_id
from memcollab_cli.memory.constraints import (
    CONSTRAINT_SCHEMA,
    KEYS,
    MAX_WORDS,
    Constraint,
    clean_constraint,
    constraint_schema,
    read_constraints,
    validate_constraint,
)

TASK = ("Natalia sold clips to 48 of her friends in April, and then she sold half as many clips "
        "in May. How many clips did Natalia sell altogether in April and May?")
GOOD = ("a quantity is described relative to an earlier one",
        "computing each period's amount before summing",
        "adding the relative description to the base amount directly")


def constraint(**kw):
    base = dict(task_id="gsm8k/1", benchmark="gsm8k", when=GOOD[0], enforce=GOOD[1],
                avoid=GOOD[2], pos={"model": "big", "record": "r1"},
                neg={"model": "small", "record": "r2"}, summarizer="big", prompt="p1")
    base.update(kw)
    return Constraint(**base)


def test_good_constraint_passes():
    assert validate_constraint(*GOOD, TASK, "72") is None


@pytest.mark.parametrize("fields, answer, reason", [
    (("", GOOD[1], GOOD[2]), "72", "empty 'when'"),
    ((GOOD[0], "   ", GOOD[2]), "72", "empty 'enforce'"),
    ((GOOD[0], " ".join(["word"] * 41), GOOD[2]), "72", "'enforce' too long (41 words > 40)"),
    ((GOOD[0], "checking `total` first", GOOD[2]), "72", "contains code ('`')"),
    ((GOOD[0], "def helper(xs) before summing", GOOD[2]), "72", "contains code ('def')"),
    ((GOOD[0], "asserting total == sum", GOOD[2]), "72", "contains code ('==')"),
    ((GOOD[0], "return sum(parts)", GOOD[2]), "72", "contains code ('return')"),
    ((GOOD[0], "finishing with return total", GOOD[2]), "72", "contains code ('return')"),
    ((GOOD[0], "sorting with lambda p: p", GOOD[2]), "72", "contains code ('lambda')"),
    ((GOOD[0], "checking the total is 72", GOOD[2]), "72", "contains the answer"),
    ((GOOD[0], "starting from 48 items", GOOD[2]), "72", "quotes the task's numbers (48)"),
    ((GOOD[0], "splitting 48 into 24 and 24", GOOD[2]), "72", "quotes the task's numbers (48)"),
])
def test_rejections(fields, answer, reason):
    assert validate_constraint(*fields, TASK, answer) == reason


@pytest.mark.parametrize("fields, reason", [
    # Real replies from qwen2.5-coder-0.5b as a summarizer, before these rules existed.
    (("a letter is written several times a week", "he writes a 3 * 2 = 6 page total",
      "counting once"), "contains a calculation"),
    (("Natalia sells clips over two months", GOOD[1], GOOD[2]), "names the task's entities (Natalia)"),
    (("sales in April and May are compared", GOOD[1], GOOD[2]), "names the task's entities (April, May)"),
    (("she sold half as many clips in the second month", GOOD[1], GOOD[2]), "copies the task's wording"),
])
def test_copying_the_task_is_rejected(fields, reason):
    assert validate_constraint(*fields, TASK, "72") == reason


def test_copies_of_the_prompt_examples_and_repetition_are_rejected():
    examples = '{"when": "a quantity changes by a percentage and then changes again"}'
    assert validate_constraint("a quantity changes by a percentage and then changes again", GOOD[1],
                               GOOD[2], TASK, "72", prompt_examples=examples) == "copies the prompt's examples"
    assert validate_constraint(GOOD[0], "checking the units", "Checking the units.", TASK, "72") == \
        "repeats itself"
    # A short field lifted whole from the prompt (seen from qwen2.5-coder-1.5b).
    prompt = '"avoid": the faulty reasoning itself, in its own words'
    assert validate_constraint(GOOD[0], GOOD[1], "the faulty reasoning itself", TASK, "72",
                               prompt_examples=prompt) == "copies the prompt's examples"
    assert validate_constraint(GOOD[0], GOOD[1], "faulty words", TASK, "72", prompt_examples=prompt) is None


def test_sentence_words_and_general_terms_are_not_names():
    assert validate_constraint("When a total is split, then recombined", "The parts must sum back",
                               "If unsure, skipping the check", TASK, "72") is None


def test_number_rules():
    # Single digits are everyday reasoning words; numbers absent from the task are knowledge.
    assert validate_constraint("splitting into 2 cases", "summing the 3 parts",
                               "using 360 degrees wrongly", TASK, "72") is None
    # A number of the answer counts even when the task text lacks it.
    assert validate_constraint("w", "reach 1,000 units", "a", "Sum the parts.", "1000") == (
        "contains the answer")
    assert validate_constraint("w", "use 3.5 as a rate", "a", "A rate of 3.5 per hour.", "7") == (
        "quotes the task's numbers (3.5)")
    # A whole-number match: 1200 does not contain the answer 120.
    assert validate_constraint("w", "e", "confusing 1200 with a total", "no numbers", "120") is None
    # A single-digit answer is not caught (documented price of allowing "2 cases").
    assert validate_constraint("w", "splitting into 2 cases", "merging cases", "x", "2") is None


def test_prose_that_looks_like_code_passes():
    assert validate_constraint("evaluating f(x) at a point",
                               "return to the original equation to check roots",
                               "defining terms loosely", TASK, "72") is None


def test_non_numeric_answer():
    answer = r"\boxed{\frac{\sqrt{3}}{2}}"
    assert validate_constraint("w", r"checking \frac{\sqrt{3}}{2} at the end", "a", "t",
                               answer) == "contains the answer"
    assert validate_constraint("w", "checking the sign of the cosine", "dropping signs", "t", answer) is None


def test_clean_constraint():
    assert clean_constraint("When adding  fractions,", "Enforce: a common denominator.",
                            "avoid adding denominators.") == (
        "adding fractions", "a common denominator", "adding denominators")
    # Words that merely start with the same letters are kept.
    assert clean_constraint("whenever x", "enforcement", "avoidance") == (
        "whenever x", "enforcement", "avoidance")


def test_schema():
    assert CONSTRAINT_SCHEMA["properties"]["constraints"]["maxItems"] == 3  # the paper's K
    s = constraint_schema(2)
    arr = s["properties"]["constraints"]
    assert (arr["minItems"], arr["maxItems"]) == (0, 2)  # zero: no transferable lesson
    assert arr["items"]["required"] == ["when", "enforce", "avoid"]
    assert list(arr["items"]["properties"]) == ["when", "enforce", "avoid"]  # the grammar's order
    assert arr["items"]["properties"]["when"] == {"type": "string", "minLength": 3,
                                                  "maxLength": 240}
    assert s["additionalProperties"] is False
    json.dumps(s)  # serializable for llama.cpp


def test_constraint_roundtrip_and_ids():
    c = constraint()
    d = c.to_dict()
    assert sorted(d) == sorted(KEYS)
    assert d["format"] == "memcollab.constraint/1"
    assert Constraint.from_dict(d) == c
    assert len(c.id) == 16
    # Same text from another pair is another line; same pair and text is the same id.
    assert constraint(pos={"model": "big", "record": "r9"}).id != c.id
    assert constraint().id == c.id
    assert c.text() == f"When {GOOD[0]}, enforce {GOOD[1]}; avoid {GOOD[2]}."


def test_to_entry():
    e = constraint().to_entry("Multi-step Arithmetic", "Sequential Changes")
    assert e.id == entry_id(*GOOD)
    assert e.models == {"preferred": ["big"], "unpreferred": ["small"]}
    assert e.sources == [{"benchmark": "gsm8k", "neg": "r2", "pos": "r1", "task_id": "gsm8k/1"}]
    assert (e.support, e.summarizer, e.prompt) == (1, "big", "p1")
    solo = constraint(neg={"model": "", "record": ""}).to_entry("C", "S")
    assert solo.models["unpreferred"] == []


def test_read_constraints(tmp_path):
    path = tmp_path / "c.jsonl"
    write_jsonl(path, [constraint().to_dict()])
    assert read_constraints(path) == [constraint()]
    bad = constraint().to_dict()
    bad["enforse"] = bad.pop("enforce")
    write_jsonl(path, [constraint().to_dict(), bad])
    with pytest.raises(DataError, match=r"c.jsonl:2: unknown key 'enforse' \(expected one of"):
        read_constraints(path)


def test_files_from_before_the_localize_key_still_read(tmp_path):
    path = tmp_path / "c.jsonl"
    old = constraint().to_dict()
    del old["localize"]
    write_jsonl(path, [old])
    assert read_constraints(path) == [constraint()]
    assert constraint(localize="gsm8k-steps").id == constraint().id  # not part of the identity


def test_max_words_constant():
    assert MAX_WORDS == 40


# -- the task's objects -------------------------------------------------------------------------

CORPUS = [f"Sam buys {n} apples and pays the total cost in dollars." for n in range(8)] + [
    "A garden has roses, tulips and daisies. How many flowers are there in total?"]


def test_common_vocabulary_keeps_words_many_tasks_use():
    from memcollab_cli.memory.constraints import common_vocabulary

    vocabulary = common_vocabulary(CORPUS)
    assert {"total", "cost", "apple", "dollar"} <= vocabulary  # plural folded: apples -> apple
    assert not {"tulip", "flower", "garden"} & vocabulary  # one task's words


def test_a_higher_share_makes_more_words_a_tasks_own():
    from memcollab_cli.memory.constraints import common_vocabulary

    corpus = CORPUS + ["A garden sells tulips by the dozen."]  # garden, tulip: 2 of 10 problems
    assert {"garden", "tulip"} <= common_vocabulary(corpus, min_share=0.01)
    assert not {"garden", "tulip"} & common_vocabulary(corpus, min_share=0.3)
    assert "apple" in common_vocabulary(corpus, min_share=0.3)  # 8 of 10


def test_task_objects_and_the_rule():
    from memcollab_cli.memory.constraints import common_vocabulary, task_objects

    vocabulary = common_vocabulary(CORPUS)
    specific = ("counting the flowers in the garden", "summing every kind of flower",
                "adding only the tulips")
    assert task_objects(" ".join(specific), CORPUS[-1], vocabulary) == ["flower", "garden", "tulip"]
    assert validate_constraint(*specific, CORPUS[-1], common_words=vocabulary) == \
        "names the task's objects (flower, garden, tulip)"
    assert validate_constraint(*specific, CORPUS[-1]) is None  # no vocabulary: the rule is off
    general = ("a total is asked for several kinds of items", "summing every kind",
               "stopping after the first kind")
    assert validate_constraint(*general, CORPUS[-1], common_words=vocabulary) is None


# -- constraints that say nothing (substance.py) -------------------------------------------------

# Accepted by the rules before these three existed (banks/pilot/collab-*.work/constraints.jsonl).
@pytest.mark.parametrize("enforce, avoid", [
    ("considering the total number of pages in the book", "not considering the total number of pages in the book"),
    ("correct calculation of total cost", "incorrect calculation of total cost"),
    ("converting minutes to hours correctly", "incorrectly converting minutes to hours"),
    ("correct calculation", "mistake in calculation"),
    ("considering the initial weight of the box", "not considering the weight of the box"),
    ("checking each unit", "ignoring each unit"),
    ("reading the rate", "misreading the rate"),
])
def test_mirror_images(enforce, avoid):
    from memcollab_cli.memory.substance import mirror_image

    assert mirror_image(enforce, avoid)


@pytest.mark.parametrize("enforce, avoid", [
    ("summing individual costs separately", "incorrect calculation of total bill"),
    ("calculating the total before dividing", "dividing before calculating the total"),
    (GOOD[1], GOOD[2]),
])
def test_not_mirror_images(enforce, avoid):
    from memcollab_cli.memory.substance import mirror_image

    assert not mirror_image(enforce, avoid)


def test_the_new_rules_in_validate():
    when = "a quantity is described relative to an earlier one"
    assert validate_constraint(when, "correct ratio", "incorrect ratio", TASK, "72") == "mirror image"
    assert validate_constraint(when, "be careful", "adding the base twice", TASK, "72") == \
        "empty generality ('enforce')"
    assert validate_constraint("a quantity", GOOD[1], GOOD[2], TASK, "72") == "empty generality ('when')"
    assert validate_constraint(when, "checking the result", "making a mistake in the steps", TASK,
                               "72") == "empty generality ('enforce')"
    assert validate_constraint("The problem involves two periods", GOOD[1], GOOD[2], TASK, "72") == \
        "note about the problem ('the problem involves')"
    for note in ("the problem statement is ambiguous", "the problem should say which", "this problem has",
                 "Attempt B adds them", "the solver multiplies", "when B calculates the rest"):
        assert validate_constraint(when, GOOD[1], note, TASK, "72").startswith("note about the problem")
    # A situation stated through the problem's request is a way of reasoning, not a note.
    assert validate_constraint("the problem asks for a combined total", GOOD[1], GOOD[2], TASK, "72") is None
    assert validate_constraint("a boundary case is possible", GOOD[1], "treating b as positive", TASK, "72") is None


def test_reference_numbers_are_the_tasks_numbers():
    ref = "Natalia sold 48/2 = <<48/2=24>>24 clips in May."
    assert validate_constraint(GOOD[0], "reaching 24 before summing", GOOD[2], TASK, "72") is None
    assert validate_constraint(GOOD[0], "reaching 24 before summing", GOOD[2], TASK, "72",
                               reference=ref) == "quotes the task's numbers (24)"


def test_problem_words_are_what_the_rules_would_reject():
    from memcollab_cli.memory.constraints import common_vocabulary, problem_words

    vocabulary = common_vocabulary(CORPUS)
    words = problem_words(CORPUS[-1], vocabulary)
    assert {"flower", "garden", "tulip"} <= set(words) and "total" not in words
    # Capitalized words the benchmark uses everywhere (sentence starts, common names) are left out.
    assert problem_words("Bo buys 3 apples. Yesterday he paid.", vocabulary | {"yesterday"}) == ["Bo", "paid"]
    assert problem_words(TASK, None) == ["April", "May", "Natalia"]  # no vocabulary: names only
