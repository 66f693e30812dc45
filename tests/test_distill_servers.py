"""`distill` with both models behind OpenAI-compatible servers (the README's two-server example).

Two real llama.cpp servers (xllamacpp) serve smollm2-135m on two ports of 127.0.0.1, both from one
child process so the test holds one llama.cpp process; `memcollab distill --strong URL1 --weak
URL2` must solve with each, contrast and write a bank, end to end over HTTP.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from typer.testing import CliRunner

from memcollab_cli.cli.main import app

pytestmark = pytest.mark.model

SERVE_TWO = """
import sys, xllamacpp as xlc
servers = []
for port in sys.argv[2:]:
    p = xlc.CommonParams(); p.model.path = sys.argv[1]
    p.n_parallel = 1; p.n_ctx = 2048
    p.cpuparams.n_threads = p.cpuparams_batch.n_threads = 1
    p.hostnames = ["127.0.0.1"]; p.port = int(port)
    servers.append(xlc.Server(p))
sys.stdin.read()  # serve until the parent closes stdin or kills us
"""

TASKS = [("a", "What is 2 + 3?", "5"), ("b", "What is 10 minus 4?", "6")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def two_servers(smollm2_path, tmp_path):
    pytest.importorskip("xllamacpp")
    ports = [_free_port(), _free_port()]
    with open(tmp_path / "servers.log", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-c", SERVE_TWO, str(smollm2_path), *map(str, ports)],
                                stdin=subprocess.PIPE, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 90
        for port in ports:
            while True:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.skip(f"xllamacpp servers did not start (see {tmp_path / 'servers.log'})")
                try:  # 503 until the model is loaded, then 200
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                        break
                except OSError:
                    time.sleep(0.1)
        yield ports
    finally:
        proc.kill()
        proc.wait()


def test_distill_with_strong_and_weak_models_behind_two_servers(two_servers, tmp_path):
    strong_port, weak_port = two_servers
    tasks = tmp_path / "easy.jsonl"
    tasks.write_text("".join(json.dumps({"id": i, "question": q, "answer": a}) + "\n" for i, q, a in TASKS))
    bank = tmp_path / "bank.jsonl"
    strong, weak = f"http://127.0.0.1:{strong_port}/v1#smollm2-strong", f"http://127.0.0.1:{weak_port}/v1"
    result = CliRunner().invoke(app, [
        "distill", "--strong", strong, "--weak", weak, "-b", str(tasks), "--split", "test",
        "--pair-policy", "prefer-strong", "--k", "1", "--max-tokens", "32", "--max-turns", "1",
        "-o", str(bank), "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    weak_name = f"127.0.0.1:{weak_port}/v1"  # a URL without #NAME is named by its address
    assert [s["model"] for s in summary["solve"]] == ["smollm2-strong", weak_name]
    assert [s["graded"] for s in summary["solve"]] == [2, 2]
    assert summary["contrast"]["pairs"] == 2  # prefer-strong pairs every task: the summarizer ran
    runs = sorted(p.name for p in (tmp_path / "bank.work" / "runs").glob("*.jsonl"))
    assert runs == sorted(["smollm2-strong.jsonl", f"127.0.0.1_{weak_port}_v1.jsonl"])
    for name, run in [("smollm2-strong", "smollm2-strong.jsonl"),
                      (weak_name, f"127.0.0.1_{weak_port}_v1.jsonl")]:
        records = [json.loads(line) for line in (tmp_path / "bank.work" / "runs" / run).read_text().splitlines()]
        assert [r["model"]["name"] for r in records] == [name] * 2
    log = (tmp_path / "bank.work" / "contrast-log.jsonl").read_text().splitlines()
    assert len(log) == 2 and all(json.loads(line)["summarizer"] == "smollm2-strong" for line in log)
    assert summary["build"]["kept"] == len(bank.read_text().splitlines())
