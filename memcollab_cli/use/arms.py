"""One arm of a comparison: which memory a task gets, how tasks are routed, in what order they run.

An `Arm` is what `solve` runs under one condition name: no memory, a bank (or its random
placebo), worked examples, or the noise-floor control (no memory again, in another order). Its
schedule never depends on the memory: tasks run in input order (the order given, i.e. the
dataset's), so two arms differ only in their prompts. `prepare_episodes` turns an arm and tasks
into episodes, each with the condition dict its trajectory records.

The noise floor: `SHIFTED` runs the tasks in a strided order (every s-th task, s = parallel + 1,
at least 2), so each task runs after, and is batched with, other tasks than in input order, while
its prompt is byte-identical to no memory's. What still flips between the two is what batch
composition and prefix reuse alone move, the floor under which no difference means anything.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

from memcollab_cli.agent import Episode, SolveParams
from memcollab_cli.errors import DataError
from memcollab_cli.jsonl import jsonl_stem, sha256_file
from memcollab_cli.memory.selection import DIRECT_RULES
from memcollab_cli.runtime.base import Model
from memcollab_cli.tasks import Task
from memcollab_cli.use.routing import DEFAULT_ROUTING


class UnguardedWarning(UserWarning):
    """A bank whose sources cannot be matched to the problem being solved."""


NONE = "none"
NOISE_FLOOR = "noise-floor"
EXAMPLES = "examples"
INPUT_ORDER, SHIFTED = "input", "shifted"
PLACEBO = "placebo:"  # prefix of a bank's random-memory control: placebo:<bank stem>


def bank_sha256(bank: str | Path) -> str:
    """The short content hash a bank condition records (a .gz bank hashes as its text)."""
    return sha256_file(bank)[:12]


@dataclass(frozen=True)
class Arm:
    """One condition: its memory source, routing rule and schedule (see the module docstring)."""

    bank: Path | None = None
    placebo: bool = False
    top_p: int = 3
    model_filter: bool = False
    examples: tuple[Path, ...] = ()  # trajectory files: the worked-examples arm
    k_examples: int = 2
    routing: str = DEFAULT_ROUTING
    labeller: str = ""  # overrides the labeller recorded with the bank
    gold: Path | None = None  # the gold file of routing "gold"
    threshold: float | None = None  # of routings "lexical" and "global" [default: THRESHOLDS]
    schedule: str = INPUT_ORDER
    name: str = ""  # overrides the derived condition name
    # A condition whose finished transcript stands in for a task this arm gives no memory: the
    # prompt is byte-identical, so solving it again would only measure batch noise.
    stand_in: str = ""
    open_model: Callable[[str], AbstractContextManager[Model]] | None = field(
        default=None, compare=False)  # opens the labeller when it is not the solving model

    @property
    def condition(self) -> str:
        if self.name:
            return self.name
        if self.examples:
            return EXAMPLES
        if self.bank is None:
            return NOISE_FLOOR if self.schedule == SHIFTED else NONE
        stem = jsonl_stem(self.bank)
        if self.routing in DIRECT_RULES:  # other entries than the bank's label-routed arm
            stem += "@" + self.routing
        return PLACEBO + stem if self.placebo else stem

    @property
    def routed(self) -> bool:
        """Whether tasks are classified: only banks retrieve by label."""
        return self.bank is not None


@dataclass(frozen=True)
class ArmSettings:
    """What every arm of one comparison shares (`eval`, `transfer`), and which extra arms it has."""

    placebo: bool = False  # a random-memory control per bank
    top_p: int = 3
    model_filter: bool = False
    routing: str = DEFAULT_ROUTING
    labeller: str = ""
    gold: Path | None = None
    threshold: float | None = None
    examples: tuple[Path, ...] = ()  # trajectory files: adds the worked-examples arm
    k_examples: int = 2
    noise_floor: bool = False  # adds no memory again under a shifted schedule
    reuse: bool = True  # a bank's tasks without memory take no memory's transcript (Arm.stand_in)
    open_model: Callable[[str], AbstractContextManager[Model]] | None = field(
        default=None, compare=False)

    def arm(self, **fields) -> Arm:
        shared = dict(top_p=self.top_p, model_filter=self.model_filter, routing=self.routing,
                      labeller=self.labeller, gold=self.gold, threshold=self.threshold,
                      k_examples=self.k_examples,
                      open_model=self.open_model)
        return Arm(**{**shared, **fields})


def schedule(tasks: list[Task], arm: Arm, parallel: int) -> list[Task]:
    """The order tasks run in: input order, or for the noise floor every s-th task in turn."""
    if arm.schedule != SHIFTED:
        return list(tasks)
    stride = max(2, parallel + 1)
    return [tasks[j] for r in range(stride) for j in range(r, len(tasks), stride)]


def prepare_episodes(model: Model, tasks: list[Task], params: SolveParams, arm: Arm,
                     out: Path, model_info: dict) -> list[Episode]:
    """Episodes for `tasks` (already in schedule order) under `arm`, each with its condition."""
    cond = arm.condition
    if arm.examples:
        return _example_episodes(tasks, params, arm, model_info)
    if arm.bank is None:
        extra = {"schedule": SHIFTED} if arm.schedule == SHIFTED else {}
        return [Episode(t, params, "", {"name": cond, **extra}, model_info) for t in tasks]
    from memcollab_cli.use.recall import Memory
    from memcollab_cli.use.routing import labels_path, route_tasks

    memory = Memory(arm.bank, top_p=arm.top_p, model_filter=model.name if arm.model_filter else None,
                    placebo=arm.placebo, seed=params.seed)
    if memory.retriever.unguarded:
        warnings.warn(f"{arm.bank}: {memory.retriever.unguarded} entries have a source the leakage "
                      "guard cannot identify (no problem hash in the bank, no contrast log beside "
                      "it, no split), so they are never held back from their own problem",
                      UnguardedWarning, stacklevel=2)
    bank_sha = bank_sha256(arm.bank)
    if arm.routing in DIRECT_RULES:
        return _direct_episodes(model, tasks, params, arm, memory, bank_sha, model_info, out)
    labels, labeller = route_tasks(arm.routing, model, tasks, memory.sources,
                                   labeller=arm.labeller, cache=labels_path(out),
                                   open_model=arm.open_model, parallel=params.parallel,
                                   where=str(arm.bank))
    episodes = []
    for t in tasks:
        category, subcategory = labels[t.id]
        recall = memory.recall(t, category, subcategory)
        condition = {"name": cond, "bank": Path(arm.bank).name, "bank_sha256": bank_sha,
                     "memory_ids": recall.memory_ids, "category": category,
                     "subcategory": subcategory, "level": recall.level,
                     "routing": arm.routing, "labeller": labeller,
                     **({"header": "label"} if arm.placebo else {})}
        episodes.append(Episode(t, params, recall.block, condition, model_info))
    return episodes


def _direct_episodes(model: Model, tasks, params, arm: Arm, memory, bank_sha: str,
                     model_info: dict, out: Path) -> list[Episode]:
    """Episodes whose entries a direct rule picks (`memory.selection`): no label."""
    facts, pick = _direct_rule(model, tasks, arm, memory.entries, out)
    base = {"name": arm.condition, "bank": Path(arm.bank).name, "bank_sha256": bank_sha,
            "routing": arm.routing, **facts, **({"header": "label"} if arm.placebo else {})}
    episodes = []
    for t in tasks:
        ranked = pick(t)
        recall = memory.deliver(t, ranked, {e.id for e in ranked}, arm.routing)
        condition = {**base, "memory_ids": recall.memory_ids, "level": recall.level}
        episodes.append(Episode(t, params, recall.block, condition, model_info))
    return episodes


def _direct_rule(model: Model, tasks, arm: Arm, entries, out: Path
                 ) -> tuple[dict, Callable[[Task], list]]:
    """What a direct rule records, and its pick: the entries it finds fitting a task, best first."""
    from memcollab_cli.memory.selection import THRESHOLDS, ClauseMatcher, GoldSet

    by_id = {e.id: e for e in entries}
    if arm.routing == "gold":
        if arm.gold is None:
            raise DataError("routing 'gold' needs the gold file: add --gold FILE")
        gold = GoldSet.read(arm.gold, list(by_id))
        when = ClauseMatcher(entries, "when", threshold=0.0)  # ranks a task's applicable entries

        def applicable(t: Task) -> list:
            scores = {e.id: s for e, s in when.scores(t.question)}
            return sorted((by_id[i] for i in gold.entries_for(t.question)),
                          key=lambda e: (-round(scores.get(e.id, 0.0), 12), e.id))

        return {"gold": gold.path.name, "gold_sha256": gold.sha256}, applicable
    if arm.routing == "choose":
        chosen, chooser = _choices(model, tasks, arm, entries, out)
        return {"chooser": chooser}, lambda t: [by_id[i] for i in chosen[t.id]]
    threshold = THRESHOLDS[arm.routing] if arm.threshold is None else arm.threshold
    matcher = ClauseMatcher(entries, "when" if arm.routing == "lexical" else "text", threshold)
    return {"threshold": threshold}, lambda t: matcher.match(t.question)


def _choices(model: Model, tasks, arm: Arm, entries, out: Path) -> tuple[dict, str]:
    """The chooser's picks per task (--labeller, else the solving model), cached beside `out`."""
    from memcollab_cli.use.choose import choices_path, choose_entries
    from memcollab_cli.use.routing import model_opener

    chooser = arm.labeller or model.name
    opener = model_opener(model, arm.open_model)
    return choose_entries(chooser, opener, entries, tasks, choices_path(out), k=arm.top_p), chooser


def _example_episodes(tasks, params, arm: Arm, model_info: dict) -> list[Episode]:
    from memcollab_cli.use.examples import Examples

    examples = Examples(arm.examples, k=arm.k_examples)
    sha = examples.sha256
    episodes = []
    for t in tasks:
        block, ids = examples.recall(t)
        condition = {"name": arm.condition, "examples": [p.name for p in examples.paths],
                     "examples_sha256": sha, "memory_ids": ids,
                     "level": EXAMPLES if ids else "none", "prompt": examples.template.hash}
        episodes.append(Episode(t, params, block, condition, model_info))
    return episodes


def recorded_routing(condition: dict) -> str | None:
    """The routing rule a bank condition was made with; records from before routing was
    recorded were all routed by the solving model."""
    if "bank" not in condition:
        return None
    return condition.get("routing", "self")
