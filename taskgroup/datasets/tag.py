"""Fifty et al. (2021) TAG, CS and pair matrices for CelebA (9 tasks) and Taskonomy (5 tasks).

Source: "Efficiently Identifying Task Groupings for Multi-Task Learning" (NeurIPS 2021), repository
``google-research/google-research``, folder ``tag/network_selection/`` (Apache-2.0; see
``data/tag2021.LICENSE`` and ``data/tag2021.README.md``).
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

import pandas as pd

from taskgroup.errors import InvalidArgument

__all__ = ["tag2021", "TAG2021_DATASETS", "TAG2021_KINDS"]

TAG2021_DATASETS = ("celeba", "taskonomy")
TAG2021_KINDS = ("tag", "cs", "pairs")

_KEYS = {
    ("celeba", "tag"): "tag_affinity",
    ("celeba", "cs"): "cs_affinity",
    ("celeba", "pairs"): "hoa_pair_val_accuracy",
    ("taskonomy", "tag"): "tag_affinity",
    ("taskonomy", "cs"): "cs_affinity",
    ("taskonomy", "pairs"): "hoa_pair_val_loss",
}

# The notebooks use two spellings for the Taskonomy tasks; both map onto Standley et al.'s table's names.
_TASKONOMY_NAMES = {
    "ss_l": "segmentation",
    "depth_l": "depth",
    "norm_l": "normals",
    "key_l": "keypoints2d",
    "edge2d_l": "edges2d",
    "s": "segmentation",
    "d": "depth",
    "n": "normals",
    "k": "keypoints2d",
    "t": "edges2d",
}
_TASKONOMY_ORDER = ["segmentation", "depth", "normals", "keypoints2d", "edges2d"]


@lru_cache(maxsize=1)
def _raw() -> dict[str, Any]:
    with resources.files("taskgroup.datasets").joinpath("data/tag2021_affinities.json").open("r") as fh:
        return json.load(fh)


def tag2021_raw(dataset: str, kind: str) -> dict[str, dict[str, float]]:
    """The notebook's own dict ``[target][source]`` (original task names), for checking against the source."""
    _check(dataset, kind)
    return json.loads(json.dumps(_raw()[dataset][_KEYS[dataset, kind]]))  # a deep copy


def tag2021(dataset: str = "celeba", kind: str = "tag") -> pd.DataFrame:
    """A published matrix of Fifty et al. (2021) in taskgroup's orientation ``matrix.loc[source, target]``.

    Parameters
    ----------
    dataset : {"celeba", "taskonomy"}
        CelebA: 9 attributes. Taskonomy: 5 tasks, named as in :func:`tg.datasets.standley2020`
        (segmentation, depth, normals, keypoints2d, edges2d).
    kind : {"tag", "cs", "pairs"}
        ``"tag"``: lookahead affinity ``Z[source -> target]`` summed over epochs. ``"cs"``: gradient cosine
        similarity summed over epochs (symmetric). ``"pairs"``: the target's validation value in the network
        trained on {target, source}, diagonal = target alone (CelebA: accuracy in %, higher is better;
        Taskonomy: loss, lower is better).

    Returns
    -------
    pandas.DataFrame
        Square, index = sources, columns = targets. ``attrs["higher_is_better"]`` tells how to read it and is
        what :func:`tg.grouping.group_problem` uses by default.

    Examples
    --------
    >>> import taskgroup as tg
    >>> A = tg.datasets.tag2021("taskonomy", "tag")
    >>> A.shape
    (5, 5)
    """
    _check(dataset, kind)
    nested = _raw()[dataset][_KEYS[dataset, kind]]
    # pandas puts outer keys in columns: the notebooks' outer key is the target, so this is [source, target].
    frame = pd.DataFrame(nested).astype(float)
    if dataset == "taskonomy":
        frame = frame.rename(index=_TASKONOMY_NAMES, columns=_TASKONOMY_NAMES).loc[_TASKONOMY_ORDER, _TASKONOMY_ORDER]
    else:
        order = list(nested)
        frame = frame.loc[order, order]
    frame.index.name, frame.columns.name = "source", "target"
    frame.attrs["higher_is_better"] = not (dataset == "taskonomy" and kind == "pairs")
    frame.attrs["source"] = f"Fifty et al. 2021, {dataset} {_KEYS[dataset, kind]}"
    return frame


def _check(dataset: str, kind: str) -> None:
    if dataset not in TAG2021_DATASETS:
        raise InvalidArgument(f"Unknown TAG dataset {dataset!r}; accepted: {list(TAG2021_DATASETS)}.")
    if kind not in TAG2021_KINDS:
        raise InvalidArgument(f"Unknown TAG matrix kind {kind!r}; accepted: {list(TAG2021_KINDS)}.")
