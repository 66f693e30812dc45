"""`solve`: run one model over benchmark tasks, appending one trajectory record per task.

Resumable: records already in the output file (same task, model and condition) are skipped, and
each finished record is appended and fsynced before the next task starts, so Ctrl-C or a kill
loses nothing finished. What a condition is (memory, routing, schedule) is an `arms.Arm`.

The schedule never depends on the memory: tasks run in input order, and the engine's prompt
cache is emptied when a condition starts, so the same prompts give the same transcripts whatever
ran before them (a bank under two names gives identical runs) and two conditions differ only
in what their prompts say. A bank's task that retrieves nothing has the no-memory prompt; where
that transcript is already in the file it stands in (`Arm.stand_in`) instead of a rerun that could
only differ by batch noise, so the tasks that run are those whose prompts differ.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from memcollab_cli.agent import Episode, SolveParams, run_episodes
from memcollab_cli.agent.episode import solve_prompt_hash
from memcollab_cli.errors import DataError
from memcollab_cli.filelock import hold_lock
from memcollab_cli.jsonl import append_jsonl, repair_tail
from memcollab_cli.records import Trajectory, stream_trajectories
from memcollab_cli.runtime.base import Model, runtime_facts
from memcollab_cli.tasks import Task
from memcollab_cli.use.arms import Arm, prepare_episodes, recorded_routing, schedule


@dataclass
class SolveSummary:
    model: str
    benchmark: str
    condition: str
    tasks: int = 0  # selected
    skipped: int = 0  # already in the output file
    reused: int = 0  # given another condition's transcript of the identical prompt (Arm.stand_in)
    solved: int = 0  # run now
    correct: int = 0  # over every record of this condition in the file
    graded: int = 0
    turns: int = 0
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    model_seconds: float = 0.0
    wall_seconds: float = 0.0
    verdicts: dict = field(default_factory=dict)

    @property
    def accuracy(self) -> float:
        return self.correct / self.graded if self.graded else 0.0

    @property
    def tokens_per_second(self) -> float:
        """Generated tokens per wall-clock second of this run: the aggregate over every stream."""
        return self.completion_tokens / self.wall_seconds if self.wall_seconds else 0.0

    @property
    def stream_tokens_per_second(self) -> float:
        """Generated tokens per second of model time, per stream (batched calls overlap)."""
        return self.completion_tokens / self.model_seconds if self.model_seconds else 0.0

    def add(self, t: Trajectory, fresh: bool) -> None:
        self.graded += 1
        self.correct += int(t.correct)
        self.verdicts[t.verdict] = self.verdicts.get(t.verdict, 0) + 1
        self.turns += t.turns
        if fresh:  # speed figures describe this run only
            self.solved += 1
            t.usage.add_to(self)

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(accuracy=round(self.accuracy, 4), tokens_per_second=round(self.tokens_per_second, 2),
                 stream_tokens_per_second=round(self.stream_tokens_per_second, 2),
                 mean_turns=round(self.turns / self.graded, 3) if self.graded else 0.0,
                 model_seconds=round(self.model_seconds, 2), wall_seconds=round(self.wall_seconds, 2))
        return d


RESUME_HINT = "this --out file holds other records; write to a new --out"


def finished_trajectories(out: Path, model_name: str, condition: str, params: dict, *,
                          repair: bool = True) -> dict[str, Trajectory]:
    """Records already finished for this model and condition, by task id.

    Every line must be a trajectory record (a foreign line is an error naming it, not a
    traceback), and a record made with other settings (turns, tokens, temperature, prompts) is
    an error rather than a silent mix of two experiments in one file. `repair` first drops a
    partial last line left by a crash (the caller holds the file's lock).
    """
    if not out.exists():
        return {}
    if repair:
        repair_tail(out)
    done = {}
    for lineno, rec in stream_trajectories(out, hint=RESUME_HINT):
        if rec["model"]["name"] == model_name and rec["condition"]["name"] == condition:
            if rec["params"] != params:
                changed = sorted(k for k in params if rec["params"].get(k) != params[k])
                raise DataError(f"{out}:{lineno}: made with other settings ({', '.join(changed)}); "
                                "write to a new --out (or rerun with the same settings to resume)")
            done[rec["task_id"]] = Trajectory.from_dict(rec)
    return done


def solve(model: Model, tasks: list[Task], out: Path, *, params: SolveParams = SolveParams(),
          bank: Path | None = None, top_p: int = 3, model_filter: bool = False, placebo: bool = False,
          arm: Arm | None = None,
          on_record: Callable[[Trajectory, SolveSummary], None] | None = None,
          on_start: Callable[[SolveSummary], None] | None = None) -> SolveSummary:
    """Solve `tasks` with `model`, appending trajectories to `out`; returns the summary.

    `arm` says what the condition is; without it, `bank`, `top_p`, `model_filter` and
    `placebo` make one with the default routing.

    One writer per file: a second `solve` into the same `out` is refused while this one runs.
    A rerun that finds every task already in `out` writes nothing and takes no lock, so runs
    that only read a shared file (two `distill`s over one runs directory) never refuse each other.
    """
    out = Path(out)
    arm = arm or Arm(bank=bank, top_p=top_p, model_filter=model_filter, placebo=placebo)
    expected = params.to_dict(solve_prompt_hash(tasks[0].domain if tasks else "math"))
    try:
        done = finished_trajectories(out, model.name, arm.condition, expected, repair=False)
    except DataError:
        done = {}  # say, a partial last line: the locked run below repairs or reports it
    if all(t.id in done for t in tasks):
        return _run(model, tasks, out, params, arm, done, on_record, on_start)
    busy = (f"{out}: another memcollab run is writing this file (lock {out.name}.lock is held); "
            "wait for it to finish, or write to another --out")
    with hold_lock(out, busy=busy):
        done = finished_trajectories(out, model.name, arm.condition, expected)
        return _run(model, tasks, out, params, arm, done, on_record, on_start)


def _run(model, tasks, out, params, arm, done, on_record, on_start) -> SolveSummary:
    """Run what `done` lacks, appending to `out` (under its lock whenever there is anything)."""
    started = time.perf_counter()
    benchmark = tasks[0].benchmark if tasks else ""
    cond = arm.condition
    summary = SolveSummary(model=model.name, benchmark=benchmark, condition=cond, tasks=len(tasks))
    _check_routing(out, cond, done, arm)
    todo = [t for t in schedule(tasks, arm, params.parallel) if t.id not in done]
    if todo:
        _check_placebo_header(out, cond, done, arm)
    for t in tasks:
        if t.id in done:
            summary.skipped += 1
            summary.add(done[t.id], fresh=False)

    if on_start:
        on_start(summary)
    model_info = {"name": model.name, "sha256": model.sha256}
    episodes = prepare_episodes(model, todo, params, arm, out, model_info)
    episodes, stand_ins = _take_stand_ins(out, model.name, params, arm, episodes)
    for trajectory in stand_ins:
        append_jsonl(out, trajectory.to_record())
        summary.reused += 1
        summary.add(trajectory, fresh=False)
        if on_record:
            on_record(trajectory, summary)
    facts = runtime_facts(model) if episodes else {}
    reset = getattr(model, "reset", None)
    if callable(reset):  # no prompt cache left over from another condition
        reset()
    for episode in run_episodes(model, episodes, params.parallel):
        trajectory = episode.finish()
        trajectory.runtime = facts
        append_jsonl(out, trajectory.to_record())
        summary.add(trajectory, fresh=True)
        summary.wall_seconds = time.perf_counter() - started
        if on_record:
            on_record(trajectory, summary)
    summary.wall_seconds = time.perf_counter() - started
    return summary


def _take_stand_ins(out: Path, model_name: str, params: SolveParams, arm: Arm,
                    episodes: list[Episode]) -> tuple[list[Episode], list[Trajectory]]:
    """Split off the episodes whose prompt the `arm.stand_in` condition has already run.

    A bank task that retrieves nothing gets the no-memory prompt, byte for byte; solving it
    again would only measure how batch neighbours move llama.cpp's arithmetic (the noise floor).
    Its stand-in is that condition's transcript, copied under this condition and marked
    `stand_in` with the source record's id. Returns (episodes still to run, stand-ins).
    """
    if not arm.stand_in or not episodes:
        return episodes, []
    expected = params.to_dict(solve_prompt_hash(episodes[0].task.domain))
    try:
        finished = finished_trajectories(out, model_name, arm.stand_in, expected, repair=False)
    except DataError:
        return episodes, []  # other settings there: nothing can stand in
    run, stand_ins = [], []
    for episode in episodes:
        source = finished.get(episode.task.id)
        if source is None or source.messages[:2] != episode.messages[:2]:
            run.append(episode)
            continue
        condition = {**episode.condition, "stand_in": source.id}
        stand_ins.append(replace(source, condition=condition))
    return run, stand_ins


def _check_routing(out: Path, cond: str, done: dict[str, Trajectory], arm: Arm) -> None:
    """Refuse to finish a condition under another routing rule than its finished records."""
    if not arm.routed:
        return
    for trajectory in done.values():
        rule = recorded_routing(trajectory.condition)
        if rule is not None and rule != arm.routing:
            raise DataError(f"{out}: the {cond!r} records there were routed by {rule!r}, this run "
                            f"routes by {arm.routing!r}; pass --routing {rule} to resume them, "
                            "or write to a new --out")


def _check_placebo_header(out: Path, cond: str, done: dict[str, Trajectory], arm: Arm) -> None:
    """Refuse to add to a placebo whose finished records carry the old block header ("mixed"):
    new ones name the task's label, as the bank's do, and one condition must not mix the two."""
    if not arm.placebo:
        return
    if any("header" not in t.condition for t in done.values()):
        raise DataError(f"{out}: its {cond!r} records were made when a placebo's memory block was "
                        "headed 'mixed'; placebos now carry the task's label as the bank does. "
                        "Write to a new --out to run this placebo")
