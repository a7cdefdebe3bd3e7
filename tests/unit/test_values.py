"""runlayer_tf._values.frozen behaves as attrs.frozen does for the classes it is used on."""

from __future__ import annotations

import copy
import pickle
import weakref

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from runlayer_tf import _values
from runlayer_tf.registries import RegistryAddress
from runlayer_tf.tags import Digest, Platform, Selector, Tag


@_values.frozen
class Ours:
    name: str
    size: int
    note: str = ""
    parts: tuple[int, ...] = ()

    def describe(self) -> str:
        return f"{self.name}:{self.size}"


@attrs.frozen
class Theirs:
    name: str
    size: int
    note: str = ""
    parts: tuple[int, ...] = ()

    def describe(self) -> str:
        return f"{self.name}:{self.size}"


VALUES = st.tuples(
    st.text(max_size=5), st.integers(), st.text(max_size=3), st.tuples(st.integers())
)


@given(VALUES, VALUES)
def test_equality_hash_and_repr_are_attrs(a, b):
    ours_a, ours_b, theirs_a, theirs_b = Ours(*a), Ours(*b), Theirs(*a), Theirs(*b)
    assert (ours_a == ours_b) is (theirs_a == theirs_b)
    assert (ours_a != ours_b) is (theirs_a != theirs_b)
    assert hash(ours_a) == hash(Ours(*a))
    assert hash(theirs_a) == hash(Theirs(*a))
    assert repr(ours_a).replace("Ours", "X") == repr(theirs_a).replace("Theirs", "X")
    assert ours_a.describe() == theirs_a.describe()
    assert _values.evolve(ours_a, size=b[1]) == Ours(a[0], b[1], a[2], a[3])
    assert attrs.evolve(theirs_a, size=b[1]) == Theirs(a[0], b[1], a[2], a[3])


def test_defaults_slots_and_other_classes():
    value = Ours("a", 1)
    assert (value.note, value.parts) == ("", ())
    assert not hasattr(value, "__dict__")
    assert Ours.__slots__ == ("name", "size", "note", "parts", "__weakref__")
    assert Ours.__match_args__ == ("name", "size", "note", "parts")
    assert Ours.__value_fields__ == ("name", "size", "note", "parts")  # type: ignore[attr-defined]
    weakref.ref(value)
    assert value != Theirs("a", 1)  # never equal to another class with the same fields
    assert (value == "a") is False
    assert Ours("a", 1, parts=(1,)) == Ours(name="a", size=1, note="", parts=(1,))
    with pytest.raises(TypeError):
        Ours("a")  # a field without a default is required
    with pytest.raises(TypeError):
        _values.evolve(value, colour="red")


def test_values_cannot_be_changed():
    value = Ours("a", 1)
    with pytest.raises(_values.FrozenInstanceError):
        value.name = "b"  # type: ignore[misc]
    with pytest.raises(_values.FrozenInstanceError):
        del value.name  # type: ignore[misc]
    with pytest.raises(AttributeError):
        value.other = 1  # type: ignore[attr-defined]
    assert value.name == "a"


def test_pickle_and_copy_keep_the_value():
    value = Ours("a", 1, "n", (2, 3))
    assert pickle.loads(pickle.dumps(value)) == value
    assert copy.copy(value) == value
    assert copy.deepcopy(value) == value


def test_own_methods_are_kept():
    @_values.frozen(repr=False)
    class Secret:
        user: str
        password: str

        def __repr__(self) -> str:
            return f"Secret(user={self.user!r}, password=...)"

    assert repr(Secret("u", "p")) == "Secret(user='u', password=...)"

    @_values.frozen
    class Shown:
        text: str

        def __repr__(self) -> str:
            return "shown"

    assert repr(Shown("x")) == "shown"


def test_what_it_cannot_do_is_refused_when_the_class_is_made():
    with pytest.raises(TypeError, match="super"):

        @_values.frozen
        class UsesSuper:
            a: int

            def method(self) -> str:
                return str(super())

    with pytest.raises(TypeError, match="immutable"):

        @_values.frozen
        class SharedList:
            items: list[int] = []  # noqa: RUF012

    with pytest.raises(TypeError, match="follows"):

        @_values.frozen
        class Order:
            a: int = 0
            b: int  # type: ignore[misc]


def test_the_resolve_paths_values_are_frozen_values():
    for value in (
        Tag.parse("v1.2.3"),
        Selector.parse("v1.2"),
        Digest.parse("sha256:" + "a" * 64),
        Platform.parse("linux/arm64/v8"),
        RegistryAddress.parse("oci-layout:/tmp/x"),
    ):
        assert not hasattr(value, "__dict__")
        assert value == copy.deepcopy(value)
        assert hash(value) == hash(copy.deepcopy(value))
        with pytest.raises(AttributeError):
            object.__getattribute__(value, "__dict__")
