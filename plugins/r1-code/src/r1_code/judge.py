"""Run candidate programs against their test cases in the sandbox and count what passed.

One sandbox per candidate (starting a process costs more than most tests). Nothing the
candidate does in its process can decide a verdict (see ``cases.py`` for how tests are
split and ``README.md`` for the threat model):

- a job whose every test is ``assert L == <literal>`` (all of MBPP but one problem) runs only
  the candidate's process, ``_runner.py``: it evaluates each ``L`` and sends the value as
  plain data (``_wire.py``); r1 compares it with the literal here, with Python's ``==`` on
  built-in values;
- any other job runs ``_checker.py``, which executes the test code in a process of its own,
  talks to the candidate's process over pipes, and reports a verdict per test tagged with a
  per-run random nonce.

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

from r1_code import _wire
from r1_code.cases import Case, literal_value, parse_case
from r1_code.extract import extract_code
from r1_code.sandbox import ExecResult, run_programs

HERE = Path(__file__).parent
WIRE, RUNNER, CHECKER = "_wire.py", "_runner.py", "_checker.py"
PRINT_LIMIT = 65536  # characters of the candidate's print() output kept for debugging


@dataclass(frozen=True)
class Job:
    """A candidate and its tests.

    Attributes:
        code: sources run in order in the candidate's process before the tests, in one
            namespace (e.g. a preamble, the candidate, setup code); if one raises, every
            test fails.
        cases: the tests, run one by one after ``code``; see :class:`r1_code.cases.Case`.
        trusted: sources the checker runs before the tests and the candidate never sees
            run (HumanEval's prompt, for its helpers, and the test module).
        remote: ``(name, candidate_name)`` pairs: names the checker binds to the
            candidate's objects before the tests (``candidate`` to the entry point).
    """

    code: tuple[str, ...]
    cases: tuple[Case, ...]
    trusted: tuple[str, ...] = ()
    remote: tuple[tuple[str, str], ...] = ()

    @property
    def by_value(self) -> bool:
        """Every test is ``assert L == <literal>``: r1 compares, no checker runs."""
        return not self.trusted and not self.remote and all(case.literal for case in self.cases)


@dataclass(frozen=True)
class Verdict:
    """Per-test results of one job.

    Attributes:
        results: one bool per test; a test that never reported (time-out, crash) is False.
        status: the sandbox status of the run (see :class:`r1_code.sandbox.ExecResult`).
        finished: every test ran and the run reported its end.
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
    source = {name: (HERE / name).read_text(encoding="utf-8") for name in (WIRE, RUNNER, CHECKER)}
    programs, stdins, files, nonces = [], [], [], []
    for job in jobs:
        if job.by_value:
            nonce = None
            programs.append(source[RUNNER])
            files.append({WIRE: source[WIRE]})
            stdins.append(_runner_input(job))
        else:
            nonce = secrets.token_hex(16)
            programs.append(source[CHECKER])
            files.append({WIRE: source[WIRE], RUNNER: source[RUNNER]})
            stdins.append(nonce + "\n" + _checker_spec(job))
        nonces.append(nonce)
    runs = run_programs(programs, stdin=stdins, files=files, **sandbox_options)
    return [
        _compare(job, run) if nonce is None else _checker_verdict(job, nonce, run)
        for job, nonce, run in zip(jobs, nonces, runs)
    ]


def _runner_input(job: Job) -> str:
    """The candidate's code, then one request per test: evaluate its left side."""
    lines = [json.dumps({"code": list(job.code), "handles": False, "print_limit": PRINT_LIMIT})]
    lines += [json.dumps({"id": i, "eval": case.left}) for i, case in enumerate(job.cases)]
    return "\n".join(lines) + "\n"


def _checker_spec(job: Job) -> str:
    cases = [{"eq": [c.left, c.right]} if c.left is not None else {"exec": c.source} for c in job.cases]
    spec = {
        "code": list(job.code),
        "trusted": list(job.trusted),
        "remote": [list(pair) for pair in job.remote],
        "cases": cases,
        "print_limit": PRINT_LIMIT,
    }
    return json.dumps(spec) + "\n"


def _compare(job: Job, run: ExecResult) -> Verdict:
    """Verdicts of a by-value job: each answered value against its literal, here.

    The candidate writes this stdout, so it could answer values of its choosing; that is
    no more than what returning them would do. It cannot answer "passed".
    """
    results = [False] * len(job.cases)
    answered = [False] * len(job.cases)
    finished = False
    for line in run.stdout.splitlines():
        try:
            message = _wire.loads(line)
        except _wire.NotPlain:
            continue
        index = message.get("id")
        if message.get("end") is True:
            finished = True
        elif type(index) is int and 0 <= index < len(results) and not answered[index] and "value" in message:
            answered[index] = True
            results[index] = _equal(message["value"], job.cases[index])
    return Verdict(results=tuple(results), status=run.status, finished=finished and all(answered), stderr=run.stderr)


def _equal(encoded: Any, case: Case) -> bool:
    try:
        return bool(_wire.decode(encoded) == literal_value(case))
    except Exception:  # not plain data, or a comparison that fails (e.g. too deep): no pass
        return False


def _checker_verdict(job: Job, nonce: str, run: ExecResult) -> Verdict:
    results = [False] * len(job.cases)
    finished = False
    for m in re.finditer(r"^@@" + nonce + r":(\d+:[01]|end|code_failed)$", run.stdout, re.M):
        tag = m.group(1)
        if tag == "end":
            finished = True
        elif tag != "code_failed":
            index, ok = tag.split(":")
            if int(index) < len(results):
                results[int(index)] = ok == "1"
    return Verdict(results=tuple(results), status=run.status, finished=finished, stderr=run.stderr)


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
            taken as the stub's body and appended to the preamble instead. With ``test``,
            the checker runs it too, so that the tests use the prompt's own helpers.
    """
    if tests:
        chunks = [textwrap.dedent(code)]
        if preamble:
            chunks.insert(0, preamble)
        if setup_code and setup_code.strip():
            chunks.append(setup_code)
        return Job(code=tuple(chunks), cases=tuple(parse_case(t) for t in tests))
    if test and entry_point:
        if re.search(r"^\s*(?:async\s+)?def\s+" + re.escape(entry_point) + r"\s*\(", code, re.M):
            chunks = [textwrap.dedent(code)]
            if preamble:
                chunks.insert(0, preamble)
        else:
            chunks = [(preamble or "") + code]
        if setup_code and setup_code.strip():
            chunks.append(setup_code)
        setup, cases, parameter = split_check(test, entry_point)
        remote = [(entry_point, entry_point)] + ([(parameter, entry_point)] if parameter else [])
        return Job(
            code=tuple(chunks),
            cases=tuple(Case(c) for c in cases),
            trusted=tuple(c for c in (preamble, setup) if c),
            remote=tuple(remote),
        )
    return None


def split_check(test: str, entry_point: str) -> tuple[str, list[str], str | None]:
    """Splits HumanEval-style test code into (setup, test cases, ``check``'s parameter).

    Each top-level statement of ``check``'s body that contains an ``assert`` becomes one case;
    statements without one (imports, helper variables, HumanEval's ``assert True`` markers,
    which would otherwise be free points) run as part of the next case, so the order of
    execution is unchanged. The setup holds the rest of the module; the parameter (usually
    ``candidate``) is the name the cases call the entry point by. When the body cannot be
    lifted out of its function (``return``, ``global``, ``nonlocal``, ``yield``, or no
    ``check`` at all), the whole ``check`` call is a single case and the parameter None.
    """
    whole = (test, [f"check({entry_point})"], None)
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
    return setup, cases, check.args.args[0].arg


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
