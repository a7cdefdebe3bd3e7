"""Frozen, slotted value classes for the cold paths, without importing attrs.

``@frozen`` makes what ``@attrs.frozen`` makes of a class whose fields are plain
annotations with constant defaults: ``__slots__`` (and ``__weakref__``), an
``__init__`` taking the fields in order, ``__eq__`` and ``__hash__`` over the
fields (only between instances of the same class), a ``Name(field=value, ...)``
``__repr__``, ``__match_args__``, and attributes that cannot be set or deleted
(:class:`FrozenInstanceError`).  :func:`evolve` is ``attrs.evolve``.

Why not attrs here: a cold ``resolve`` spent about a quarter of its imports on
attrs and what it imports (``typing``, ``inspect``, ``dis``, ``ast``), for a
dozen records that need nothing attrs does beyond the above (issue 12, measured
in ``benchmarks/README.md``).  attrs stays the library for everything else
(``pins``, ``update``: validators, converters, factories).  Why not
``dataclasses``: it imports ``inspect`` as well.  ``tests/unit/test_values.py``
checks that both give the same answers for the same fields.

Limits, refused when the class is made: no method may use ``super()`` or
``__class__`` (the class is rebuilt with slots, as attrs does, but the cell is
not rewritten), no field without a default after one with a default, and a
default must be immutable (None, a bool, number, str, bytes or an empty tuple
or frozenset) since it is shared by every instance.
"""

from __future__ import annotations

__all__ = ["FrozenInstanceError", "evolve", "frozen"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TypeVar

    _C = TypeVar("_C", bound=type)

_SET = object.__setattr__
_IMMUTABLE = (type(None), bool, int, float, str, bytes)


class FrozenInstanceError(AttributeError):
    """An attribute of a frozen value was set or deleted."""

    msg = "can't set attribute"

    def __init__(self) -> None:
        super().__init__(self.msg)


def _refuse_set(self: object, name: str, value: object) -> None:
    raise FrozenInstanceError()


def _refuse_delete(self: object, name: str) -> None:
    raise FrozenInstanceError()


def _getstate(self: Any) -> tuple[object, ...]:
    return tuple(getattr(self, name) for name in self.__value_fields__)


def _setstate(self: Any, state: tuple[object, ...]) -> None:
    for name, value in zip(self.__value_fields__, state, strict=True):
        _SET(self, name, value)


def _check_default(cls_name: str, name: str, value: object) -> None:
    immutable = isinstance(value, _IMMUTABLE) or (type(value) in (tuple, frozenset) and not value)
    if not immutable:
        raise TypeError(f"{cls_name}.{name}: the default {value!r} is not an immutable constant")


def _make(cls: type, with_repr: bool) -> type:
    names = tuple(cls.__dict__.get("__annotations__", {}))  # noqa: RUF063 - inspect is the cost avoided
    body = {
        key: value
        for key, value in cls.__dict__.items()
        if key not in names and key not in ("__dict__", "__weakref__")
    }
    for key, value in body.items():
        function = getattr(value, "__func__", value)
        code = getattr(function, "__code__", None)
        if code is not None and "__class__" in code.co_freevars:
            raise TypeError(f"{cls.__name__}.{key} uses super() or __class__; not supported")
    defaults = {name: cls.__dict__[name] for name in names if name in cls.__dict__}
    seen_default = False
    for name in names:
        if name in defaults:
            _check_default(cls.__name__, name, defaults[name])
            seen_default = True
        elif seen_default:
            raise TypeError(f"{cls.__name__}.{name}: a field without a default follows one with")
    params = ", ".join(f"{n}=_d_{n}" if n in defaults else n for n in names)
    sets = "".join(f"\n    _set(self, {n!r}, {n})" for n in names) or "\n    pass"
    own = "".join(f"self.{n}, " for n in names)
    theirs = "".join(f"other.{n}, " for n in names)
    shown = ", ".join(f"{n}={{self.{n}!r}}" for n in names)
    seed = hash(f"{cls.__module__}.{cls.__qualname__}")
    source = (
        f"def __init__(self, {params}):{sets}\n"
        f"def __eq__(self, other):\n"
        f"    if other.__class__ is not self.__class__:\n"
        f"        return NotImplemented\n"
        f"    return ({own}) == ({theirs})\n"
        f"def __ne__(self, other):\n"
        f"    if other.__class__ is not self.__class__:\n"
        f"        return NotImplemented\n"
        f"    return ({own}) != ({theirs})\n"
        f"def __hash__(self):\n"
        f"    return hash(({seed}, {own}))\n"
        f"def __repr__(self):\n"
        f"    return f'{cls.__qualname__}({shown})'\n"
    )
    namespace: dict[str, Any] = {"_set": _SET, **{f"_d_{n}": v for n, v in defaults.items()}}
    exec(source, namespace)  # the methods attrs would generate, compiled once per class
    # A method the class defines itself is kept (attrs' auto-detection).
    for key in ("__init__", "__eq__", "__ne__", "__hash__") + (("__repr__",) if with_repr else ()):
        function = namespace[key]
        function.__qualname__ = f"{cls.__qualname__}.{key}"
        function.__module__ = cls.__module__
        body.setdefault(key, function)
    body.update(
        __slots__=(*names, "__weakref__"),
        __match_args__=names,
        __value_fields__=names,
        __setattr__=_refuse_set,
        __delattr__=_refuse_delete,
        __getstate__=_getstate,
        __setstate__=_setstate,
    )
    new = type(cls)(cls.__name__, cls.__bases__, body)
    new.__qualname__ = cls.__qualname__
    return new


if TYPE_CHECKING:
    from typing_extensions import dataclass_transform

    _T = TypeVar("_T")

    @dataclass_transform(frozen_default=True)
    def frozen(cls: _C | None = None, /, *, repr: bool = True) -> Any: ...

    def evolve(value: _T, **changes: Any) -> _T: ...

else:

    def frozen(cls=None, /, *, repr=True):
        """``@frozen`` or ``@frozen(repr=False)`` (the class keeps its own ``__repr__``)."""

        def wrap(inner):
            return _make(inner, repr)

        return wrap if cls is None else wrap(cls)

    def evolve(value, **changes):
        """A copy of ``value`` with ``changes`` (``attrs.evolve``); an unknown name is a TypeError."""
        cls = value.__class__
        for name in cls.__value_fields__:
            if name not in changes:
                changes[name] = getattr(value, name)
        return cls(**changes)
