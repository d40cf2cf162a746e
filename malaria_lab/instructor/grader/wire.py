"""Values across the sandbox's wall, as JSON: the arguments a check passes to a student's
function, and what the function returns.

Only plain data crosses: numbers, text, bytes, lists, tuples, dicts, sets, numpy arrays and
scalars (no object arrays), paths, the course's own records (``ImageRef``, ``Row``), Keras layers
and models as their configuration (rebuilt with Keras' ``safe_mode``, so no code of the student's
comes back), Keras callbacks as their settings. Anything else arrives as an :class:`Opaque`
stand-in with the type's name, so a check can say "returned a Foo" and nothing of Foo runs. The
decoder checks every tag and size before it builds anything, and raises nothing but
:class:`WireError`.

Values are decoded in two places only, both sandboxed: arguments in the student's kernel, and
answers in the checker (:mod:`.check_runner`), so a student's Keras configuration is never
rebuilt in the grader's own process.
"""

import base64
import collections
import dataclasses
import importlib
import json
import math
import sys
from pathlib import Path, PurePath

import numpy as np

MAX_BYTES = 64 * 1024**2
MAX_ITEMS = 2_000_000
MAX_DEPTH = 40
# A Keras configuration larger than this is not rebuilt (the course's networks need a few kB).
MAX_CONFIG_BYTES = 1024**2
MAX_CONFIG_LAYERS = 1000
DTYPES = {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float16", "float32", "float64", "complex64", "complex128"}
RECORDS = {"malaria_lab.data.layout.ImageRef", "malaria_lab.split.Row"}
# The settings of Keras's own callbacks that a check may read, by class.
CALLBACKS = {
    "ModelCheckpoint": ("filepath", "monitor", "mode", "save_best_only", "save_weights_only", "save_freq",
                        "verbose"),
    "EarlyStopping": ("monitor", "mode", "patience", "min_delta", "restore_best_weights", "start_from_epoch",
                      "baseline", "verbose"),
    "ReduceLROnPlateau": ("monitor", "mode", "factor", "patience", "min_delta", "cooldown", "min_lr", "verbose"),
    "BackupAndRestore": ("backup_dir", "save_freq", "delete_checkpoint"),
    "CSVLogger": ("filename", "separator", "append"),
    "TerminateOnNaN": (),
}


class WireError(ValueError):
    """What arrived is not a value of the wire format (or is too big)."""


class Opaque:
    """Stands for an object that cannot cross: only its type's name and a short description."""
    def __init__(self, description=""):
        self.description = description

    def __repr__(self):
        return f"<{type(self).__name__} {self.description}>".replace(" >", ">")


_OPAQUE_TYPES = {}


def opaque(type_name, description="") -> object:
    name = (str(type_name).rsplit(".", 1)[-1] or "object")[:80]
    cls = _OPAQUE_TYPES.setdefault(name, type(name, (Opaque,), {}))
    return cls(str(description)[:200])


def _qualname(obj):
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


# --- encoding (either side) ------------------------------------------------------------------


def encode(value) -> str:
    """``value`` as JSON text."""
    return json.dumps(_enc(value, 0), allow_nan=False, separators=(",", ":"))


def _enc(v, depth):
    if depth >= MAX_DEPTH:
        return {"__opaque__": ["nested too deep", ""]}
    if v is None or isinstance(v, (bool, str)) or (type(v) is int):
        return v
    if type(v) is float:
        return v if math.isfinite(v) else {"__float__": repr(v)}
    if isinstance(v, np.ndarray):
        if v.dtype.name not in DTYPES:
            return {"__opaque__": ["ndarray", f"dtype {v.dtype}"]}
        data = np.ascontiguousarray(v)
        return {"__ndarray__": [data.dtype.name, list(data.shape), base64.b64encode(data.tobytes()).decode()]}
    if isinstance(v, np.generic) and v.dtype.name in DTYPES:
        return {"__npscalar__": [v.dtype.name, base64.b64encode(np.asarray(v).tobytes()).decode()]}
    if isinstance(v, (bytes, bytearray)):
        return {"__bytes__": base64.b64encode(bytes(v)).decode()}
    if isinstance(v, PurePath):
        return {"__path__": str(v)}
    if isinstance(v, collections.Counter):
        return {"__counter__": [[_enc(k, depth + 1), _enc(n, depth + 1)] for k, n in v.items()]}
    if isinstance(v, dict):
        return {"__dict__": [[_enc(k, depth + 1), _enc(x, depth + 1)] for k, x in v.items()]}
    if isinstance(v, tuple) and not hasattr(v, "_fields"):
        return {"__tuple__": [_enc(x, depth + 1) for x in v]}
    if isinstance(v, list):
        return [_enc(x, depth + 1) for x in v]
    if isinstance(v, (set, frozenset)):
        return {"__set__": [_enc(x, depth + 1) for x in v], "frozen": isinstance(v, frozenset)}
    if dataclasses.is_dataclass(v) and _qualname(v) in RECORDS:
        return {"__record__": [_qualname(v), {f.name: _enc(getattr(v, f.name), depth + 1)
                                              for f in dataclasses.fields(v)}]}
    keras_value = _enc_keras(v)
    if keras_value is not None:
        return keras_value
    return {"__opaque__": [_qualname(v), _short_repr(v)]}


def _short_repr(v):
    try:
        return repr(v)[:200]
    except BaseException:  # a student's __repr__ may raise anything
        return ""


def _enc_keras(v):
    keras = _loaded_keras()
    if keras is None:
        return None
    if isinstance(v, keras.callbacks.Callback):
        name = type(v).__name__
        if type(v).__module__.startswith("keras") and name in CALLBACKS:
            settings = {k: _plain(getattr(v, k, None)) for k in CALLBACKS[name]}
            return {"__callback__": [name, settings]}
        return {"__callback__": [name, None]}
    if isinstance(v, keras.optimizers.schedules.LearningRateSchedule):
        return {"__keras__": [keras.saving.serialize_keras_object(v), None]}
    if isinstance(v, keras.layers.Layer):
        config = keras.saving.serialize_keras_object(v)
        compiled = getattr(v, "compiled", False) and hasattr(v, "get_compile_config")
        return {"__keras__": [config, v.get_compile_config() if compiled else None]}
    return None


def _plain(value):
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, PurePath):
        return str(value)
    return repr(value)[:200]


