"""Split names: aliases ("test" <-> "validation") and tfds slicing syntax."""

from __future__ import annotations

import re

import tensorflow_datasets as tfds

from tf_pe.data import catalog

_ADDITION_SEP_RE = re.compile(r"\s*\+\s*")
_SUB_SPEC_RE = re.compile(r"^(?P<name>[\w-]+)(?P<selector>\[[^\]]*\])?$")
_SPLITS_DOC = "https://www.tensorflow.org/datasets/splits"


def resolve_split(name: str, split: str) -> tuple[str, bool]:
    """Maps a user's split to the dataset's own split names and validates it.

    Accepts the dataset's splits, the aliases of its catalog entry ("validation" for
    datasets that only have "test", and the other way round for `imagenet2012`), and
    tfds' slicing syntax on any of them: `"train[:10%]"`, `"train[1000:2000]"`,
    `"test[:50%]+test[75%:]"`.

    Args:
        name: One of `tf_pe.data.available()`.
        split: The split, as the user wrote it.

    Returns:
        A pair `(tfds_split, is_train)`: the split spelled with the dataset's own names,
        and whether it only reads the training split (for the defaults of `shuffle`
        and `augment`).

    Raises:
        ValueError: If `name` is unknown, a split name is not available for this
            dataset, or the slicing syntax is wrong.
    """
    entry = catalog.entry(name)
    available = sorted(entry.num_examples)
    aliases = ", ".join(f"{a!r} -> {b!r}" for a, b in sorted(entry.split_aliases.items()))
    if not isinstance(split, str) or not split.strip():
        raise ValueError(f"`split` must be a non-empty string such as 'train'; got {split!r}.")
    parts = []
    base_names = []
    for sub in _ADDITION_SEP_RE.split(split.strip()):
        match = _SUB_SPEC_RE.match(sub)
        if not match:
            raise ValueError(
                f"`split` {split!r} is not valid tfds split syntax (e.g. 'train', "
                f"'train[:10%]', 'test[100:200]'); see {_SPLITS_DOC}."
            )
        base = match["name"]
        base = entry.split_aliases.get(base, base)
        if base not in available:
            raise ValueError(
                f"`split` {split!r} names the split {match['name']!r}, which {name} does "
                f"not have. Available splits: {available} (alias: {aliases}), each with "
                f"optional tfds slicing such as 'train[:10%]'."
            )
        parts.append(base + (match["selector"] or ""))
        base_names.append(base)
    resolved = "+".join(parts)
    try:
        tfds.core.ReadInstruction.from_spec(resolved)
    except (ValueError, AssertionError) as e:
        raise ValueError(f"`split` {split!r} is not valid tfds split syntax. {e}") from e
    return resolved, all(b == "train" for b in base_names)
