"""The sandbox against hostile programs: each must end in seconds and leave the machine intact."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from memcollab_cli.errors import MemcollabError
from memcollab_cli.tasks import _jail, execution
from memcollab_cli.tasks.execution import isolation, run_python, run_tests


def _named(tag: str) -> set[int]:
    """Live processes whose name (/proc/PID/comm) is `tag`: other runs on the machine never match."""
    found = set()
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "comm").read_text().strip() == tag:
                found.add(int(entry.name))
        except OSError:
            continue
    return found


def _name_self(tag: str) -> str:
    return f"import ctypes\nctypes.CDLL(None).prctl(15, {tag.encode()!r}, 0, 0, 0)\n"  # PR_SET_NAME


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
    tag = f"mcbomb{os.getpid() % 100000}"
    # Never run this outside the sandbox: it refuses the first fork, so nothing multiplies.
    r = run_python(_name_self(tag) + "import os\nwhile True:\n    os.fork()", timeout=3)
    assert r.status == "error" and "Resource temporarily unavailable" in r.stderr
    r = run_python(
        _name_self(tag) + "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass",
        timeout=1,
    )
    assert r.status == "timeout"
    # The jail's processes die with it, but asynchronously: give the kernel a moment.
    deadline = time.monotonic() + 5
    while _named(tag) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _named(tag) == set()


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


@pytest.mark.skipif("seccomp" not in isolation(), reason="needs libseccomp to refuse sockets")
def test_network_is_unreachable():
    r = run_python("import socket\nsocket.create_connection(('1.1.1.1', 80), timeout=3)")
    assert r.status == "error" and "PermissionError" in r.stderr


def test_parent_survives_kill_of_its_parent():
    # Inside a PID namespace getppid() is the namespace's init; in plain mode seccomp refuses it.
    r = run_python("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nprint('done')")
    assert r.status in {"ok", "error", "killed"}  # and we are still here to assert it


@pytest.mark.skipif(not isolation().startswith("bwrap"), reason="only bwrap hides the filesystem")
def test_writes_outside_the_work_dir_do_not_reach_the_real_files(tmp_path):
    real = tmp_path / "real.txt"
    real.write_text("original")
    r = run_python(f"open({str(real)!r}, 'w').write('changed')")
    assert real.read_text() == "original"  # /tmp is private to the jail
    repo_file = Path(__file__).resolve()
    r = run_python(f"open({str(repo_file)!r}, 'a').write('# changed')")
    assert r.status == "error" and "No such file or directory" in r.stderr  # the tree is not shown
    r = run_python("open('/usr/memcollab-sandbox-test', 'w').write('x')")
    assert r.status == "error" and "Read-only file system" in r.stderr
    r = run_python("open('/etc/memcollab-sandbox-test', 'w').write('x')")
    assert r.status == "error" and not Path("/etc/memcollab-sandbox-test").exists()


@pytest.mark.skipif(not isolation().startswith("bwrap"), reason="only bwrap hides the filesystem")
def test_the_jail_shows_python_but_not_homes_or_secrets():
    r = run_python(
        "import os, sys\n"
        "print(sorted(os.listdir('/')), os.path.exists('/etc/shadow'), os.path.exists('/etc/passwd'))\n"
        "print(os.path.isdir(sys.base_prefix), os.getuid())"
    )
    top, shadow, passwd = r.stdout.splitlines()[0].rsplit(" ", 2)
    assert "home" not in top and (shadow, passwd) == ("False", "False")
    assert r.stdout.splitlines()[1] == "True 65534"
    hidden = [p for p in ("/root/.bashrc", "/home", str(Path(__file__).parent)) if os.path.exists(p)]
    r = run_python(f"import os\nprint([p for p in {hidden!r} if os.path.exists(p)])")
    assert r.stdout == "[]\n"


@pytest.mark.skipif(not isolation().startswith("bwrap"), reason="bwrap only")
def test_tmp_is_a_small_tmpfs():
    # Many files under the per-file limit: only the tmpfs size stops them.
    r = run_python("for i in range(10):\n    open(f'/tmp/big{i}', 'wb').write(b'x' * (10 * 2**20))")
    assert r.status == "error" and "No space left on device" in r.stderr


@pytest.mark.skipif(not isolation().startswith("bwrap"), reason="bwrap only")
def test_bwrap_runs_an_interpreter_that_lives_under_tmp(tmp_path, monkeypatch):
    # The jail's private /tmp used to hide such an interpreter, and the probe fell back silently.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    copy = bin_dir / "python3"
    copy.write_bytes(Path(_jail.interpreter()).read_bytes())
    copy.chmod(0o755)
    monkeypatch.setattr(_jail, "interpreter", lambda: str(copy))
    r = run_python("import sys\nprint(sys.executable)")
    assert (r.status, r.stdout) == ("ok", f"{copy}\n"), r.stderr


def test_working_directory_is_private_and_writable():
    r = run_python("import os\nopen('out.txt', 'w').write('x')\nprint(sorted(os.listdir('.')))")
    assert r.status == "ok" and r.stdout == "['main.py', 'out.txt']\n"


def test_every_offered_mode_runs_a_program_and_a_weaker_one_warns_once(monkeypatch, capfd):
    for mode in _jail.offered():
        monkeypatch.setenv("MEMCOLLAB_SANDBOX", mode)
        _jail.reset()
        r = run_python("print(6 * 7)")
        run_python("pass")
        assert (r.status, r.stdout, r.isolation.split("+")[0]) == ("ok", "42\n", mode)
        assert capfd.readouterr().err.count("memcollab: warning:") == (mode != "bwrap")
    _jail.reset()


def test_a_mode_that_does_not_work_is_an_error_not_a_silent_fallback(monkeypatch):
    monkeypatch.setenv("MEMCOLLAB_SANDBOX", "unshare")
    monkeypatch.setattr(_jail, "_works", lambda mode: False)
    _jail.reset()
    try:
        with pytest.raises(MemcollabError, match="MEMCOLLAB_SANDBOX=unshare does not work"):
            run_python("pass")
    finally:
        _jail.reset()


def test_root_never_falls_back_on_running_code_as_root(monkeypatch):
    monkeypatch.delenv("MEMCOLLAB_SANDBOX", raising=False)
    monkeypatch.setattr(_jail, "_works", lambda mode: False)
    monkeypatch.setattr(_jail.os, "geteuid", lambda: 0)
    monkeypatch.setattr(_jail, "identity", lambda mode: None)  # uid 65534 cannot reach Python
    _jail.reset()
    try:
        with pytest.raises(MemcollabError, match="no sandbox can run model code safely"):
            _jail.choose(None)
        monkeypatch.setattr(_jail, "identity", lambda mode: (65534, 65534))  # it can: plain drops
        _jail.reset()
        assert _jail.choose(None) == "plain"
    finally:
        _jail.reset()


def test_unknown_sandbox_name_is_an_error(monkeypatch):
    monkeypatch.setenv("MEMCOLLAB_SANDBOX", "docker")
    with pytest.raises(MemcollabError, match="use bwrap, unshare or plain"):
        run_python("pass")


# ---- graded runs: the harness, its completion marker, and the harness's own signal ----------


def test_run_tests_marks_completion_only_at_the_end():
    ok = run_tests("def f(x):\n    return x + 1\n", "assert f(1) == 2\n")
    assert (ok.status, ok.completed) == ("ok", True)
    wrong = run_tests("def f(x):\n    return x\n", "assert f(1) == 2\n")
    assert (wrong.status, wrong.completed) == ("error", False) and "AssertionError" in wrong.stderr
    for trick in ("import os\nos._exit(0)", "import sys\nsys.exit(0)", "raise SystemExit",
                  "import os\nos.execv('/bin/true', ['true'])"):
        r = run_tests(trick + "\ndef f(x):\n    return x\n", "assert f(1) == 2\n")
        assert not r.completed, trick


def test_the_tests_are_not_in_any_file_the_solution_can_read():
    probe = ("import glob\ndef f(x):\n    text = ''.join(open(p, errors='replace').read() "
             "for p in glob.glob('*') + ['/proc/self/cmdline'])\n    return 'SECRET-' + 'ASSERT' in text\n")
    r = run_tests(probe, "assert f(1) == False  # SECRET-ASSERT\n")
    assert r.completed, r.stderr


def test_a_failure_shows_the_failing_test_line():
    r = run_tests("def f(x):\n    return 0\n", "x = 1\nassert f(x) == 1, 'f(1) should be 1'\n")
    assert "assert f(x) == 1, 'f(1) should be 1'" in r.stderr and r.stderr.endswith("f(1) should be 1\n")


def test_a_program_imitating_the_harness_does_not_crash_the_grader():
    r = run_python("import sys\nsys.stderr.write('sandbox: seccomp_load failed\\n')\nsys.exit(1)")
    assert r.status == "error" and r.stderr.startswith("sandbox: ")


def test_a_sandbox_that_cannot_start_is_an_error(monkeypatch):
    monkeypatch.setattr(execution, "_BOOTSTRAP", "import sys\nsys.exit('bootstrap: no seccomp here')")
    with pytest.raises(RuntimeError, match="could not start: bootstrap: no seccomp here"):
        run_python("print(1)")


# ---- orphans: the program dies with its grader -------------------------------------------------


def _descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if fields[0] != "Z":
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.add(pid)
    return alive


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT])
def test_killing_the_grader_leaves_no_sandboxed_program(how):
    grader = subprocess.Popen(
        [sys.executable, "-c",
         # Ctrl-C as in a terminal, even where this run inherited SIGINT ignored (nohup, `&`)
         "import signal; signal.signal(signal.SIGINT, signal.default_int_handler)\n"
         "from memcollab_cli.tasks import run_python\n"
         "print(run_python('import time\\ntime.sleep(60)', timeout=60), flush=True)"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        # Wait until the program itself runs: the grader, the jail, the interpreter.
        while len(_descendants(grader.pid)) < (1 if isolation().startswith("plain") else 2):
            assert time.monotonic() < deadline and grader.poll() is None, grader.stderr.read()
            time.sleep(0.1)
        time.sleep(0.5)
        sandboxed = _descendants(grader.pid)
        os.kill(grader.pid, how)
        grader.wait(timeout=10)
        deadline = time.monotonic() + 5
        while _alive(sandboxed) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _alive(sandboxed) == set()
    finally:
        grader.kill()



def test_unshare_covers_homes_and_the_project_but_keeps_the_interpreter(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMCOLLAB_HOME", str(tmp_path / "mc"))
    (tmp_path / "mc").mkdir()
    monkeypatch.chdir(tmp_path)
    plan = _jail.covers("unshare", "/tmp/memcollab-run-x/work")
    project = str(Path(__file__).resolve().parents[1])
    assert {os.path.realpath(tmp_path), project} <= set(plan["hide"])  # cwd (holding mc) and the tree
    assert "/" not in plan["hide"] and "/usr" not in plan["hide"]
    assert plan["keep"][-1] == "/tmp/memcollab-run-x/work" and _jail.interpreter().startswith(plan["keep"][0])
    assert plan["scratch"]["dirs"][0] == "/tmp" and _jail.covers("bwrap", "/x") == {}


@pytest.mark.skipif(not isolation().startswith("bwrap"), reason="bwrap only")
def test_kernel_interfaces_are_read_only_and_root_hands_over_to_an_unprivileged_uid():
    # Issue 27: bwrap run by root mapped the jail's nobody to host uid 0 (core_pattern writable).
    r = run_python(
        "import os\n"
        "print(sorted(l.split()[4] + ' ' + l.split()[5].split(',')[0] for l in open('/proc/self/mountinfo')\n"
        "             if l.split()[4] in ('/proc/sys', '/proc/pressure')))\n"
        "print(os.getresuid(), open('/proc/self/uid_map').read().split())\n"
        "try:\n    os.close(os.open('/proc/sys/kernel/core_pattern', os.O_WRONLY))\n    print('opened')\n"
        "except OSError as e:\n    print(e.errno)"
    )
    mounts, ids, opened = r.stdout.splitlines()
    assert "'/proc/sys ro'" in mounts, r.stdout + r.stderr
    assert opened in ("13", "30")  # EACCES (not the owner) or EROFS (the read-only bind)
    if os.geteuid() == 0:  # no user namespace: the real host identity is 65534
        assert ids == "(65534, 65534, 65534) ['0', '0', '4294967295']"
