"""DataFrames on their way into the engine.

polars exports a column of the ``Null`` type (a column whose values are
all missing, or such a field of a struct) with a buffer that the Arrow C
data interface does not allow for that type, so the engine's Arrow reader
refuses the whole stream. Such columns are cast first to the type the hit
contract gives the field (docs/hits.md), which holds the same nulls.
"""

from typing import Any

# The contract's numeric and boolean fields, top-level or nested (order
# amounts, items' price and quantity, an event's value); every other field
# is text.
_FLOATS = {"revenue", "latitude", "longitude", "price", "subtotal", "tax", "shipping",
           "discount", "value"}
_INTS = {"site", "ts", "goal", "local_hour", "quantity"}
_BOOLS = {"new_visit"}


def without_null_columns(frame: Any) -> Any:
    """``frame`` with its ``Null``-typed columns and fields cast to the
    contract's types; any other frame as it is.

    Examples
    --------
    >>> import polars as pl
    >>> df = pl.DataFrame({"site": [1], "title": [None]})
    >>> without_null_columns(df).schema["title"]
    String
    """
    if not type(frame).__module__.startswith("polars"):
        return frame
    import polars as pl

    def fixed(dtype: Any, name: str) -> Any:
        if dtype == pl.Null:
            if name in _FLOATS:
                return pl.Float64
            if name in _INTS:
                return pl.Int64
            if name in _BOOLS:
                return pl.Boolean
            return pl.String
        if isinstance(dtype, pl.List):
            return pl.List(fixed(dtype.inner, name))
        if isinstance(dtype, pl.Struct):
            return pl.Struct([pl.Field(f.name, fixed(f.dtype, f.name)) for f in dtype.fields])
        return dtype

    casts = {}
    for name, dtype in frame.schema.items():
        new = fixed(dtype, name)
        if new != dtype:
            casts[name] = new
    return frame.cast(casts) if casts else frame
