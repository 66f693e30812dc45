"""A cgroup per sandboxed run, where this machine lets the grader make one: `pids.max` and a memory
limit that count every thread and every page the program holds (tmpfs files and the kernel's
inodes included), whatever rlimits miss.

Each run gets a fresh group below the grader's own (cgroup v1: one per controller, `pids` and
`memory`; v2: one group with both). The grader opens each group's `cgroup.procs` and hands the
descriptor to the bootstrap, which writes "0" into it (itself, before the program exists), so no
process of the program ever runs outside. The kernel checks that write against the opener's
credentials, so it works after the bootstrap has dropped root. Not offered (None): no cgroupfs, no
write permission (an ordinary user without delegation), a controller missing.
"""

from __future__ import annotations

import functools
import os
import secrets
from dataclasses import dataclass, field

V1 = "/sys/fs/cgroup"
CONTROLLERS = ("pids", "memory")


@dataclass
class RunGroup:
    dirs: list[str]
    fds: list[int] = field(default_factory=list)

    def close(self) -> None:
        """Close the descriptors and remove the groups (their processes are dead by now)."""
        for fd in self.fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self.fds = []
        for d in reversed(self.dirs):
            try:
                os.rmdir(d)
            except OSError:
                pass


def _own(controller: str) -> str | None:
    """The grader's own group for a v1 controller (or "" for v2's unified one), from /proc."""
    try:
        lines = open("/proc/self/cgroup").read().splitlines()
    except OSError:
        return None
    for line in lines:
        _, names, path = line.split(":", 2)
        if controller in names.split(","):
            return path
    return None


@functools.lru_cache(maxsize=1)
def _bases() -> dict[str, str] | None:
    """Where each controller's per-run groups go, or None where this grader cannot make them."""
    if os.geteuid() != 0:
        return None  # delegation to a user is possible, but left out: root is where it matters most
    bases = {}
    for c in CONTROLLERS:
        own = _own(c)
        base = os.path.join(V1, c) + (own or "/")
        if own is None or not os.path.isdir(base) or not os.access(base, os.W_OK):
            return None
        bases[c] = base.rstrip("/")
    return bases


def create(pids: int, memory_bytes: int) -> RunGroup | None:
    """A fresh group with these limits and open `cgroup.procs` descriptors; None if not offered."""
    bases = _bases()
    if not bases:
        return None
    name = f"memcollab-{os.getpid()}-{secrets.token_hex(4)}"
    group = RunGroup([])
    try:
        for c, base in bases.items():
            d = os.path.join(base, name)
            os.mkdir(d, 0o755)
            group.dirs.append(d)
            if c == "pids":
                _write(d, "pids.max", str(pids))
            else:
                _write(d, "memory.limit_in_bytes", str(memory_bytes))
                try:  # without swap too, where the kernel accounts it
                    _write(d, "memory.memsw.limit_in_bytes", str(memory_bytes))
                except OSError:
                    pass
            group.fds.append(os.open(os.path.join(d, "cgroup.procs"), os.O_WRONLY | os.O_CLOEXEC))
    except OSError:
        group.close()
        return None
    return group


def _write(d: str, name: str, value: str) -> None:
    with open(os.path.join(d, name), "w") as fh:
        fh.write(value)


def offered() -> bool:
    return _bases() is not None
