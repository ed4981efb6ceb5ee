"""Tables as a page shows them: every cell text, numbers formatted, a missing value blank (a
table of Streamlit shows a missing cell as the word "None"). Built once per store version and
shared by every viewer, so a redraw only sends them::

    from dashboard import data, frames

    table = frames.history_table(data.history_frame(sessions))
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

#: How Training History shows its number and time columns.
HISTORY_FORMATS: dict[str, str] = {
    "mAP50-95": "{:.4f}",
    "mAP50": "{:.4f}",
    "precision": "{:.3f}",
    "recall": "{:.3f}",
    "started": "%Y-%m-%d %H:%M:%S",
    "completed": "%Y-%m-%d %H:%M:%S",
}
#: Columns of Training History's frame that the table does not show.
HISTORY_HIDDEN = ("duration_s",)


def _column(values: pd.Series, fmt: str | None) -> pd.Series:
    """One column as text: missing values blank."""
    if fmt is not None and pd.api.types.is_datetime64_any_dtype(values):
        return values.dt.strftime(fmt).fillna("")
    missing = values.isna()
    text = values.map(fmt.format, na_action="ignore") if fmt is not None else values.astype(str)
    return text.where(~missing, "")


def display_table(
    frame: pd.DataFrame, formats: Mapping[str, str], hidden: tuple[str, ...] = ()
) -> pd.DataFrame:
    """``frame`` with every cell as text: ``formats`` by column (``str.format`` for numbers,
    ``strftime`` for times), missing values as ``""``, the ``hidden`` columns left out.

    Example::

        display_table(frame, {"mAP50": "{:.4f}"})["mAP50"].tolist()  # ['0.4321', '']
    """
    columns = [c for c in frame.columns if c not in hidden]
    return pd.DataFrame({c: _column(frame[c], formats.get(c)) for c in columns}, columns=columns)


def history_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Training History's table (from :func:`dashboard.data.history_frame`): blank empty
    cells, mAP with 4 digits, precision and recall with 3, times to the second.

    Example::

        history_table(history_frame(sessions))["completed"].iloc[0]  # '2025-01-31 12:00:05'
    """
    return display_table(frame, HISTORY_FORMATS, HISTORY_HIDDEN)


__all__ = ["HISTORY_FORMATS", "display_table", "history_table"]
