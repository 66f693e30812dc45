"""The sandbox against hostile programs: each must end in seconds and leave the machine intact."""

import os
import time
import warnings
from pathlib import Path

import pytest

from memcollab_cli.tasks import execution
from memcollab_cli.tasks.execution import isolation, run_python


def _sandbox_processes() -> set[int]:
    """Processes that belong to some sandbox run (by their cwd or command line)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if b"memcollab-run-" in cmdline or "memcollab-run-" in cwd:
            found.add(int(entry.name))
    return found


def test_ok_stdout_stdin_and_isolation_name():
    r = run_python("import sys\nprint('hi', sys.stdin.read())", stdin="there")
    assert (r.status, r.returncode, r.stdout, r.ok) == ("ok", 0, "hi there\n", True)
    assert r.isolation == isolation() and r.isolation.split("+")[0] in {"bwrap", "unshare", "plain"}


def test_error_keeps_the_traceback():
    r = run_python("def f():\n    return 1 / 0\nf()")
    assert r.status == "error" and r.returncode == 1
    assert "ZeroDivisionError" in r.stderr and "main.py" in r.stderr


def test_infinite_loop_times_out():
    r = run_python("while True:\n    pass", timeout=1)
    assert r.status == "timeout" and r.seconds < 5


def test_sleeping_program_times_out_on_the_wall_clock():
    r = run_python("import time\ntime.sleep(60)", timeout=1)
    assert r.status == "timeout" and r.seconds < 5


@pytest.mark.skipif("seccomp" not in isolation(), reason="needs libseccomp to refuse new processes")
def test_fork_bomb_fails_cleanly_and_leaves_no_processes():
    before = _sandbox_processes()
    # Never run this outside the sandbox: it refuses the first fork, so nothing multiplies.
    r = run_python("import os\nwhile True:\n    os.fork()", timeout=3)
    assert r.status == "error" and "Resource temporarily unavailable" in r.stderr
    r = run_python(
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass",
        timeout=1,
    )
    assert r.status == "timeout"
    # The jail's processes die with it, but asynchronously: give the kernel a moment.
    deadline = time.monotonic() + 5
    while _sandbox_processes() - before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _sandbox_processes() - before == set()


@pytest.mark.skipif("seccomp" not in isolation(), reason="needs libseccomp")
def test_subprocesses_are_refused_but_threads_work():
    r = run_python("import subprocess\nsubprocess.run(['true'])")
    assert r.status == "error" and "BlockingIOError" in r.stderr
    r = run_python(
        "import threading\nt = threading.Thread(target=print, args=('t',))\nt.start()\nt.join()"
    )
    assert r.status == "ok" and r.stdout == "t\n"


def test_memory_hog_is_stopped():
    r = run_python("x = []\nwhile True:\n    x.append(' ' * 10**7)", memory_mb=256, timeout=5)
    assert r.status in {"error", "killed"} and r.status != "timeout"
    assert "MemoryError" in r.stderr or r.status == "killed"


def test_huge_output_is_truncated():
    r = run_python("print('x' * 1_000_000)")
    assert r.status == "ok" and len(r.stdout) < 2 * execution.OUTPUT_LIMIT


@pytest.mark.skipif(isolation().startswith("plain"), reason="no network namespace here")
def test_network_is_unreachable():
    r = run_python("import socket\nsocket.create_connection(('1.1.1.1', 80), timeout=3)")
    assert r.status == "error" and "OSError" in r.stderr


def test_parent_survives_kill_of_its_parent():
    # Inside a PID namespace getppid() is the namespace's init; in plain mode seccomp refuses it.
    r = run_python("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nprint('done')")
    assert r.status in {"ok", "error", "killed"}  # and we are still here to assert it


@pytest.mark.skipif(not isolation().startswith("bwrap"), reason="only bwrap gives a read-only root")
def test_writes_outside_the_work_dir_do_not_reach_the_real_files(tmp_path):
    real = tmp_path / "real.txt"
    real.write_text("original")
    r = run_python(f"open({str(real)!r}, 'w').write('changed')")
    assert real.read_text() == "original"  # /tmp is private to the jail
    repo_file = Path(__file__).resolve()
    r = run_python(f"open({str(repo_file)!r}, 'a').write('# changed')")
    assert r.status == "error" and "Read-only file system" in r.stderr
    r = run_python("open('/etc/memcollab-sandbox-test', 'w').write('x')")
    assert r.status == "error" and not Path("/etc/memcollab-sandbox-test").exists()


def test_working_directory_is_private_and_writable():
    r = run_python("import os\nopen('out.txt', 'w').write('x')\nprint(sorted(os.listdir('.')))")
    assert r.status == "ok" and r.stdout == "['main.py', 'out.txt']\n"


def test_other_modes_run_a_program(monkeypatch):
    for mode in ("plain", "unshare"):
        monkeypatch.setenv("MEMCOLLAB_SANDBOX", mode)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # unshare may be unavailable and fall back to plain
            r = run_python("print(6 * 7)")
        assert r.status == "ok" and r.stdout == "42\n"


def test_unknown_sandbox_name_is_an_error(monkeypatch):
    monkeypatch.setenv("MEMCOLLAB_SANDBOX", "docker")
    with pytest.raises(execution.MemcollabError, match="use bwrap, unshare or plain"):
        run_python("pass")
