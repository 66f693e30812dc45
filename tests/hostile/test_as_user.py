"""The hostile suite again as an unprivileged user (uid 65534), when the tests run as root.

As a user, bwrap maps the jail to that user through a user namespace and `unshare` is offered; as
root, bwrap runs without one and the bootstrap drops to uid 65534. Both paths must hold. The
grader needs an interpreter that uid 65534 can reach: this one, or the system's of the same
version with the virtual environment's packages on PYTHONPATH (a pyenv under /root is not).
"""

import os
import shutil
import site
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from memcollab_cli.tasks import _jail

PROJECT = Path(__file__).resolve().parents[2]
USER = "65534"


def _user_python() -> str | None:
    mine = os.path.realpath(sys.executable)
    candidates = [mine, shutil.which(f"python{sys.version_info.major}.{sys.version_info.minor}") or ""]
    candidates += [f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}"]
    for path in candidates:
        if path and os.path.exists(path) and _jail._others_reach(path):
            return path
    return None


@pytest.mark.skipif(os.geteuid() != 0, reason="already unprivileged: test_hostile.py is that run")
@pytest.mark.skipif(os.environ.get("MEMCOLLAB_HOSTILE_AS_USER") == "1", reason="the inner run")
def test_the_hostile_suite_holds_as_uid_65534():
    python, setpriv = _user_python(), shutil.which("setpriv")
    if not python or not setpriv or not _jail._others_reach(str(PROJECT / "tests" / "hostile")):
        pytest.skip("no interpreter, setpriv or checkout that uid 65534 can reach")
    tmp_path = Path(tempfile.mkdtemp(prefix="memcollab-as-user-"))  # pytest's own is root's, 0700
    os.chmod(tmp_path, 0o777)
    paths = [str(PROJECT), *site.getsitepackages()]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "LANG": "C.UTF-8",
           "PYTHONPATH": os.pathsep.join([str(PROJECT / "tests"), *paths]), "PYTHONDONTWRITEBYTECODE": "1",
           "MEMCOLLAB_HOSTILE_AS_USER": "1"}  # fmt: skip
    cmd = [setpriv, f"--reuid={USER}", f"--regid={USER}", "--clear-groups", python, "-m", "pytest", "-v",
           "-p", "no:cacheprovider", f"--basetemp={tmp_path / 'base'}", "-rs",
           str(PROJECT / "tests" / "hostile" / "test_hostile.py")]  # fmt: skip
    try:
        done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    finally:
        shutil.rmtree(tmp_path, ignore_errors=True)
    print(done.stdout[-3000:])  # which modes ran, and what was skipped
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and " failed" not in done.stdout
    for mode in ("bwrap", "unshare", "plain"):  # every mode a user gets here actually ran
        if mode == "plain" or (mode == "unshare" and shutil.which("unshare")) or (
            mode == "bwrap" and _jail.bwrap_binary() and _jail._others_reach(_jail.bwrap_binary())
        ):
            assert f"test_the_grade_run_completes_with_every_line[{mode}] PASSED" in done.stdout, mode
