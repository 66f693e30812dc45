"""The GPU-run tooling, on CPU: bench/scaling.py's table on smollm2-135m with tiny N, its parser
for llama-batched-bench, and scripts/gpu-run.py planning, packing and resuming a study."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

BATCHED_BENCH = """
main: n_kv_max = 2048, n_batch = 2048, n_ubatch = 512, flash_attn = 1, is_pp_shared = 0

|    PP |     TG |    B |   N_KV |   T_PP s | S_PP t/s |   T_TG s | S_TG t/s |      T s |    S t/s |
|-------|--------|------|--------|----------|----------|----------|----------|----------|----------|
|   128 |    128 |    1 |    256 |    0.108 |  1186.64 |    3.079 |    41.57 |    3.187 |    80.32 |
|   128 |    128 |    8 |   2048 |    0.751 |  1363.27 |    7.344 |   139.43 |    8.095 |   252.99 |

llama_perf_context_print:        load time =     123.45 ms
"""


def _module(relative: str):
    path = ROOT / relative
    spec = importlib.util.spec_from_file_location(path.stem.replace("-", "_"), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_parse_batched_bench_table():
    rows = _module("bench/scaling.py").parse_batched_bench(BATCHED_BENCH)
    assert sorted(rows) == [1, 8]
    assert rows[8]["S_TG t/s"] == 139.43 and rows[1]["PP"] == 128


@pytest.mark.model
def test_scaling_table_on_cpu(smollm2_path, capsys):
    scaling = _module("bench/scaling.py")
    assert scaling.main(["-m", str(smollm2_path), "--parallel", "1", "2", "--max-tokens", "8",
                         "--n-ctx", "1024", "--threads", "1", "--json"]) == 0
    cells = json.loads(capsys.readouterr().out)["cells"]
    assert [c["parallel"] for c in cells] == [1, 2]
    for c in cells:
        assert 0 < c["engine"]["tokens"] <= 8 * c["parallel"]
        assert 0 < c["reference"]["tokens"] <= 8 * c["parallel"]
        assert c["engine"]["tok_per_s"] > 0 and c["ratio"] > 0 and c["gpu_offload"] is False


@pytest.mark.model
def test_gpu_run_plans_packs_and_resumes(smollm2_path, tmp_path, monkeypatch):
    gpu_run = _module("scripts/gpu-run.py")
    first, second = tmp_path / "out1", tmp_path / "out2"
    common = ["--allow-cpu", "--plan-only", "--scaling-models", "smollm2-135m",
              "--scaling-parallel", "1", "2", "--scaling-max-tokens", "4"]
    monkeypatch.setenv("MEMCOLLAB_THREADS", "1")
    try:
        assert gpu_run.main([*common, "--state", str(tmp_path / "a" / "state"), "--out", str(first)]) == 0
    except SystemExit as e:
        if e.code != 2:
            raise
        pytest.skip("a catalog model is not pulled here (gpu-run's preflight)")
    progress = json.loads((first / "progress.json").read_text())
    assert progress["parallel"] in (1, 2) and progress["rate_tok_s"] > 0
    plan = (first / "plan.md").read_text()
    assert plan.count("| bank ") == 12 and plan.count("| eval ") == 8
    assert sorted(p.name for p in first.iterdir())[:2] == ["plan.md", "progress.json"]
    # the next window starts from what came back, without measuring again
    assert gpu_run.main([*common, "--state", str(tmp_path / "b" / "state"), "--out", str(second),
                         "--resume-from", str(first)]) == 0
    assert (tmp_path / "b" / "state" / "scaling.json").read_text() == \
        (tmp_path / "a" / "state" / "scaling.json").read_text()
    assert json.loads((second / "progress.json").read_text())["parallel"] == progress["parallel"]
    assert (second / "results.md").read_text().startswith("Device: CPU")


def test_gpu_run_reports_every_eval_file(tmp_path):
    gpu_run = _module("scripts/gpu-run.py")
    (tmp_path / "eval" / "gsm8k").mkdir(parents=True)
    shutil.copy(ROOT / "banks" / "pilot" / "transfer" / "qwen2.5-coder-0.5b.jsonl", tmp_path / "eval" / "gsm8k")
    gpu_run.summarize(tmp_path)
    rows = [line for line in (tmp_path / "results.md").read_text().splitlines()
            if line.startswith("| gsm8k | qwen2.5-coder-0.5b |")]
    assert rows and rows[0].split(" | ")[2] == "none" and " | 100 | " in rows[0]
    assert all(line.count("|") == 8 for line in rows)