def _loaded_keras():
    """Keras, if this process has loaded it already: the wire never imports it."""
    return sys.modules.get("keras")


# --- decoding ----------------------------------------------------------------------------------


def decode(text, max_bytes=MAX_BYTES) -> object:
    """The value in JSON ``text``, every part checked; raises :class:`WireError` and no other
    exception, whatever ``text`` holds."""
    if not isinstance(text, (str, bytes)):
        raise WireError("the answer is not text")
    if len(text) > max_bytes:
        raise WireError(f"the answer is larger than {max_bytes // 1024**2} MB")
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as err:
        raise WireError(f"the answer is not valid JSON ({' '.join(str(err).split())[:120]})") from None
    try:
        return _Decoder().value(data, 0)
    except WireError:
        raise
    except (TypeError, ValueError, OverflowError, KeyError, IndexError, AttributeError, RecursionError,
            MemoryError) as err:  # a malformed value that got past the checks: still only ours
        raise WireError(f"a malformed value ({type(err).__name__})") from None


def _no_constant(name):
    raise ValueError(f"{name} is not allowed")


class _Decoder:
    def __init__(self):
        self.items = 0

    def value(self, d, depth):
        self.items += 1
        if self.items > MAX_ITEMS or depth > MAX_DEPTH:
            raise WireError("the answer is too large or nested too deep")
        if d is None or isinstance(d, (bool, int, float, str)):
            return d
        if isinstance(d, list):
            return [self.value(x, depth + 1) for x in d]
        if not isinstance(d, dict) or len(d) not in (1, 2):
            raise WireError("an unknown value")
        tag = next(iter(d))
        body = d[tag]
        handler = getattr(self, "_" + tag.strip("_"), None) if tag.startswith("__") else None
        if handler is None:
            raise WireError(f"an unknown tag {tag[:40]!r}")
        return handler(body, d, depth)

    def _pairs(self, body, depth):
        if not isinstance(body, list) or not all(isinstance(p, list) and len(p) == 2 for p in body):
            raise WireError("a malformed mapping")
        return [(self.value(k, depth + 1), self.value(v, depth + 1)) for k, v in body]

    def _dict(self, body, d, depth):
        try:
            return dict(self._pairs(body, depth))
        except TypeError:
            raise WireError("a mapping with unhashable keys") from None

    def _counter(self, body, d, depth):
        try:
            return collections.Counter(dict(self._pairs(body, depth)))
        except TypeError:
            raise WireError("a Counter with unhashable keys") from None

    def _tuple(self, body, d, depth):
        return tuple(self.value(x, depth + 1) for x in _list(body))

    def _set(self, body, d, depth):
        try:
            items = [self.value(x, depth + 1) for x in _list(body)]
            return frozenset(items) if d.get("frozen") is True else set(items)
        except TypeError:
            raise WireError("a set of unhashable values") from None

    def _float(self, body, d, depth):
        if body not in ("nan", "inf", "-inf"):
            raise WireError("a malformed float")
        return float(body)

    def _bytes(self, body, d, depth):
        return _b64(body)

    def _path(self, body, d, depth):

        return Path(_str(body))

    def _ndarray(self, body, d, depth):
        dtype, shape, data = _list(body, 3)
        if (dtype not in DTYPES or not isinstance(shape, list) or len(shape) > 32
                or not all(type(n) is int and 0 <= n <= MAX_BYTES for n in shape)):
            raise WireError("a malformed array")
        raw = _b64(data)
        count = math.prod(shape)
        if count * np.dtype(dtype).itemsize != len(raw):
            raise WireError("an array whose data does not match its shape")
        self.items += count // 64
        return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()

    def _npscalar(self, body, d, depth):
        dtype, data = _list(body, 2)
        if dtype not in DTYPES:
            raise WireError("a malformed number")
        raw = _b64(data)
        if len(raw) != np.dtype(dtype).itemsize:
            raise WireError("a malformed number")
        return np.frombuffer(raw, dtype=dtype)[0]

    def _record(self, body, d, depth):
        name, fields = _list(body, 2)
        if name not in RECORDS or not isinstance(fields, dict):
            raise WireError("an unknown record")
        module, _, cls_name = name.rpartition(".")

        cls = getattr(importlib.import_module(module), cls_name)
        allowed = {f.name for f in dataclasses.fields(cls)}
        if set(fields) != allowed:
            raise WireError(f"a {cls_name} with other fields")
        return cls(**{k: self.value(v, depth + 1) for k, v in fields.items()})

    def _opaque(self, body, d, depth):
        name, description = _list(body, 2)
        return opaque(_str(name), _str(description))

    def _callback(self, body, d, depth):
        name, settings = _list(body, 2)
        return rebuild_callback(_str(name), settings)

    def _keras(self, body, d, depth):
        config, compile_config = _list(body, 2)
        return rebuild_keras(config, compile_config)


