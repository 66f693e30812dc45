"""Issue 27: one wrong body must not pass HumanEval through proxies, forwarding views or shadowed
builtins, and the benchmarks' own helpers must keep working.

The universal body returns a `weakref.proxy` to an object equal to everything (with arithmetic,
ordering, containment and truth all saying yes) and shadows the builtins the tests lean on. On
the harness of round one it passed 159 of 164 tasks (measured); it must pass none.

Round three (`REBINDS`): wrong bodies that rebind what the grader or the tests call rather than
what they return. On the harness before it (measured): the harness's own table through `import
__main__` passed 162 of 164 tasks, `Fraction`'s or `Counter`'s comparisons (and the globals they
read) 155, the builtins the grader calls 159, the modules HumanEval's tests and prompts import
(`math.fabs`, `random.randint`) 1. Each must pass nothing.
"""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from memcollab_cli.errors import DataUnavailable
from memcollab_cli.tasks import Task, check_code, load_tasks

_YES = '''
class _Yes:
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
    __lt__ = __le__ = __gt__ = __ge__ = __contains__ = __eq__
    __hash__ = object.__hash__
    def __bool__(self):
        return True
    def __sub__(self, other):
        return 0
    __rsub__ = __add__ = __radd__ = __mul__ = __rmul__ = __truediv__ = __mod__ = __sub__
    def __abs__(self):
        return 0
    def __len__(self):
        return 0
    def __iter__(self):
        return iter(())
    def __getitem__(self, key):
        return self
    def __float__(self):
        return 0.0
    def __int__(self):
        return 0
    __index__ = __int__
_keep = []
'''
UNIVERSAL = (
    "    return _impostor()\n\n"
    + _YES
    + "import weakref as _weakref\n"
    "def _impostor():\n    y = _Yes()\n    _keep.append(y)\n    return _weakref.proxy(y)\n"
    "def abs(x):\n    return 0\n"
    "def range(*a):\n    return ()\n"
    "def len(x):\n    return 0\n"
    "def all(x):\n    return True\n"
    "def any(x):\n    return True\n"
    "def isinstance(*a):\n    return True\n"
    "def sorted(x, **k):\n    return x\n"
    "def set(*a):\n    return _impostor()\n"
    "def list(*a):\n    return _impostor()\n"
    "def tuple(*a):\n    return _impostor()\n"
    "def round(*a):\n    return _impostor()\n"
    "def sum(*a):\n    return 0\n"
    "def max(*a, **k):\n    return 0\n"
    "def min(*a, **k):\n    return 0\n"
)
VARIANTS = {
    "MappingProxyType over an always-equal mapping": (
        "    return _impostor()\n\n" + _YES
        + "import types\nclass _AllDict(dict):\n    def __eq__(self, other):\n        return True\n"
        "    __ne__ = lambda s, o: False\n    __hash__ = object.__hash__\n"
        "def _impostor():\n    return types.MappingProxyType(_AllDict())\n"
    ),
    "Fraction with always-equal parts": (
        "    return _impostor()\n\n" + _YES
        + "from fractions import Fraction\n"
        "def _impostor():\n    f = Fraction(0)\n    f._numerator = _Yes()\n    f._denominator = _Yes()\n    return f\n"
    ),
    "tuple holding a proxy": (
        "    return _impostor()\n\n" + _YES
        + "import weakref\ndef _impostor():\n    y = _Yes()\n    _keep.append(y)\n    return (weakref.proxy(y),)\n"
    ),
    "shadowed abs and range, honest but wrong values": (
        "    return None\n\ndef abs(x):\n    return 0\ndef range(*a):\n    return ()\n"
    ),
}


_WRONG = "    return 0\n\n"
REBINDS = {
    "the harness's comparisons through __main__": _WRONG + (
        "import __main__, sys\n"
        "for _m in (__main__, sys.modules.get('__main__')):\n"
        "    for _name in ('OPS', 'PLAIN_IDS', 'is_plain', 'comparable', 'Checker'):\n"
        "        try:\n"
        "            _v = getattr(_m, _name)\n"
        "            if _name == 'OPS':\n"
        "                for _k in list(_v):\n"
        "                    _v[_k] = lambda a, b: True\n"
        "            elif _name == 'PLAIN_IDS':\n"
        "                _v.add(id(int))\n"
        "            elif _name == 'Checker':\n"
        "                _v.cmp = _v.truth = lambda *a: True\n"
        "                _v.falsity = lambda *a: True\n"
        "            else:\n"
        "                setattr(_m, _name, lambda *a: True)\n"
        "        except Exception:\n"
        "            pass\n"
    ),
    "Fraction's comparisons rebound": (
        "    return _fractions.Fraction(0)\n\n"
        "import fractions as _fractions\n"
        "for _op in ('__eq__', '__lt__', '__le__', '__gt__', '__ge__', '_richcmp', '__bool__'):\n"
        "    setattr(_fractions.Fraction, _op, lambda *a: True)\n"
        "_fractions.Fraction.__ne__ = lambda *a: False\n"
        "_fractions.Fraction.__hash__ = lambda self: 0\n"
    ),
    "Counter's comparisons and collections' globals rebound": (
        "    return _collections.Counter()\n\n"
        "import collections as _collections, builtins as _builtins\n"
        "for _op in ('__eq__', '__lt__', '__le__', '__gt__', '__ge__', '__bool__', '__contains__'):\n"
        "    setattr(_collections.Counter, _op, lambda *a: True)\n"
        "_collections.Counter.__ne__ = lambda *a: False\n"
        "_collections.isinstance = lambda *a: True\n"
        "_collections.all = lambda *a: True\n"
        "_builtins.all = lambda *a: True\n"
    ),
    "the builtins the grader uses rebound": _WRONG + (
        "import builtins as _b\n"
        "_b.bool = lambda *a: True\n"
        "class _D(dict):\n"
        "    values = staticmethod(lambda *a: [])\n"
        "_b.dict = _D\n"
        "_b.id = lambda x: 0\n"
        "_b.type = lambda x: int\n"
    ),
    "modules the tests and prompts import rebound": _WRONG + (
        "import math, random, string, copy\n"
        "math.fabs = lambda x: 0.0\n"
        "math.pow = lambda x, y: 0.0\n"
        "random.randint = random.Random.randint = lambda *a: 0\n"
        "random.choice = random.Random.choice = lambda *a: ''\n"
        "random.random = lambda: 0.0\n"
        "copy.deepcopy = lambda x, memo=None: x\n"
        "string.ascii_letters = string.ascii_lowercase = ''\n"
    ),
}


