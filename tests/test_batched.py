"""The batched engine on the real smollm2-135m (small contexts, a few tokens per call).

What a 135M model writes at temperature 0 differs between CPUs (their float paths differ, and
a near-tie flips), so no test here asserts its wording: stop strings and lengths are checked on
output the test forces (`ForcedLogits`), and the rest on token counts and on two runs agreeing.
"""

from __future__ import annotations

import ctypes
import json

import pytest

from memcollab_cli.agent import Episode, SolveParams, run_episodes
from memcollab_cli.errors import ModelError
from memcollab_cli.runtime import load_model
from memcollab_cli.runtime.base import Request
from memcollab_cli.runtime.batched import BatchedLlamaModel
from memcollab_cli.tasks import Task

SYSTEM = {"role": "system", "content": "You are a helpful assistant. Answer briefly."}
QUESTIONS = ["What is 2+2?", "Name a fruit.", "What colour is the sky?", "Say hello.",
             "What is the capital of France?", "Count to three."]


def ask(question: str, **kw) -> Request:
    return Request(messages=[SYSTEM, {"role": "user", "content": question}],
                   max_tokens=kw.pop("max_tokens", 8), **kw)


@pytest.fixture(scope="module")
def batched(smollm2_path):
    pytest.importorskip("llama_cpp")
    model = BatchedLlamaModel(smollm2_path, name="smollm2-135m", parallel=3, n_ctx=512)
    model.load()
    yield model
    model.close()


def fresh(smollm2_path, parallel=3):
    return BatchedLlamaModel(smollm2_path, name="smollm2-135m", parallel=parallel, n_ctx=512)


class ForcedLogits:
    """Stands in for the llama_cpp module inside the engine: each sampled position's logits
    become a one-hot row for the next token of `script` (then end of generation), a logit bias
    that forces the output whatever the real logits are on this CPU."""

    def __init__(self, real, model: BatchedLlamaModel, text: str):
        llm = model.single.load()
        self._real = real
        self.script = llm.tokenize(text.encode(), add_bos=False, special=False) + [llm.token_eos()]
        self.sampled = 0
        self._row = (ctypes.c_float * model._n_vocab)()

    def __getattr__(self, name):
        return getattr(self._real, name)

    def llama_get_logits_ith(self, ctx, i):
        ctypes.memset(self._row, 0, ctypes.sizeof(self._row))
        self._row[self.script[min(self.sampled, len(self.script) - 1)]] = 1.0
        self.sampled += 1
        return ctypes.cast(self._row, ctypes.POINTER(ctypes.c_float))

    def llama_get_logits(self, ctx):
        # the engine reads every row of a step at once; these tests run one sequence at a time
        return self.llama_get_logits_ith(ctx, 0)


COUNTING = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10"


def forced(model: BatchedLlamaModel, monkeypatch, text: str = COUNTING) -> ForcedLogits:
    model.load()
    force = ForcedLogits(model._llama_cpp, model, text)
    monkeypatch.setattr(model, "_llama_cpp", force)
    return force


@pytest.mark.model
def test_loader_picks_the_batched_engine_for_parallel_gguf(smollm2_path):
    assert isinstance(load_model(str(smollm2_path), parallel=4), BatchedLlamaModel)
    assert not isinstance(load_model(str(smollm2_path)), BatchedLlamaModel)
    assert load_model("http://127.0.0.1:9#m", parallel=6).concurrency == 6
    assert load_model("http://127.0.0.1:9?concurrency=2#m", parallel=6).concurrency == 2


@pytest.mark.model
def test_prompt_is_formatted_exactly_as_the_sequential_engine_does(batched, smollm2):
    req = ask("What is 2+2?")
    tokens, stops = batched.format(req)
    assert len(tokens) == smollm2.complete(req).prompt_tokens
    assert smollm2.load()._input_ids[: len(tokens)].tolist() == tokens  # what Llama evaluated
    assert stops  # the template's end-of-turn string


@pytest.mark.model
def test_complete_many_returns_every_request_in_order(batched):
    reqs = [ask(q) for q in QUESTIONS]  # more requests than slots: refill
    out = batched.complete_many(reqs)
    assert len(out) == len(reqs)
    for c in out:
        assert c.prompt_tokens > 10 and 0 <= c.completion_tokens <= 8
        assert c.finish_reason == "stop" or (c.finish_reason, c.completion_tokens) == ("length", 8)
        assert c.extra["sampling"]["batch"] == 3
    # one at a time through the same engine gives the same prompts and budgets
    single = batched.complete(reqs[1])
    assert single.prompt_tokens == out[1].prompt_tokens


@pytest.mark.model
def test_max_tokens_and_length(batched, monkeypatch):
    forced(batched, monkeypatch)
    c = batched.complete(ask("Count to ten.", max_tokens=5))
    assert (c.completion_tokens, c.finish_reason) == (5, "length")


@pytest.mark.model
def test_forced_output_comes_back_whole_with_its_token_count(batched, monkeypatch):
    force = forced(batched, monkeypatch)
    c = batched.complete(ask("Count to ten.", max_tokens=64))
    assert (c.text, c.finish_reason) == (COUNTING, "stop")
    assert c.completion_tokens == len(force.script) - 1  # the end-of-generation token is not counted


@pytest.mark.model
def test_stop_string_cuts_the_text(batched, monkeypatch):
    forced(batched, monkeypatch)
    cut = batched.complete(ask("Count to ten.", max_tokens=64, stop=(",",)))
    assert (cut.text, cut.finish_reason) == ("1", "stop")
    forced(batched, monkeypatch)
    # the first stop string of the list that occurs wins, as in llama-cpp-python
    two = batched.complete(ask("Count to ten.", max_tokens=64, stop=("7", ", 3")))
    assert (two.text, two.finish_reason) == ("1, 2", "stop")
    assert 0 < cut.completion_tokens < two.completion_tokens < 64


