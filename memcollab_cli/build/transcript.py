"""Render a trajectory record as the plain transcript a summarizer reads."""

from __future__ import annotations

ATTEMPT_CHARS = 3000  # per attempt: enough for the reasoning, small enough for a 4k context


def task_text(record: dict) -> str:
    """The problem as the solver saw it (the first user message)."""
    return next((m["content"] for m in record["messages"] if m["role"] == "user"), "")


def attempt_text(record: dict, limit: int = ATTEMPT_CHARS) -> str:
    """Everything after the problem: replies, tool output, feedback; clipped in the middle."""
    parts = []
    for m in record["messages"][2:]:
        who = "Solver" if m["role"] == "assistant" else "Feedback"
        parts.append(f"[{who}]\n{m['content'].strip()}")
    parts.append(f"[Final answer] {record.get('answer') or '(none)'}")
    text = "\n\n".join(parts)
    if len(text) > limit:
        text = text[: limit // 2] + "\n…\n" + text[-limit // 2:]
    return text
