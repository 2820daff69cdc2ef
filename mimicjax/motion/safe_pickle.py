"""Read pickle and joblib files without joblib, chumpy or arbitrary code execution.

Motion and body-model files in this field are often pickles: GMR writes plain pickles, ASAP/PHC, WHAM
and 4D-Humans/PHALP write them with `joblib.dump` (arrays stored raw after a `NumpyArrayWrapper` marker,
optionally zlib/gzip/bz2/xz compressed), and the official SMPL model files contain `chumpy` arrays and a
`scipy.sparse` joint regressor.

`load_pickle` handles all of these with a restricted unpickler: only containers, numpy arrays and
scalars, scipy sparse matrices and stand-ins for joblib/chumpy objects can be created. Anything else (a
pickle can name any importable callable) is refused with a `MotionFormatError`, so opening a downloaded
file cannot run code.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import pickle
import zlib
from pathlib import Path

import numpy as np

from mimicjax.motion.validate import MotionFormatError, fail

_NUMPY_MODULES = {
    "numpy",
    "numpy.core.multiarray",
    "numpy._core.multiarray",
    "numpy.core.numeric",
    "numpy._core.numeric",
    "numpy.dtypes",
    "numpy.ma.core",
}
_NUMPY_NAMES = {"_reconstruct", "scalar", "ndarray", "dtype", "_frombuffer", "bool_", "float64", "float32", "int64", "int32"}
_SPARSE_NAMES = {"csc_matrix", "csr_matrix", "coo_matrix", "csc_array", "csr_array", "coo_array", "lil_matrix", "dia_matrix"}
_BUILTIN_NAMES = {"dict", "list", "tuple", "set", "frozenset", "int", "float", "complex", "str", "bytes", "bytearray", "slice", "range", "object", "bool"}
# Python 2 module names found in old pickles (SMPL v1.0 model files were written by Python 2).
_PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}


class _JoblibArrayMarker:
    """Stand-in for joblib's NumpyArrayWrapper: its state says how the raw bytes that follow are laid out."""

    def __setstate__(self, state):
        self.__dict__.update(state)


class ChumpyStandIn:
    """Stand-in for a chumpy object; a plain `Ch` keeps its value in the attribute `x`."""

    chumpy_class = "chumpy object"

    def __setstate__(self, state):
        if isinstance(state, tuple) and len(state) == 2 and isinstance(state[1], dict):
            state = {**(state[0] or {}), **state[1]}
        if isinstance(state, dict):
            self.__dict__.update(state)
        else:
            self.__dict__["_state"] = state


def _chumpy_class(module: str, name: str):
    return type(name, (ChumpyStandIn,), {"chumpy_class": f"{module}.{name}"})


