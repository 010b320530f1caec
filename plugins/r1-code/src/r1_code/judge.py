"""Run candidate programs against their test cases in the sandbox and count what passed.

One sandboxed process per candidate (starting a process costs more than most tests), with
``_harness.py`` reporting a verdict per test case, tagged with a per-run random nonce so
the candidate cannot print verdicts of its own (see the harness docstring).

The reward and both benchmarks build their jobs with :func:`make_job`, so they agree on how
a sample's fields become a program: ``tests`` (a list of statements, usually asserts, with
optional ``setup_code``) or HumanEval's ``test`` (defines ``check(candidate)``) with its
``entry_point``, where each top-level statement of ``check`` that asserts is one case.
"""

from __future__ import annotations

import ast
import json
import re
import secrets
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from r1_code.extract import extract_code
from r1_code.sandbox import run_programs

HARNESS = Path(__file__).with_name("_harness.py")


@dataclass(frozen=True)
class Job:
    """A candidate and its tests.

    Attributes:
        code: sources run in order before the tests, in one namespace (e.g. a preamble, the
            candidate, setup code); if one raises, every test fails.
        tests: sources run one by one after ``code``, in the same namespace; a test passes
            when it raises nothing.
    """

    code: tuple[str, ...]
    tests: tuple[str, ...]


@dataclass(frozen=True)
class Verdict:
    """Per-test results of one job.

    Attributes:
        results: one bool per test; a test that never reported (time-out, crash) is False.
        status: the sandbox status of the run (see :class:`r1_code.sandbox.ExecResult`).
        finished: the harness ran every test and reported the end.
        stderr: the run's stderr (the candidate's tracebacks; capped), for debugging.
    """

    results: tuple[bool, ...]
    status: str
    finished: bool
    stderr: str = ""

    @property
    def passed(self) -> int:
        return sum(self.results)

    @property
    def fraction(self) -> float:
        return self.passed / len(self.results) if self.results else 0.0

    @property
    def all_passed(self) -> bool:
        return bool(self.results) and all(self.results)


def run_jobs(jobs: list[Job], **sandbox_options: Any) -> list[Verdict]:
    """Runs every job in the sandbox, in parallel; options go to :func:`run_programs`."""
    if not jobs:
        return []
    harness = HARNESS.read_text(encoding="utf-8")
    nonces = [secrets.token_hex(16) for _ in jobs]
    files = [{"spec.json": json.dumps({"code": list(job.code), "tests": list(job.tests)})} for job in jobs]
    runs = run_programs(
        [harness] * len(jobs), stdin=[n + "\n" for n in nonces], files=files, **sandbox_options
    )
    return [_parse(job, nonce, run.stdout, run.status, run.stderr) for job, nonce, run in zip(jobs, nonces, runs)]


def _parse(job: Job, nonce: str, stdout: str, status: str, stderr: str) -> Verdict:
    results = [False] * len(job.tests)
    finished = False
    for m in re.finditer(r"^@@" + nonce + r":(\d+:[01]|end|code_failed)$", stdout, re.M):
        tag = m.group(1)
        if tag == "end":
            finished = True
        elif tag != "code_failed":
            index, ok = tag.split(":")
            if int(index) < len(results):
                results[int(index)] = ok == "1"
    return Verdict(results=tuple(results), status=status, finished=finished, stderr=stderr)


def make_job(
    code: str,
    *,
    tests: list[str] | None = None,
    setup_code: str | None = None,
    test: str | None = None,
    entry_point: str | None = None,
    preamble: str | None = None,
) -> Job | None:
    """The job checking ``code`` against a sample's tests, or ``None`` if it has none.

    Args:
        code: the candidate, as extracted from a response.
        tests: statements, each one test case (MBPP's asserts).
        setup_code: run after the candidate, before the tests (MBPP's ``test_setup_code``).
        test: HumanEval-style test code defining ``check(candidate)``; used when ``tests``
            is empty, together with ``entry_point``.
        entry_point: the function ``check`` is called with.
        preamble: code the candidate may rely on (HumanEval's prompt: imports, helpers and
            the stub). Run before it; a candidate that does not define ``entry_point`` is
            taken as the stub's body and appended to the preamble instead.
    """
    if tests:
        chunks = [textwrap.dedent(code)]
        if preamble:
            chunks.insert(0, preamble)
        if setup_code and setup_code.strip():
            chunks.append(setup_code)
        return Job(code=tuple(chunks), tests=tuple(tests))
    if test and entry_point:
        if re.search(r"^\s*(?:async\s+)?def\s+" + re.escape(entry_point) + r"\s*\(", code, re.M):
            chunks = [textwrap.dedent(code)]
            if preamble:
                chunks.insert(0, preamble)
        else:
            chunks = [(preamble or "") + code]
        setup, cases = split_check(test, entry_point)
        if setup_code and setup_code.strip():
            chunks.append(setup_code)
        chunks.append(setup)
        return Job(code=tuple(chunks), tests=tuple(cases))
    return None


