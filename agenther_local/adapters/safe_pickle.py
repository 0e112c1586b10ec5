"""A restricted unpickler for untrusted run files (AgentLab's `step_N.pkl.gz`).

A pickle names globals (`module.name`) and the stock unpickler imports and calls them: a file
from elsewhere can run `os.system` while it loads. `load` never imports or calls what a file
names. Every global becomes a plain stand-in:
- the containers a pickle needs to rebuild plain data (`builtins.set`, `collections.OrderedDict`,
  `copyreg._reconstructor`, `_codecs.encode` of a latin-1 string) map to safe equivalents;
- any class of another module (AgentLab's `StepInfo`, BrowserGym's `AgentInfo`, a dataclass,
  `pathlib.PosixPath`, `datetime.datetime`) becomes a `Stub` that records the global's name,
  the arguments it was called with, and the state the pickle sets on it: a dict-like object,
  nothing of the named class runs;
- numpy arrays (screenshots) become an `Array` stub holding the shape and dtype, not the bytes;
- globals of modules that run code or touch the system (`os`, `subprocess`, `builtins.eval`,
  `importlib`, ...) are refused: `UnsafePickle` names the global, and nothing runs.

    >>> import pickle
    >>> load(pickle.dumps({"a": [1, 2], "b": {3}}))
    {'a': [1, 2], 'b': {3}}

Not handled: pickles that need the real behaviour of a class (a `__reduce__` that computes
its value); their stub keeps the raw arguments instead.
"""
from __future__ import annotations

import collections
import io
import pickle
from typing import Any

# Modules whose globals run code, import, or reach the system: refused by name.
_REFUSED_MODULES = frozenset(
    "os posix nt subprocess sys builtins importlib shutil socket pickle _pickle marshal types functools "
    "operator code codeop pty runpy ctypes io webbrowser signal multiprocessing threading asyncio "
    "inspect pdb platform tempfile glob ssl http urllib ftplib smtplib telnetlib".split())
_SAFE_BUILTINS = {"set": set, "frozenset": frozenset, "dict": dict, "list": list, "tuple": tuple,
                  "bytearray": bytearray, "complex": complex, "bytes": bytes, "str": str, "int": int,
                  "float": float, "bool": bool, "slice": slice, "object": object}


class UnsafePickle(pickle.UnpicklingError):
    """A pickle names a global that could run code; the file was not loaded."""


class Stub(dict):
    """A stand-in for an object of a class the pickle names: its state as dict items.

    `stub_of` is "module.Name"; `stub_args` the arguments the pickle called it with.
    """
    stub_of = "object"
    stub_args: tuple = ()

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__()
        self.stub_args = args

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2 and isinstance(state[1], dict):
            state = {**(state[0] or {}), **state[1]}      # (__dict__, slots)
        if isinstance(state, dict):
            self.update({str(k): v for k, v in state.items()})
        else:
            self["state"] = state

    def __reduce__(self):                          # a stub is never pickled back into a class
        return (dict, (dict(self),))

    def __repr__(self) -> str:
        return f"<{self.stub_of} {dict.__repr__(self)}>"


class Array(Stub):
    """A numpy array's shape and dtype; its raw bytes are dropped."""
    stub_of = "numpy.ndarray"

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) >= 2:
            self["shape"] = tuple(state[1]) if isinstance(state[1], (tuple, list)) else state[1]
        else:
            super().__setstate__(state)


_STUBS: dict[str, type] = {}


def _stub_class(qualname: str, base: type = Stub) -> type:
    """A plain Stub subclass named after the global (NEWOBJ needs a type); nothing is imported."""
    cls = _STUBS.get(qualname)
    if cls is None:
        cls = _STUBS[qualname] = type("Stub", (base,), {"stub_of": qualname})
    return cls


def _reconstructor(cls: Any, base: Any = None, state: Any = None) -> Any:
    """copyreg._reconstructor(cls, object, None): an empty stub of `cls`."""
    return cls() if isinstance(cls, type) and issubclass(cls, Stub) else Stub()


def _newobj(cls: Any, *args: Any) -> Any:
    """copyreg.__newobj__(cls, *args)."""
    return cls(*args) if isinstance(cls, type) and issubclass(cls, Stub) else Stub(*args)


def _array(*args: Any) -> Array:
    """numpy.core.multiarray._reconstruct(ndarray, shape, dtype): an empty Array stub."""
    return Array(*args)


def _encode(text: Any, encoding: str = "utf-8") -> bytes:
    """_codecs.encode as protocol-2 pickles use it for bytes: a str in latin-1 only."""
    if not isinstance(text, str) or encoding.lower().replace("-", "") not in ("latin1", "utf8"):
        raise UnsafePickle(f"_codecs.encode called with {type(text).__name__}, {encoding!r}")
    return text.encode(encoding)


class _Restricted(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        qual = f"{module}.{name}"
        if module == "builtins" and name in _SAFE_BUILTINS:
            return _SAFE_BUILTINS[name]
        if module == "copyreg" and name == "_reconstructor":
            return _reconstructor
        if module == "copyreg" and name == "__newobj__":
            return _newobj
        if module == "_codecs" and name == "encode":
            return _encode
        if module == "collections" and name in ("OrderedDict", "defaultdict", "deque"):
            return {"OrderedDict": collections.OrderedDict, "deque": collections.deque,
                    "defaultdict": _defaultdict}[name]
        root = module.split(".", 1)[0]
        if root in _REFUSED_MODULES:
            raise UnsafePickle(f"refuses global {qual} (it could run code)")
        if root == "numpy":
            if name == "_reconstruct":
                return _array
            if name == "ndarray":
                return Array
            return _stub_class(qual)
        return _stub_class(qual)


def _defaultdict(factory: Any = None, *rest: Any) -> dict:
    # the factory is a named global (a stub at best): the plain dict is what the data needs
    return dict(*rest)


def load(data: bytes) -> Any:
    """The plain data a pickle holds, built from stand-ins. Raises UnsafePickle for a global
    that could run code, pickle.UnpicklingError (or EOFError, ValueError) for a broken file."""
    return _Restricted(io.BytesIO(data)).load()

