"""Tables of columns as numpy arrays, read from CSV or Parquet with pyarrow.

A numerical column is float64 with NaN for missing values; any other column (text, booleans,
dictionary-encoded) is categorical: an object array of strings with None for missing values.
Columns of other types (timestamps, lists, …) are left out and named in ``skipped``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from firewatch.drift.sketch import category_name
from firewatch.drift.stattests.base import Kind


class DataError(ValueError):
    """A file that cannot be read as a table, or a table that cannot be used."""


@dataclass
class Column:
    kind: Kind
    values: npt.NDArray[Any]


@dataclass
class Table:
    columns: dict[str, Column]
    rows: int
    skipped: dict[str, str] = field(default_factory=dict)  # name -> why

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Table:
        """Columns from plain sequences or arrays: numbers become numerical, the rest categorical."""
        columns: dict[str, Column] = {}
        rows: int | None = None
        for name, values in data.items():
            column = _column(values)
            if rows is not None and len(column.values) != rows:
                raise DataError(
                    f"column {name!r} has {len(column.values):,} values, the others {rows:,}"
                )
            rows = len(column.values)
            columns[str(name)] = column
        return cls(columns, rows or 0)

    def select(self, names: list[str]) -> Table:
        missing = [n for n in names if n not in self.columns]
        if missing:
            raise DataError(f"no column named {', '.join(map(repr, missing))}")
        return Table({n: self.columns[n] for n in names}, self.rows, self.skipped)


def _column(values: Any) -> Column:
    array = np.asarray(values)
    if array.dtype.kind in "iuf":
        return Column(Kind.NUMERICAL, array.astype(np.float64, copy=False))
    if array.dtype.kind == "O":
        non_null = [v for v in array if v is not None and not (isinstance(v, float) and v != v)]
        if non_null and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in non_null
        ):
            return Column(
                Kind.NUMERICAL, np.array([np.nan if v is None else v for v in array], np.float64)
            )
    strings = np.array(
        [
            None if v is None or (isinstance(v, float) and v != v) else category_name(v)
            for v in array
        ],
        dtype=object,
    )
    return Column(Kind.CATEGORICAL, strings)


def read_table(path: str | Path) -> Table:
    """Read a ``.csv`` (optionally gzipped) or ``.parquet`` file. Raises DataError with the
    reason when the file is missing, unreadable or empty of columns."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, not a CSV or Parquet file")
    suffixes = [s.lower() for s in path.suffixes]
    try:
        if ".parquet" in suffixes or ".pq" in suffixes:
            arrow = pq.read_table(path)
        elif ".csv" in suffixes or ".tsv" in suffixes:
            # An empty line is a row of missing values (one-column files write nulls that way).
            parse = pacsv.ParseOptions(
                delimiter="\t" if ".tsv" in suffixes else ",", ignore_empty_lines=False
            )
            arrow = pacsv.read_csv(path, parse_options=parse)
        else:
            raise DataError(f"{path}: unknown file type (expected .csv, .tsv or .parquet)")
    except DataError:
        raise
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"{path}: cannot read it: {_first_line(exc)}") from exc
    if arrow.num_columns == 0:
        raise DataError(f"{path}: has no columns")
    return from_arrow(arrow)


def from_arrow(arrow: Any) -> Table:
    import pyarrow as pa
    import pyarrow.compute as pc

    columns: dict[str, Column] = {}
    skipped: dict[str, str] = {}
    for name, chunked in zip(arrow.column_names, arrow.columns, strict=True):
        kind = chunked.type
        if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
            floats = pc.cast(chunked, pa.float64()).to_numpy()
            columns[name] = Column(Kind.NUMERICAL, floats)
        elif pa.types.is_null(kind):  # every value missing: nothing says what it holds
            columns[name] = Column(Kind.NUMERICAL, np.full(len(chunked), np.nan))
        elif (
            pa.types.is_string(kind)
            or pa.types.is_large_string(kind)
            or pa.types.is_boolean(kind)
            or pa.types.is_dictionary(kind)
        ):
            text = pc.cast(chunked, pa.string()) if not pa.types.is_dictionary(kind) else chunked
            columns[name] = Column(Kind.CATEGORICAL, np.array(text.to_pylist(), dtype=object))
        else:
            skipped[name] = f"type {kind} is neither numerical nor categorical"
    return Table(columns, arrow.num_rows, skipped)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