@pytest.fixture(scope="module")
def humaneval():
    try:
        return load_tasks("humaneval")
    except DataUnavailable as e:
        pytest.skip(str(e))


def _passes(tasks, body, timeout=5.0):
    with ThreadPoolExecutor(max_workers=2) as pool:
        verdicts = list(pool.map(lambda t: check_code(t, body, timeout=timeout), tasks))
    return [t.id for t, v in zip(tasks, verdicts, strict=True) if v.correct]


def test_one_universal_wrong_body_passes_no_humaneval_task(humaneval):
    start = time.monotonic()
    passed = _passes(humaneval, UNIVERSAL)
    print(f"universal wrong body: {len(passed)}/{len(humaneval)} passed in {time.monotonic() - start:.0f} s")
    assert passed == []


@pytest.mark.parametrize("name", VARIANTS)
def test_other_impostors_pass_nothing(humaneval, name):
    # The shadowing tasks (4: abs; 32, 38, 50: loops over range) and a spread of the rest.
    wanted = {"HumanEval/4", "HumanEval/32", "HumanEval/38", "HumanEval/50"}
    tasks = [t for i, t in enumerate(humaneval) if t.id in wanted or i % 16 == 0]
    assert _passes(tasks, VARIANTS[name]) == []


@pytest.mark.parametrize("name", REBINDS)
def test_wrong_bodies_that_rebind_what_the_grader_calls_pass_nothing(humaneval, name):
    # Every task, once each: the first three passed all their tasks before round three.
    assert _passes(humaneval, REBINDS[name]) == []


def test_a_counter_is_still_judged_as_the_dict_it_holds():
    t = Task(id="t", benchmark="t", domain="code", question="?", entry_point="f",
             tests="assert f('aab') == {'a': 2, 'b': 1}\nassert f('') == {}\nassert f('a')\n"
                   "assert [f('b')] == [{'b': 1}]\n")  # fmt: skip
    assert check_code(t, "from collections import Counter\ndef f(s):\n    return Counter(s)\n").correct
    assert check_code(t, "from collections import Counter\ndef f(s):\n    return Counter()\n").verdict == "fail"


def test_prompt_helpers_and_a_builtin_named_entry_point_still_work(humaneval):
    # HumanEval/32's tests call the prompt's `poly`; MBPP/126's function under test is `sum`.
    t32 = next(t for t in humaneval if t.id == "HumanEval/32")
    assert check_code(t32, t32.answer).correct
    # A solution that rebinds the prompt's helper does not change what the tests call.
    rebound = t32.answer + "\ndef poly(xs, x):\n    return 0\n"
    assert check_code(t32, "    return 0.5\n" + rebound[rebound.index("\ndef poly"):]).verdict == "fail"
    t = Task(id="126", benchmark="mbpp", domain="code", question="?", entry_point="sum",
             tests="assert sum(10, 15) == 6\nassert sum(100, 150) == 93\n")  # fmt: skip
    ref = ("import math\ndef sum(a, b):\n    s = 0\n    for i in range(1, min(a, b)):\n"
           "        if a % i == 0 and b % i == 0:\n            s += i\n    return s\n")  # fmt: skip
    assert check_code(t, ref).correct


def test_a_value_the_function_returns_is_judged_by_what_it_is_made_of():
    t = Task(id="t", benchmark="t", domain="code", question="?", entry_point="f",
             tests="assert abs(f(1) - 2) < 1e-9\nassert f(2) != f(3)\n")  # fmt: skip
    assert check_code(t, "def f(x):\n    return x + 1\n").correct
    lying = _YES + "def f(x):\n    return _Yes()\n"  # arithmetic that says 0, != that says no
    assert check_code(t, lying).verdict == "fail"
