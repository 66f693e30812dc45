"""Run the hostile completions through `memcollab grade` in one sandbox mode and judge the outcome.

`cd tests && python -m hostile.suite` prints the containment table of docs/sandbox.md (trick x mode -> outcome)
for every mode this machine offers.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from hostile.completions import HOSTILE, REFERENCES, TASKS

PROJECT = Path(__file__).resolve().parents[2]
TIMEOUT = 3  # seconds per program: the loops and bombs each cost this much
DETAILED = ("80 memfds of 16 MiB", "225k symlinks on the jail's tmpfs", "3,000 threads with 16 KiB stacks",
            "io_uring socket to a local listener", "opens /proc/sys, /sys and /proc/sysrq-trigger for writing",
            "core_pattern for writing, then abort", "lone surrogate", "over the size limit")  # fmt: skip


@dataclass
class Outcome:
    mode: str
    returncode: int  # of `memcollab grade` itself
    stderr: str
    rows: dict[str, dict]  # hostile name -> graded line
    leaks: dict[str, list[str]] = field(default_factory=dict)  # name -> what leaked
    wrote: list[str] = field(default_factory=list)  # files changed outside the work dir
    received: bytes = b""  # what the local listener got


class _Listener:
    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.received = b""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(1)
                try:
                    self.received += conn.recv(4096)
                except OSError:
                    pass

    def close(self):
        self._stop.set()
        self._thread.join()
        self.sock.close()


def run_mode(mode: str, workspace: Path) -> Outcome:
    """Grade every hostile completion (and the reference, as a control) with MEMCOLLAB_SANDBOX=mode."""
    workspace.mkdir(parents=True, exist_ok=True)
    token = f"memcollab-hostile-{uuid.uuid4().hex}"
    home, mc_home = workspace / "home", workspace / "mc_home"
    home.mkdir(exist_ok=True)
    mc_home.mkdir(exist_ok=True)
    canaries = {
        "home": f"CANARY-HOME-{token}",
        "mc_home": f"CANARY-MC-HOME-{token}",
        "api_key": f"CANARY-API-KEY-{token}",
    }
    (home / "canary.txt").write_text(canaries["home"])
    (mc_home / "canary.txt").write_text(canaries["mc_home"])
    (home / ".bashrc").write_text("# original\n")
    outside = [home / ".bashrc", mc_home / token, *(Path(d) / token for d in ("/tmp", "/var/tmp", "/dev/shm"))]
    before = {p: p.read_bytes() if p.exists() else None for p in outside}
    private = list(canaries.values())
    try:
        private.append(Path("/etc/shadow").read_text().splitlines()[0])
    except (OSError, IndexError):
        pass
    private.append((PROJECT / "memcollab_cli" / "__init__.py").read_text().splitlines()[0])

    listener = _Listener()
    fill = {"@@HOME@@": str(home), "@@MC_HOME@@": str(mc_home), "@@PORT@@": str(listener.port),
            "@@TOKEN@@": token, "@@PROJECT@@": str(PROJECT)}  # fmt: skip
    samples = [{"task_id": tid, "completion": TASKS[tid]["answer"], "name": name} for name, tid in REFERENCES.items()]
    for name, entry in HOSTILE.items():
        task_id, source = entry if isinstance(entry, tuple) else ("add", entry)
        for key, value in fill.items():
            source = source.replace(key, value)
        samples.append({"task_id": task_id, "completion": source, "name": name})
    tasks_path, samples_path, out = workspace / "tasks.jsonl", workspace / "samples.jsonl", workspace / "out.jsonl"
    tasks_path.write_text("".join(json.dumps(t) + "\n" for t in TASKS.values()))
    samples_path.write_text("".join(json.dumps(s) + "\n" for s in samples))
    env = {**os.environ, "MEMCOLLAB_SANDBOX": mode, "HOME": str(home), "MEMCOLLAB_HOME": str(mc_home),
           "MEMCOLLAB_API_KEY": canaries["api_key"],
           "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT), os.environ.get("PYTHONPATH")]))}  # fmt: skip
    cmd = [sys.executable, "-c", "from memcollab_cli.cli.main import run; run()", "grade", str(samples_path),
           "-b", str(tasks_path), "-o", str(out), "--timeout", str(TIMEOUT), "--json"]  # fmt: skip
    try:
        done = subprocess.run(cmd, env=env, cwd=workspace, capture_output=True, text=True, timeout=300,
                              start_new_session=True)  # a stray group signal cannot reach pytest
    finally:
        listener.close()
    rows = {}
    if out.exists():
        rows = {r["name"]: r for r in map(json.loads, out.read_text().splitlines())}
    outcome = Outcome(mode, done.returncode, done.stderr, rows, received=listener.received)
    for name, row in rows.items():
        found = [p for p in private if p in row.get("result", "")]
        if found:
            outcome.leaks[name] = found
    for p in outside:
        now = p.read_bytes() if p.exists() else None
        if now != before[p]:
            outcome.wrote.append(str(p))
        if before[p] is None and p.exists():
            p.unlink()
    for d in ("/tmp", "/dev/shm", "/var/tmp"):  # what the fill trick leaves behind in plain mode
        for p in Path(d).glob(f"{token}-fill*"):
            p.unlink()
    links = Path("/tmp") / f"{token}-links"  # and the symlink flood
    if links.is_dir():
        shutil.rmtree(links)
    return outcome


def cell(outcome: Outcome, name: str) -> str:
    """One table cell: the verdict, plus what got out."""
    row = outcome.rows.get(name)
    if row is None:
        return "no line"
    word = "PASSED" if row["passed"] else row["result"].split(":")[0]
    extra = []
    if name in outcome.leaks:
        extra.append("leaked")
    if name == "writes outside the work dir" and outcome.wrote:
        extra.append(f"wrote {len(outcome.wrote)} files")
    if name == "network to a local listener" and outcome.received:
        extra.append("reached the listener")
    return " + ".join([word, *extra])


def main() -> None:
    import tempfile

    from memcollab_cli.tasks import _jail

    modes = _jail.offered()
    with tempfile.TemporaryDirectory() as tmp:
        outcomes = [run_mode(m, Path(tmp) / m) for m in modes]
    print("| trick | " + " | ".join(modes) + " |")
    print("|---|" + "---|" * len(modes))
    for name in [*REFERENCES, *HOSTILE]:
        print(f"| {name} | " + " | ".join(cell(o, name) for o in outcomes) + " |")
    for o in outcomes:
        print(f"\n{o.mode}: grade exit {o.returncode}, {len(o.rows)} lines; stderr: {o.stderr.strip()[:300]}")
    print("\nWhat the probes of round two measured (their own words, from `result`):")
    for name in DETAILED:
        for o in outcomes:
            result = o.rows.get(name, {}).get("result", "no line")
            said = result.split("RuntimeError: ", 1)[-1].split(" at: ")[0]
            print(f"- {name} [{o.mode}]: {said[:160]}")


if __name__ == "__main__":
    main()
