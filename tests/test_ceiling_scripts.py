"""scripts/gsm8k-ceiling.sh and scripts/code-study.sh as dry runs (MC=echo): the commands they
would run, in order, with the arms the pre-registrations name."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


def dry_run(script: str, *args: str, **env) -> list[str]:
    env = {**os.environ, "MC": "echo", **env}
    done = subprocess.run(["bash", str(SCRIPTS / script), *args], capture_output=True, text=True,
                          env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def sizes(lines: list[str]) -> list[str]:
    return [line.split(" -n ")[1].split()[0] for line in lines]


def test_the_gsm8k_ceiling_runs_the_oracle_and_its_placebo_in_blocks():
    lines = dry_run("gsm8k-ceiling.sh", "05", TEST_05="250")
    assert sizes(lines) == ["100", "200", "250"]
    assert all("-m qwen2.5-coder-0.5b" in line and "--routing gold" in line and "--placebo" in line
               and "--gold banks/gsm8k/gold/applies.jsonl" in line for line in lines)
    assert sizes(dry_run("gsm8k-ceiling.sh", "15")) == ["100", "200", "300"]
    rule = dry_run("gsm8k-ceiling.sh", "rule", "15")
    assert all("--routing global" in line and "--placebo" not in line for line in rule)
    floor = dry_run("gsm8k-ceiling.sh", "floor", "05")
    assert sizes(floor) == ["100", "200", "300", "400", "500", "600"]
    assert all("--noise-floor" in line and "--bank" not in line for line in floor)


def test_the_gsm8k_ceiling_refuses_an_unknown_model():
    done = subprocess.run(["bash", str(SCRIPTS / "gsm8k-ceiling.sh"), "rule", "7b"],
                          capture_output=True, text=True, env={**os.environ, "MC": "echo"})
    assert done.returncode == 2 and "05 or 15" in done.stderr


@pytest.mark.parametrize("stage,model,expected", [
    ("runs", "", ["qwen2.5-coder-0.5b", "smollm2-135m", "qwen2.5-coder-1.5b"]),
    ("runs", "smol", ["smollm2-135m"]),
])
def test_the_code_study_runs_every_training_model(stage, model, expected):
    lines = dry_run("code-study.sh", stage, *([model] if model else []), MEMCOLLAB_MBPP="/m")
    assert [line.split(" -m ")[1].split()[0] for line in lines] == expected
    assert all("-b mbpp --split train+validation" in line and "--mbpp-dir /m" in line
               for line in lines)


def test_the_code_ceiling_matches_its_pre_registration():
    lines = dry_run("code-study.sh", "ceiling", MEMCOLLAB_MBPP="/m")
    runs = [(line.split(" -m ")[1].split()[0], line.split(" -b ")[1].split()[0]) for line in lines]
    assert sorted(set(runs)) == [("qwen2.5-coder-0.5b", "humaneval"), ("qwen2.5-coder-0.5b", "mbpp"),
                                 ("qwen2.5-coder-1.5b", "humaneval")]
    assert sizes([line for line in lines if "-b mbpp" in line])[-1] == "200"
    assert sizes([line for line in lines if "-b humaneval" in line])[-1] == "164"
    assert all("--routing gold" in line and "--placebo" in line for line in lines)
    baseline = dry_run("code-study.sh", "baseline", "05", MEMCOLLAB_MBPP="/m")
    assert all("--noise-floor" in line for line in baseline)
    assert sizes([line for line in baseline if "-b mbpp" in line])[-1] == "500"


def test_the_code_rule_arm_covers_the_ceilings_tasks_without_an_oracle():
    ceiling = dry_run("code-study.sh", "ceiling", MEMCOLLAB_MBPP="/m")
    rule = dry_run("code-study.sh", "rule", MEMCOLLAB_MBPP="/m")
    where = [(line.split(" -m ")[1].split()[0], line.split(" -b ")[1].split()[0], line.split(" -n ")[1])
             for line in rule]
    assert where == [(line.split(" -m ")[1].split()[0], line.split(" -b ")[1].split()[0],
                      line.split(" -n ")[1].split()[0]) for line in ceiling]
    assert all("--routing global" in line and "--placebo" not in line and "--gold" not in line
               for line in rule)
