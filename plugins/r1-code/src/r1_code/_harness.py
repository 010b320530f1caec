"""Test harness that runs *inside* the sandbox as ``main.py``; never imported by r1-code.

It runs a candidate's code, then each test case on its own, and reports each verdict as
soon as it is known on a line ``@@<nonce>:<index>:<0|1>`` (``@@<nonce>:end`` when all ran),
so a time-out or crash keeps the verdicts of the tests before it.

Why a nonce: the candidate shares this process and its stdout, so it could print fake
verdicts. The nonce is random per run and never on disk: it arrives on stdin, is read
before any candidate code runs, and lives only in this function's locals. ``spec.json``
(the code and tests) is deleted before the candidate runs, so the candidate cannot read
the tests off the disk either. This stops casual forging, not a program that walks the
interpreter's frames looking for the nonce; see the README.

Print calls by the candidate are capped (the rest discarded) so that chatty but correct
code still reports its verdicts; writing to the file descriptors directly meets the
sandbox's own output cap instead.

Kept compatible with old Python 3 versions: the sandbox may run a system interpreter.
"""

import json
import os
import sys
import traceback


class _CappedStream(object):
    """A text stream that forwards the first ``limit`` characters and drops the rest."""

    def __init__(self, stream, limit):
        self._stream = stream
        self._left = limit

    def write(self, text):
        if self._left > 0:
            part = text[: self._left]
            self._left -= len(part)
            try:
                self._stream.write(part)
            except Exception:
                pass
        return len(text)

    def flush(self):
        try:
            self._stream.flush()
        except Exception:
            pass

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _main():
    nonce = sys.stdin.readline().strip()
    with open("spec.json", encoding="utf-8") as f:
        spec = json.load(f)
    os.remove("spec.json")
    out_fd = os.dup(1)
    write, encode = os.write, str.encode
    fmt_exc = traceback.format_exc

    def report(tag):
        try:
            write(out_fd, encode("\n@@" + nonce + ":" + tag + "\n"))
        except OSError:
            pass

    limit = int(spec.get("print_limit", 65536))
    sys.stdout = _CappedStream(sys.stdout, limit)
    sys.stderr = _CappedStream(sys.stderr, limit)
    namespace = {"__name__": "__solution__", "__builtins__": __builtins__}
    for i, chunk in enumerate(spec["code"]):
        try:
            exec(compile(chunk, "<code %d>" % i, "exec"), namespace)
        except BaseException:  # SystemExit and KeyboardInterrupt too: the candidate fails, we report
            sys.stderr.write("r1-harness: code chunk %d failed\n%s" % (i, fmt_exc(limit=-3)))
            sys.stderr.flush()
            report("code_failed")
            return
    for i, test in enumerate(spec["tests"]):
        try:
            exec(compile(test, "<test %d>" % i, "exec"), namespace)
            ok = True
        except BaseException:
            ok = False
            sys.stderr.write("r1-harness: test %d failed\n%s" % (i, fmt_exc(limit=-3)))
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:
            pass
        report("%d:%d" % (i, int(ok)))
    report("end")


_main()
try:
    sys.stdout.flush()
    sys.stderr.flush()
finally:
    os._exit(0)  # do not wait for threads the candidate left running, nor run its atexit hooks
