"""`distill`: the whole chain from two models to a bank, every intermediate file kept.

    tasks ──solve(strong), solve(weak)──► runs/*.jsonl ──contrast──► constraints.jsonl
          ──classify · merge──► bank.jsonl

Modes reproduce the paper's memories:
- `collab` (default): strong and weak model; contrast right vs wrong across models (MemCollab);
- `self`: one model's own correct trajectories summarized without contrast (the naive memory);
- `self-contrast`: one model sampled twice at temperature > 0, right vs wrong contrasted.

Intermediate files live in a work directory beside the bank (`NAME.work/` for `NAME.jsonl`), so
each step can be inspected and rerun alone, and a rerun resumes every step where it stopped.

Memory: at most one model is loaded at a time. Engines load on their first request, and each
stage's model is closed (weights freed; it would load again if used) as soon as the next stage
needs a different one, and after the last stage. So a 32B strong and an 8B weak model run one
after the other on a card that holds only one of them.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path

from memcollab_cli.agent import SolveParams
from memcollab_cli.build.bank_build import build_bank
from memcollab_cli.build.contrast import contrast, summarize_successes
from memcollab_cli.errors import MemcollabError
from memcollab_cli.runtime.base import Model
from memcollab_cli.tasks import Task
from memcollab_cli.use.evaluate import run_path
from memcollab_cli.use.solve import solve

MODES = ("collab", "self", "self-contrast")
SELF_CONTRAST_TEMPERATURE = 0.7

# A reporter opens a progress stage: (description, total) -> context yielding advance(stats, n).
Reporter = Callable[[str, int], AbstractContextManager]


def _quiet(description: str, total: int):
    return nullcontext(lambda stats="", n=1, total=None: None)


@dataclass
class DistillSummary:
    mode: str
    bank: str
    workdir: str
    solve: list = field(default_factory=list)  # SolveSummary dicts
    contrast: dict = field(default_factory=dict)
    build: dict = field(default_factory=dict)
    merges: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def workdir_for(bank: Path) -> Path:
    bank = Path(bank)
    return bank.with_name(bank.stem + ".work")


def distill(strong: Model, weak: Model | None, tasks: list[Task], out: Path, *, mode: str = "collab",
            policy: str = "mixed", k: int = 3, threshold: int = 90, params: SolveParams = SolveParams(),
            workdir: Path | None = None, runs_dir: Path | None = None, taxonomy: str | None = None,
            summarizer: Model | None = None, localize: bool = True,
            report: Reporter = _quiet) -> DistillSummary:
    """Build the bank `out` from `tasks`; `summarizer` (default: `strong`) contrasts and classifies.

    Trajectories go to `runs_dir` (default `<workdir>/runs`); pointing several banks at one
    runs directory reuses each model's trajectories instead of solving the same tasks twice.
    `localize` (contrast modes) tells the summarizer where the wrong attempt departs from the
    benchmark's reference, where there is one; False is the paper's pure form.
    """
    if mode not in MODES:
        raise MemcollabError(f"unknown mode {mode!r}: choose one of {', '.join(MODES)}")
    work = Path(workdir) if workdir else workdir_for(out)
    runs_dir = Path(runs_dir) if runs_dir else work / "runs"
    summary = DistillSummary(mode=mode, bank=str(out), workdir=str(work))

    summarizer = summarizer or strong

    def run(model: Model, path: Path, p: SolveParams, then: Model) -> Path:
        with report(f"solve · {model.name}", len(tasks)) as advance:
            s = solve(model, tasks, path, params=p, on_start=lambda s: advance("", n=s.skipped),
                      on_record=lambda t, s: advance(f"acc {s.correct}/{s.graded}"))
        summary.solve.append(s.to_dict())
        if then is not model:  # free its memory before the next stage loads another model
            model.close()
        return path

    if mode == "collab":
        if weak is None:
            raise MemcollabError("mode collab needs two models: give --weak (or use --mode self)")
        if run_path(runs_dir, strong.name) == run_path(runs_dir, weak.name):
            raise MemcollabError(f"--strong and --weak are both named {strong.name!r}, so their "
                                 "trajectories would share one file; give them different names "
                                 "(a server URL takes one after '#': http://HOST:PORT/v1#NAME)")
        runs = [run(strong, run_path(runs_dir, strong.name), params, then=weak),
                run(weak, run_path(runs_dir, weak.name), params, then=summarizer)]
    elif mode == "self-contrast":
        hot = replace(params, temperature=params.temperature or SELF_CONTRAST_TEMPERATURE)
        runs = [run(strong, run_path(runs_dir, f"{strong.name}.seed{hot.seed}"), hot, then=strong),
                run(strong, run_path(runs_dir, f"{strong.name}.seed{hot.seed + 1}"),
                    replace(hot, seed=hot.seed + 1), then=summarizer)]
    else:
        runs = [run(strong, run_path(runs_dir, strong.name), params, then=summarizer)]

    constraints = work / "constraints.jsonl"
    with report(f"contrast · {summarizer.name}", None) as advance:
        hooks = dict(on_start=lambda s: advance(n=0, total=s.pairs),
                     on_pair=lambda s: advance(f"{s.accepted} kept, {sum(s.rejected.values())} rejected"))
        if mode == "self":
            c = summarize_successes(runs[0], summarizer, constraints, k=k, **hooks)
        else:
            c = contrast(runs, summarizer, constraints, strong=strong.name, policy=policy, k=k,
                         localize=localize, parallel=params.parallel, **hooks)
    summary.contrast = c.to_dict()

    build, merges = build_bank(constraints, summarizer, out, taxonomy=taxonomy, threshold=threshold,
                               parallel=params.parallel)
    summarizer.close()
    summary.build, summary.merges = build.to_dict(), merges
    return summary