def split_check(test: str, entry_point: str) -> tuple[str, list[str]]:
    """Splits HumanEval-style test code into (setup, test cases).

    Each top-level statement of ``check``'s body that contains an ``assert`` becomes one case;
    statements without one (imports, helper variables, HumanEval's ``assert True`` markers,
    which would otherwise be free points) run as part of the next case, so the order of
    execution is unchanged. The setup holds the rest of the module and binds
    ``candidate``. When the body cannot be lifted out of its function (``return``,
    ``global``, ``nonlocal``, ``yield``, or no ``check`` at all), the whole ``check`` call
    is a single case.
    """
    whole = (test, [f"check({entry_point})"])
    try:
        module = ast.parse(test)
    except SyntaxError:
        return whole
    checks = [n for n in module.body if isinstance(n, ast.FunctionDef) and n.name == "check"]
    if len(checks) != 1 or len(checks[0].args.args) != 1:
        return whole
    check = checks[0]
    unliftable = (ast.Return, ast.Global, ast.Nonlocal, ast.Yield, ast.YieldFrom, ast.Await)
    for node in check.body:
        for sub in _walk_same_scope(node):
            if isinstance(sub, unliftable):
                return whole
    rest = [n for n in module.body if n is not check]
    setup = ast.unparse(ast.Module(body=rest, type_ignores=[])) if rest else ""
    setup += f"\n{check.args.args[0].arg} = {entry_point}\n"
    cases: list[str] = []
    pending: list[str] = []
    for node in check.body:
        pending.append(ast.unparse(node))
        if any(_is_real_assert(sub) for sub in _walk_same_scope(node)):
            cases.append("\n".join(pending))
            pending = []
    if not cases:
        return whole
    if pending:
        cases[-1] += "\n" + "\n".join(pending)
    return setup, cases


def _is_real_assert(node: ast.AST) -> bool:
    return isinstance(node, ast.Assert) and not isinstance(node.test, ast.Constant)


def _walk_same_scope(node: ast.AST):
    """Like ``ast.walk``, without entering nested functions, lambdas and classes."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        for child in ast.iter_child_nodes(current):
            if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                stack.append(child)


SAMPLE_FIELDS = ("tests", "setup_code", "test", "entry_point", "preamble")


def score_responses(
    responses: list[str], samples: list[dict[str, Any]], *, binary: bool = False, **sandbox_options: Any
) -> list[float | None]:
    """The share of its sample's tests each response's code passes (1/0 with ``binary``).

    ``None`` where the sample has no tests; 0.0 where the response holds no code. Every
    program of the batch runs in one parallel sandbox call.
    """
    if len(responses) != len(samples):
        raise ValueError(f"{len(responses)} responses for {len(samples)} samples")
    scores: list[float | None] = [None] * len(responses)
    jobs: list[Job] = []
    where: list[int] = []
    for i, (response, sample) in enumerate(zip(responses, samples)):
        fields = {k: sample.get(k) for k in SAMPLE_FIELDS}
        if fields["tests"] is not None:
            fields["tests"] = [str(t) for t in fields["tests"]]  # also from arrays of a dataset
        if not (fields["tests"] or (fields["test"] and fields["entry_point"])):
            continue
        code = extract_code(response)
        if code is None:
            scores[i] = 0.0
            continue
        job = make_job(code, **fields)
        if job is None:
            continue
        jobs.append(job)
        where.append(i)
    for i, verdict in zip(where, run_jobs(jobs, **sandbox_options)):
        scores[i] = float(verdict.all_passed) if binary else verdict.fraction
    return scores
