"""The server engine: a stdlib fake for protocol and error paths, a real llama.cpp server
(xllamacpp, in a child process on 127.0.0.1) for the rest."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from memcollab_cli.errors import ModelError
from memcollab_cli.runtime.base import Request
from memcollab_cli.runtime.server import ServerModel

REQ = Request(messages=[{"role": "user", "content": "What is 2+2?"}], max_tokens=8)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------
# a fake OpenAI-compatible server: answers come from a queue of (status, body) pairs


class Fake:
    def __init__(self):
        self.answers: list[tuple[int, object]] = []
        self.bodies: list[dict] = []
        handler = self._handler()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.bodies.append({"path": self.path, **body})
                status, answer = fake.answers.pop(0) if fake.answers else (200, ok_answer())
                raw = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args):
                pass

        return Handler


def ok_answer(text="4", **extra):
    return {"choices": [{"message": {"role": "assistant", "content": text},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 20, "completion_tokens": 2}, **extra}


@pytest.fixture
def fake():
    f = Fake()
    yield f
    f.httpd.shutdown()
    f.httpd.server_close()


def test_request_body_and_usage(fake):
    fake.answers.append((200, ok_answer(usage={"prompt_tokens": 20, "completion_tokens": 2,
                                               "prompt_tokens_details": {"cached_tokens": 15}})))
    m = ServerModel(fake.url, "qwen")
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    c = m.complete(Request(messages=REQ.messages, max_tokens=8, temperature=0.0, seed=7,
                           json_schema=schema, stop=("\n\n",)))
    assert (c.text, c.prompt_tokens, c.completion_tokens, c.cached_tokens) == ("4", 20, 2, 15)
    body = fake.bodies[0]
    assert body["path"] == "/v1/chat/completions" and body["model"] == "qwen"
    assert {k: body[k] for k in ("temperature", "top_p", "top_k", "min_p", "seed", "max_tokens",
                                 "stop")} == {"temperature": 0.0, "top_p": 1.0, "top_k": 0,
                                              "min_p": 0.0, "seed": 7, "max_tokens": 8,
                                              "stop": ["\n\n"]}
    assert body["response_format"] == {"type": "json_schema", "json_schema": {
        "name": "output", "schema": schema, "strict": True}}


def test_llama_cpp_timings_give_cached_tokens(fake):
    fake.answers.append((200, ok_answer(timings={"cache_n": 11, "prompt_n": 9})))
    assert ServerModel(fake.url).complete(REQ).cached_tokens == 11


def test_retries_5xx_and_429_then_succeeds(fake):
    fake.answers += [(503, {"error": {"message": "loading"}}), (429, {"error": "busy"})]
    m = ServerModel(fake.url, retries=2, backoff=0.01)
    assert m.complete(REQ).text == "4" and len(fake.bodies) == 3


def test_retries_exhausted(fake):
    fake.answers += [(500, {"error": {"message": "boom"}})] * 3
    with pytest.raises(ModelError, match=r"cannot reach .*: HTTP 500: boom \(gave up after 2 "
                                         r"attempts\)"):
        ServerModel(fake.url, retries=1, backoff=0.01).complete(REQ)


def test_client_error_is_not_retried(fake):
    fake.answers.append((400, {"error": {"message": "the request exceeds the context size"}}))
    with pytest.raises(ModelError, match=r"rejected the request \(HTTP 400: the request exceeds "
                                         r"the context size\)"):
        ServerModel(fake.url, retries=3, backoff=0.01).complete(REQ)
    assert len(fake.bodies) == 1


def test_not_json_and_no_choices(fake):
    fake.answers += [(200, b"<html>hello</html>"), (200, {"object": "list", "data": []})]
    m = ServerModel(fake.url)
    with pytest.raises(ModelError, match="not JSON .*is this an OpenAI-compatible server"):
        m.complete(REQ)
    with pytest.raises(ModelError, match="answered without choices"):
        m.complete(REQ)


MALFORMED = {
    "choices not a list": ({"choices": {"message": {}}}, r"answered without choices"),
    "choice not an object": ({"choices": ["4"]}, r"'choices\[0\]' must be an object, got \"4\""),
    "message null": ({"choices": [{"message": None}]}, r"'choices\[0\].message' must be an object, got null"),
    "message a string": ({"choices": [{"message": "4"}]}, r"'choices\[0\].message' must be an object"),
    "content a number": (ok_answer(5), r"'choices\[0\].message.content' must be a string, got 5"),
    "content an object": (ok_answer({"text": 1}), r"'choices\[0\].message.content' must be a string"),
    "usage a list": (ok_answer(usage=[1, 2]), r"'usage' must be an object, got \[1, 2\]"),
    "tokens as text": (ok_answer(usage={"prompt_tokens": "many", "completion_tokens": 2}),
                       r"'usage.prompt_tokens' must be a whole number >= 0, got \"many\""),
    "negative tokens": (ok_answer(usage={"prompt_tokens": 3, "completion_tokens": -1}),
                        r"'usage.completion_tokens' must be a whole number >= 0, got -1"),
    "finish reason a number": ({"choices": [{"message": {"content": "4"}, "finish_reason": 1}]},
                               r"'choices\[0\].finish_reason' must be a string, got 1"),
    "deep JSON": (b"[" * 100_000 + b"]" * 100_000, r"answered with something that is not JSON"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_reply_is_one_model_error(fake, case):
    answer, message = MALFORMED[case]
    fake.answers.append((200, answer))
    with pytest.raises(ModelError, match=message) as info:
        ServerModel(fake.url).complete(REQ)
    assert "\n" not in str(info.value) and str(info.value).startswith(fake.url)


def test_content_as_a_list_of_parts_and_null_content_are_read(fake):
    fake.answers += [(200, ok_answer([{"type": "text", "text": "4"}, {"type": "text", "text": "2"}])),
                     (200, ok_answer(None, usage={"prompt_tokens": 3.0, "completion_tokens": 0}))]
    m = ServerModel(fake.url)
    assert m.complete(REQ).text == "42"
    empty = m.complete(REQ)
    assert (empty.text, empty.prompt_tokens) == ("", 3)


def test_solve_against_a_malformed_server_keeps_earlier_records(fake, tmp_path):
    from typer.testing import CliRunner

    from memcollab_cli.cli.main import app

    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text('{"id": "a", "question": "What is 2 + 2?", "answer": "4"}\n'
                     '{"id": "b", "question": "What is 2 + 3?", "answer": "5"}\n')
    out = tmp_path / "runs.jsonl"
    cmd = ["solve", "-m", f"{fake.url}#m", "-b", str(tasks), "-o", str(out)]
    fake.answers.append((200, ok_answer("\\boxed{4}")))
    assert CliRunner().invoke(app, cmd + ["-n", "1"]).exit_code == 0
    before = out.read_bytes()
    fake.answers.append((200, ok_answer(usage={"prompt_tokens": "x"})))
    result = CliRunner().invoke(app, cmd)
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: {fake.url}/chat/completions answered with a malformed reply: 'usage.prompt_tokens' must "
        "be a whole number >= 0, got \"x\"; is this an OpenAI-compatible chat endpoint?")
    assert out.read_bytes() == before


def test_unreachable():
    url = f"http://127.0.0.1:{free_port()}/v1"
    m = ServerModel(url, retries=2, backoff=0.01)
    start = time.perf_counter()
    with pytest.raises(ModelError, match=rf"^cannot reach {url}/chat/completions: connection "
                                         r"refused — is the server running\? \(gave up after 3 "
                                         r"attempts\)$"):
        m.complete(REQ)
    assert time.perf_counter() - start < 5


def test_complete_many_keeps_order(fake):
    m = ServerModel(fake.url, concurrency=4)
    fake.answers += [(200, ok_answer(str(i))) for i in range(6)]
    reqs = [Request(messages=[{"role": "user", "content": f"q{i}"}]) for i in range(6)]
    out = m.complete_many(reqs)
    # answers are handed out in arrival order; each matches the request it answered
    sent = {b["messages"][0]["content"]: i for i, b in enumerate(fake.bodies)}
    assert [c.text for c in out] == [str(sent[f"q{i}"]) for i in range(6)]


# ---------------------------------------------------------------------------------------------
# a real llama.cpp server (xllamacpp), one child process per test module

SERVE = """
import sys, xllamacpp as xlc
p = xlc.CommonParams(); p.model.path = sys.argv[1]
p.n_parallel = 2; p.n_ctx = 2048
p.cpuparams.n_threads = p.cpuparams_batch.n_threads = 2
p.hostnames = ["127.0.0.1"]; p.port = int(sys.argv[2])
srv = xlc.Server(p)
sys.stdin.read()  # serve until the parent closes stdin or kills us
"""


class ChildServer:
    def __init__(self, model_path, port, log):
        self.model_path, self.port, self.log, self.proc = model_path, port, log, None

    def start(self, timeout: float = 60):
        with open(self.log, "ab") as log:  # the server logs a lot: keep it out of pipes
            self.proc = subprocess.Popen([sys.executable, "-c", SERVE, str(self.model_path),
                                          str(self.port)], stdin=subprocess.PIPE,
                                         stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:  # llama-server listens at once but answers 503 until the model is loaded
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        pytest.skip(f"xllamacpp server did not start (see {self.log})")

    def stop(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


@pytest.fixture(scope="module")
def llama_server(smollm2_path, tmp_path_factory):
    pytest.importorskip("xllamacpp")
    server = ChildServer(smollm2_path, free_port(), tmp_path_factory.mktemp("srv") / "log")
    server.start()
    yield server
    server.stop()


def _model(server, **kw):
    return ServerModel(f"http://127.0.0.1:{server.port}/v1", "smollm2-135m", **kw)


@pytest.mark.model
def test_real_completion_and_prefix_cache(llama_server):
    m = _model(llama_server)
    a, b = m.complete(REQ), m.complete(REQ)
    assert a.text == b.text and 0 <= a.completion_tokens <= 8  # the wording varies by CPU: not checked
    assert a.prompt_tokens > 5 and b.cached_tokens > 0


@pytest.mark.model
def test_real_json_schema(llama_server):
    schema = {"type": "object", "properties": {"name": {"enum": ["Ada", "Bob"]},
                                               "age": {"enum": [30, 40]}},
              "required": ["name", "age"]}
    c = _model(llama_server).complete(Request(
        messages=[{"role": "user", "content": "Describe a person as JSON."}], max_tokens=200,
        json_schema=schema))
    data = json.loads(c.text)
    assert data["name"] in ("Ada", "Bob") and data["age"] in (30, 40)


def forced(text: str) -> Request:
    """A request whose only valid answer, under its grammar, is the JSON string `text`."""
    return Request(messages=[{"role": "user", "content": "Say something."}], max_tokens=16,
                   json_schema={"enum": [text]})


@pytest.mark.model
def test_real_concurrency(llama_server):
    m = _model(llama_server, concurrency=4)
    out = m.complete_many([forced(f"n{i}") for i in range(4)])
    assert [c.text.strip() for c in out] == [f'"n{i}"' for i in range(4)]  # each in its place
    assert all(0 < c.completion_tokens <= 16 for c in out)


@pytest.mark.model
def test_real_server_stopped_then_restarted(llama_server):
    m = _model(llama_server, retries=1, backoff=0.05)
    assert m.complete(forced("up")).text.strip() == '"up"'
    llama_server.stop()
    with pytest.raises(ModelError, match=r"connection refused — is the server running\? \(gave "
                                         r"up after 2 attempts\)"):
        m.complete(REQ)
    llama_server.start()
    assert m.complete(forced("again")).text.strip() == '"again"'
