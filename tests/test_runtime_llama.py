"""The embedded llama.cpp engine on the real smollm2-135m (n_ctx 1024, a few tokens per call).

What the model writes varies between CPUs, so wording is only ever asserted on output a grammar
forces (a JSON-schema enum); the rest is token accounting and two calls agreeing.
"""

from __future__ import annotations

import json
import warnings

import pytest

from memcollab_cli.errors import ModelError
from memcollab_cli.runtime import llama as llama_mod
from memcollab_cli.runtime.base import Request
from memcollab_cli.runtime.llama import ChatFormatWarning, LlamaModel

SYSTEM = {"role": "system", "content": "You are a helpful assistant. Answer briefly."}


def ask(question: str, **kw) -> Request:
    return Request(messages=[SYSTEM, {"role": "user", "content": question}],
                   max_tokens=kw.pop("max_tokens", 12), **kw)


def only(text: str) -> dict:
    """A schema whose one valid output is the JSON string `text`: the grammar writes it."""
    return {"enum": [text]}


def test_bad_file_fails_before_llama(tmp_path):
    path = tmp_path / "broken.gguf"
    path.write_bytes(b"<html>404</html>")
    with pytest.raises(ModelError, match=r"broken\.gguf: not a GGUF file"):
        LlamaModel(path).load()


@pytest.mark.model
def test_complete(smollm2):
    c = smollm2.complete(ask("What is 2+2?", json_schema=only("four")))
    assert c.text.strip() == '"four"' and c.finish_reason == "stop"
    assert c.prompt_tokens > 10 and 0 < c.completion_tokens <= 12 and c.seconds > 0
    assert c.extra["sampling"]["temperature"] == 0.0 and c.extra["sampling"]["top_k"] == 0


@pytest.mark.model
def test_same_request_same_text_cold_or_cached(smollm2):
    req = ask("Name a fruit.")
    first = smollm2.complete(req)
    again = smollm2.complete(req)  # whole prompt but the last token from the KV cache
    assert again.cached_tokens == again.prompt_tokens - 1
    smollm2.complete(ask("Name a river in Europe, please."))  # partial prefix in between
    third = smollm2.complete(req)
    smollm2._llm.reset()  # nothing cached
    cold = smollm2.complete(req)
    assert cold.cached_tokens == 0
    assert first.text == again.text == third.text == cold.text


@pytest.mark.model
def test_shared_prefix_is_reused(smollm2):
    smollm2._llm.reset()
    a = smollm2.complete(ask("What is the capital of France?", max_tokens=4))
    b = smollm2.complete(ask("What is the capital of Spain?", max_tokens=4))
    assert a.cached_tokens == 0
    # the system block and chat-template tokens up to the differing word came from the cache
    assert 10 < b.cached_tokens < b.prompt_tokens


@pytest.mark.model
def test_max_tokens_gives_length(smollm2):
    long = only("one two three four five six seven eight nine ten eleven twelve")
    c = smollm2.complete(ask("Count.", max_tokens=3, json_schema=long))
    assert c.completion_tokens == 3 and c.finish_reason == "length"


@pytest.mark.model
def test_json_schema(smollm2):
    schema = {"type": "object", "properties": {"name": {"enum": ["Ada", "Bob"]},
                                               "age": {"enum": [30, 40]}},
              "required": ["name", "age"]}
    # every value and space is bounded by the grammar, so 200 tokens always hold the object
    c = smollm2.complete(ask("Describe a person as JSON.", max_tokens=200, json_schema=schema))
    data = json.loads(c.text)
    assert data["name"] in ("Ada", "Bob") and data["age"] in (30, 40) and c.finish_reason == "stop"


def test_the_grammar_gets_the_schema_in_its_own_key_order(tmp_path, monkeypatch):
    llama_cpp = pytest.importorskip("llama_cpp")
    seen = []
    monkeypatch.setattr(llama_cpp.LlamaGrammar, "from_json_schema",
                        classmethod(lambda cls, text, verbose=True: seen.append(text) or object()))
    from memcollab_cli.memory.constraints import constraint_schema

    LlamaModel(tmp_path / "unused.gguf").grammar(constraint_schema(3))
    item = json.loads(seen[0])["properties"]["constraints"]["items"]["properties"]
    assert list(item) == ["when", "enforce", "avoid"]


@pytest.mark.model
def test_json_schema_keeps_the_property_order(smollm2):
    # Not alphabetical: the grammar must write "zebra" first, as the schema lists it.
    schema = {"type": "object", "properties": {"zebra": {"enum": ["z"]}, "apple": {"enum": ["a"]}},
              "required": ["zebra", "apple"], "additionalProperties": False}
    c = smollm2.complete(ask("Reply in JSON.", max_tokens=200, json_schema=schema))
    assert list(json.loads(c.text)) == ["zebra", "apple"]


@pytest.mark.model
def test_context_overflow(smollm2):
    long = ask("word " * 1100)
    with pytest.raises(ModelError, match=r"^smollm2-135m: Requested tokens \(\d+\) exceed context "
                                         r"window of 1024 \(1024 tokens\); rerun with a larger "
                                         r"--n-ctx"):
        smollm2.complete(long)
    still = smollm2.complete(ask("Hi", max_tokens=8, json_schema=only("ok")))  # still usable
    assert still.text.strip() == '"ok"'


@pytest.mark.model
def test_complete_many_in_order(smollm2):
    reqs = [ask("Say yes.", max_tokens=3), ask("Say no.", max_tokens=3)]
    out = smollm2.complete_many(reqs)
    assert [c.text for c in out] == [smollm2.complete(r).text for r in reqs]


@pytest.mark.model
def test_describe(smollm2):
    d = smollm2.describe()
    assert d["engine"] == "llama" and d["name"] == "smollm2-135m" and d["n_ctx"] == 1024
    assert d["sha256"] == "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    assert d["chat_format"] == "chat_template.default"  # the GGUF's own template
    assert d["llama_cpp"] == "0.3.36" and d["n_threads"] >= 1
    assert d["gpu_layers"] == (-1 if d["gpu_offload"] else 0)


@pytest.mark.model
def test_missing_template_warns_once_and_chat_format_overrides(smollm2_path, monkeypatch):
    real = llama_mod.gguf.read_metadata
    monkeypatch.setattr(llama_mod.gguf, "read_metadata",
                        lambda p: {**real(p), "chat_template": False})
    monkeypatch.setattr(llama_mod, "_warned_no_template", set())
    with pytest.warns(ChatFormatWarning, match="has no chat template.*--chat-format"):
        m = LlamaModel(smollm2_path, n_ctx=256, n_threads=1)
        m.load()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m2 = LlamaModel(smollm2_path, n_ctx=256, n_threads=1)
        m2.load()  # same file: no second warning
        m3 = LlamaModel(smollm2_path, n_ctx=256, n_threads=1, chat_format="chatml")
        assert m3.describe()["chat_format"] == "chatml"
    assert m.describe()["chat_format"] != "chatml"
    for model in (m, m2, m3):
        model.close()
    assert m._llm is None
