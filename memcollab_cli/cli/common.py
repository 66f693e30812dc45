"""Shared CLI pieces: consoles, option types, error translation, model loading, selection."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from memcollab_cli.errors import MemcollabError
from memcollab_cli.jsonl import jsonl_stem


def out_console() -> Console:
    """Data (tables, JSON) goes to stdout."""
    return Console(width=_width(), highlight=False)


def err_console() -> Console:
    """Progress, warnings and errors go to stderr; a message stays one line, however long."""
    return Console(stderr=True, width=_width(), highlight=False, soft_wrap=True)


def _width() -> int | None:
    width = os.environ.get("TERMINAL_WIDTH") or os.environ.get("COLUMNS")
    return int(width) if width and width.isdigit() else None


RESUMABLE = "Interrupted: finished records are saved; rerun the same command to resume."


@contextmanager
def user_errors(interrupted: str = RESUMABLE) -> Iterator[None]:
    """Turn a MemcollabError into one `Error: …` line on stderr and exit status 1.

    Ctrl-C prints `interrupted` (what was kept: commands that write only at the end say so) and
    exits 130.
    """
    try:
        yield
    except MemcollabError as e:
        err_console().print(f"Error: {e}", markup=False, highlight=False)
        raise typer.Exit(code=1) from None
    except KeyboardInterrupt:
        err_console().print(interrupted, markup=False)
        raise typer.Exit(code=130) from None


def print_json(data: object) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False))


# -- option types --------------------------------------------------------------------------------

ModelSpec = Annotated[str, typer.Option(
    "--model", "-m", help="GGUF path, catalog name (see `memcollab models list`) or server URL "
    "(http://host:port#model).", show_default=False)]
NCtx = Annotated[int, typer.Option("--n-ctx", help="Context window in tokens.", min=256)]
GpuLayers = Annotated[int | None, typer.Option(
    "--gpu-layers", help="Layers to offload to the GPU [default: all when the build supports "
    "CUDA/Metal, else 0].", show_default=False)]
ChatFormat = Annotated[str | None, typer.Option(
    "--chat-format", help="llama.cpp chat format for a GGUF without a template (e.g. chatml, llama-2).")]
Threads = Annotated[int | None, typer.Option(
    "--threads", envvar="MEMCOLLAB_THREADS", help="CPU threads [default: all cores].", show_default=False)]
Benchmark = Annotated[str, typer.Option(
    "--benchmark", "-b", help="gsm8k, math (MATH train), math500, humaneval, mbpp, mbpp-sanitized, or a "
    "tasks .jsonl path.")]
Split = Annotated[str | None, typer.Option(
    "--split", help="Dataset split; join splits with + (train+validation) [default: test; math: train].",
    show_default=False)]
Limit = Annotated[int | None, typer.Option("--limit", "-n", help="Take the first N selected tasks.", min=1)]
Ids = Annotated[list[str] | None, typer.Option("--id", help="Only this task id (repeatable).")]
Shard = Annotated[str | None, typer.Option(
    "--shard", help="i/n: take every n-th task starting at i (0-based) to split a run across machines.")]
MbppDir = Annotated[Path | None, typer.Option(
    "--mbpp-dir", envvar="MEMCOLLAB_MBPP", help="Directory holding mbpp.jsonl and sanitized-mbpp.json.")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print the summary as JSON on stdout.")]
TopP = Annotated[int, typer.Option("--top-p", help="Constraints retrieved per task.", min=0)]
ModelFilter = Annotated[bool, typer.Option(
    "--model-filter", help="Keep only memories whose model pair includes the solving model.")]
MaxTurns = Annotated[int, typer.Option("--max-turns", min=1, help="Model calls per task.")]
MaxTokens = Annotated[int, typer.Option("--max-tokens", min=16, help="Tokens per model call.")]
Temperature = Annotated[float, typer.Option("--temperature", min=0.0)]
Seed = Annotated[int, typer.Option("--seed")]
Parallel = Annotated[int, typer.Option("--parallel", "-p", min=1,
                                       help="Tasks in flight at once, decoded as one batch.")]


def open_model(spec: str, *, n_ctx: int, gpu_layers: int | None, chat_format: str | None,
               threads: int | None, parallel: int = 1):
    from memcollab_cli.runtime import load_model

    return load_model(spec, n_ctx=n_ctx, gpu_layers=gpu_layers, chat_format=chat_format,
                      n_threads=threads, parallel=parallel)


# -- banks and trajectory files (eval, transfer) --------------------------------------------------

EXIT_WORSE = 3  # --fail-if-worse: a bank scored below no memory


def parse_bank(spec: str) -> tuple[str, Path]:
    """`NAME=PATH` or a bare `PATH` (name = the file's stem) -> (name, path)."""
    path = Path(spec).expanduser()
    if "=" in spec and not path.is_file():
        name, _, raw = spec.partition("=")
        name, path = name.strip(), Path(raw.strip()).expanduser()
        if not name:
            raise typer.BadParameter(f"{spec!r} has an empty NAME; write NAME=PATH or just PATH")
    else:
        name = jsonl_stem(path)
    if not path.is_file():
        raise typer.BadParameter(f"{spec!r}: no bank file at {path}")
    return name, path


def parse_banks(specs: list[str] | None) -> dict[str, Path]:
    """Every --bank, in order; a name used twice is an error."""
    banks: dict[str, Path] = {}
    for spec in specs or []:
        name, path = parse_bank(spec)
        if name in banks:
            raise typer.BadParameter(f"bank name {name!r} is given twice; name them NAME=PATH")
        banks[name] = path
    return banks


def _check_banks(specs: list[str] | None) -> list[str] | None:
    parse_banks(specs)
    return specs


Banks = Annotated[list[str] | None, typer.Option(
    "--bank", callback=_check_banks, show_default=False,
    help="Memory bank as NAME=PATH, or PATH (name = file stem). Repeatable; each is a condition.")]
Placebo = Annotated[bool, typer.Option(
    "--placebo", help="Add a control per bank: as many entries drawn at random from it, ignoring "
    "category.")]
Runs = Annotated[list[Path] | None, typer.Argument(
    help="Trajectory files, for --from-runs or --merge.", exists=True, dir_okay=False,
    show_default=False, metavar="FILES")]
FromRuns = Annotated[bool, typer.Option(
    "--from-runs", help="Report from the trajectory FILES given as arguments; run no model.")]
FailIfWorse = Annotated[bool, typer.Option(
    "--fail-if-worse", help=f"Exit with status {EXIT_WORSE} when any bank's accuracy is below no "
    "memory (paired, placebos excluded).")]
Plot = Annotated[Path | None, typer.Option(
    "--plot", "--png", dir_okay=False, show_default=False,
    help="Also write a forest plot (PNG): each arm's paired difference from no memory with its "
    "95% interval, n, MDE and the noise floor (needs matplotlib: pip install 'memcollab[plot]').")]
Outdir = Annotated[Path, typer.Option(
    "--outdir", "-o", file_okay=False,
    help="Directory of trajectory files, one <model>.jsonl per model (resumes).")]


# -- memory arms: routing, worked examples, the noise floor (solve, eval, transfer) ---------------

# as use.routing.ROUTINGS + memory.selection.DIRECT_RULES (not imported: startup)
ROUTINGS = ("self", "labeller", "nearest", "gold", "lexical", "global", "choose")
DEFAULT_ROUTING = "labeller"


def check_routing(value: str) -> str:
    if value not in ROUTINGS:
        raise typer.BadParameter(f"{value!r}: choose one of {', '.join(ROUTINGS)}")
    return value


Routing = Annotated[str, typer.Option(
    "--routing", callback=check_routing,
    help="How a task's category is chosen: 'labeller' = the model that labelled the bank's "
    "entries labels it too (cached in labels.jsonl beside the output); 'self' = the solving "
    "model (the paper's); 'nearest' = the label of the most similar training task the bank "
    "knows (no model call). Without a label: 'lexical' = entries whose `when` clause shares "
    "enough content words with the problem (--threshold); 'global' = the same over the whole "
    "entry; 'choose' = a model (--labeller, else the solving model) reads every `when` clause "
    "and names those that hold (cached in choices.jsonl); 'gold' = the entries a gold file "
    "says apply (--gold; an oracle).")]
Gold = Annotated[Path | None, typer.Option(
    "--gold", exists=True, dir_okay=False, show_default=False,
    help="Gold file for --routing gold: which entries apply to which problems.")]
Threshold = Annotated[float | None, typer.Option(
    "--threshold", min=0.0, max=1.0, show_default=False,
    help="Least TF-IDF cosine for --routing lexical/global [default: lexical 0.10, global 0.05].")]
Labeller = Annotated[str | None, typer.Option(
    "--labeller", show_default=False,
    help="Model for --routing labeller [default: the one recorded with the bank].")]
Examples = Annotated[list[Path] | None, typer.Option(
    "--examples", exists=True, dir_okay=False, show_default=False,
    help="Trajectory files of TRAINING tasks: adds the 'examples' arm, which shows the 2 most "
    "similar verified solutions instead of constraints (repeatable).")]
NoiseFloor = Annotated[bool, typer.Option(
    "--noise-floor", help="Add no memory again on a shifted task order: the tasks that flip "
    "measure what batch composition alone moves.")]
Reuse = Annotated[bool, typer.Option(
    "--reuse/--no-reuse", help="A task a bank gives no memory has the no-memory prompt: take that "
    "transcript (marked stand_in) instead of solving it again; --no-reuse solves it again.")]


@dataclass(frozen=True)
class Engine:
    """How models are opened (the llama.cpp options every running command shares)."""

    n_ctx: int = 4096
    gpu_layers: int | None = None
    chat_format: str | None = None
    threads: int | None = None
    parallel: int = 1

    def open(self, spec: str, *, parallel: int | None = None):
        return open_model(spec, n_ctx=self.n_ctx, gpu_layers=self.gpu_layers,
                          chat_format=self.chat_format, threads=self.threads,
                          parallel=self.parallel if parallel is None else parallel)

    def open_labeller(self, spec: str):
        """A context manager for a labelling model: one sequence, closed after use."""
        return closing(self.open(spec, parallel=1))


@dataclass(frozen=True)
class Selection:
    """Which tasks a running command takes."""

    benchmark: str
    split: str | None = None
    limit: int | None = None
    ids: tuple[str, ...] = ()
    shard: str | None = None
    mbpp_dir: Path | None = None

    def load(self):
        from memcollab_cli.tasks import load_tasks

        return load_tasks(self.benchmark, split=self.split, limit=self.limit,
                          ids=list(self.ids) or None, shard=self.shard, mbpp_dir=self.mbpp_dir)


@dataclass(frozen=True)
class RunOptions:
    """A running command's shared options as the values the pipeline takes."""

    selection: Selection
    engine: Engine
    params: Any  # agent.SolveParams (imported when a command runs a model: startup time)


def run_options(*, benchmark: str, split: str | None, limit: int | None, ids: list[str] | None,
                shard: str | None, mbpp_dir: Path | None, n_ctx: int, gpu_layers: int | None,
                chat_format: str | None, threads: int | None, parallel: int, max_turns: int,
                max_tokens: int, seed: int, temperature: float = 0.0) -> RunOptions:
    """The options solve, distill, eval and transfer share -> tasks, engine and solve settings."""
    from memcollab_cli.agent import SolveParams

    return RunOptions(
        selection=Selection(benchmark, split, limit, tuple(ids or ()), shard, mbpp_dir),
        engine=Engine(n_ctx=n_ctx, gpu_layers=gpu_layers, chat_format=chat_format, threads=threads,
                      parallel=parallel),
        params=SolveParams(temperature=temperature, seed=seed, max_tokens=max_tokens,
                           max_turns=max_turns, parallel=parallel))
