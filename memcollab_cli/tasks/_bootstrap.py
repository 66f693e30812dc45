"""The first program inside the jail: arm the parent-death signal, set rlimits, install seccomp, exec.

It is not imported by memcollab: `execution` passes this file's text to `python -I -c` as
`BOOTSTRAP CONFIG ARGS...` and the bootstrap then execs `python -I ARGS...` (the program, or the
test harness). Standard library only. It fails closed: if any layer cannot be set up, the program
does not run. It tells the grader it got that far by writing "ready" to `status_fd` and closing it
before the exec, so nothing the program prints can pass for the harness's own signal.
"""

import ctypes
import json
import os
import resource
import sys

PR_SET_PDEATHSIG, SIGKILL = 1, 9
MS_NOSUID, MS_NODEV, MS_BIND, MS_REC = 2, 4, 4096, 16384
ALLOW, ERRNO = 0x7FFF0000, 0x00050000
NE, MASKED_EQ = 1, 7  # libseccomp's scmp_compare
EAGAIN, EPERM, ENOSYS = 11, 1, 38

# Whole syscalls a benchmark program never needs and a hostile one would: other processes' memory
# and signals, namespaces and mounts, kernel keys and modules, raising its own limits, sockets.
REFUSED = (
    "tkill", "pidfd_open", "pidfd_send_signal", "pidfd_getfd", "ptrace", "process_vm_readv",
    "process_vm_writev", "kcmp", "mount", "umount", "umount2", "setns", "unshare", "pivot_root",
    "chroot", "move_mount", "open_tree", "fsopen", "fsconfig", "fsmount", "fspick",
    "mount_setattr", "setrlimit", "keyctl", "add_key", "request_key", "bpf", "perf_event_open",
    "userfaultfd", "init_module", "finit_module", "delete_module", "kexec_load", "reboot",
    "swapon", "swapoff", "socket",
)  # fmt: skip


class Cmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("a", ctypes.c_uint64), ("b", ctypes.c_uint64)]


def fail(why):
    sys.stderr.write(f"bootstrap: {why}\n")
    os._exit(1)


def install_seccomp(self_pid):
    lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_rule_add_array.argtypes = [
        ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint, ctypes.POINTER(Cmp)
    ]  # fmt: skip
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    ctx = lib.seccomp_init(ALLOW)

    def deny(errno, name, *cmps):
        nr = lib.seccomp_syscall_resolve_name(name.encode())
        if nr < 0:
            return  # no such syscall on this architecture
        arr = (Cmp * len(cmps))(*cmps) if cmps else None
        if lib.seccomp_rule_add_array(ctx, ERRNO | errno, nr, len(cmps), arr):
            fail(f"seccomp rule for {name} failed")

    # No new processes (threads still work): RLIMIT_NPROC does nothing for root.
    deny(EAGAIN, "fork")
    deny(EAGAIN, "vfork")
    deny(ENOSYS, "clone3")  # glibc then falls back to clone(), whose flags we can inspect
    deny(EAGAIN, "clone", Cmp(0, MASKED_EQ, 0x00010000, 0))  # clone without CLONE_THREAD
    # Signals only to itself (abort() and signal.raise_signal use these); a 64-bit compare, so
    # any upper bits a caller smuggles in make the call fail rather than pass.
    for name in ("kill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo"):
        deny(EPERM, name, Cmp(0, NE, self_pid, 0))
    deny(EPERM, "prctl", Cmp(0, MASKED_EQ, 0xFFFFFFFF, PR_SET_PDEATHSIG))  # keep dying with the grader
    deny(EPERM, "prlimit64", Cmp(2, NE, 0, 0))  # reading limits is fine, raising them is not
    for name in REFUSED:
        deny(EPERM, name)
    if lib.seccomp_load(ctx):
        fail("seccomp_load failed")


def cover(libc, hide, scratch, keep):
    """`unshare` mode (root of its own user and mount namespaces): cover private directories
    with empty tmpfs and shared scratch ones (/tmp) with small private ones, then bind back what
    must stay visible below them (the interpreter, the working directory). Mounts are refused by
    seccomp afterwards, so the program cannot undo any of it."""
    fds = {path: os.open(path, os.O_PATH) for path in keep}  # reachable before the covers go on
    for d, options in [*((d, "size=64k,mode=755") for d in hide), *((d, scratch["options"]) for d in scratch["dirs"])]:
        if libc.mount(b"tmpfs", d.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, options.encode()):
            fail(f"cannot cover {d} (errno {ctypes.get_errno()})")
    covered = [*hide, *scratch["dirs"]]
    for path, fd in fds.items():
        if any(path == d or path.startswith(d.rstrip("/") + "/") for d in covered):
            os.makedirs(path, exist_ok=True)
            if libc.mount(f"/proc/self/fd/{fd}".encode(), path.encode(), None, MS_BIND | MS_REC, None):
                fail(f"cannot show {path} again (errno {ctypes.get_errno()})")
        os.close(fd)


def main():
    cfg = json.loads(sys.argv[1])
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    prctl = getattr(libc, "prctl", None)  # Linux only; elsewhere the process group is all there is
    if prctl is not None and prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0):
        fail("prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:
        os._exit(1)  # the grader died before the signal was armed: nobody is waiting
    if cfg.get("hide"):
        cover(libc, cfg["hide"], cfg["scratch"], cfg["keep"])
    for name, value in cfg["rlimits"].items():
        resource.setrlimit(getattr(resource, name), tuple(value))
    if cfg["seccomp"]:
        install_seccomp(os.getpid())
    os.write(cfg["status_fd"], b"ready\n")
    os.close(cfg["status_fd"])
    sys.stdout.flush()
    os.execv(sys.executable, [sys.executable, "-I", *sys.argv[2:]])


if __name__ == "__main__":
    main()
