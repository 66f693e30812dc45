"""Drive many episodes through one model, `parallel` at a time.

Three modes, picked from what the engine can do:

- `parallel == 1`: one episode at a time, each turn a plain `model.complete` call. No threads,
  no queues: this path adds nothing to the engine's own speed.
- An engine with the step API (`submit(request) -> ticket`, `step() -> [(ticket, Completion)]`,
  e.g. `runtime.batched.BatchedLlamaModel`): continuous batching. `parallel` episodes are in
  flight; as soon as one request finishes, its episode consumes the reply (this may run sandboxed
  code) and either submits its next turn or finishes, and the next episode in input order takes
  its place. Everything runs on this one thread, so decoding pauses while an episode consumes:
  the batch composition at every step then depends only on the inputs, and the same episodes in
  the same order with the same `parallel` give the same output, run after run.
- Any other engine (server, scripted): lockstep rounds. The pending requests of all episodes in
  flight go to one `complete_many` call (a server engine sends them concurrently); finished
  episodes leave and their places are refilled before the next round.

Finished episodes are yielded at once, in the order they finish (itself deterministic for the
first two modes), so the caller can append them to disk before the run ends.
Left out: overlapping sandbox runs with decoding (would make timing part of the result).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from memcollab_cli.agent.episode import Episode
from memcollab_cli.runtime.base import Model


def supports_steps(model: object) -> bool:
    """Whether `model` offers the continuous-batching step API (`submit` and `step`)."""
    return callable(getattr(model, "submit", None)) and callable(getattr(model, "step", None))


def run_episodes(model: Model, episodes: Iterable[Episode], parallel: int = 1) -> Iterator[Episode]:
    """Run every episode to the end; yield each once, as it finishes."""
    if parallel <= 1:
        return _sequential(model, episodes)
    if supports_steps(model):
        return _continuous(model, episodes, parallel)
    return _lockstep(model, episodes, parallel)


def _sequential(model: Model, episodes: Iterable[Episode]) -> Iterator[Episode]:
    for episode in episodes:
        while not episode.done:
            episode.consume(model.complete(episode.next_request()))
        yield episode


def _continuous(model, episodes: Iterable[Episode], parallel: int) -> Iterator[Episode]:
    pending = iter(episodes)
    in_flight: dict[int, Episode] = {}  # ticket -> episode

    def refill() -> None:
        while len(in_flight) < parallel:
            episode = next(pending, None)
            if episode is None:
                return
            in_flight[model.submit(episode.next_request())] = episode

    refill()
    while in_flight:
        finished = model.step()  # at least one, in ticket order
        if not finished:
            raise RuntimeError(f"engine returned nothing with {len(in_flight)} request(s) in flight")
        done = []
        for ticket, completion in finished:
            episode = in_flight.pop(ticket)
            episode.consume(completion)
            if episode.done:
                done.append(episode)
            else:  # next turn goes first: its slot still holds its conversation
                in_flight[model.submit(episode.next_request())] = episode
        refill()  # before yielding, so the engine's queue does not depend on the consumer
        yield from done


def _lockstep(model: Model, episodes: Iterable[Episode], parallel: int) -> Iterator[Episode]:
    pending = iter(episodes)
    active: list[Episode] = []
    exhausted = False
    while True:
        while not exhausted and len(active) < parallel:
            nxt = next(pending, None)
            if nxt is None:
                exhausted = True
            else:
                active.append(nxt)
        if not active:
            return
        completions = model.complete_many([e.next_request() for e in active])
        for episode, completion in zip(active, completions, strict=True):
            episode.consume(completion)
        for episode in [e for e in active if e.done]:
            active.remove(episode)
            yield episode
