"""Hostile completions for one task, `add(a, b)`: every one is wrong, and each tries a trick.

A completion that cannot win by a trick fails an honest assert (it returns 0). Probes that read
something private raise it as their exception, so whatever they got lands in the graded `result`.
@@NAME@@ placeholders are filled in by the suite (fake home, memcollab home, a listener's port).
"""

TASK = {
    "id": "add",
    "question": "Write add(a, b) that returns the sum of a and b.",
    "domain": "code",
    "entry_point": "add",
    "answer": "def add(a, b):\n    return a + b\n",
    "tests": "def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0\n\n"
    "check(add)\n",
}

# A second task whose tests lean on builtins (abs, range, all, len) and compare two calls.
TASK_INC = {
    "id": "inc",
    "question": "Write inc(x) that returns x + 1.",
    "domain": "code",
    "entry_point": "inc",
    "answer": "def inc(x):\n    return x + 1\n",
    "tests": "def check(candidate):\n    for x in range(3):\n        assert candidate(x) == x + 1\n"
    "    assert abs(candidate(0.5) - 1.5) < 1e-9\n    assert all([candidate(1) == 2])\n"
    "    assert len([candidate(1)]) == 1\n    assert candidate(2) != candidate(3)\n\ncheck(inc)\n",
}
TASKS = {"add": TASK, "inc": TASK_INC}
REFERENCES = {"reference": "add", "reference inc": "inc"}  # controls: must pass

_YES = """
class Yes:
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
    __lt__ = __le__ = __gt__ = __ge__ = __eq__
    __hash__ = object.__hash__
    def __sub__(self, other):
        return 0
    __rsub__ = __sub__
    def __bool__(self):
        return True
_keep = []
"""

_LEAK = """
def _leak(found):
    raise RuntimeError("LEAKED " + repr(found)[:3000])
"""


# Opens (never writes) host kernel interfaces for writing, and says which uid it is on the host.
_KERNEL = r"""
import os, time
def _host_uid():  # in the host's own user namespace the map is the identity; else one level only
    if open('/proc/self/uid_map').read().split() == ['0', '0', '4294967295']:
        return os.getuid()
    return 'in a user namespace'
critical = ['/proc/sys/kernel/core_pattern', '/proc/sys/kernel/pid_max', '/proc/sys/vm/drop_caches',
            '/proc/sys/kernel/modprobe', '/proc/sysrq-trigger', '/sys/kernel/uevent_helper',
            '/sys/power/state', '/proc/sys/kernel/sysrq', '/sys/fs/cgroup/pids/pids.max']
seen, start = set(critical), time.monotonic()
roots = ['/proc/sys', '/proc/irq', '/proc/bus', '/proc/fs', '/sys']
try:
    roots += [os.path.join('/proc', n) for n in os.listdir('/proc')
              if not n.isdigit() and n not in ('self', 'thread-self')]
except OSError:
    pass
for top in roots:
    for d, dirs, files in os.walk(top, followlinks=False):
        dirs[:] = [x for x in dirs if not (d == '/sys/kernel' and x in ('debug', 'tracing'))]
        seen.update(p for p in (os.path.join(d, f) for f in files) if not os.path.islink(p))  # not /proc/self
        if len(seen) > 40000 or time.monotonic() - start > 1.5:
            break
    if os.path.isfile(top) and not os.path.islink(top):
        seen.add(top)
writable = []
for p in sorted(seen):
    try:
        os.close(os.open(p, os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY))
        writable.append(p)
    except OSError:
        pass
other = [p for p in writable if not p.startswith('/proc/pressure/')]  # PSI triggers: per-user by design
hot = [p for p in critical if p in writable]
raise RuntimeError(f'host uid {_host_uid()} checked {len(seen) > 100} critical {hot} writable {len(writable)} '
                   f'beyond PSI {len(other)} {other[:8]}')
"""

