"""Issue 27: `grade` and the code extractor on hostile text. Every line comes back, a bad one as
failed with a one-line reason, parsing is linear, and time and memory stay bounded (measured and
printed: `pytest -s tests/test_grade_fuzz.py`)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from memcollab_cli.tasks import Task, check_code, extract_code
from memcollab_cli.tasks.codecheck import MAX_CODE_CHARS, complete_solution, refusal
from memcollab_cli.use.grade import MAX_LINE_BYTES

PROJECT = Path(__file__).resolve().parents[1]
TASK = {"id": "add", "question": "Write add(a, b).", "entry_point": "add", "domain": "code",
        "tests": "assert add(2, 3) == 5\n"}  # fmt: skip
HONEST = "def add(a, b):\n    return a + b\n"

# name -> completion (a str), or raw bytes for a line that is not a sample at all
HOSTILE_TEXT = {
    "lone surrogate": "def add(a, b):\n    return 0  # x\udcff\n",
    "lone surrogate in a fence": "```python\ndef add(a, b):\n    return '\ud800'\n```",
    "NUL bytes": "def add(a, b):\x00\n    return a + b\x00\n",
    "200k minus signs": "-" * 200_000 + "1",
    "deep parentheses": "x = " + "(" * 100_000 + ")" * 100_000,
    "deep brackets in a fence": "```\n" + "[" * 50_000 + "]" * 50_000 + "\n```",
    "long sum": "def add(a, b):\n    return " + "1 + " * 60_000 + "1\n",
    "unclosed fences (was 42 s)": ("```" + "a" * 2000) * 120,
    "one 250 kB line of backticks and words": "```python " + "a` " * 83_000,
    "over the code limit": "def add(a, b):\n    return a + b\n" + "#" * (MAX_CODE_CHARS + 10),
    "6 MB completion (over the line limit)": "x" * 6_000_000,
    "a prompt of only fences": "```\n```\n" * 20_000,
    "completion not a string": b'{"task_id": "add", "completion": ["def add(a, b): return a + b"]}\n',
    "not JSON": b'{"task_id": "add", "completion": \n',
    "not UTF-8": b'{"task_id": "add", "completion": "caf\xe9"}\n',
    "JSON nested 100k deep": b"[" * 100_000 + b"]" * 100_000 + b"\n",
    "a JSON array": b'["add", "def add(a, b): return a + b"]\n',
    "NUL byte line": b"\x00" * 1000 + b"\n",
}


def _samples(path: Path) -> list[str]:
    names, lines = [], []
    for name, text in [("honest first", HONEST), *HOSTILE_TEXT.items(), ("honest last", HONEST)]:
        names.append(name)
        if isinstance(text, bytes):
            lines.append(text)
        else:
            lines.append((json.dumps({"task_id": "add", "completion": text, "name": name}) + "\n").encode())
    path.write_bytes(b"".join(lines))
    return names


def test_grade_writes_back_every_line_with_a_reason_in_bounded_time_and_memory(tmp_path):
    tasks, samples, out = tmp_path / "tasks.jsonl", tmp_path / "samples.jsonl", tmp_path / "out.jsonl"
    tasks.write_text(json.dumps(TASK) + "\n")
    names = _samples(samples)
    code = ("from memcollab_cli.use.grade import grade_samples\n"
            f"grade_samples({str(tasks)!r}, {str(samples)!r}, {str(out)!r}, timeout=3)\n")  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.monotonic() - start
    stderr = proc.stderr.read()
    peak_mib = usage.ru_maxrss / 1024  # KiB on Linux; the grader and the sandboxes it reaped
    print(f"\nfuzz grade: {len(names)} lines ({samples.stat().st_size / 2**20:.1f} MiB) in {seconds:.1f} s, "
          f"peak RSS {peak_mib:.0f} MiB")  # fmt: skip
    assert os.waitstatus_to_exitcode(status) == 0, stderr[-3000:]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == len(names)  # every line written back, in order
    for name, row in zip(names, rows, strict=True):
        print(f"  {name}: {row['result'][:110]}")
        assert "\n" not in row["result"]
        if name.startswith("honest"):
            assert row["passed"], row["result"]
        else:
            assert not row["passed"] and row["result"], name
    by_line = {r.get("name") or f"line {r.get('line')}": r for r in rows}
    assert by_line["lone surrogate"]["result"].startswith("error: refused: not valid Unicode")
    assert by_line["over the code limit"]["result"].startswith("error: refused:")
    assert rows[names.index("6 MB completion (over the line limit)")]["result"] == (
        f"error: line over {MAX_LINE_BYTES} bytes: refused")
    assert "Traceback" not in stderr
    assert seconds < 120 and peak_mib < 1024


def test_the_extractor_is_linear_on_pathological_fences():
    # The quadratic pattern took 42 s on the first input and about 12 minutes on a 1 MB line; a
    # linear scan takes milliseconds. The bound is loose so a loaded CI machine cannot fail it.
    for text in [("```" + "a" * 2000) * 120, ("```" + "a" * 2000) * 500, "```py " + "`" * 1_000_000,
                 "```\n" * 300_000, ("`" * 2 + "a") * 300_000]:  # fmt: skip
        start = time.monotonic()
        extract_code(text)
        extract_code(text, require_block=True)
        assert time.monotonic() - start < 10.0, len(text)


def test_the_extractor_keeps_what_the_old_pattern_found():
    reply = "Here:\n```python\ndef f():\n    return 1\n```\nand\n```js\nx\n```\n```\ndef g():\n    pass\n"
    assert extract_code(reply) == "def g():\n    pass\n"  # the last python block, an unclosed one too
    assert extract_code("```python\n```\n```py3 extra\ndef h(): pass\n```") is None  # py3 is no language of ours
    assert extract_code("text ```python\ndef k():\n    return 2\n``` more") == "def k():\n    return 2\n"


@pytest.mark.parametrize("text", ["-" * 200_000 + "1", "(" * 100_000, "x\udcff", "a\x00b", "lambda: " * 50_000])
def test_the_syntax_checks_never_raise(text):
    task = Task(id="t", benchmark="humaneval", domain="code", question="def f():\n", entry_point="f", tests="")
    complete_solution(task, text)  # the function-name check parses
    extract_code("def f():\n" + text)
    assert isinstance(refusal(text), str)


def test_random_hostile_text_never_raises():
    rng = random.Random(27)
    alphabet = ["`", "```", "\n", " ", "def ", "class ", "(", ")", "[", "\x00", "\udcff", "\ud800", "é", "a", ":",
                "python", "    ", "import ", "from x import ", "@", "\t", "\r"]  # fmt: skip
    task = Task(id="t", benchmark="humaneval", domain="code", question="def f():\n", entry_point="f", tests="")
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 400)))
        code = extract_code(text)
        complete_solution(task, code or text)
        refusal(text)


def test_check_code_refuses_text_it_cannot_write():
    task = Task(id="t", benchmark="t", domain="code", question="?", entry_point="f", tests="assert f() == 1\n")
    v = check_code(task, "def f():\n    return 1  # \udcff\n")
    assert (v.correct, v.verdict) == (False, "error") and "lone surrogate" in v.detail
