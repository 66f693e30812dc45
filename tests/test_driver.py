"""The episode driver's three modes, with scripted engines: ordering, refill, determinism."""

import pytest

from memcollab_cli.agent import Episode, SolveParams, run_episodes
from memcollab_cli.agent.driver import supports_steps
from memcollab_cli.runtime.base import Completion, Request
from memcollab_cli.runtime.scripted import ScriptedModel
from memcollab_cli.tasks import Task


class SteppedModel:
    """A scripted engine with the step API: a reply of k words takes k decode steps.

    `respond(request) -> text`. Like the batched engine, at most `slots` requests decode at once,
    queued requests are admitted in ticket order, and `step()` returns every request finishing
    at the first step where any does, in ticket order. `log` records (step, tickets decoding).
    """

    def __init__(self, respond, slots):
        self.name, self.sha256 = "stepped", ""
        self.respond, self.slots = respond, slots
        self.queue, self.running, self.ticket, self.clock = [], {}, 0, 0
        self.log, self.history = [], []

    def submit(self, request: Request) -> int:
        self.ticket += 1
        self.history.append(request)
        self.queue.append((self.ticket, request))
        return self.ticket

    def step(self):
        while len(self.running) < self.slots and self.queue:
            t, r = self.queue.pop(0)
            text = self.respond(r)
            self.running[t] = [text, len(text.split())]
        if not self.running:
            return []
        while True:
            self.clock += 1
            self.log.append((self.clock, sorted(self.running)))
            for state in self.running.values():
                state[1] -= 1
            done = sorted(t for t, (_, left) in self.running.items() if left <= 0)
            if done:
                out = [(t, Completion(text=self.running[t][0], completion_tokens=1)) for t in done]
                for t in done:
                    del self.running[t]
                return out

    def complete(self, request):  # pragma: no cover - the driver must not call this when stepping
        raise AssertionError("complete() called on a stepping engine")

    complete_many = complete


def toy_tasks(n):
    return [Task(id=str(i), benchmark="toy", domain="math", question=f"q{i}", answer=str(i)) for i in range(n)]


def answer_after(words_by_task, wrong_first=()):
    """Reply to task i with words_by_task[i] words ending in its answer (or a non-answer first)."""
    def respond(request):
        q = request.messages[1]["content"]
        i = int(q[1:])
        if i in wrong_first and len(request.messages) == 2:
            return "thinking " * 3 + "no answer yet"
        return "w " * (words_by_task[i] - 1) + f"\\boxed{{{i}}}"
    return respond


def test_step_api_is_detected():
    assert supports_steps(SteppedModel(lambda r: "x", 2))
    assert not supports_steps(ScriptedModel())


def test_continuous_refills_a_slot_as_soon_as_an_episode_finishes():
    lengths = [10, 2, 2, 2, 2]
    model = SteppedModel(answer_after(lengths), slots=2)
    done = list(run_episodes(model, [Episode(t, SolveParams()) for t in toy_tasks(5)], parallel=2))
    # task 0 runs long while 1..4 pass through the other slot; no lockstep wait on the longest
    assert [e.task.id for e in done] == ["1", "2", "3", "4", "0"]
    assert all(e.done and e.answer == e.task.id for e in done)
    assert max(len(running) for _, running in model.log) == 2
    assert model.clock == 10  # 4 short tasks (2 steps each) fit beside the 10-step one


def test_every_episode_finishes_exactly_once_with_multi_turn_episodes():
    lengths = [3, 5, 1, 4, 2, 6, 2]
    model = SteppedModel(answer_after(lengths, wrong_first={1, 4}), slots=3)
    eps = [Episode(t, SolveParams(max_turns=3)) for t in toy_tasks(7)]
    done = list(run_episodes(model, eps, parallel=3))
    assert sorted(e.task.id for e in done) == [str(i) for i in range(7)]
    assert len(done) == 7 and len({id(e) for e in done}) == 7
    assert {e.task.id: e.turns for e in done}["1"] == 2  # the follow-up turn was resubmitted


def test_same_inputs_same_order_give_the_same_run():
    def run():
        model = SteppedModel(answer_after([4, 1, 3, 3, 2, 5, 1, 2], wrong_first={2, 5}), slots=3)
        done = list(run_episodes(model, [Episode(t, SolveParams()) for t in toy_tasks(8)], parallel=3))
        return [e.task.id for e in done], model.log, [r.messages for r in model.history]

    assert run() == run()


def test_new_episodes_enter_in_input_order_after_pending_follow_ups():
    # q0's first reply (a 6-word non-answer) and q1 (6 words) finish at the same step
    model = SteppedModel(answer_after([1, 6, 1, 1], wrong_first={0}), slots=2)
    list(run_episodes(model, [Episode(t, SolveParams()) for t in toy_tasks(4)], parallel=2))
    firsts = [(r.messages[1]["content"], len(r.messages)) for r in model.history]
    # 0 and 1 start; 0's follow-up is submitted before 2 enters, then 3 once a place frees
    assert firsts == [("q0", 2), ("q1", 2), ("q0", 4), ("q2", 2), ("q3", 2)]


def test_at_most_parallel_requests_are_in_flight():
    model = SteppedModel(answer_after([3] * 9), slots=8)  # engine could take more than asked
    list(run_episodes(model, [Episode(t, SolveParams()) for t in toy_tasks(9)], parallel=4))
    assert max(len(running) for _, running in model.log) == 4


def test_parallel_one_calls_complete_one_request_at_a_time():
    calls = []

    class Recording(ScriptedModel):
        def complete(self, request):
            calls.append(request.messages[1]["content"])
            return super().complete(request)

        def complete_many(self, requests):  # pragma: no cover
            raise AssertionError("the sequential path must not batch")

    model = Recording(respond=answer_after([1, 1, 1], wrong_first={1}))
    done = list(run_episodes(model, [Episode(t, SolveParams()) for t in toy_tasks(3)]))
    assert [e.task.id for e in done] == ["0", "1", "2"]
    assert calls == ["q0", "q1", "q1", "q2"]


def test_lockstep_for_engines_without_steps():
    sizes = []

    class Recording(ScriptedModel):
        def complete_many(self, requests):
            sizes.append(len(requests))
            return super().complete_many(requests)

    model = Recording(respond=answer_after([1] * 5))
    done = list(run_episodes(model, [Episode(t, SolveParams()) for t in toy_tasks(5)], parallel=2))
    assert sorted(e.task.id for e in done) == ["0", "1", "2", "3", "4"]
    assert sizes == [2, 2, 1]


def test_a_stalled_engine_is_an_error_not_a_hang():
    class Stalled(SteppedModel):
        def step(self):
            return []

    with pytest.raises(RuntimeError, match="in flight"):
        list(run_episodes(Stalled(lambda r: "x", 2), [Episode(t, SolveParams()) for t in toy_tasks(2)],
                          parallel=2))
