import os
import signal

import pytest

# Two cores are shared by everything in CI; one torch thread per process keeps timings sane.
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture
def toy_frame():
    import pandas as pd

    return pd.DataFrame(
        [
            ("a_half", "a", 0.50, 0.5),
            ("b_half", "b", 0.60, 0.5),
            ("a", "a", 0.45, 1.0),
            ("b", "b", 0.55, 1.0),
            ("ab", "a", 0.40, 1.0),
            ("ab", "b", 0.58, 1.0),
        ],
        columns=["network", "task", "loss", "cost"],
    )


def _sigint_at_default() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def as_a_terminal_job():
    """``preexec_fn`` for a subprocess that a test sends Ctrl-C: SIGINT at its default, as a terminal's foreground
    job has it. A test run started in the background (``cmd &`` in a script, as CI may be) has SIGINT ignored,
    that is inherited across exec, and Python then installs no KeyboardInterrupt handler in the child."""
    return _sigint_at_default
