import pytest

from tf_pe._registry import Registry


def test_register_get_names():
    registry = Registry("widget")
    assert registry.register("b", 2) == 2
    registry.register("a", 1)
    assert registry.names() == ["a", "b"]
    assert registry.get("a") == 1


def test_errors_name_the_argument():
    registry = Registry("widget")
    with pytest.raises(ValueError, match=r"`widget` must be one of \(none registered\)"):
        registry.get("x")
    registry.register("a", 1)
    with pytest.raises(ValueError, match="Widget 'a' is already registered"):
        registry.register("a", 2)
    with pytest.raises(ValueError, match="`widget` must be one of a; got 'x'"):
        registry.get("x")
