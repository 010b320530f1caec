"""The candidate's side of a test run, inside the sandbox; never imported by r1-code.

It runs the candidate's code, then answers requests about it, one JSON line each way
(``_wire.py``): evaluate a source expression in the candidate's namespace (the left side of
``assert f(x) == y``), call a function or a handle with plain-data arguments, look a name
up, read an attribute of a handle. Every answer is plain data, an opaque handle when its
client allows them, or the name and message of the exception raised.

Why a process of its own: nothing the candidate does here (patching ``builtins``,
shadowing names, objects with a lying ``__eq__``, printing, reading its own memory) can
reach the code that decides whether a test passed. That code runs in the trusted r1
process (``judge.py``, for ``assert f(x) == literal`` tests) or in the checker
(``_checker.py``), another process the candidate cannot read or write. Whatever this
process sends is treated as the candidate's output and nothing more.

Requests come on stdin and answers go to stdout, both moved to private descriptors before
the candidate runs; the candidate's own stdin is ``/dev/null`` and its stdout goes to stderr
(its ``print`` calls capped, so chatty but correct code still answers). The first request
is ``{"code": [...], "handles": bool, "print_limit": int}``, answered ``{"loaded": ...}``.

Kept compatible with old Python 3 versions: the sandbox may run a system interpreter.
"""

import builtins
import os
import sys

sys.path.insert(0, os.getcwd())  # for _wire; removed before any candidate code runs
import _wire  # noqa: E402

del sys.path[0]

PR_SET_PDEATHSIG = 1
SIGKILL = 9


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


def _die_with_parent():
    """Dies with the checker that started it, when there is no PID namespace to do it."""
    if len(sys.argv) < 2:
        return
    try:
        import ctypes

        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0)
    except (ImportError, OSError, AttributeError):
        return
    if os.getppid() != int(sys.argv[1]):
        os._exit(1)


def _log_failure(what):
    import traceback  # only when something failed: it costs a few milliseconds to import

    sys.stderr.write("r1-runner: %s failed\n%s" % (what, traceback.format_exc(limit=-3)))
    sys.stderr.flush()


def _serve(message, namespace, handles):
    """The answer to one request (see the module docstring)."""
    index = message.get("id")
    try:
        if "eval" in message:
            value = eval(compile(message["eval"], "<test %s>" % index, "eval"), namespace)
        elif "get" in message:
            name = message["get"]
            if name not in namespace:
                return {"id": index, "missing": True}
            value = namespace[name]
            if type(value) is type(os) and getattr(value, "__name__", None):
                return {"id": index, "module": value.__name__}
        elif "call" in message:
            target = message["call"]
            target = namespace[target] if isinstance(target, str) else handles[target]
            fetch = handles.__getitem__ if handles is not None else None
            args = [_wire.decode(a, fetch) for a in message.get("args", [])]
            kwargs = dict((k, _wire.decode(v, fetch)) for k, v in message.get("kwargs", []))
            value = target(*args, **kwargs)
        elif "attr" in message:
            value = getattr(handles[message["attr"]], message["name"])
        else:
            return {"id": index, "error": "unknown request", "type": "RuntimeError"}
        return {"id": index, "value": _wire.encode(value, handles)}
    except BaseException as e:  # SystemExit and KeyboardInterrupt too: the candidate's fault, answered
        _log_failure("request %s" % index)
        return {"id": index, "error": str(e)[:1000], "type": type(e).__name__}


def _main():
    requests = os.fdopen(os.dup(0), "rb")
    answers = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    _die_with_parent()

    def answer(message):
        data = _wire.dumps(message)
        while data:
            data = data[os.write(answers, data):]

    first = _wire.loads(requests.readline())
    limit = int(first["print_limit"])
    sys.stdout = _CappedStream(sys.stdout, limit)
    sys.stderr = _CappedStream(sys.stderr, limit)
    handles = [] if first.get("handles") else None
    namespace = {"__name__": "__solution__", "__builtins__": builtins}
    for i, chunk in enumerate(first["code"]):
        try:
            exec(compile(chunk, "<code %d>" % i, "exec"), namespace)
        except BaseException:
            _log_failure("code chunk %d" % i)
            answer({"loaded": False})
            return
    answer({"loaded": True})
    for line in iter(requests.readline, b""):
        try:
            message = _wire.loads(line)
        except _wire.NotPlain:
            answer({"error": "unreadable request", "type": "RuntimeError"})
            continue
        answer(_serve(message, namespace, handles))
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:
            pass
    answer({"end": True})


try:
    _main()
except BaseException:
    _log_failure("the runner")
finally:
    os._exit(0)  # do not wait for threads the candidate left running, nor run its atexit hooks