def _list(body, n=None):
    if not isinstance(body, list) or (n is not None and len(body) != n):
        raise WireError("a malformed value")
    return body


def _str(body):
    if not isinstance(body, str):
        raise WireError("a malformed text")
    return body


def _b64(body):
    try:
        return base64.b64decode(_str(body), validate=True)
    except ValueError:
        raise WireError("malformed binary data") from None


def rebuild_callback(name, settings) -> object:
    """Keras's own callback ``name`` made anew from its settings; an :class:`Opaque` stand-in
    (a subclass of ``keras.callbacks.Callback``) for one that is not Keras's."""
    import keras  # only a model's or a callback's answer needs Keras, and it is loaded by then

    if settings is None or name not in CALLBACKS:
        cls = type(name[:80], (keras.callbacks.Callback,), {})
        return cls()
    if not isinstance(settings, dict) or set(settings) - set(CALLBACKS[name]):
        raise WireError(f"malformed {name} settings")
    values = {k: v for k, v in settings.items() if v is None or isinstance(v, (bool, int, float, str))}
    try:
        return getattr(keras.callbacks, name)(**{k: v for k, v in values.items() if v is not None})
    except (TypeError, ValueError) as err:
        raise WireError(f"the {name} cannot be made with these settings: {err}") from None


def rebuild_keras(config, compile_config=None) -> object:
    """A Keras object from its configuration, in safe mode (no lambdas, only known classes)."""
    import keras  # see rebuild_callback

    from ...layers import RandomRotate90  # noqa: F401  (imports Keras; the course's own layer)

    if not isinstance(config, dict):
        raise WireError("a malformed Keras configuration")
    text = json.dumps(config)
    if len(text) > MAX_CONFIG_BYTES or text.count('"class_name"') > MAX_CONFIG_LAYERS:
        raise WireError(f"a Keras configuration of {len(text) // 1024} kB, too large to check")
    try:
        obj = keras.saving.deserialize_keras_object(config, safe_mode=True)
        if compile_config is not None:
            obj.compile_from_config(compile_config)
    except Exception as err:  # what Keras refuses: lambdas, a class of the notebook's own
        raise WireError(f"Keras could not rebuild it safely ({type(err).__name__}: "
                        f"{' '.join(str(err).split())[:200]})") from None
    return obj
