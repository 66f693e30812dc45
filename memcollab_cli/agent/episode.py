"""One task being solved by one model, as a small state machine.

An `Episode` hands out the next chat request, consumes the model's reply, and decides whether to
stop. It never calls the model itself, so the driver can batch the turns of many episodes into one
engine call (`Model.complete_many`).

Math: the model may write a ```python block; it runs in the sandbox and the output comes back as
the next user message. The episode ends at the first reply with a final answer.
Code: the model's function runs on the task's *public* examples only; failures come back and it may
revise. The episode ends when the examples pass, or at the turn limit with the last code.
A model that never gives a final answer ends as `no_answer`, a wrong answer with a reason.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from memcollab_cli import prompts
from memcollab_cli.jsonl import sha256_text
from memcollab_cli.records import Trajectory, Usage
from memcollab_cli.runtime.base import Completion, Message, Request
from memcollab_cli.tasks import (
    Task,
    extract_answer,
    extract_code,
    run_public_tests,
    run_python,
    verify,
)

FEEDBACK_CHARS = 1500  # sandbox output shown back to the model; long tracebacks only add noise

# Small models often follow their program with an output block they made up, then answer from it:
# the program never runs. Generation stops where such a block opens; the program runs instead and
# what it really printed comes back as the next message.
MATH_STOP = ("```output",)


@dataclass(frozen=True)
class SolveParams:
    temperature: float = 0.0
    seed: int = 42
    max_tokens: int = 512
    max_turns: int = 3
    parallel: int = 1

    def to_dict(self, prompt_hash: str) -> dict:
        return {"temperature": self.temperature, "seed": self.seed, "max_tokens": self.max_tokens,
                "max_turns": self.max_turns, "parallel": self.parallel, "prompt": prompt_hash}


def solve_prompt_hash(domain: str) -> str:
    """One hash for every template an episode of this domain may send."""
    names = (["solve_math", "math_feedback", "math_no_answer"] if domain == "math"
             else ["solve_code", "code_feedback", "code_no_code"]) + ["memory_block"]
    stops = "".join(MATH_STOP) if domain == "math" else ""
    return sha256_text("".join(prompts.load(n).hash for n in names) + stops)[:12]


def _clip(text: str, limit: int = FEEDBACK_CHARS) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit // 2] + "\n…\n" + text[-limit // 2:]


class Episode:
    def __init__(self, task: Task, params: SolveParams, memory: str = "", condition: dict | None = None,
                 model: dict | None = None):
        self.task = task
        self.params = params
        self.condition = condition or {}
        self.model = model or {}
        system = prompts.load(f"solve_{task.domain}").render(memory=memory)
        self.messages: list[Message] = [{"role": "system", "content": system},
                                         {"role": "user", "content": task.question}]
        self.turns = 0
        self.usage = Usage()
        self.answer: str | None = None  # set when the episode has a final answer
        self.reason = ""  # why the loop stopped without a final answer
        self.done = False
        self._last_code: str | None = None
        self.isolation = ""  # the sandbox in force for this episode's code, recorded in the trajectory
        self._started = time.perf_counter()

    def next_request(self) -> Request:
        return Request(messages=list(self.messages), max_tokens=self.params.max_tokens,
                       temperature=self.params.temperature, seed=self.params.seed,
                       stop=MATH_STOP if self.task.domain == "math" else ())

    def consume(self, completion: Completion) -> None:
        """Take the model's reply for the pending request and advance."""
        self.turns += 1
        self.usage.add(completion.prompt_tokens, completion.completion_tokens,
                       completion.cached_tokens, completion.seconds)
        reply = completion.text
        self.messages.append({"role": "assistant", "content": reply})
        feedback = (self._math_step if self.task.domain == "math" else self._code_step)(reply)
        if self.done:
            return
        if self.turns >= self.params.max_turns:
            self.done = True
            if self.task.domain == "code" and self._last_code is not None:
                self.answer = self._last_code  # graded as it stands: public examples are not the judge
            else:
                self.reason = f"no final answer within {self.params.max_turns} turns"
            return
        self.messages.append({"role": "user", "content": feedback})

    # -- domain steps: return the next user message, or set self.done ---------------------------

    def _math_step(self, reply: str) -> str:
        answer = extract_answer(reply)
        if answer is not None:
            self.answer, self.done = answer, True
            return ""
        code = extract_code(reply, require_block=True)
        if code is None:
            return prompts.load("math_no_answer").render()
        result = run_python(code, timeout=10)
        self.isolation = result.isolation
        output = result.stdout if result.status == "ok" else (result.stdout + result.stderr)
        return prompts.load("math_feedback").render(output=_clip(output) or "(nothing)")

    def _code_step(self, reply: str) -> str:
        code = extract_code(reply)
        if code is None:
            return prompts.load("code_no_code").render()
        self._last_code = code
        check = run_public_tests(self.task, code)
        self.isolation = check.isolation
        if check.passed:
            self.answer, self.done = code, True
            return ""
        return prompts.load("code_feedback").render(output=_clip(check.message))

    # -- the record ------------------------------------------------------------------------------

    def finish(self) -> Trajectory:
        """Grade with the hidden verifier and build the trajectory record."""
        if self.answer is None:
            verdict_word, correct, detail = "no_answer", False, self.reason
        else:
            v = verify(self.task, self.answer)
            verdict_word, correct, detail = v.verdict, v.correct, v.detail
            self.isolation = v.isolation or self.isolation
        return Trajectory(
            task_id=self.task.id, benchmark=self.task.benchmark, model=self.model,
            condition=self.condition, params=self.params.to_dict(solve_prompt_hash(self.task.domain)),
            messages=self.messages, turns=self.turns, answer=self.answer or "", correct=correct,
            verdict=verdict_word, detail=detail[:2000], isolation=self.isolation, usage=self.usage)
