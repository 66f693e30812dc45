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
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC = 1, 2, 4, 8, 32, 4096, 16384
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 1 << 21
# statvfs f_flag bit -> the mount flag a read-only remount must keep (locked in a user namespace)
KEEP = {1: 0, 2: MS_NOSUID, 4: MS_NODEV, 8: MS_NOEXEC, 1024: MS_NOATIME, 2048: MS_NODIRATIME,
        4096: MS_RELATIME}
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
    # Memory outside RLIMIT_AS (80 memfds of 16 MiB held 1.28 GiB under a 1 GiB limit), and
    # io_uring, whose IORING_OP_SOCKET made a socket past the ban above.
    "memfd_create", "memfd_secret", "io_uring_setup", "io_uring_enter", "io_uring_register",
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
    covers = [(d, "size=64k,nr_inodes=64,mode=755") for d in hide]
    covers += [(d, scratch["options"]) for d in scratch["dirs"]]
    for d, options in covers:
        if libc.mount(b"tmpfs", d.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, options.encode()):
            fail(f"cannot cover {d} (errno {ctypes.get_errno()})")
    covered = [*hide, *scratch["dirs"]]
    for path, fd in fds.items():
        if any(path == d or path.startswith(d.rstrip("/") + "/") for d in covered):
            os.makedirs(path, exist_ok=True)
            if libc.mount(f"/proc/self/fd/{fd}".encode(), path.encode(), None, MS_BIND | MS_REC, None):
                fail(f"cannot show {path} again (errno {ctypes.get_errno()})")
        os.close(fd)


def read_only(libc, paths):
    """`unshare` mode: bind each kernel interface (/proc/sys, /sys, ...) read-only onto itself."""
    for path in paths:
        if not os.path.exists(path):
            continue
        flags = os.statvfs(path).f_flag
        keep = MS_RDONLY
        for bit, flag in KEEP.items():
            if flags & bit:
                keep |= flag
        if libc.mount(path.encode(), path.encode(), None, MS_BIND | MS_REC, None) or libc.mount(
            None, path.encode(), None, MS_REMOUNT | MS_BIND | keep, None
        ):
            fail(f"cannot make {path} read-only (errno {ctypes.get_errno()})")


class CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def drop_to(libc, uid, gid):
    """Root's runs: become a real unprivileged host user with no capabilities left at all.

    First, before the parent-death signal (a change of uid clears it). Checked, not trusted."""
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)  # clears the permitted and effective sets
    data = (CapData * 2)()  # and the inheritable one bwrap's --cap-add left behind
    if libc.capset(ctypes.byref(CapHeader(0x20080522, 0)), data):
        fail(f"capset failed (errno {ctypes.get_errno()})")
    status = open("/proc/self/status").read() if os.path.exists("/proc/self/status") else ""
    caps = [line.split()[1] for line in status.splitlines()
            if line.startswith(("CapPrm", "CapEff", "CapInh", "CapAmb"))]
    if os.getresuid() != (uid,) * 3 or os.getresgid() != (gid,) * 3 or os.getgroups() or any(int(c, 16) for c in caps):
        fail("could not drop to an unprivileged user")


def drop_caps(libc):
    """bwrap as a user: give up the CAP_SYS_ADMIN kept for fresh_tmp (ambient ones go with it)."""
    if libc.capset(ctypes.byref(CapHeader(0x20080522, 0)), (CapData * 2)()):
        fail(f"capset failed (errno {ctypes.get_errno()})")
    for line in open("/proc/self/status").read().splitlines():
        if line.startswith(("CapPrm", "CapEff", "CapInh", "CapAmb")) and int(line.split()[1], 16):
            fail("could not drop capabilities")


def fresh_tmp(libc, tmp):
    """bwrap: replace bwrap's /tmp (it takes a size, not an inode limit: 225k symlinks held 252 MiB
    of kernel memory) with one of ours, and put the working directory and main.py back."""
    work = tmp["workdir"]
    main_py = os.path.join(work, "main.py")
    source = open(main_py, "rb").read() if os.path.exists(main_py) else None
    keep = {path: os.open(path, os.O_PATH) for path in tmp["keep"]}  # an interpreter under /tmp
    if libc.mount(b"tmpfs", b"/tmp", b"tmpfs", MS_NOSUID | MS_NODEV, tmp["options"].encode()):
        fail(f"cannot mount /tmp (errno {ctypes.get_errno()})")
    for path, fd in keep.items():
        os.makedirs(path, exist_ok=True)
        where = f"/proc/self/fd/{fd}".encode()
        if libc.mount(where, path.encode(), None, MS_BIND | MS_REC, None) or libc.mount(
            None, path.encode(), None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, None
        ):
            fail(f"cannot show {path} again (errno {ctypes.get_errno()})")
        os.close(fd)
    os.mkdir(work)
    os.chmod(work, 0o777)
    if source is not None:
        fd = os.open(main_py, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        os.write(fd, source)
        os.close(fd)
    os.chdir(work)


def main():
    cfg = json.loads(sys.argv[1])
    libc = ctypes.CDLL(None, use_errno=True)
    for fd in cfg.get("cgroup_fds", []):  # the run's own cgroup, before anything else runs
        try:
            os.write(fd, b"0")
        except OSError as e:
            fail(f"cannot join the run's cgroup ({e})")
        os.close(fd)
    if cfg.get("tmp"):
        fresh_tmp(libc, cfg["tmp"])
    if cfg.get("identity"):
        drop_to(libc, *cfg["identity"])
    elif cfg.get("tmp"):
        drop_caps(libc)
    parent = os.getppid()
    prctl = getattr(libc, "prctl", None)  # Linux only; elsewhere the process group is all there is
    if prctl is not None and prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0):
        fail("prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:
        os._exit(1)  # the grader died before the signal was armed: nobody is waiting
    if cfg.get("hide"):
        cover(libc, cfg["hide"], cfg["scratch"], cfg["keep"])
    if cfg.get("read_only"):
        read_only(libc, cfg["read_only"])
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
