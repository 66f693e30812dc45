"""`verify`: the one grader of a final answer, for math and code tasks alike."""

from __future__ import annotations

from memcollab_cli.tasks.base import Task, Verdict
from memcollab_cli.tasks.codecheck import DEFAULT_TIMEOUT, check_code, extract_code
from memcollab_cli.tasks.mathcheck import check_math, extract_answer

_BARE_ANSWER_CHARS = 100  # longer unmarked text is a reply that never stated its answer


def verify(task: Task, answer_text: str | None, *, timeout: float = DEFAULT_TIMEOUT) -> Verdict:
    """Grade a final answer for `task`: a whole reply, or the answer or code already extracted.

    Math: the answer marker's content (see extract_answer); text without a marker counts only
    when it is one short line (a bare answer such as "18"). Code: the extracted program, else the
    text itself (a bare program or a HumanEval function body).
    """
    text = (answer_text or "").strip()
    if task.domain == "math":
        answer = extract_answer(text)
        if answer is None and text and "\n" not in text and len(text) <= _BARE_ANSWER_CHARS:
            answer = text
        if answer is None:
            return Verdict(False, "no_answer", "no final answer found")
        return check_math(task.answer, answer)
    if task.domain == "code":
        code = extract_code(answer_text) or (answer_text if text else None)
        return check_code(task, code, timeout=timeout)
    raise ValueError(f"task {task.id} has unknown domain {task.domain!r}")