class _RestrictedUnpickler(pickle._Unpickler):  # the Python implementation lets us intercept BUILD
    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, file, path):
        super().__init__(file, encoding="latin1")
        self._path = path

    def find_class(self, module, name):
        module = _PY2_MODULES.get(module, module)
        if module == "builtins" and name in _BUILTIN_NAMES:
            import builtins

            return getattr(builtins, name)
        if module == "copyreg" and name in {"_reconstructor", "__newobj__"}:
            import copyreg

            return getattr(copyreg, name)
        if module == "_codecs" and name == "encode":  # how protocol-2 pickles written by Python 3 store bytes
            import codecs

            return codecs.encode
        if module == "collections" and name in {"OrderedDict", "defaultdict"}:
            import collections

            return getattr(collections, name)
        if module in _NUMPY_MODULES and (name in _NUMPY_NAMES or name.endswith("DType")):
            return super().find_class(module, name)
        if module.startswith("scipy.sparse") and name in _SPARSE_NAMES:
            import scipy.sparse

            return getattr(scipy.sparse, name)
        if module == "joblib.numpy_pickle" and name == "NumpyArrayWrapper":
            return _JoblibArrayMarker
        if module.startswith("chumpy"):
            return _chumpy_class(module, name)
        if module.startswith("joblib"):
            raise fail(self._path, f"the file was written by a very old joblib ({module}.{name})",
                       "load it once with joblib and save it again with a current joblib, pickle or numpy")
        raise fail(
            self._path,
            f"the pickle contains an object of type {module}.{name}, which is not loaded for safety "
            "(unpickling can run code)",
            "save the data as plain dicts of numpy arrays (np.savez or pickle of arrays)",
        )

    def _load_build_then_arrays(self):
        pickle._Unpickler.load_build(self)
        marker = self.stack[-1]
        if isinstance(marker, _JoblibArrayMarker):
            self.stack[-1] = self._read_joblib_array(marker)

    dispatch[pickle.BUILD[0]] = _load_build_then_arrays

    def _read_joblib_array(self, marker: _JoblibArrayMarker) -> np.ndarray:
        dtype = np.dtype(marker.dtype)
        shape = tuple(marker.shape)
        if dtype.hasobject:
            # Object arrays are pickled inline right after the marker.
            return _RestrictedUnpickler(_ReadProxy(self.read, self.readline), self._path).load()
        if getattr(marker, "numpy_array_alignment_bytes", None) is not None:
            padding = self.read(1)[0]
            self.read(padding)
        count = int(np.prod(shape, dtype=np.int64))
        data = self.read(count * dtype.itemsize) if count else b""
        if len(data) != count * dtype.itemsize:
            raise fail(self._path, "the file ends in the middle of an array", "the file is truncated; copy it again")
        array = np.frombuffer(data, dtype=dtype, count=count).copy()
        if getattr(marker, "order", "C") == "F":
            array = array.reshape(shape[::-1]).transpose()
        else:
            array = array.reshape(shape)
        if dtype.byteorder not in ("=", "|"):
            array = array.astype(dtype.newbyteorder("="))
        return array


class _ReadProxy:
    def __init__(self, read, readline):
        self.read, self.readline = read, readline


def _decompressed(raw: bytes) -> bytes:
    """Undo the stream compressions joblib can apply (detected from the magic bytes)."""
    if raw[:2] == b"\x1f\x8b":
        return gzip.decompress(raw)
    if raw[:3] == b"BZh":
        return bz2.decompress(raw)
    if raw[:6] == b"\xfd7zXZ\x00" or raw[:3] == b"]\x00\x00":
        return lzma.decompress(raw)
    if raw[:1] == b"\x78" and raw[1:2] in (b"\x01", b"\x5e", b"\x9c", b"\xda"):
        return zlib.decompress(raw)
    if raw[:4] == b"\x04\x22\x4d\x18":
        raise MotionFormatError("lz4-compressed joblib files are not supported; save the file without compression")
    return raw


def load_pickle(path) -> object:
    """Load a (joblib) pickle with the restricted unpickler; errors name the file and the fix."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise fail(path, f"cannot be read ({exc.strerror or exc})", "check the path and file permissions") from None
    try:
        raw = _decompressed(raw)
    except MotionFormatError as exc:
        raise fail(path, str(exc).split(";")[0], "save the file without compression") from None
    except (OSError, EOFError, zlib.error, lzma.LZMAError) as exc:
        raise fail(path, f"looks compressed but cannot be decompressed ({exc})", "the file is damaged; copy it again") from None
    if not raw.startswith(b"\x80") and not raw[:1] in (b"(", b"}", b"]"):
        raise fail(path, "is not a pickle file", "check the file type, or name the format explicitly")
    try:
        return _RestrictedUnpickler(io.BytesIO(raw), path).load()
    except MotionFormatError:
        raise
    except Exception as exc:  # truncated or corrupt pickles raise many different types
        raise fail(path, f"cannot be unpickled ({type(exc).__name__}: {exc})", "the file is damaged or not a pickle; copy it again") from None


def chumpy_to_numpy(value, path, key: str):
    """Replace a chumpy stand-in by its numeric value, or explain how to convert the file."""
    if isinstance(value, ChumpyStandIn):
        x = value.__dict__.get("x")
        if isinstance(x, np.ndarray):
            return x
        raise fail(
            path,
            f"'{key}' is a {value.chumpy_class} that cannot be evaluated without chumpy",
            "convert the model once in an environment with chumpy: load the pkl, replace every chumpy value v "
            "by np.array(v) and the J_regressor by J_regressor.toarray(), then save with np.savez",
        )
    return value
