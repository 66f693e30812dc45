"""Benchmarks and verifiers: load tasks, extract answers and code, grade them, run code safely."""

from memcollab_cli.tasks.base import Task, Verdict
from memcollab_cli.tasks.codecheck import (
    TestRun,
    build_program,
    check_code,
    extract_code,
    run_public_tests,
)
from memcollab_cli.tasks.data import BENCHMARKS, Benchmark, load_tasks, pull_data
from memcollab_cli.tasks.execution import ExecResult, isolation, run_python, run_tests
from memcollab_cli.tasks.mathcheck import check_math, extract_answer
from memcollab_cli.tasks.mbpp import mbpp_directory
from memcollab_cli.tasks.verify import verify

__all__ = [
    "BENCHMARKS",
    "Benchmark",
    "ExecResult",
    "Task",
    "TestRun",
    "Verdict",
    "build_program",
    "check_code",
    "check_math",
    "extract_answer",
    "extract_code",
    "isolation",
    "load_tasks",
    "mbpp_directory",
    "pull_data",
    "run_public_tests",
    "run_python",
    "run_tests",
    "verify",
]
