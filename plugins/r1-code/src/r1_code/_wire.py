"""Plain data across the sandbox boundary: how a candidate's results travel, and why they can be trusted.

A candidate's output is only ever *data*: ``None``, ``bool``, ``int``, ``float``,
``complex``, ``str``, ``bytes``, ``bytearray`` and lists, tuples, dicts, sets and frozensets
of those (an iterator is drained into its items). It crosses a pipe as JSON with a one-letter
tag per container, and :func:`decode` turns that JSON back into values of *exactly* those
built-in types or refuses it. Whatever a candidate prints into the pipe therefore decodes to
plain data or to nothing: no object of its own (an ``__eq__`` that always returns True, a
``__bool__`` that lies) ever reaches the code that compares, so the comparison is Python's
own ``==`` on built-in values.

Objects that are not plain data (a candidate's class instance, a tree built by the test's
setup code) may cross only as opaque *handles*, when the two sides pass a ``handles`` table:
the side holding the object keeps it and sends ``{"H": index}``; the other side can only
hand it back (as an argument, or to call it or read an attribute remotely), never inspect it.

This file is imported by r1-code and also copied next to the harness programs in the
sandbox, which may run an older system Python: standard library only, no annotations.
"""

import json

MAX_DEPTH = 100  # nesting levels, both ways: deeper values are refused, not recursed into
MAX_ITEMS = 1 << 20  # items drained from an iterator before it counts as endless


class NotPlain(TypeError):
    """A value (or a message) that is not plain data."""


def encode(value, handles=None, _depth=0):
    """``value`` as a JSON-ready structure; raises :class:`NotPlain` for anything else.

    Subclasses of the plain types (``Counter``, ``OrderedDict``, a ``namedtuple``, an
    ``IntEnum``) are sent as their base type, which compares equal the same way. With a
    ``handles`` list, other objects are appended to it and sent as ``{"H": index}``.
    """
    if _depth > MAX_DEPTH:
        raise NotPlain("nested deeper than %d levels" % MAX_DEPTH)
    down = _depth + 1
    if value is None or value is True or value is False:
        return value
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, complex):
        return {"C": [value.real, value.imag]}
    if isinstance(value, bytes):
        return {"B": bytes(value).hex()}
    if isinstance(value, bytearray):
        return {"Y": bytes(value).hex()}
    if isinstance(value, tuple):
        return {"T": [encode(v, handles, down) for v in tuple.__iter__(value)]}
    if isinstance(value, list):
        return {"L": [encode(v, handles, down) for v in list.__iter__(value)]}
    if isinstance(value, dict):
        return {"D": [[encode(k, handles, down), encode(v, handles, down)] for k, v in dict.items(value)]}
    if isinstance(value, frozenset):
        return {"F": [encode(v, handles, down) for v in frozenset.__iter__(value)]}
    if isinstance(value, set):
        return {"S": [encode(v, handles, down) for v in set.__iter__(value)]}
    if hasattr(type(value), "__next__") and hasattr(type(value), "__iter__"):
        items = []
        for item in value:
            if len(items) >= MAX_ITEMS:
                raise NotPlain("an iterator with more than %d items" % MAX_ITEMS)
            items.append(encode(item, handles, down))
        return {"I": items}
    if handles is None:
        raise NotPlain("a %s is not plain data" % type(value).__name__)
    handles.append(value)
    return {"H": len(handles) - 1}


def decode(obj, handle=None, _depth=0):
    """The plain value a JSON structure from :func:`encode` stands for; strict.

    ``handle(index)`` turns ``{"H": index}`` into an object; without it a handle is refused.
    Iterators come back as iterators over their items (so ``list(f(x))`` works and
    ``f(x) == [...]`` is False, as in Python). Anything else raises :class:`NotPlain`.
    """
    if _depth > MAX_DEPTH:
        raise NotPlain("nested deeper than %d levels" % MAX_DEPTH)
    kind = type(obj)
    if obj is None or kind is bool or kind is int or kind is float or kind is str:
        return obj
    if kind is not dict or len(obj) != 1:
        raise NotPlain("not an encoded value: %s" % kind.__name__)
    (tag, payload), = obj.items()
    down = _depth + 1
    if tag == "H" and type(payload) is int and handle is not None:
        return handle(payload)
    if tag in ("B", "Y") and type(payload) is str:
        data = bytes.fromhex(payload)
        return data if tag == "B" else bytearray(data)
    if type(payload) is not list:
        raise NotPlain("not an encoded value: %r" % tag)
    if tag == "C" and len(payload) == 2 and all(type(p) in (int, float) for p in payload):
        return complex(payload[0], payload[1])
    if tag == "D":
        out = {}
        for pair in payload:
            if type(pair) is not list or len(pair) != 2:
                raise NotPlain("not an encoded dict item")
            out[decode(pair[0], handle, down)] = decode(pair[1], handle, down)
        return out
    items = [decode(item, handle, down) for item in payload]
    if tag == "L":
        return items
    if tag == "T":
        return tuple(items)
    if tag == "S":
        return set(items)
    if tag == "F":
        return frozenset(items)
    if tag == "I":
        return iter(items)
    raise NotPlain("unknown tag %r" % tag)


def dumps(message):
    """One message as a line of JSON (``NaN``/``Infinity`` allowed, no newline inside)."""
    return (json.dumps(message, separators=(",", ":")) + "\n").encode("utf-8")


def loads(line):
    """The message on one line; raises :class:`NotPlain` when it is not a JSON object."""
    try:
        message = json.loads(line)
    except (ValueError, RecursionError) as e:
        raise NotPlain("not a JSON line: %s" % e)
    if type(message) is not dict:
        raise NotPlain("not a message")
    return message
