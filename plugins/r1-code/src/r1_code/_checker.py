"""The test side of a test run, inside the sandbox; never imported by r1-code.

It runs test code that needs more than "evaluate an expression, compare with a literal"
(HumanEval's ``check(candidate)``, ``math.isclose`` or ``abs(a - b) < eps`` forms, loops,
helpers), and reports a verdict per test case on stdout as ``@@<nonce>:<index>:<0|1>``
(``@@<nonce>:end`` when all ran), so a time-out or crash keeps the verdicts before it.

Why the candidate cannot reach it:

- The candidate runs in another process, ``_runner.py``, started from a fresh interpreter
  (it cannot read this process's memory: the tests, the expected values, the nonce) with
  pipes for requests and answers only; it never holds this process's stdout, the verdict
  channel. This process never runs a line of the candidate's code.
- This process makes itself undumpable (``PR_SET_DUMPABLE`` 0) before the runner starts, so
  a process of the same uid without privileges (the runner) cannot ``ptrace`` it or open its
  ``/proc/<pid>/mem`` or ``/proc/<pid>/fd``.
- Test code runs here with this interpreter's own builtins. A name the test uses resolves to,
  in order: what trusted code defined (HumanEval's prompt and test module), a builtin, the
  candidate's object of that name. Plain data from the candidate arrives as built-in values;
  its functions and other objects arrive as opaque proxies that can be called or have an
  attribute read (remotely, with plain-data arguments), and refuse everything else:
  comparing, hashing, truth-testing, iterating. A module the candidate imported is imported
  again here, untouched. ``assert L == R`` tests evaluate ``L`` in the candidate's namespace
  and ``R`` here.

What the candidate can still do: answer with whatever data it likes (which is what being
tested means), or stop this process (kill it, exhaust the shared limits), which fails the
remaining tests. The spec arrives on stdin (nonce line, then JSON) and is never on disk.

Kept compatible with old Python 3 versions: the sandbox may run a system interpreter.
"""

import builtins
import os
import sys

sys.path.insert(0, os.getcwd())  # for _wire; removed before the candidate's runner starts
import _wire  # noqa: E402

del sys.path[0]

PR_SET_DUMPABLE = 4
MAX_ANSWER_BYTES = 64 << 20


class RemoteError(Exception):
    """The candidate's side raised, answered nonsense or is gone."""


class _Link(object):
    """Requests to the runner and its answers, one JSON line each; any protocol breach
    kills the runner, and every later request fails."""

    def __init__(self, code, print_limit):
        """Starts the runner (a fresh interpreter: nothing of this process's memory) and
        sends it the code; :meth:`loaded` waits for its answer, so both start together."""
        request_r, request_w = os.pipe()
        answer_r, answer_w = os.pipe()
        argv = [sys.executable, "-I", "-S", "-B", "_runner.py", str(os.getpid())]
        self._pid = os.fork()
        if self._pid == 0:  # stdin, stdout: the pipes; stderr: shared; every other fd closes on exec
            try:
                os.dup2(request_r, 0)
                os.dup2(answer_w, 1)
                os.execv(argv[0], argv)
            finally:
                os._exit(127)
        os.close(request_r)
        os.close(answer_w)
        self._requests = os.fdopen(request_w, "wb")
        self._answers = os.fdopen(answer_r, "rb")
        self._next = 0
        try:
            self._send({"code": code, "handles": True, "print_limit": print_limit})
        except RemoteError:
            pass  # the runner did not start; loaded() says so

    def loaded(self):
        try:
            return self._receive().get("loaded") is True
        except RemoteError:
            return False

    def _send(self, message):
        if self._pid is None:
            raise RemoteError("the candidate's process is gone")
        try:
            self._requests.write(_wire.dumps(message))
            self._requests.flush()
        except (OSError, ValueError) as e:
            self.close()
            raise RemoteError(str(e))

    def _receive(self):
        if self._pid is None:
            raise RemoteError("the candidate's process is gone")
        try:
            line = self._answers.readline(MAX_ANSWER_BYTES)
            if not line.endswith(b"\n"):
                raise RemoteError("the candidate's process ended or answered too much")
            return _wire.loads(line)
        except (OSError, ValueError, _wire.NotPlain) as e:
            self.close()
            raise RemoteError(str(e))
        except RemoteError:
            self.close()
            raise

    def _answer(self, message):
        message["id"] = index = self._next
        self._next += 1
        self._send(message)
        answer = self._receive()
        if answer.get("id") != index:
            self.close()
            raise RemoteError("the candidate's process answered out of turn")
        if "error" in answer:
            raise _exception(answer.get("type"), answer.get("error"))
        return answer

    def lookup(self, name):
        """The candidate's object called ``name``: ``("missing", None)``, ``("module", its
        name)`` or ``("value", plain data or a proxy)``."""
        answer = self._answer({"get": name})
        if answer.get("missing") is True:
            return "missing", None
        if "module" in answer:
            return "module", str(answer["module"])
        return "value", self._decode(answer)

    def request(self, **message):
        """The decoded value the candidate answers (plain data or a proxy)."""
        return self._decode(self._answer(message))

    def _decode(self, answer):
        if "value" not in answer:
            raise RemoteError("the candidate's process answered without a value")
        try:
            return _wire.decode(answer["value"], _Remote.make(self))
        except Exception as e:
            raise RemoteError("the candidate's answer is not plain data: %s" % e)

    def close(self):
        if self._pid is not None:
            try:
                os.kill(self._pid, 9)
                os.waitpid(self._pid, 0)
            except OSError:
                pass
            self._pid = None


