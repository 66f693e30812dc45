"""Every subcommand end to end on a real small model (smollm2-135m) through llama.cpp.

Kept small: a handful of easy tasks, short generations. These check that the real parts fit
together (engine, prompts, sandbox, verifier, files), not how good the model is: what a 135M
model writes differs between CPUs, so nothing here depends on its wording or on its being right.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from memcollab_cli.cli.main import app

EASY = [("a", "What is 2 + 3?", "5"), ("b", "What is 10 minus 4?", "6"), ("c", "What is 3 times 3?", "9"),
        ("d", "What is 8 divided by 2?", "4")]


@pytest.fixture
def tasks_file(tmp_path):
    path = tmp_path / "easy.jsonl"
    path.write_text("".join(json.dumps({"id": i, "question": q, "answer": a, "domain": "math"}) + "\n"
                            for i, q, a in EASY))
    return path


def invoke(*args):
    result = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


@pytest.mark.model
def test_solve_writes_graded_trajectories(smollm2_path, tasks_file, tmp_path):
    out = tmp_path / "runs.jsonl"
    result = invoke("solve", "-m", smollm2_path, "-b", tasks_file, "-o", out, "--max-tokens", "48",
                    "--max-turns", "2", "--n-ctx", "1024", "--json")
    summary = json.loads(result.stdout)
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert summary["graded"] == 4
    assert summary["completion_tokens"] == sum(r["usage"]["completion_tokens"] for r in records)
    assert [r["task_id"] for r in records] == ["a", "b", "c", "d"]
    assert all(r["verdict"] in {"pass", "fail", "no_answer"} for r in records)
    assert all(r["messages"][2]["role"] == "assistant" and 1 <= r["turns"] <= 2 for r in records)
    assert records[0]["model"]["sha256"] == "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"


@pytest.mark.model
def test_solve_humaneval_runs_code_in_the_sandbox(smollm2_path, tmp_path):
    out = tmp_path / "he.jsonl"
    invoke("solve", "-m", smollm2_path, "-b", "humaneval", "--id", "HumanEval/0", "-o", out,
           "--max-tokens", "96", "--max-turns", "2", "--n-ctx", "2048")
    [record] = [json.loads(line) for line in out.read_text().splitlines()]
    assert record["task_id"] == "HumanEval/0" and record["verdict"] in {"pass", "fail", "error", "timeout",
                                                                       "no_answer"}


@pytest.mark.model
def test_a_killed_solve_resumes_with_nothing_lost_or_duplicated(smollm2_path, tasks_file, tmp_path):
    out = tmp_path / "runs.jsonl"
    cmd = [sys.executable, "-m", "memcollab_cli", "solve", "-m", str(smollm2_path), "-b", str(tasks_file),
           "-o", str(out), "--max-tokens", "64", "--max-turns", "3", "--n-ctx", "1024"]
    log = open(tmp_path / "stderr.txt", "w")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and not (out.exists() and out.read_text().count("\n") >= 1):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    first = out.read_text().count("\n") if out.exists() else 0
    assert 1 <= first < 4, (tmp_path / "stderr.txt").read_text()[-2000:]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ids = [json.loads(line)["task_id"] for line in out.read_text().splitlines()]
    assert sorted(ids) == ["a", "b", "c", "d"]


@pytest.mark.model
def test_distill_contrast_and_bank_commands(smollm2_path, tasks_file, tmp_path):
    bank = tmp_path / "bank.jsonl"
    # prefer-strong pairs every task of two different models, so the summarizer (smollm2, the
    # fast one, named strong here) really runs on each pair whatever the two models got right.
    result = invoke("distill", "--strong", smollm2_path, "--weak", "qwen2.5-coder-0.5b", "-b", tasks_file,
                    "--split", "test", "--pair-policy", "prefer-strong", "--max-tokens", "48",
                    "--max-turns", "1", "--n-ctx", "2048", "-o", bank, "--json")
    summary = json.loads(result.stdout)
    assert [s["model"] for s in summary["solve"]] == ["smollm2-135m", "qwen2.5-coder-0.5b"]
    assert summary["contrast"]["pairs"] == 4
    work = tmp_path / "bank.work"
    log = [json.loads(line) for line in (work / "contrast-log.jsonl").read_text().splitlines()]
    assert len(log) == 4 and all(entry["reply"] for entry in log)
    assert bank.exists()
    assert summary["build"]["kept"] == len(bank.read_text().splitlines())
    invoke("bank", "validate", bank)
    invoke("bank", "show", bank)
    # contrast alone over the kept runs resumes: every pair is already in the log.
    runs = sorted((work / "runs").glob("*.jsonl"))
    again = invoke("contrast", *runs, "-s", "smollm2-135m", "-o", work / "constraints.jsonl",
                   "--pair-policy", "prefer-strong", "--n-ctx", "2048", "--json")
    assert json.loads(again.stdout)["resumed"] == 4


@pytest.mark.model
def test_eval_and_transfer_on_a_real_model(smollm2_path, tasks_file, tmp_path):
    bank = Path(__file__).parent / "data" / "tiny_bank.jsonl"
    outdir = tmp_path / "eval"
    # The hand-written bank has no labelling model: its tasks are labelled by the solver.
    result = invoke("eval", "-m", smollm2_path, "-b", tasks_file, "--bank", f"tiny={bank}", "--placebo",
                    "--max-tokens", "32", "--max-turns", "1", "--n-ctx", "2048", "-o", outdir,
                    "--routing", "self", "--json")
    report = json.loads(result.stdout)
    assert [c["name"] for c in report["conditions"]] == ["none", "tiny_bank", "placebo:tiny_bank"]
    md = invoke("transfer", "-m", smollm2_path, "-b", tasks_file, "--bank", f"tiny={bank}",
                "--max-tokens", "32", "--max-turns", "1", "--n-ctx", "2048", "-o", outdir,
                "--routing", "self", "--markdown")
    header, rule, *rows = [line for line in md.stdout.splitlines() if line.startswith("|")]
    assert header == "| model | none | tiny |"  # no memory first, the bank by its NAME
    assert rule == "|---|---:|---:|" and len(rows) == 1  # one model, one row


def test_grade_scores_existing_samples(tmp_path, tasks_file):  # no model: grading only
    samples = tmp_path / "samples.jsonl"
    samples.write_text('{"task_id": "a", "completion": "so \\\\boxed{5}"}\n'
                       '{"task_id": "b", "completion": "7"}\n')
    result = invoke("grade", samples, "-b", tasks_file, "--json")
    assert json.loads(result.stdout)["passed"] == 1
