"""Re-filtering a sort/filter proxy's rows in a way every Qt the project allows (6.8 and later) understands."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from PySide6.QtCore import QSortFilterProxyModel


@contextmanager
def rows_filter_change(proxy: QSortFilterProxyModel) -> Iterator[None]:
    """Change what `proxy.filterAcceptsRow` reads inside the block; the rows are filtered again after it.

    Qt 6.10 brought beginFilterChange()/endFilterChange(Direction) and deprecated invalidateRowsFilter()
    (PySide warns on each call); Qt 6.8 and 6.9 have only invalidateRowsFilter(). Both re-filter the rows alone,
    keeping the columns and the sort order as they are.
    """
    if hasattr(proxy, "endFilterChange"):
        proxy.beginFilterChange()
        try:
            yield
        finally:
            proxy.endFilterChange(QSortFilterProxyModel.Direction.Rows)
    else:
        yield
        proxy.invalidateRowsFilter()
