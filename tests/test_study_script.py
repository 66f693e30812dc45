"""scripts/gsm8k-study.sh as a dry run (MC=echo): the commands it would run, in order."""

from __future__ import annotations

import gzip
import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "gsm8k-study.sh"


def dry_run(stage: str, tmp_path: Path, *args: str, **env) -> list[str]:
    env = {**os.environ, "MC": "echo", "DIR": str(tmp_path), **env}
    result = subprocess.run(["bash", str(SCRIPT), stage, *args], capture_output=True, text=True,
                            check=True, env=env)
    return result.stdout.splitlines()


def test_eval_measures_only_the_banks_built_so_far_in_blocks(tmp_path):
    (tmp_path / "collab-cross.jsonl").write_text("")
    lines = dry_run("eval", tmp_path, TEST_05="250", TEST_15="150")
    evals = [line for line in lines if line.startswith("eval -m")]
    assert [line.split(" -n ")[1].split()[0] for line in evals] == [
        "100", "100", "100", "100", "200", "200", "200", "150", "250", "250", "250", "150"]
    assert all("collab-same" not in line and "self-qwen05" not in line for line in evals)
    placebo = [line for line in evals if "--placebo" in line]
    assert len(placebo) == 6 and all("collab-cross=" in line for line in placebo)
    assert all("--examples" not in line for line in placebo)  # the other arms get no placebo
    assert lines[-2:] == [f"eval --from-runs {tmp_path}/eval/{m}.jsonl.gz -m {m}"
                          for m in ("qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b")]


def test_banks_share_one_runs_directory_and_the_summarizer(tmp_path):
    lines = dry_run("banks", tmp_path)
    assert len(lines) == 4
    assert all(f"--runs-dir {tmp_path}/runs" in line and "--summarizer qwen2.5-coder-1.5b" in line
               for line in lines)
    assert [line.split(" -n ")[1].split()[0] for line in lines] == ["500", "500", "300", "300"]


def test_side_runs_one_block_of_the_05bs_arms_in_dataset_order(tmp_path):
    (tmp_path / "collab-cross.jsonl").write_text("")
    lines = dry_run("side", tmp_path, "400", BLOCK="5")
    assert len(lines) == 3 and all(line.startswith("eval -m qwen2.5-coder-0.5b") for line in lines)
    assert all(f"-o {tmp_path}/eval-side" in line and " -n " not in line for line in lines)
    assert all(line.split("-o ")[1].split()[1:6] == [f"--id={i}" for i in range(400, 405)]
               for line in lines)
    assert "--placebo" in lines[0] and "--examples" in lines[1] and "--noise-floor" in lines[2]


def test_pack_folds_the_side_block_into_the_transcript(tmp_path):
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval-side").mkdir()
    model = "qwen2.5-coder-0.5b"
    with gzip.open(tmp_path / "eval" / f"{model}.jsonl.gz", "wt") as f:
        f.write('{"task_id": "0"}\n')
    (tmp_path / "eval-side" / f"{model}.jsonl").write_text('{"task_id": "400"}\n')
    (tmp_path / "eval-side" / f"{model}.jsonl.lock").write_text("")
    (tmp_path / "eval" / "labels.jsonl").write_text("a\n")
    (tmp_path / "eval-side" / "labels.jsonl").write_text("b\n")
    dry_run("pack", tmp_path)
    assert not (tmp_path / "eval-side").exists()
    with gzip.open(tmp_path / "eval" / f"{model}.jsonl.gz", "rt") as f:
        assert f.read() == '{"task_id": "0"}\n{"task_id": "400"}\n'
    assert (tmp_path / "eval" / "labels.jsonl").read_text() == "a\nb\n"
