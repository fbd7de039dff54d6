"""Where training runs: the torch device and the number of CPU threads.

Every command that trains calls :func:`configure_threads` before work starts, with ``--threads`` or the default:
the cores this process may run on (``os.sched_getaffinity``), or ``OMP_NUM_THREADS`` when it is set. OpenMP
worker threads otherwise spin in barrier waits when another process holds a core (a 3.9 s run took 390 s);
``OMP_WAIT_POLICY=PASSIVE`` makes them sleep instead, and is set (unless the user set it) before torch starts
its thread pool.
"""

from __future__ import annotations

import os

from taskgroup.errors import InvalidArgument

__all__ = ["available_cores", "default_threads", "configure_threads", "resolve_device"]


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity), at least 1.

    Returns
    -------
    int
        The size of the CPU affinity set; where the system has no affinity call, the machine's CPU count.
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS and Windows have no affinity call
        return max(1, os.cpu_count() or 1)


def default_threads() -> int:
    """``OMP_NUM_THREADS`` when it is a positive integer, else :func:`available_cores`.

    Returns
    -------
    int
        At least 1.
    """
    text = os.environ.get("OMP_NUM_THREADS", "").strip()
    if text.isdigit() and int(text) >= 1:
        return int(text)
    return available_cores()


def configure_threads(threads: int | None = None) -> int:
    """Set torch's intra-op threads to ``threads`` (default :func:`default_threads`) and return the number.

    Also sets ``OMP_WAIT_POLICY=PASSIVE`` unless the environment sets it already.

    Parameters
    ----------
    threads : int, optional
        The thread count.

    Returns
    -------
    int
        The thread count set.

    Raises
    ------
    InvalidArgument
        If ``threads`` is not a positive integer.
    """
    if threads is None:
        threads = default_threads()
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise InvalidArgument(
            f"threads={threads!r} is not accepted; give a positive integer (this machine offers "
            f"{available_cores()} cores to this process)."
        )
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch

    torch.set_num_threads(threads)
    return threads


def resolve_device(device: str | None) -> str:
    """Check a device name: ``"cpu"`` (default), ``"cuda"``, ``"cuda:N"`` or ``"mps"`` where present.

    Parameters
    ----------
    device : str, optional
        The device name; None means ``"cpu"``.

    Returns
    -------
    str
        The name, as given (``"cpu"`` for None).

    Raises
    ------
    InvalidArgument
        An unknown device, or one this machine does not have.
    """
    import torch

    name = "cpu" if device is None else str(device)
    try:
        dev = torch.device(name)
    except (RuntimeError, TypeError):
        raise InvalidArgument(f"Unknown device {name!r}; accepted: 'cpu', 'cuda', 'cuda:N', 'mps'.") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InvalidArgument(f"device={name!r} but this machine has no CUDA GPU (or torch is a CPU build); use 'cpu'.")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise InvalidArgument(f"device={name!r} but only {torch.cuda.device_count()} CUDA device(s) are present.")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise InvalidArgument(f"device={name!r} but MPS is not available here; use 'cpu'.")
    if dev.type not in ("cpu", "cuda", "mps"):
        raise InvalidArgument(f"Unsupported device {name!r}; accepted: 'cpu', 'cuda', 'cuda:N', 'mps'.")
    return name
