"""`transfer`: several models × several banks on the same tasks, the shape of the paper's
Tables 1 and 2 (vanilla, own memory, the other model's memory, self-contrast, MemCollab).

Each model is loaded, evaluated over no memory and every bank (`evaluate`), and closed before
the next one is loaded, so only one model is ever in memory. The matrix is then read back from
the per-model trajectory files, which is also how shards run elsewhere are reported.

Left out: rendering the matrix (`report`), building the banks (`distill`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from memcollab_cli.use.arms import ArmSettings
from memcollab_cli.use.evaluate import (
    EvalResult,
    evaluate,
    plan_conditions,
    results_from_runs,
    run_path,
)


def transfer(models: Sequence, tasks: list, outdir: str | Path,
             banks: Mapping[str, str | Path] | None = None, *,
             load: Callable[[str], object] | None = None, settings: ArmSettings | None = None,
             params=None, on_model: Callable | None = None, on_condition: Callable | None = None,
             on_record: Callable | None = None, **options) -> EvalResult:
    """Evaluate each model in turn; returns the models × conditions result.

    `models` holds specs (strings, opened with `load`, default `runtime.load_model`, and closed
    after their turn) or already-open models (used as given; the caller closes them).
    `on_model(model)` is called when a model's turn starts. Other arguments as in `evaluate`.
    """
    settings = settings or ArmSettings(**options)
    plan = plan_conditions(banks, settings=settings)  # fail on bad banks before loading any model
    names: list[str] = []
    for spec in models:
        owned = isinstance(spec, str)
        if owned:
            if load is None:
                from memcollab_cli.runtime import load_model as load
            model = load(spec)
        else:
            model = spec
        try:
            if on_model:
                on_model(model)
            evaluate(model, tasks, outdir, banks, settings=settings, params=params,
                     on_condition=on_condition, on_record=on_record)
        finally:
            if owned:
                model.close()
        if model.name not in names:
            names.append(model.name)
    return results_from_runs([run_path(outdir, n) for n in names], models=names,
                             conditions=[c.name for c in plan],
                             labels={c.name: c.label for c in plan}, tasks=tasks)
