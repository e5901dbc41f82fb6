"""Arrow schemas of the base tables (derived from `transforms.schema`), and frames cast to them."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from .schema import TABLES

# `status` columns are DuckDB ENUMs; they travel as strings and DuckDB casts them on insert.
ARROW_SCHEMAS: dict[str, pa.Schema] = {name: table.arrow_schema for name, table in TABLES.items()}


def to_arrow(frame: pd.DataFrame, table_name: str) -> pa.Table:
    """Cast a frame to its table's arrow schema: exactly the table's columns, in DDL order.

    Raises KeyError for an unknown table or a missing column; extra frame columns are left out.
    """
    schema = ARROW_SCHEMAS[table_name]
    arrays = []
    for field in schema:
        col = frame[field.name]
        if isinstance(col.dtype, pd.CategoricalDtype):
            col = col.astype(pd.StringDtype("pyarrow"))
        arr = pa.array(col, from_pandas=True)
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        arrays.append(arr.cast(field.type))
    return pa.Table.from_arrays(arrays, schema=schema)
