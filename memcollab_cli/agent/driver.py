"""Drive many episodes through one model, `parallel` at a time.

Each round gathers the pending request of every episode in flight and sends them to the engine in
one `complete_many` call, so an engine that batches decodes them together. Finished episodes are
yielded at once (so the caller can append them to disk) and their slots refilled.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from memcollab_cli.agent.episode import Episode
from memcollab_cli.runtime.base import Model


def run_episodes(model: Model, episodes: Iterable[Episode], parallel: int = 1) -> Iterator[Episode]:
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
        for episode, completion in zip(active, completions):
            episode.consume(completion)
        for episode in [e for e in active if e.done]:
            active.remove(episode)
            yield episode
