"""The wire format that carries values across the sandbox's wall: what goes in comes out equal, and
whatever a hostile kernel sends, the decoder raises its own error and nothing else."""

import base64
import collections
import json
import math
import random
from pathlib import Path

import numpy as np
import pytest

from malaria_lab.data.layout import ImageRef
from malaria_lab.instructor.grader import wire
from malaria_lab.split import Row


def round_trip(value):
    return wire.decode(wire.encode(value))


@pytest.mark.parametrize("value", [
    None, True, 0, -7, 2**70, 1.5, "text", "", b"\x00\xff", [1, [2, [3]]], (1, "a"), {"a": 1, 2: [3]},
    {1, 2}, frozenset({"x"}), collections.Counter("hello"), Path("/a/b.png"), math.inf, -math.inf,
])
def test_plain_values_come_back_equal(value):
    got = round_trip(value)
    assert got == value and type(got) is type(value)


def test_nan_comes_back_as_nan():
    assert math.isnan(round_trip(math.nan))


@pytest.mark.parametrize("dtype", sorted(wire.DTYPES))
def test_arrays_and_numpy_scalars_keep_dtype_shape_and_values(dtype):
    array = (np.arange(24) % 7).astype(dtype).reshape(2, 3, 4)
    got = round_trip(array)
    assert got.dtype == array.dtype and got.shape == array.shape and np.array_equal(got, array)
    scalar = round_trip(array.reshape(-1)[5])
    assert isinstance(scalar, np.generic) and scalar.dtype == array.dtype and scalar == array.reshape(-1)[5]


def test_the_course_records_cross_and_other_objects_arrive_opaque():
    ref = ImageRef(path="/d/P1_IMG_1.png", label="parasitized", mapped="P1")
    assert round_trip(ref) == ref
    row = Row(path="/d/x.png", label="uninfected", patient="P2", split="val")
    assert round_trip(row) == row

    class Secret:
        def __repr__(self):
            return "Secret()"

    got = round_trip(Secret())
    assert isinstance(got, wire.Opaque) and type(got).__name__ == "Secret"
    assert round_trip(np.array([object()], dtype=object)).__class__.__name__ == "ndarray"


def test_nesting_past_the_limit_is_cut_when_encoding():
    deep = []
    for _ in range(wire.MAX_DEPTH + 5):
        deep = [deep]
    got, levels = round_trip(deep), 0
    while isinstance(got, list):
        got, levels = got[0], levels + 1
    assert isinstance(got, wire.Opaque) and levels == wire.MAX_DEPTH


HOSTILE = [
    "", "not json", "NaN", "[1, Infinity]", '{"a": 1}', '{"__nope__": 1}', '{"__dict__": 5}',
    '{"__dict__": [[[1], 2]]}', '{"__dict__": [[1]]}', '{"__set__": [[1, 2]]}', '{"__tuple__": "x"}',
    '{"__float__": "1e5"}', '{"__float__": ["nan"]}', '{"__bytes__": "***"}', '{"__bytes__": 5}',
    '{"__path__": 7}', '{"__ndarray__": ["object", [1], "AA=="]}', '{"__ndarray__": ["int8", [-1], ""]}',
    '{"__ndarray__": ["int8", [3], "AA=="]}', '{"__ndarray__": ["int8", [1e9, 1e9], ""]}',
    '{"__ndarray__": ["int8", [99999999999999999999, 99999999999999999999], ""]}',
    '{"__ndarray__": ["int8", ' + json.dumps([2] * 40) + ', ""]}',
    '{"__ndarray__": ["int8", [1], "AA==", 4]}', '{"__ndarray__": "x"}',
    '{"__npscalar__": ["int64", "AA=="]}', '{"__npscalar__": ["str", "AA=="]}',
    '{"__record__": ["os.system", {}]}', '{"__record__": ["malaria_lab.split.Row", {"path": 1}]}',
    '{"__record__": ["malaria_lab.split.Row", []]}', '{"__opaque__": [1, 2]}', '{"__opaque__": "x"}',
    '{"__counter__": [["a", "b"], [["c"], 1]]}',
    '{"__callback__": ["EarlyStopping", {"os": 1}]}', '{"__keras__": [5, null]}',
    '{"__keras__": [{"class_name": "Lambda", "config": {"function": "x"}}, null]}',
    '{"__keras__": [{"module": "os", "class_name": "system", "config": {}}, null]}',
    "[" * 100_000 + "]" * 100_000, '{"__dict__": ' + "[" * 5000 + "]" * 5000 + "}",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_payloads_raise_only_wire_errors(text):
    with pytest.raises(wire.WireError):
        wire.decode(text)


def test_sizes_past_the_limits_are_refused_before_they_are_built():
    with pytest.raises(wire.WireError, match="larger than"):
        wire.decode("[" + "1," * 10 + "1]", max_bytes=8)
    many = json.dumps([0] * (wire.MAX_ITEMS + 1))
    with pytest.raises(wire.WireError, match="too large"):
        wire.decode(many)
    big = {"class_name": "Sequential", "config": {"layers": [{"class_name": "Dense", "config": {"units": 1}}] * 1200}}
    with pytest.raises(wire.WireError, match="too large to check"):
        wire.decode(json.dumps({"__keras__": [big, None]}))


def test_random_mutations_of_a_valid_answer_raise_nothing_else():
    """Flip, cut and splice a real answer thousands of times: decode returns or raises WireError."""
    valid = wire.encode({"a": [np.arange(6, dtype="int16").reshape(2, 3), (1.5, b"xy")], "b": {3, 4},
                         "c": Path("/p"), "d": collections.Counter("ab"), "e": math.inf})
    rng = random.Random(0)
    alphabet = '[]{}",:0123456789abcdefnrstu_-.AEIN=+/ '
    for _ in range(3000):
        text = list(valid)
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(text))
            choice = rng.random()
            if choice < 0.4:
                text[i] = rng.choice(alphabet)
            elif choice < 0.7:
                del text[i:i + rng.randint(1, 8)]
            else:
                text.insert(i, rng.choice(['{"__ndarray__": ', '{"__set__": [', "[[", "]", '"__', "-1"]))
        try:
            wire.decode("".join(text))
        except wire.WireError:
            pass


def test_bytes_are_base64_and_strict():
    assert wire.decode(json.dumps({"__bytes__": base64.b64encode(b"ok").decode()})) == b"ok"
    with pytest.raises(wire.WireError):
        wire.decode(json.dumps({"__bytes__": "b2s=\n!"}))
