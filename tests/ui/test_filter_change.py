"""The Models and Results filters work on every Qt the project allows (PySide6-Essentials 6.8 and later).

Qt 6.10 added beginFilterChange()/endFilterChange() and deprecated invalidateRowsFilter(); a Qt before 6.10
has only the latter. The proxies here are the app's own, on real data; the older Qt is the same proxy without
the two names that Qt 6.10 added."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from PySide6.QtGui import QStandardItem, QStandardItemModel

from desktop_app.ui.widgets.library_table import SEARCH_ROLE, LibraryProxy
from desktop_app.ui.widgets.results_grid import (
    ResultsFilterProxy,
    ResultsGridModel,
    load_run_data,
)


class _BeforeQt610:
    """What a proxy offers on Qt 6.8 and 6.9: no beginFilterChange()/endFilterChange()."""

    def __getattribute__(self, name: str):
        if name in ("beginFilterChange", "endFilterChange"):
            raise AttributeError(name)
        return super().__getattribute__(name)


class LibraryProxyOnQt68(_BeforeQt610, LibraryProxy):
    pass


class ResultsProxyOnQt68(_BeforeQt610, ResultsFilterProxy):
    pass


@contextmanager
def deprecated_calls_fail(proxy_class: type) -> Iterator[None]:
    """On this Qt a deprecated call warns, and the app's proxies make none. The stand-in for an older Qt makes
    the call that Qt has, which this Qt deprecates: let through."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore" if issubclass(proxy_class, _BeforeQt610) else "error", DeprecationWarning)
        yield


def library_rows(qapp) -> QStandardItemModel:
    source = QStandardItemModel()
    for name in ("smollm2-135m q4_1 llama", "smollm2-135m q2_k llama", "qwen2.5-0.5b q8_0 qwen2"):
        item = QStandardItem(name)
        item.setData(name, SEARCH_ROLE)
        source.appendRow(item)
    return source


@pytest.mark.parametrize("proxy_class", [LibraryProxy, LibraryProxyOnQt68])
def test_the_models_search_filters_rows_without_deprecated_calls(qapp, proxy_class):
    source = library_rows(qapp)
    proxy = proxy_class()
    proxy.setSourceModel(source)
    with deprecated_calls_fail(proxy_class):
        proxy.set_search("smollm2 q2")
        assert proxy.rowCount() == 1
        assert proxy.index(0, 0).data() == "smollm2-135m q2_k llama"
        proxy.set_search("")
    assert proxy.rowCount() == 3


@pytest.mark.parametrize("proxy_class", [ResultsFilterProxy, ResultsProxyOnQt68])
def test_the_results_filters_filter_rows_without_deprecated_calls(qtbot, demo_run_db, proxy_class):
    database, run_id = demo_run_db
    grid = ResultsGridModel()
    with qtbot.waitSignal(grid.filled, timeout=10_000):
        grid.set_run_data(load_run_data(database, run_id))
    proxy = proxy_class(grid)
    cases = proxy.rowCount()
    assert cases == 3
    first_case = grid.case_at(0)["id"]
    with deprecated_calls_fail(proxy_class):
        proxy.set_filters(text=first_case)
        assert 1 <= proxy.rowCount() < cases
        proxy.set_filters(text="")
    assert proxy.rowCount() == cases
