"""`contrast`: pair right and wrong trajectories of the same task and summarize the difference.

For each pair the summarizer (by default the stronger model) first analyses the two attempts in
free text — where B first goes wrong and what would have prevented it — and then, with that
analysis in the conversation, writes up to K constraints `{when, enforce, avoid}` under a JSON
schema (zero when there is no lesson that transfers). Where the benchmark has a reference, the
first prompt also says where B departs from it (`localize`, see localize.py). Constraints that
still break the rules (too long, quoting the task's numbers, answer or objects, code, mirror
images, empty generalities, notes about the problem) are rejected and counted, never written to
the bank (review.py).

Outputs, both appended one finished pair at a time so a run resumes:
- `constraints.jsonl`: one line per accepted constraint, with provenance;
- `contrast-log.jsonl` beside it: one line per pair with both replies and every rejection.
A pair is done once its log line is written; constraints of a pair that never got its log line
(a run killed between the two appends) are dropped when the run resumes, so redoing the pair
cannot duplicate them.

`summarize_successes` is the non-contrastive baseline (`distill --mode self`): one model's own
correct trajectories summarized alone, in one turn.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from memcollab_cli import prompts
from memcollab_cli.build.localize import Hint, locate, reference_task
from memcollab_cli.build.review import Reviewer, parse_reply
from memcollab_cli.build.transcript import attempt_text, task_text
from memcollab_cli.build.vocabulary import benchmark_vocabulary
from memcollab_cli.errors import DataError
from memcollab_cli.jsonl import append_jsonl, repair_tail, sha256_text, stream_jsonl, write_jsonl
from memcollab_cli.memory import constraint_schema, make_pairs
from memcollab_cli.memory.constraints import problem_words
from memcollab_cli.records import read_trajectories
from memcollab_cli.runtime.base import Model, Request

ANALYSIS_TOKENS = 200  # the free-text turn: five short sentences, bounded so it cannot ramble on
SUMMARY_TOKENS = 400


@dataclass
class ContrastSummary:
    pairs: int = 0
    skipped: dict = field(default_factory=dict)  # reason -> tasks not paired
    localized: int = 0  # pairs whose prompt said where B departs from the reference
    proposed: int = 0
    accepted: int = 0
    no_lesson: int = 0  # pairs the summarizer answered with zero constraints
    rejected: dict = field(default_factory=dict)  # reason -> constraints
    resumed: int = 0  # pairs already summarized by an earlier run
    dropped_unlogged: int = 0  # constraints of a pair whose log line was never written

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class _Prompts:
    """The templates of one summarizing conversation: an optional free-text turn, then JSON."""

    analysis: prompts.Template | None
    answer: prompts.Template

    @property
    def hash(self) -> str:
        if self.analysis is None:
            return self.answer.hash  # one turn: the template's own hash, as before
        return sha256_text(self.analysis.text + "\n\n" + self.answer.text)[:12]

    @property
    def text(self) -> str:
        return "\n".join(t.text for t in (self.analysis, self.answer) if t is not None)


@dataclass
class Job:
    """One pair (or one success, for the baseline) to summarize, with its rendered prompts."""

    task_id: str
    benchmark: str
    pos: dict
    neg: dict | None
    analysis: str | None  # the first turn's prompt, or None for a single turn
    answer: str  # the JSON turn's prompt
    hint: Hint | None = None

    @property
    def localize(self) -> str:
        return self.hint.kind if self.hint else ""

    def key(self, summarizer: str, prompt: str) -> tuple:
        """What makes a pair done: as `_done_pairs` reads it back from the log."""
        return (self.task_id, self.pos["id"], self.neg["id"] if self.neg else "", summarizer,
                prompt, self.localize)

    def conversation(self, analysis: str | None) -> list[dict]:
        """The JSON turn's messages, after the analysis turn's reply when there is one."""
        if self.analysis is None:
            return [{"role": "user", "content": self.answer}]
        return [{"role": "user", "content": self.analysis},
                {"role": "assistant", "content": analysis or ""},
                {"role": "user", "content": self.answer}]


@dataclass(frozen=True)
class _Session:
    """One summarizing run: who summarizes, with which prompts and K, into which files."""

    summarizer: Model
    turns: _Prompts
    out: Path
    k: int

    @property
    def log(self) -> Path:
        return log_path(self.out)


def log_path(out: Path) -> Path:
    return out.with_name(out.stem.replace("constraints", "contrast-log") + out.suffix) \
        if "constraints" in out.stem else out.with_name(out.stem + ".log.jsonl")


def hint_block(hint: Hint | None) -> str:
    """The hint as the analysis prompt shows it ("" without one: the paper's pure form)."""
    if hint is None:
        return ""
    return f"\nWhat a reference solution shows about B: {hint.text}\n"


def contrast(run_paths: list[Path], summarizer: Model, out: Path, *, strong: str | None = None,
             policy: str = "mixed", k: int = 3, localize: bool = True, parallel: int = 1,
             on_pair: Callable[[ContrastSummary], None] | None = None,
             on_start: Callable[[ContrastSummary], None] | None = None) -> ContrastSummary:
    """Contrast the trajectories in `run_paths` and append constraints to `out`.

    `localize` tells the summarizer where B departs from the benchmark's reference, for pairs
    whose task has one (False: the paper's pure form). `parallel` pairs are summarized at once
    (one batch per turn on an engine that batches).
    """
    runs = [read_trajectories(p) for p in run_paths]  # every line checked: file:line errors
    pairs, skipped = make_pairs(runs, policy=policy, strong=strong or summarizer.name)
    summary = ContrastSummary(pairs=len(pairs), skipped=dict(skipped))
    if on_start:
        on_start(summary)
    turns = _Prompts(prompts.load("contrast"), prompts.load("contrast_json"))
    jobs = []
    for p in pairs:
        hint = locate(reference_task(p.neg), p.neg) if localize else None
        summary.localized += hint is not None
        words = problem_words(task_text(p.pos), benchmark_vocabulary(p.benchmark))
        jobs.append(Job(p.task_id, p.benchmark, p.pos, p.neg, turns.analysis.render(
            problem=task_text(p.pos), preferred=attempt_text(p.pos), unpreferred=attempt_text(p.neg),
            hint=hint_block(hint)), turns.answer.render(k=k, problem_words=", ".join(words) or "-"), hint))
    _summarize(jobs, _Session(summarizer, turns, Path(out), k), summary, on_pair, parallel)
    return summary


def summarize_successes(run_path: Path, summarizer: Model, out: Path, *, k: int = 3,
                        on_pair: Callable[[ContrastSummary], None] | None = None,
                        on_start: Callable[[ContrastSummary], None] | None = None) -> ContrastSummary:
    """The naive baseline: constraints from one model's correct trajectories, no contrast."""
    records = [r for r in read_trajectories(run_path) if r["correct"]]
    summary = ContrastSummary(pairs=len(records))
    if on_start:
        on_start(summary)
    template = prompts.load("summarize_success")
    jobs = [Job(r["task_id"], r["benchmark"], r, None, None, template.render(
        problem=task_text(r), preferred=attempt_text(r), k=k)) for r in records]
    _summarize(jobs, _Session(summarizer, _Prompts(None, template), Path(out), k), summary, on_pair)
    return summary


def _summarize(jobs: list[Job], session: _Session, summary: ContrastSummary, on_pair,
               parallel: int = 1) -> None:
    summarizer, turns = session.summarizer, session.turns
    summary.dropped_unlogged = _drop_unlogged(session.out, session.log)
    done = _done_pairs(session.log)
    todo = []
    for job in jobs:
        if job.key(summarizer.name, turns.hash) in done:
            summary.resumed += 1
            if on_pair:
                on_pair(summary)
        else:
            todo.append(job)
    rejected: Counter = Counter(summary.rejected)
    # The analysis turns of `parallel` pairs decode as one batch, then their JSON turns, each of
    # which reuses its analysis turn's KV (the conversation so far) where the engine keeps it.
    for start in range(0, len(todo), max(1, parallel)):
        batch = todo[start:start + max(1, parallel)]
        analyses = [None] * len(batch)
        if turns.analysis is not None:
            analyses = [c.text for c in summarizer.complete_many([Request(
                messages=[{"role": "user", "content": job.analysis}], max_tokens=ANALYSIS_TOKENS,
                temperature=0.0, seed=42) for job in batch])]
        replies = [c.text for c in summarizer.complete_many([Request(
            messages=job.conversation(analysis), max_tokens=SUMMARY_TOKENS, temperature=0.0,
            seed=42, json_schema=constraint_schema(session.k))
            for job, analysis in zip(batch, analyses, strict=True)])]
        for job, analysis, reply in zip(batch, analyses, replies, strict=True):
            _record(job, analysis, reply, session, summary, rejected)
            if on_pair:
                on_pair(summary)


def _reviewer(job: Job, session: _Session) -> Reviewer:
    pos, neg = job.pos, job.neg
    provenance = dict(task_id=job.task_id, benchmark=job.benchmark,
                      summarizer=session.summarizer.name, prompt=session.turns.hash,
                      localize=job.localize,
                      pos={"model": pos["model"]["name"], "record": pos["id"]},
                      neg={"model": neg["model"]["name"], "record": neg["id"]} if neg else
                      {"model": "", "record": ""})
    return Reviewer(problem=task_text(pos), answer=pos.get("answer", ""),
                    prompt_text=session.turns.text,
                    vocabulary=benchmark_vocabulary(job.benchmark),
                    reference=job.hint.values if job.hint else "", provenance=provenance)


def _record(job: Job, analysis: str | None, reply: str, session: _Session,
            summary: ContrastSummary, rejected: Counter) -> None:
    """Review one pair's proposals, append the accepted constraints, then the pair's log line."""
    proposals = parse_reply(reply)
    if proposals is None:
        rejected["unparseable reply"] += 1
        proposals = []
    elif not proposals:
        summary.no_lesson += 1
    proposals = proposals[:session.k]
    summary.proposed += len(proposals)
    accepted, rejections = _reviewer(job, session).review_all(proposals)
    for r in rejections:
        rejected[r.rule] += 1  # by rule; the log keeps the details
    for c in accepted:
        append_jsonl(session.out, c.to_dict())
    # The log line goes last: a pair counts as done only once its constraints are on disk.
    line = {"task_id": job.task_id, "benchmark": job.benchmark, "pos": job.pos["id"],
            "neg": job.neg["id"] if job.neg else "", "problem": task_text(job.pos),
            "summarizer": session.summarizer.name, "prompt": session.turns.hash, "reply": reply,
            "accepted": [c.id for c in accepted], "rejected": [r.to_dict() for r in rejections]}
    if analysis is not None:
        line.update(analysis=analysis, localize=job.localize,
                    hint=job.hint.text if job.hint else "")
    append_jsonl(session.log, line)
    summary.accepted += len(accepted)
    summary.rejected = dict(rejected)


def _done_pairs(log: Path) -> set[tuple]:
    """Pairs already summarized by this summarizer with this prompt and hint (others are redone)."""
    if not log.exists():
        return set()
    return {(r["task_id"], r["pos"], r["neg"], r["summarizer"], r["prompt"], r.get("localize", ""))
            for _, r in stream_jsonl(log)}


def _drop_unlogged(out: Path, log: Path) -> int:
    """Remove constraints whose pair has no log line (a run killed between the two appends); the
    pair is redone. Returns how many were dropped. Without a log nothing is guessed: an error."""
    repair_tail(log)
    repair_tail(out)
    if not out.exists():
        return 0
    lines = [d for _, d in stream_jsonl(out)]
    if not lines:
        return 0
    if not log.exists():
        raise DataError(f"{out}: holds constraints but its contrast log {log} is missing; restore "
                        "the log, or write to another --out")
    logged = {(r["task_id"], r["pos"], r["neg"]) for _, r in stream_jsonl(log)}
    seen, keep = set(), []
    for d in lines:
        pair = (d["task_id"], d["pos"]["record"], d["neg"]["record"])
        if pair in logged and d["id"] not in seen:
            seen.add(d["id"])
            keep.append(d)
    if len(keep) < len(lines):
        write_jsonl(out, keep)
    return len(lines) - len(keep)
