"""Review a summarizer's reply: each proposed constraint is accepted or rejected with its rule.

`parse_reply` reads the JSON turn's reply; a `Reviewer` holds what one pair's proposals are checked
against (the problem, its answer, the prompts, the benchmark's vocabulary, the reference) and the
provenance an accepted constraint carries, and `review(proposal)` gives a `Constraint` or a
`Rejection`. The rules themselves live in memory/constraints.py (`validate_constraint`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from memcollab_cli.memory import Constraint, clean_constraint, validate_constraint
from memcollab_cli.memory.constraints import FIELDS

MALFORMED = "malformed constraint (each of when, enforce, avoid must be text)"
REPEATED = "repeats another constraint of the reply"


@dataclass(frozen=True)
class Rejection:
    """A proposal that breaks a rule: the proposal as given and why (the rule, then details)."""

    proposal: dict
    reason: str

    @property
    def rule(self) -> str:
        """The reason without its details, for counting by rule."""
        return self.reason.split(" (")[0]

    def to_dict(self) -> dict:
        return {**self.proposal, "reason": self.reason}


@dataclass(frozen=True)
class Reviewer:
    """What one pair's proposals are checked against, and the provenance accepted ones carry."""

    problem: str
    answer: str
    prompt_text: str  # the templates: a constraint copying their wording is rejected
    vocabulary: frozenset[str] | None
    reference: str
    provenance: dict  # Constraint fields besides when/enforce/avoid

    def review(self, proposal: dict) -> Constraint | Rejection:
        if not all(isinstance(proposal.get(f), str) for f in FIELDS):
            return Rejection(proposal, MALFORMED)
        when, enforce, avoid = clean_constraint(*(proposal[f] for f in FIELDS))
        reason = validate_constraint(when, enforce, avoid, self.problem, self.answer,
                                     prompt_examples=self.prompt_text,
                                     common_words=self.vocabulary, reference=self.reference)
        if reason:
            return Rejection(proposal, reason)
        return Constraint(when=when, enforce=enforce, avoid=avoid, **self.provenance)

    def review_all(self, proposals: list[dict]) -> tuple[list[Constraint], list[Rejection]]:
        """Every proposal reviewed, in order; a constraint the reply already gave is rejected."""
        accepted: list[Constraint] = []
        rejections: list[Rejection] = []
        for proposal in proposals:
            verdict = self.review(proposal)
            if isinstance(verdict, Constraint) and any(c.id == verdict.id for c in accepted):
                verdict = Rejection(proposal, REPEATED)
            if isinstance(verdict, Rejection):
                rejections.append(verdict)
            else:
                accepted.append(verdict)
        return accepted, rejections


def parse_reply(reply: str) -> list[dict] | None:
    """The reply's constraint objects; None when the reply is not `{"constraints": [...]}`."""
    try:
        data = json.loads(reply)
    except (json.JSONDecodeError, RecursionError):
        return None
    items = data.get("constraints") if isinstance(data, dict) else None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        return None
    return items
