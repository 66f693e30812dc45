"""Run untrusted Python (model-written code, benchmark tests) in a child process, in layers.

Layers, outermost first:
- a jail (`_jail`): bwrap by default, showing the program only what Python needs; `unshare` or
  nothing where bwrap cannot run, with one warning on stderr.
- a bootstrap interpreter (`_bootstrap.py`) that arms a parent-death signal, sets rlimits
  (address space, CPU, file size, open files, no core dumps) and a seccomp filter (no new
  processes, signals only to itself, no mounts, namespaces, ptrace or sockets), then execs
  `python -I` on the program. It reports "ready" on a pipe it closes before the exec: that pipe,
  not the program's output, is how the grader knows the sandbox started.
- for graded runs, a test harness (`_harness.py`) that gets the hidden tests and a per-run secret
  through a file descriptor closed before the solution runs, and writes the secret to a second
  descriptor only after the last test: `completed` in the result.
- a fresh private working directory, a scrubbed environment, a wall-clock timeout, and SIGKILL
  to the whole process group when it runs out or the caller is interrupted.

What it leaves out is in docs/sandbox.md (threat model and measured containment).
`isolation` in every result says which layers were in force.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import select
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from memcollab_cli.tasks import _cgroup, _jail

OUTPUT_LIMIT = 4096  # characters kept of stdout and stderr each (head and tail)
THREAD_LIMIT = 256  # RLIMIT_NPROC, and pids.max where there is a cgroup: threads of one program
_OUTPUT_FILE_LIMIT = 16 * 1024 * 1024  # RLIMIT_FSIZE: a print loop can't fill the disk


@dataclass(frozen=True)
class ExecResult:
    """How a program ended.

    status: "ok" (exit 0), "error" (non-zero exit), "timeout" (wall or CPU limit), "killed" (a
    signal, e.g. SIGKILL or SIGSEGV). returncode follows subprocess: negative for a signal.
    completed: the test harness ran every test to its end (`run_tests` only; an exit status of 0
    alone proves nothing).
    """

    status: str
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    isolation: str
    completed: bool = False

    @property
    def ok(self) -> bool:
        return self.status == "ok"


_HERE = Path(__file__).parent
_BOOTSTRAP = (_HERE / "_bootstrap.py").read_text(encoding="utf-8")
# The harness runs in a namespace of its own with a private copy of the builtins, and `__main__`
# is an empty module before any solution code runs: `import __main__` or `builtins.dict = ...`
# from the program reaches nothing the harness uses.
_HARNESS = (
    "import builtins, sys, types\n"
    "_harness = {'__builtins__': dict(builtins.__dict__), '__name__': '_memcollab_harness'}\n"
    f"exec(compile({(_HERE / '_harness.py').read_text(encoding='utf-8')!r}, '<harness>', 'exec'), _harness)\n"
    "sys.modules['__main__'] = types.ModuleType('__main__')\n"
    "_harness['main']()\n"
)


def _seccomp_available() -> bool:
    return _jail.seccomp_available()


def isolation() -> str:
    """The isolation `run_python` uses here, e.g. "bwrap+seccomp", "unshare+seccomp", "plain"."""
    mode = _jail.choose(os.environ.get("MEMCOLLAB_SANDBOX") or None)
    return mode + ("+seccomp" if _seccomp_available() else "")


def _truncate(text: str, limit: int = OUTPUT_LIMIT) -> str:
    # Keep the head (what ran first) and the tail (where a traceback ends).
    if len(text) <= limit:
        return text
    head, tail = limit // 4, limit - limit // 4
    return f"{text[:head]}\n... [{len(text) - limit} characters cut] ...\n{text[-tail:]}"


def _read_output(path: str) -> str:
    # RLIMIT_FSIZE bounds the file, so reading it whole is safe.
    with open(path, "rb") as fh:
        return _truncate(fh.read().decode("utf-8", errors="replace"))


def run_python(
    code: str, *, timeout: float = 10, memory_mb: int = 1024, stdin: str = ""
) -> ExecResult:
    """Run `code` as a Python program in the sandbox and report how it ended.

    The program is `main.py` in a fresh temporary directory, which is also its working and home
    directory; it is deleted afterwards. Nothing raised here depends on what the program does.
    """
    return _run(code, None, timeout=timeout, memory_mb=memory_mb, stdin=stdin)


def run_tests(
    solution: str, tests: str, *, setup: str = "", timeout: float = 10, memory_mb: int = 1024,
    entry_point: str = "", helpers: str = "",
) -> ExecResult:
    """Run `solution` (as main.py), then `setup`, then `tests`, in one namespace, in the sandbox.

    `completed` is True only when the harness reached the end of the tests and said so with this
    run's secret; the tests themselves never sit in a file the solution can read. `entry_point`:
    the function under test (its calls must return plain values; it may shadow a builtin).
    `helpers`: trusted prompt code whose names the tests see instead of the solution's.
    """
    secret = secrets.token_hex(16)
    payload = json.dumps({"secret": secret, "tests": tests, "setup": setup, "entry_point": entry_point,
                          "helpers": helpers})  # fmt: skip
    return _run(solution, (payload, secret), timeout=timeout, memory_mb=memory_mb, stdin="")


def _config(iso: str, timeout: float, memory_mb: int, status_fd: int, covers: dict, cgroup_fds: list) -> str:
    mode = iso.split("+")[0]
    cpu = max(1, math.ceil(timeout))
    rlimits = {
        "RLIMIT_AS": [memory_mb * 1024 * 1024] * 2,
        "RLIMIT_CPU": [cpu, cpu + 1],  # soft: SIGXCPU; hard: SIGKILL
        "RLIMIT_FSIZE": [_OUTPUT_FILE_LIMIT] * 2,
        "RLIMIT_NOFILE": [256, 256],
        "RLIMIT_CORE": [0, 0],
    }
    if not cgroup_fds and not (mode == "plain" and os.geteuid() != 0):
        # Counted per user (per user namespace in a jail): in plain mode a user's other processes
        # would count too, and for root's dropped programs every uid-65534 process on the host,
        # so the run's own cgroup (pids.max) takes its place where there is one. Root ignores it.
        rlimits["RLIMIT_NPROC"] = [THREAD_LIMIT] * 2
    return json.dumps({
        "rlimits": rlimits,
        "seccomp": iso.endswith("+seccomp"),
        "status_fd": status_fd,
        "identity": _jail.identity(mode),
        "tmp": _jail.fresh_tmp(mode, seccomp=iso.endswith("+seccomp")),
        "cgroup_fds": cgroup_fds,
        **covers,
    })  # fmt: skip


def _memfd(text: str) -> int:
    # An anonymous file: no path for the program to find, gone once the harness closes it
    # (an unlinked temporary file where there is no memfd_create, e.g. macOS).
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("memcollab-payload")
    else:
        with tempfile.TemporaryFile() as fh:
            fd = os.dup(fh.fileno())
    os.write(fd, text.encode("utf-8", "surrogatepass"))
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _run(
    code: str, graded: tuple[str, str] | None, *, timeout: float, memory_mb: int, stdin: str
) -> ExecResult:
    iso = isolation()
    mode = iso.split("+")[0]
    fds: dict[str, int] = {}
    try:
        fds["status_r"], fds["status"] = os.pipe()
        if graded:
            fds["marker_r"], fds["marker"] = os.pipe()
            fds["payload"] = _memfd(graded[0])
        base = tempfile.mkdtemp(prefix="memcollab-run-")
        try:
            result = _run_in(base, mode, iso, code, graded, fds, timeout, memory_mb, stdin)
        finally:
            remove_tree(base)
    finally:
        for fd in fds.values():
            _close(fd)
    return result


def _run_in(base, mode, iso, code, graded, fds, timeout, memory_mb, stdin) -> ExecResult:
    # The outputs sit beside, not inside, the program's directory.
    host_workdir = os.path.join(base, "work")
    os.mkdir(host_workdir, 0o700)
    main_py = os.path.join(host_workdir, "main.py")
    # surrogatepass: a lone surrogate in model text reaches the program as a decode error, never
    # as a UnicodeEncodeError here.
    Path(main_py).write_bytes(code.encode("utf-8", "surrogatepass"))
    _jail.share(mode, base, host_workdir, main_py)  # as root, the program runs as an unprivileged uid
    paths = {name: os.path.join(base, name) for name in ("stdin", "stdout", "stderr")}
    Path(paths["stdin"]).write_bytes(stdin.encode("utf-8", "surrogatepass"))
    workdir = _jail.workdir(mode, host_workdir)
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": workdir, "TMPDIR": workdir, "LANG": "C.UTF-8"}
    program = ["main.py"]
    if graded:
        program = ["-c", _HARNESS, json.dumps({"payload_fd": fds["payload"], "marker_fd": fds["marker"]})]
    python = _jail.interpreter()
    # Every thread and page of the program, tmpfs and kernel inodes included, where root can.
    group = _cgroup.create(THREAD_LIMIT, memory_mb * 2**20 + _jail.TMPFS_BYTES + 64 * 2**20)
    try:
        return _run_group(group, base, mode, iso, code, graded, fds, timeout, memory_mb, paths, env,
                          program, python, main_py, host_workdir)  # fmt: skip
    finally:
        if group:
            group.close()


def _run_group(group, base, mode, iso, code, graded, fds, timeout, memory_mb, paths, env, program, python,
               main_py, host_workdir) -> ExecResult:  # fmt: skip
    cgroup_fds = group.fds if group else []
    cmd = [*_jail.prefix(mode, main_py, seccomp=iso.endswith("+seccomp")), python, "-I", "-c", _BOOTSTRAP,
           _config(iso, timeout, memory_mb, fds["status"], _jail.covers(mode, host_workdir), cgroup_fds),
           *program]  # fmt: skip
    child_fds = [fds[k] for k in ("status", "marker", "payload") if k in fds] + cgroup_fds
    start = time.monotonic()
    with (
        open(paths["stdin"], "rb") as fin,
        open(paths["stdout"], "wb") as fout,
        open(paths["stderr"], "wb") as ferr,
    ):
        proc = subprocess.Popen(
            cmd, cwd=host_workdir, env=env, stdin=fin, stdout=fout, stderr=ferr,
            start_new_session=True,  # its own process group, so killpg reaches everything
            close_fds=True, pass_fds=child_fds,
        )  # fmt: skip
        for key in ("status", "marker", "payload"):  # the child holds its own copies now
            if key in fds:
                _close(fds.pop(key))
        timed_out = ready = False
        try:
            ready = _read_ready(fds["status_r"], timeout)
            returncode = proc.wait(timeout=max(0.0, timeout - (time.monotonic() - start)))
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            _killpg(proc.pid)  # also reaps anything left behind, and runs on Ctrl-C
            returncode = proc.wait()
    seconds = time.monotonic() - start
    stdout, stderr = _read_output(paths["stdout"]), _read_output(paths["stderr"])
    if not ready and not timed_out:
        raise RuntimeError(f"the sandbox ({iso}) could not start: {stderr.strip() or returncode}")
    if mode != "plain" and returncode > 128:
        returncode = -(returncode - 128)  # the jail reports a signal as 128 + signal number
    if timed_out or returncode in (-signal.SIGXCPU,):
        status = "timeout"
    elif returncode < 0:
        status = "killed"
    elif returncode == 0:
        status = "ok"
    else:
        status = "error"
    completed = bool(graded) and status == "ok" and _drain(fds["marker_r"]) == graded[1].encode()
    return ExecResult(status, returncode, stdout, stderr, round(seconds, 3), iso, completed)


def remove_tree(path: str) -> None:
    """Delete what a program left behind, however deep (shutil.rmtree recurses once per level
    and a program can nest thousands), with one directory descriptor open at a time."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
    try:
        fd = os.open(path, flags)
    except OSError:
        return
    names: list[str] = []  # the directories below `path` that `fd` is in, outermost first
    while True:
        child = None
        with os.scandir(fd) as it:
            for entry in it:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        child = entry.name
                        break
                    os.unlink(entry.name, dir_fd=fd)
                except FileNotFoundError:
                    pass
        if child is not None:
            try:
                os.chmod(child, 0o700, dir_fd=fd, follow_symlinks=False)  # a program's chmod 000
            except (OSError, NotImplementedError):  # (no fchmodat nofollow): try the open anyway
                pass
            try:
                inner = os.open(child, flags, dir_fd=fd)
            except OSError:
                os.close(fd)
                return  # not ours to remove; what is left stays (and is no one's secret)
            os.close(fd)
            fd = inner
            names.append(child)
            continue
        if not names:
            os.close(fd)
            break
        parent = os.open("..", flags, dir_fd=fd)
        os.close(fd)
        fd = parent
        try:
            os.rmdir(names.pop(), dir_fd=fd)
        except OSError:
            os.close(fd)
            return
    try:
        os.rmdir(path)
    except OSError:
        pass


def _read_ready(fd: int, timeout: float) -> bool:
    """Whether the bootstrap said "ready" (read at once: the program cannot run before it)."""
    data = b""
    deadline = time.monotonic() + timeout
    while len(data) < 6:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise subprocess.TimeoutExpired("sandbox", timeout)
        chunk = os.read(fd, 6 - len(data))
        if not chunk:
            break  # closed without a word: the jail or the bootstrap failed
        data += chunk
    return data == b"ready\n"


def _drain(fd: int, limit: int = 4096) -> bytes:
    os.set_blocking(fd, False)
    data = b""
    try:
        while len(data) <= limit and (chunk := os.read(fd, 4096)):
            data += chunk
    except BlockingIOError:
        pass  # a grandchild still holds the write end; what is there is the answer
    return data


def _close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def _killpg(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
