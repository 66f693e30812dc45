"""The hostile suite: wrong completions that cheat, crash, hog, snoop or signal, graded by
`memcollab grade` in every sandbox mode this machine offers. None may pass, the grade run must
finish with every line written, and in a jail nothing private may reach a `result`."""

import os

import pytest

from hostile.completions import HOSTILE, REFERENCES
from hostile.suite import run_mode
from memcollab_cli.tasks import _jail, isolation

MODES = _jail.offered()


@pytest.fixture(scope="module", params=MODES)
def outcome(request, tmp_path_factory):
    if "seccomp" not in isolation():
        pytest.skip("without libseccomp a signal probe could reach this machine's processes")
    return run_mode(request.param, tmp_path_factory.mktemp(f"hostile-{request.param}"))


def test_there_are_enough_tricks():
    assert len(HOSTILE) >= 53  # round one's 30, round two's 20 (issue 27), round three's 3


def test_the_grade_run_completes_with_every_line(outcome):
    assert outcome.returncode == 0, outcome.stderr[-2000:]
    assert set(outcome.rows) == {*REFERENCES, *HOSTILE}


def test_the_reference_passes_and_no_trick_does(outcome):
    for name in REFERENCES:
        assert outcome.rows[name]["passed"], outcome.rows[name]["result"]
    passed = [name for name in HOSTILE if outcome.rows[name]["passed"]]
    assert passed == []


def test_every_line_records_the_isolation(outcome):
    ran = [r for r in outcome.rows.values() if not r["result"].startswith(("error: refused", "no_answer"))]
    assert {r["isolation"] for r in ran} == {outcome.mode + "+seccomp"}


def test_a_weaker_sandbox_warns_once(outcome):
    warnings = outcome.stderr.count("memcollab: warning:")
    assert warnings == (0 if outcome.mode == "bwrap" else 1)


def test_signals_and_namespaces_are_refused(outcome):
    rows = outcome.rows
    assert "allowed []" in rows["kill everyone (probe)"]["result"]
    assert "umount -1 remount -1 unshare -1" in rows["unmounts /proc and remounts /"]["result"]
    assert "prctl -1" in rows["clears its parent-death signal"]["result"]
    assert "pidfd -1" in rows["pidfd_send_signal to the parent"]["result"]


def test_no_network(outcome):
    assert outcome.received == b""
    assert "PermissionError" in outcome.rows["network to a local listener"]["result"]


def test_a_jail_keeps_private_files_and_the_host_safe(outcome):
    if outcome.mode == "plain":
        pytest.skip("plain mode has no filesystem isolation (docs/sandbox.md measures what leaks)")
    assert outcome.leaks == {}
    assert outcome.wrote == []
    # (what it "wrote" went to the jail's own /tmp, gone with it)


def test_no_host_kernel_interface_opens_for_writing(outcome):
    rows = outcome.rows
    probe = rows["opens /proc/sys, /sys and /proc/sysrq-trigger for writing"]["result"]
    core = rows["core_pattern for writing, then abort"]["result"]
    assert "checked True" in probe, probe  # it did look at thousands of files
    if outcome.mode == "plain" and os.geteuid() == 0 and _jail.identity("plain") is None:
        # Documented: plain as root stays root when uid 65534 cannot reach the interpreter.
        assert "host uid 0" in probe and "core_pattern opened" in core
        return
    assert "host uid 0 " not in probe, probe  # a user namespace belongs to an unprivileged user
    if os.geteuid() == 0:  # root's jails run without one, as uid 65534
        assert "host uid 65534 " in probe, probe
    assert "core_pattern opened" not in core, core
    assert "critical []" in probe, probe
    if outcome.mode != "plain":  # plain has no jail to cover the host's 0666 files (PSI, ns_last_pid)
        assert "writable 0 beyond PSI 0 []" in probe, probe


def test_untrusted_text_costs_its_line_only(outcome):
    rows = outcome.rows
    assert rows["lone surrogate"]["result"].startswith("error: refused: not valid Unicode")
    assert rows["over the size limit"]["result"].startswith("error: refused: 300")
    for name in ("200k minus signs", "NUL bytes", "unclosed fences (42 s of grader CPU)", "1,500 nested directories"):
        assert not rows[name]["passed"] and "\n" not in rows[name]["result"], rows[name]
    assert "nested 1500" in rows["1,500 nested directories"]["result"]  # it ran, and was cleaned up


def _number(result: str, word: str) -> int:
    return int(result.split(word + " ", 1)[1].split()[0])


def test_memfd_io_uring_threads_and_inodes_are_capped(outcome):
    rows = outcome.rows
    memfd = rows["80 memfds of 16 MiB"]["result"]
    assert "memfd held 0 MiB (Operation not permitted)" in memfd, memfd
    uring = rows["io_uring socket to a local listener"]["result"]
    assert "io_uring_setup -1 errno 1" in uring, uring
    threads = _number(rows["3,000 threads with 16 KiB stacks"]["result"], "threads")
    links = _number(rows["225k symlinks on the jail's tmpfs"]["result"], "symlinks")
    if outcome.mode == "plain" and os.geteuid() != 0:
        pytest.skip(f"plain as a user: no thread or inode cap (made {threads} threads, {links} symlinks)")
    assert threads < 256, threads  # RLIMIT_NPROC, and pids.max where the grader has a cgroup
    if outcome.mode != "plain":
        assert links < 4096, links  # nr_inodes on the jail's tmpfs
