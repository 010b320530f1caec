"""Plain data across the sandbox boundary, and how test statements are split into the
candidate's side and the expectation."""

from __future__ import annotations

import collections
import enum
import json
import math

import pytest

from r1_code import _wire
from r1_code.cases import Case, literal_value, parse_case


def _round_trip(value, handles=None):
    encoded = json.loads(_wire.dumps({"v": _wire.encode(value, handles)}))["v"]  # through JSON text, as on the pipe
    return _wire.decode(encoded)


@pytest.mark.parametrize(
    "value",
    [None, True, 0, -3, 2**100, 1.5, "é\n", b"\x00b", bytearray(b"ab"), 1 + 2j, (1, (2,)), [1, [2.0]],
     {"a": [1], (1, 2): {3}}, {1, 2}, frozenset({"x"}), [], (), {}, set()],
)
def test_plain_values_keep_their_exact_types(value):
    back = _round_trip(value)
    assert back == value and type(back) is type(value)


def test_special_floats_and_nested_types():
    back = _round_trip([float("inf"), float("nan"), True, 1])
    assert back[0] == math.inf and math.isnan(back[1])
    assert [type(x) for x in back] == [float, float, bool, int]  # True does not become 1


def test_subclasses_travel_as_their_base_type():
    class Color(enum.IntEnum):
        RED = 1

    class Loud(str):
        def __eq__(self, other):
            return True

        __hash__ = str.__hash__

    Point = collections.namedtuple("Point", "x y")
    back = _round_trip([collections.Counter("aab"), collections.OrderedDict(b=1), Point(1, 2), Color.RED, Loud("q")])
    assert back == [{"a": 2, "b": 1}, {"b": 1}, (1, 2), 1, "q"]
    assert [type(x) for x in back] == [dict, dict, tuple, int, str]
    assert back[4] != "anything"  # the lying __eq__ stayed behind


def test_iterators_are_drained():
    back = _round_trip(x * x for x in range(3))
    assert back != [0, 1, 4] and list(back) == [0, 1, 4]  # an iterator, as the candidate returned


def test_other_objects_are_refused_or_become_handles():
    class Yes:
        def __eq__(self, other):
            return True

    with pytest.raises(_wire.NotPlain):
        _wire.encode([1, Yes()])
    handles: list = []
    assert _wire.encode([1, Yes()], handles) == {"L": [1, {"H": 0}]} and isinstance(handles[0], Yes)


@pytest.mark.parametrize(
    "encoded",
    [[1, 2], {"L": 1}, {"X": []}, {"D": [[1]]}, {"L": [], "T": []}, {"H": 0}, {"S": [{"L": []}]}, {"C": ["1", 2]}],
)
def test_decode_refuses_anything_else(encoded):
    with pytest.raises((_wire.NotPlain, TypeError, ValueError)):
        _wire.decode(encoded)


def test_depth_is_bounded_both_ways():
    deep: list = []
    for _ in range(_wire.MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(_wire.NotPlain):
        _wire.encode(deep)
    nested = {"L": []}
    for _ in range(_wire.MAX_DEPTH + 5):
        nested = {"L": [nested]}
    with pytest.raises(_wire.NotPlain):
        _wire.decode(nested)


def test_loads_refuses_non_messages():
    assert _wire.loads(_wire.dumps({"id": 1, "value": {"T": [1.0]}})) == {"id": 1, "value": {"T": [1.0]}}
    for line in (b"[1]", b"garbage", b"", b'"text"'):
        with pytest.raises(_wire.NotPlain):
            _wire.loads(line)


@pytest.mark.parametrize(
    ("source", "left", "right", "literal"),
    [
        ("assert f(1) == 2", "f(1)", "2", True),
        ("assert (f(1, [2])) == (3, 'a')", "f(1, [2])", "(3, 'a')", True),
        ("assert 2 == f(1)", "f(1)", "2", True),
        ("assert f(1) == -1.5e-3", "f(1)", "-0.0015", True),
        ("assert f(1) == set()", "f(1)", "set()", True),
        ("assert f(x) == sys.getsizeof(x)", "f(x)", "sys.getsizeof(x)", False),
        ("assert abs(f(1) - 2) < 1e-6", None, None, False),
        ("assert f(1) != 2", None, None, False),
        ("assert f(1) == 2 == 2", None, None, False),
        ("x = 1\nassert f(x) == 2", None, None, False),
        ("assert f(1) ==", None, None, False),
    ],
)
def test_parse_case(source, left, right, literal):
    case = parse_case(source)
    assert (case.source, case.left, case.right, case.literal) == (source, left, right, literal)
    if literal:
        assert literal_value(case) == eval(right)


def test_a_case_without_sides_is_never_literal():
    assert not Case("assert True").literal