@pytest.mark.model
def test_same_requests_same_order_same_outputs(smollm2_path):
    reqs = [ask(q, max_tokens=10) for q in QUESTIONS]
    runs = []
    for _ in range(2):
        with fresh(smollm2_path) as m:
            runs.append([(c.text, c.completion_tokens, c.cached_tokens) for c in m.complete_many(reqs)])
    assert runs[0] == runs[1]


@pytest.mark.model
def test_prefix_reuse_per_slot_fills_cached_tokens(smollm2_path):
    with fresh(smollm2_path, parallel=2) as m:
        first = m.complete_many([ask("Name a fruit."), ask("Say hello.")])
        assert [c.cached_tokens for c in first] == [0, 0]
        again = m.complete_many([ask("Name a colour."), ask("Say hello.")])
        # the system prompt is shared; the repeated request reuses all but its last token
        assert 10 < again[0].cached_tokens < again[0].prompt_tokens
        assert again[1].cached_tokens == again[1].prompt_tokens - 1


@pytest.mark.model
def test_sampling_above_zero_is_seeded(smollm2_path):
    req = ask("Tell me a word.", temperature=1.0, seed=7, max_tokens=6)
    with fresh(smollm2_path, parallel=2) as a, fresh(smollm2_path, parallel=2) as b:
        assert a.complete(req).text == b.complete(req).text


def test_one_argmax_maps_each_greedy_row_back_to_its_sequence():
    # llama_get_logits holds one row per token that asked for logits, in batch order; a sampled
    # sequence's row sits among them and must not shift the greedy ones
    from memcollab_cli.runtime._batch_state import Seq

    rows = (ctypes.c_float * 12)(0, 0, 9, 0,  7, 0, 0, 0,  0, 0, 0, 5)  # argmax 2, 0, 3

    class Logits:
        def llama_get_logits(self, ctx):
            return ctypes.cast(rows, ctypes.POINTER(ctypes.c_float))

    engine = object.__new__(BatchedLlamaModel)
    engine._llama_cpp, engine._ctx, engine._n_vocab = Logits(), None, 4
    seqs = [Seq(ticket=t, request=None, prompt=[], stops=[], max_tokens=1, submitted=0.0)
            for t in range(4)]
    seqs[0].logit_row, seqs[1].logit_row, seqs[2].logit_row = 9, 3, 5  # seqs[3] reads its prompt
    seqs[2].sampler = object()
    assert engine._greedy_tokens(seqs) == {3: 2, 5: 0, 9: 3}
    seqs[0].sampler = seqs[1].sampler = object()
    assert engine._greedy_tokens(seqs) == {}  # nothing greedy: no pass over the logits


ANSWER = {"type": "object", "properties": {"answer": {"type": "integer"}}, "required": ["answer"]}


@pytest.mark.model
def test_json_schema_requests_are_batched_under_their_grammar(batched):
    reqs = [ask(f"{q} Reply in JSON.", max_tokens=24, json_schema=ANSWER) for q in QUESTIONS[:3]]
    reqs.append(ask("Say hello."))
    batched.reset()
    out = batched.complete_many(reqs)
    for c in out[:3]:
        # the grammar's first character is "{" whatever the model prefers; a finished object
        # is the schema's
        assert c.text.startswith("{") and c.extra["json_schema"] is True
        assert "queued_seconds" in c.extra  # decoded in the batch, not on the sequential engine
        if c.finish_reason == "stop":
            assert isinstance(json.loads(c.text)["answer"], int)
    assert out[3].extra["json_schema"] is False
    batched.reset()
    assert [c.text for c in batched.complete_many(reqs)] == [c.text for c in out]


@pytest.mark.model
def test_a_json_turn_reuses_the_kv_of_the_turn_before(batched):
    first = ask("What is 2+2?", max_tokens=8)
    batched.reset()
    reply = batched.complete(first)
    follow = Request(messages=[*first.messages, {"role": "assistant", "content": reply.text},
                               {"role": "user", "content": "Now reply in JSON."}],
                     max_tokens=16, json_schema=ANSWER)
    assert batched.complete(follow).cached_tokens >= reply.prompt_tokens


@pytest.mark.model
def test_prompt_longer_than_a_sequence_context_is_a_model_error(batched):
    with pytest.raises(ModelError, match="exceed context window"):
        batched.complete(ask("word " * 700))


@pytest.mark.model
def test_describe_records_the_batch_settings(batched):
    d = batched.describe()
    assert (d["engine"], d["batch"], d["flash_attn"], d["kv_unified"]) == ("llama-batched", 3, True, False)
    assert d["n_ctx"] == 512 and d["sha256"]


@pytest.mark.model
def test_episodes_through_the_batched_engine_finish_once_and_repeat(smollm2_path):
    tasks = [Task(id=str(i), benchmark="toy", domain="math", question=f"What is {i} + {i}?",
                  answer=str(2 * i)) for i in range(5)]

    def run():
        with fresh(smollm2_path, parallel=3) as m:
            eps = [Episode(t, SolveParams(max_tokens=12, max_turns=2, parallel=3)) for t in tasks]
            return [(e.task.id, e.messages, e.usage.cached_tokens) for e in run_episodes(m, eps, 3)]

    first = run()
    assert sorted(i for i, _, _ in first) == [str(i) for i in range(5)]
    assert first == run()