def _exception(kind, message):
    """The built-in exception the candidate raised (so ``except ValueError`` in a test works),
    else :class:`RemoteError`; never a type the candidate defines."""
    cls = getattr(builtins, str(kind), None)
    if isinstance(cls, type) and issubclass(cls, Exception):
        try:
            return cls(message)
        except Exception:
            pass
    return RemoteError("%s: %s" % (kind, message))


class _Remote(object):
    """An object that lives in the candidate's process: callable, attributes readable,
    nothing else (no ``==``, no truth value, no hash, no iteration)."""

    __slots__ = ("_link", "_target")

    def __init__(self, link, target):
        object.__setattr__(self, "_link", link)
        object.__setattr__(self, "_target", target)

    @staticmethod
    def make(link):
        return lambda index: _Remote(link, index)

    def __call__(self, *args, **kwargs):
        link = object.__getattribute__(self, "_link")
        enc = _encode_arg
        return link.request(
            call=object.__getattribute__(self, "_target"),
            args=[enc(a) for a in args],
            kwargs=[[k, enc(v)] for k, v in kwargs.items()],
        )

    def __getattr__(self, name):
        target = object.__getattribute__(self, "_target")
        if name.startswith("__") or isinstance(target, str):
            raise AttributeError(name)
        return object.__getattribute__(self, "_link").request(attr=target, name=name)

    def __setattr__(self, name, value):
        raise TypeError("the candidate's objects are read-only to tests")

    def _refuse(self, *args):
        raise TypeError("a candidate's object is not plain data")

    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __hash__ = __bool__ = __len__ = __iter__ = _refuse
    __contains__ = __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = _refuse
    __getitem__ = __index__ = __int__ = __float__ = __abs__ = __neg__ = __reduce__ = __reduce_ex__ = _refuse

    def __repr__(self):
        return "<candidate object %r>" % (object.__getattribute__(self, "_target"),)


def _encode_arg(value):
    """A test's argument for the candidate: plain data, or a proxy handed back."""

    class _Handles(list):
        def append(self, obj):
            if type(obj) is not _Remote:
                raise _wire.NotPlain("a %s cannot be passed to the candidate" % type(obj).__name__)
            list.append(self, object.__getattribute__(obj, "_target"))

    handles = _Handles()
    encoded = _wire.encode(value, handles)
    return _swap_handles(encoded, handles)


def _swap_handles(encoded, targets):
    """Replaces ``{"H": i}`` (an index into ``targets``) with the runner's own handle number."""
    if isinstance(encoded, list):
        return [_swap_handles(e, targets) for e in encoded]
    if isinstance(encoded, dict):
        (tag, payload), = encoded.items()
        if tag == "H":
            target = targets[payload]
            if isinstance(target, str):
                raise _wire.NotPlain("a candidate's function cannot be passed by name")
            return {"H": target}
        return {tag: _swap_handles(payload, targets)}
    return encoded


def _loaded_names(source):
    """Every name a piece of code reads (a superset of its free names)."""
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return sorted({n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)})


def _bind_names(source, namespace, link, looked_up):
    """Binds the names ``source`` reads that neither trusted code nor builtins define to the
    candidate's objects of that name (see the module docstring for the order)."""
    for name in _loaded_names(source):
        if name in namespace or hasattr(builtins, name) or name in looked_up:
            continue
        looked_up.add(name)
        try:
            kind, value = link.lookup(name)
            if kind == "module":
                namespace[name] = __import__(value, fromlist=["_"])
            elif kind == "value":
                namespace[name] = value
        except Exception:  # the name stays unbound: a test that uses it fails
            continue


def _undumpable():
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE)")


def _main():
    nonce = sys.stdin.readline().strip()
    spec = _wire.loads(sys.stdin.readline())
    _undumpable()
    verdicts = os.dup(1)
    os.dup2(2, 1)  # prints of test code go to stderr; stdout carries verdicts only
    link = _Link(spec["code"], int(spec["print_limit"]))  # starts while trusted code runs
    import traceback

    def report(tag):
        data = ("\n@@" + nonce + ":" + tag + "\n").encode()
        while data:
            data = data[os.write(verdicts, data):]

    namespace = {"__name__": "__test__", "__builtins__": builtins}
    for i, chunk in enumerate(spec["trusted"]):
        try:
            exec(compile(chunk, "<trusted %d>" % i, "exec"), namespace)
        except BaseException:
            sys.stderr.write("r1-checker: trusted code %d failed\n%s" % (i, traceback.format_exc(limit=-3)))
            report("code_failed")
            link.close()
            return
    if not link.loaded():
        report("code_failed")
        link.close()
        return
    for name, remote_name in spec["remote"]:
        namespace[name] = _Remote(link, remote_name)
    looked_up = set()
    for i, case in enumerate(spec["cases"]):
        try:
            if "eq" in case:
                left, right = case["eq"]
                _bind_names(right, namespace, link, looked_up)
                expected = eval(compile(right, "<expected %d>" % i, "eval"), namespace)
                ok = bool(link.request(eval=left) == expected)
            else:
                _bind_names(case["exec"], namespace, link, looked_up)
                exec(compile(case["exec"], "<test %d>" % i, "exec"), namespace)
                ok = True
        except BaseException:
            ok = False
            sys.stderr.write("r1-checker: test %d failed\n%s" % (i, traceback.format_exc(limit=-3)))
        sys.stderr.flush()
        report("%d:%d" % (i, int(ok)))
    link.close()
    report("end")


try:
    _main()
except BaseException:
    import traceback

    traceback.print_exc()
finally:
    try:
        sys.stderr.flush()
    finally:
        os._exit(0)