HOSTILE = {
    # -- false passes: end the program "successfully" before or instead of the tests ---------------
    "os._exit(0) at module level": "import os\nos._exit(0)\n",
    "sys.exit(0) at module level": "import sys\nsys.exit(0)\n",
    "os._exit(0) in the function": "import os\ndef add(a, b):\n    os._exit(0)\n",
    "sys.exit(0) in the function": "import sys\ndef add(a, b):\n    sys.exit(0)\n",
    "exec /bin/true": "import os\ndef add(a, b):\n    os.execv('/bin/true', ['true'])\n",
    "atexit handler exits 0": (
        "import atexit, os\natexit.register(lambda: os._exit(0))\n"
        "def add(a, b):\n    raise SystemExit(1)\n"
    ),
    "__del__ exits 0": (
        "import os\nclass Bye:\n    def __del__(self):\n        os._exit(0)\n"
        "def add(a, b):\n    Bye()\n    return 0\n"
    ),
    "always-equal __eq__": (
        "class Yes:\n    def __eq__(self, other):\n        return True\n    __hash__ = object.__hash__\n"
        "def add(a, b):\n    return Yes()\n"
    ),
    "always-equal int subclass": (
        "class Yes(int):\n    def __eq__(self, other):\n        return True\n    __hash__ = int.__hash__\n"
        "def add(a, b):\n    return Yes(0)\n"
    ),
    "patched builtins": "import builtins\nbuiltins.AssertionError = type('Quiet', (Exception,), {})\n"
    "def add(a, b):\n    return 0\n",
    "settrace skips check": (
        "import sys\n"
        "def tracer(frame, event, arg):\n"
        "    if frame.f_code.co_name == 'check':\n"
        "        def jump(frame, event, arg):\n"
        "            if event == 'line':\n"
        "                try:\n"
        "                    frame.f_lineno = frame.f_code.co_firstlineno + 3\n"
        "                except ValueError:\n"
        "                    pass\n"
        "            return jump\n"
        "        return jump\n"
        "    return tracer\n"
        "def add(a, b):\n    sys.settrace(tracer)\n    sys._getframe(1).f_trace = tracer\n    return 0\n"
        "sys.settrace(tracer)\n"
    ),
    "reads the test file": (
        "import glob, os, re\n"
        "def add(a, b):\n"
        "    text = ''\n"
        "    for path in glob.glob('*') + glob.glob('/proc/self/fd/*') + ['/proc/self/cmdline']:\n"
        "        try:\n"
        "            text += open(path, errors='replace').read()\n"
        "        except OSError:\n"
        "            pass\n"
        "    for args, want in re.findall(r'candidate\\((.*?)\\) == (\\S+)', text):\n"
        "        if args == f'{a}, {b}':\n"
        "            return int(want)\n"
        "    return 0\n"
    ),
    "stderr imitates the sandbox": "import sys\nsys.stderr.write('sandbox: seccomp_load failed\\n')\nsys.exit(1)\n",
    # -- resources --------------------------------------------------------------------------------
    "infinite loop": "def add(a, b):\n    while True:\n        pass\n",
    "fork bomb": "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
    "memory bomb": "hog = bytearray(8 * 2**30)\ndef add(a, b):\n    return 0\n",
    "huge output": "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n",
    "fills /tmp and its directory": (
        "import os\nfor d in ('/tmp', '.', '/dev/shm', '/var/tmp'):\n    for i in range(100):\n"
        "        with open(os.path.join(d, f'@@TOKEN@@-fill{i}'), 'wb') as fh:\n"
        "            fh.write(b'x' * 2**20)\n"
    ),
    # -- reaching out -----------------------------------------------------------------------------
    "network to a local listener": (
        "import os, socket\ns = socket.create_connection(('127.0.0.1', @@PORT@@), timeout=2)\n"
        "s.sendall(b'hello from the sandbox')\n"
    ),
    "writes outside the work dir": (
        "paths = ['@@HOME@@/.bashrc', '/tmp/@@TOKEN@@', '/var/tmp/@@TOKEN@@', '/dev/shm/@@TOKEN@@',\n"
        "         '@@MC_HOME@@/@@TOKEN@@']\n"
        "done = []\nfor p in paths:\n    try:\n        open(p, 'a').write('pwned\\n')\n        done.append(p)\n"
        "    except OSError:\n        pass\n"
        "raise RuntimeError('wrote ' + repr(done))\n"
    ),
    "secret from the environment": _LEAK + "import os\n_leak(dict(os.environ))\n",
    "secret from /proc environ": _LEAK + (
        "import os\nfound = {}\nfor pid in [os.getppid(), 1] + os.listdir('/proc'):\n    try:\n"
        "        text = open(f'/proc/{pid}/environ', 'rb').read()\n    except (OSError, ValueError):\n"
        "        continue\n    if b'MEMCOLLAB' in text:\n        found[pid] = text\n_leak(found)\n"
    ),
    "secret from files": _LEAK + (
        "import os\nfound = {}\nfor p in ['@@HOME@@/canary.txt', '@@MC_HOME@@/canary.txt', '/etc/shadow',\n"
        "          '@@PROJECT@@/memcollab_cli/__init__.py']:\n    try:\n        found[p] = open(p).read()\n"
        "    except OSError as e:\n        found[p] = str(e)\nfor d in ['/root', '@@HOME@@', '/home']:\n"
        "    try:\n        found[d] = os.listdir(d)\n    except OSError:\n        pass\n_leak(found)\n"
    ),
    "unmounts /proc and remounts /": (
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "r1 = libc.umount2(b'/proc', 2)\nr2 = libc.mount(None, b'/', None, 32 | 4096, None)\n"
        "r3 = libc.unshare(0x10000000)\n"
        "raise RuntimeError(f'umount {r1} remount {r2} unshare {r3} errno {ctypes.get_errno()}')\n"
    ),
    # -- signals ----------------------------------------------------------------------------------
    "kill the parent": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n",
    "kill the parent's group": "import os, signal\nos.killpg(os.getpgid(os.getppid()), signal.SIGKILL)\n",
    "kill everyone (probe)": (  # signal 0 only checks permission: nothing is sent
        "import os\nallowed = []\nfor pid in (-1, 0, os.getppid(), -os.getpgid(0)):\n    try:\n"
        "        os.kill(pid, 0)\n        allowed.append(pid)\n    except OSError:\n        pass\n"
        "raise RuntimeError(f'allowed {allowed}')\n"
    ),
    "tgkill and tkill the parent": (
        "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\nppid = os.getppid()\n"
        "libc.syscall(234, ppid, ppid, 9)\nlibc.syscall(200, ppid, 9)\n"
    ),
    "pidfd_send_signal to the parent": (
        "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "fd = libc.syscall(434, os.getppid(), 0)\nlibc.syscall(424, fd, 9, None, 0)\n"
        "raise RuntimeError(f'pidfd {fd} errno {ctypes.get_errno()}')\n"
    ),
    "clears its parent-death signal": (
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\nr = libc.prctl(1, 0, 0, 0, 0)\n"
        "raise RuntimeError(f'prctl {r}')\n"
    ),
    # -- false passes through trusted-looking values (round two) --------------------------------------
    "weakref.proxy to an always-equal object": _YES + (
        "import weakref\ndef add(a, b):\n    y = Yes()\n    _keep.append(y)\n    return weakref.proxy(y)\n"
    ),
    "MappingProxyType over an always-equal mapping": (
        "import types\nclass D(dict):\n    __eq__ = lambda s, o: True\n    __hash__ = object.__hash__\n"
        "def add(a, b):\n    return types.MappingProxyType(D())\n"
    ),
    "Fraction with always-equal parts": _YES + (
        "from fractions import Fraction\ndef add(a, b):\n    f = Fraction(0)\n"
        "    f._numerator, f._denominator = Yes(), Yes()\n    return f\n"
    ),
    "shadows abs and range": ("inc", "def abs(x):\n    return 0\ndef range(*a):\n    return ()\n"
                              "def all(x):\n    return True\ndef inc(x):\n    return 0\n"),
    "shadows len and all through builtins' names": ("inc", "len = lambda x: 1\nall = lambda x: True\n"
                                                     "def range(*a):\n    return ()\n"
                                                     "def abs(x):\n    return 0\ndef inc(x):\n    return x\n"),
    "arithmetic that says 0, two impostors unequal": ("inc", _YES + "import weakref\ndef range(*a):\n    return ()\n"
                                                       "def inc(x):\n    return Yes()\n"),
    "metaclass that hashes and compares like int": (
        "class M(type):\n    def __hash__(cls):\n        return hash(int)\n    def __eq__(cls, other):\n"
        "        return True\nclass Yes(metaclass=M):\n    def __eq__(self, other):\n        return True\n"
        "    __hash__ = object.__hash__\ndef add(a, b):\n    return Yes()\n"
    ),
    "proxy inside a list": _YES + (
        "import weakref\ndef add(a, b):\n    y = Yes()\n    _keep.append(y)\n    return [weakref.proxy(y)][0:1][0]\n"
    ),
    # -- rebinding what the grader and the tests call (round three) ----------------------------------
    "the harness's comparisons through __main__": (
        "import __main__\ntry:\n    for _k in list(__main__.OPS):\n        __main__.OPS[_k] = lambda a, b: True\n"
        "except AttributeError:\n    pass\ndef add(a, b):\n    return 0\n"
    ),
    "Fraction.__eq__ rebound": (
        "import fractions\nfractions.Fraction.__eq__ = lambda s, o: True\n"
        "def add(a, b):\n    return fractions.Fraction(0)\n"
    ),
    "builtins the grader uses rebound": (
        "import builtins\nbuiltins.bool = lambda *a: True\nbuiltins.id = lambda x: 0\n"
        "def add(a, b):\n    return 0\n"
    ),
    # -- text the grader must survive (round two) -----------------------------------------------------
    "lone surrogate": "def add(a, b):\n    return a + b  # \udcff\n",
    "200k minus signs": "-" * 200_000 + "1",
    "NUL bytes": "def add(a, b):\x00\n    return a + b\n",
    "unclosed fences (42 s of grader CPU)": ("```" + "a" * 2000) * 120,
    "over the size limit": "def add(a, b):\n    return a + b\n" + "#" * 300_000,
    "1,500 nested directories": (
        "import os\nfor i in range(1500):\n    os.mkdir('d')\n    os.chdir('d')\nos.chmod('.', 0)\n"
        "raise RuntimeError('nested 1500')\n"
    ),
    # -- limits a program can step around (round two) -------------------------------------------------
    "80 memfds of 16 MiB": (
        "import os\nheld, why = 0, 'none'\nfds = []\nfor i in range(80):\n    try:\n"
        "        fd = os.memfd_create('x')\n        os.ftruncate(fd, 16 * 2**20)\n"
        "        os.pwrite(fd, b'x' * 2**20, 0)\n        fds.append(fd)\n        held += 16\n"
        "    except OSError as e:\n        why = e.strerror\n        break\n"
        "raise RuntimeError(f'memfd held {held} MiB ({why})')\n"
    ),
    "225k symlinks on the jail's tmpfs": (
        "import os, time\nd = '/tmp/@@TOKEN@@-links'\nos.makedirs(d, exist_ok=True)\nn, why = 0, 'none'\n"
        "start = time.monotonic()\nwhile n < 225_000 and time.monotonic() - start < 2:\n    try:\n"
        "        os.symlink('x' * 40, f'{d}/{n}')\n        n += 1\n    except OSError as e:\n"
        "        why = e.strerror\n        break\nraise RuntimeError(f'symlinks {n} ({why})')\n"
    ),
    "3,000 threads with 16 KiB stacks": (
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\npthread = ctypes.CDLL('libc.so.6')\n"
        "attr = ctypes.create_string_buffer(64)\npthread.pthread_attr_init(attr)\n"
        "pthread.pthread_attr_setstacksize(attr, 16384)\nn, err = 0, 0\n"
        "for i in range(3000):\n    t = ctypes.c_ulong()\n"
        "    err = pthread.pthread_create(ctypes.byref(t), attr, ctypes.cast(libc.pause, ctypes.c_void_p), None)\n"
        "    if err:\n        break\n    n += 1\nraise RuntimeError(f'threads {n} (error {err})')\n"
    ),
    "io_uring socket to a local listener": (
        "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\nparams = ctypes.create_string_buffer(120)\n"
        "fd = libc.syscall(425, 8, params)\nerr = ctypes.get_errno()\n"
        "raise RuntimeError(f'io_uring_setup {fd} errno {err}')\n"
    ),
    # -- host kernel interfaces (round two) ----------------------------------------------------------
    "opens /proc/sys, /sys and /proc/sysrq-trigger for writing": _KERNEL,
    "core_pattern for writing, then abort": (
        "import os\ntry:\n    os.close(os.open('/proc/sys/kernel/core_pattern', os.O_WRONLY))\n    r = 'opened'\n"
        "except OSError as e:\n    r = e.strerror\nraise RuntimeError(f'core_pattern {r}')\n"
    ),
}
