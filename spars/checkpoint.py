"""Checkpoints of any PyTree: networks, connectivity, per-synapse variables, optimizer state.

``save(path, tree)`` writes one ``.npz`` file: every array leaf bit for bit
(typed PRNG keys as their key data and implementation) and the tree's
structure (its node classes, static fields such as ``n_post``, non-array
leaves) pickled beside them. ``load(path)`` needs no template, so a
connectivity whose rows grew or shrank, or a projection of another
capacity, loads as it was saved. Resuming from a checkpoint continues bit
for bit.

The structure is a pickle: load only files you trust, as with ``pickle``
itself. The classes in the tree must be importable when loading.
"""

import io
import pickle
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

FORMAT = "spars-checkpoint-1"


class _Leaf(NamedTuple):
    """Where an array leaf went: its entry in the file, its dtype, its key implementation."""

    index: int
    dtype: str
    key_impl: str | None


def save(path, tree) -> Path:
    """Writes ``tree`` to ``path`` (``.npz`` is appended if missing); returns the path.

    Raises:
        ValueError: if the tree holds something pickle cannot store (a lambda,
            an open file); the message names its type.
    """
    arrays, path = [], Path(path)

    def stow(leaf):
        if not isinstance(leaf, jax.Array | np.ndarray | np.generic):
            return leaf
        impl = None
        if isinstance(leaf, jax.Array) and jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            impl, leaf = str(jax.random.key_impl(leaf)), jax.random.key_data(leaf)
        value = np.asarray(leaf)
        arrays.append(_raw(value))
        return _Leaf(len(arrays) - 1, value.dtype.name, impl)

    skeleton = jax.tree.map(stow, tree)
    try:
        structure = pickle.dumps(skeleton, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError) as err:
        raise ValueError(f"cannot save this tree's structure: {err}") from err
    entries = {f"leaf_{i}": a for i, a in enumerate(arrays)}
    entries["structure"] = np.frombuffer(structure, np.uint8)
    entries["format"] = np.frombuffer(FORMAT.encode(), np.uint8)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        np.savez(f, **entries)
    return path


def load(path):
    """The tree :func:`save` wrote to ``path``, with ``jax.Array`` leaves.

    Raises:
        ValueError: if ``path`` is not a spars checkpoint.
    """
    path = Path(path)
    with np.load(path, allow_pickle=False) as f:
        if "format" not in f.files or f["format"].tobytes().decode() != FORMAT:
            raise ValueError(f"{path} is not a spars checkpoint (written by spars.save)")
        structure = f["structure"].tobytes()
        arrays = {name: f[name] for name in f.files if name.startswith("leaf_")}
    skeleton = pickle.load(io.BytesIO(structure))

    def restore(leaf):
        if not isinstance(leaf, _Leaf):
            return leaf
        value = arrays[f"leaf_{leaf.index}"]
        if value.dtype.kind == "V":
            value = value.view(jnp.dtype(leaf.dtype))
        value = jnp.asarray(value)
        if leaf.key_impl is None:
            return value
        return jax.random.wrap_key_data(value, impl=leaf.key_impl)

    return jax.tree.map(restore, skeleton, is_leaf=lambda x: isinstance(x, _Leaf))


def _raw(value: np.ndarray) -> np.ndarray:
    """Dtypes numpy's files cannot name (bfloat16, float8) travel as raw bytes."""
    if value.dtype.name in np.sctypeDict or value.dtype.kind in "biufc?":
        return value
    return value.view(np.dtype(f"V{value.dtype.itemsize}"))
