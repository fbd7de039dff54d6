"""Your own table as a suite: a CSV file with feature and target columns, loadable by name from the command line.

``taskgroup run --suite csv --suite-param path=customers.csv --suite-param targets=churn:binary,spend,segment``
measures, plans, trains and reports on that file as on a built-in suite. The suite records the file's absolute
path and its parameters, and its fingerprint hashes the data read, so a rerun resumes only on the same table,
and ``export``/``distill`` rebuild it from the file (refusing it once the file has changed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from taskgroup.errors import InvalidSuite
from taskgroup.tasks.suite import TaskSuite
from taskgroup.tasks.tables import TASK_KINDS

__all__ = ["csv_suite", "parse_targets"]


def parse_targets(targets: str | Sequence[str] | Mapping[str, str | None]) -> dict[str, str | None]:
    """The target columns and their kinds, from the forms a command line or a script gives.

    Parameters
    ----------
    targets : str, sequence of str, or mapping
        ``"churn:binary,spend:regression,segment"`` (a kind after a colon, or none to infer it), a list of column
        names (kinds inferred), or a mapping of column to kind (``None`` infers it).

    Returns
    -------
    dict of str to str or None
        Column -> kind, in the order given; ``None`` where the kind is to be inferred from the values.

    Raises
    ------
    InvalidSuite
        No target, an empty or repeated column name, or a kind other than those of
        :data:`taskgroup.tasks.TASK_KINDS`.
    """
    if isinstance(targets, str):
        pairs = [item.strip().partition(":")[::2] for item in targets.split(",")]
        parsed = [(name.strip(), kind.strip() or None) for name, kind in pairs]
    elif isinstance(targets, Mapping):
        parsed = [(str(name), kind) for name, kind in targets.items()]
    elif isinstance(targets, Sequence):
        parsed = [(str(name), None) for name in targets]
    else:
        raise InvalidSuite(
            f"targets={targets!r} is not accepted; give 'column:kind,column,...', a list of columns or a mapping "
            "of column to kind."
        )
    names = [name for name, _ in parsed]
    if not parsed or any(not name for name in names):
        raise InvalidSuite(f"targets={targets!r} names an empty column; give 'column:kind,column,...'.")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise InvalidSuite(f"targets={targets!r} names column(s) {repeated} more than once.")
    for name, kind in parsed:
        if kind is not None and kind not in TASK_KINDS:
            raise InvalidSuite(f"Target {name!r} has kind {kind!r}; accepted kinds: {list(TASK_KINDS)}.")
    return dict(parsed)


def csv_suite(
    path: str,
    targets: str | Sequence[str] | Mapping[str, str | None],
    features: str | Sequence[str] | None = None,
    split: str | Sequence[float] = (0.6, 0.2, 0.2),
    seed: int = 0,
    allow_missing: bool | str | Sequence[str] = False,
) -> TaskSuite:
    """A suite from a CSV file with a header row: every target column is a task.

    Parameters
    ----------
    path : str
        The CSV file (comma-separated, a header row naming the columns).
    targets : str, sequence of str, or mapping
        The target columns and their kinds, see :func:`parse_targets`: e.g. ``"churn:binary,spend"``. A kind
        left out is inferred as :meth:`~taskgroup.tasks.TaskSuite.from_frame` infers it.
    features : str or sequence of str, optional
        Feature columns (a comma-separated string or a list). Default: every other column except ``split``'s.
        Text columns are one-hot encoded.
    split : str or (train, val, test) fractions
        A column holding ``train``/``val``/``test`` per row, or three fractions for a random split with ``seed``.
    seed : int
        Seed of the random split.
    allow_missing : bool, str or sequence of str
        Targets whose empty cells are missing labels (masked out of their loss): ``True`` for all, or some
        columns (a comma-separated string or a list). Default: none, and an empty target cell is an error.

    Returns
    -------
    TaskSuite
        Named ``csv``; its parameters record the file's absolute path and the arguments above.

    Raises
    ------
    InvalidSuite
        A file that does not exist or cannot be read as CSV, bad ``targets`` (see :func:`parse_targets`), and
        whatever :meth:`~taskgroup.tasks.TaskSuite.from_frame` refuses, naming the column.
    """
    import pandas as pd

    file = Path(str(path)).expanduser().resolve()  # str: a command line's path=123 arrives as a number
    if not file.is_file():
        raise InvalidSuite(f"Suite 'csv': path={str(path)!r} is not a file (looked at {str(file)!r}).")
    kinds = parse_targets(targets)
    feature_columns = _columns(features, "features")
    missing = allow_missing if isinstance(allow_missing, bool) else _columns(allow_missing, "allow_missing") or []
    try:
        frame = pd.read_csv(file)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as error:
        raise InvalidSuite(f"Suite 'csv': {str(file)!r} cannot be read as CSV: {error}") from None
    return TaskSuite.from_frame(
        frame,
        kinds,
        features=feature_columns,
        split=split if isinstance(split, str) else tuple(split),
        seed=seed,
        allow_missing=missing,
        name="csv",
        params={"path": str(file), "targets": kinds, "features": feature_columns, "allow_missing": missing},
    )


def _columns(value: str | Sequence[str] | None, parameter: str) -> list[str] | None:
    if value is None:
        return None
    names = [name.strip() for name in value.split(",")] if isinstance(value, str) else [str(v) for v in value]
    if not names or any(not name for name in names):
        raise InvalidSuite(f"Suite 'csv': {parameter}={value!r} names an empty column; give 'column,column,...'.")
    return names
