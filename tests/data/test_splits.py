"""Split aliases and tfds slicing syntax."""

import pytest

from tf_pe.data.splits import resolve_split


@pytest.mark.parametrize(
    ("name", "split", "expected"),
    [
        ("fashion_mnist", "train", ("train", True)),
        ("fashion_mnist", "test", ("test", False)),
        ("fashion_mnist", "validation", ("test", False)),
        ("fashion_mnist", "train[:10%]", ("train[:10%]", True)),
        ("mnist", "train[1000:2000]", ("train[1000:2000]", True)),
        ("cifar10", "validation[:50%]", ("test[:50%]", False)),
        ("cifar10", "train[:10%] + test", ("train[:10%]+test", False)),
        ("imagenet2012", "test", ("validation", False)),
        ("imagenet2012", "validation[:1%]", ("validation[:1%]", False)),
        ("imagenet2012", "train[-5%:]", ("train[-5%:]", True)),
    ],
)
def test_resolve_split(name, split, expected):
    assert resolve_split(name, split) == expected


def test_unknown_split_lists_available_splits():
    with pytest.raises(ValueError, match=r"Available splits: \['test', 'train'\]"):
        resolve_split("cifar10", "extra")
    with pytest.raises(ValueError, match=r"Available splits: \['train', 'validation'\]"):
        resolve_split("imagenet2012", "unlabeled")


@pytest.mark.parametrize(
    "split", ["train[abc]", "train[1:2:3]", "train[]", "train[200%]", "tr ain", "", "  ", None, 3]
)
def test_bad_split_syntax(split):
    with pytest.raises(ValueError, match="split"):
        resolve_split("fashion_mnist", split)


def test_unknown_name():
    with pytest.raises(ValueError, match="`name` must be one of"):
        resolve_split("svhn", "train")
