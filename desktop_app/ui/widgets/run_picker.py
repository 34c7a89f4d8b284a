"""A run chooser over every stored run: read a page at a time off the UI thread, searched in the store."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QPoint, Qt, QTimer, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLineEdit, QSizePolicy, QWidget

from desktop_app.ui.context import AppContext
from desktop_app.ui.errors import show_exception
from desktop_app.ui.workers import LatestOnly, with_store

if TYPE_CHECKING:
    from desktop_app.storage.store import Store

PAGE = 50  # runs read at first, and each time more are asked for
MORE = "\x00more"  # the item data of the last entry, "Load more runs…"


@dataclass(frozen=True)
class RunList:
    """What one read of the store found: the newest runs that match the search, and how many match."""

    runs: list[dict[str, Any]]  # those the screen lists (accepted), newest first
    read: int  # runs read (listed or not): the next read starts past them
    total: int  # runs that match the search
    search: str
    missing: str = ""  # why the run asked for is not among them (no such run), in words


def read_runs(store: Store, limit: int, search: str, keep: str | None,
              accept: Callable[[dict[str, Any]], bool]) -> RunList:
    """The newest `limit` runs matching `search` that `accept` lets through; `keep` (a run id or a prefix of
    one) is listed even when it is older or does not match, so the run on screen stays chosen. Runs on a
    worker thread."""
    from desktop_app.storage.store import StoreError

    rows = store.runs(limit=limit, offset=0, search=search or None)
    total = store.count_runs(search or None)
    listed = [r for r in rows if accept(r)]
    missing = ""
    if keep and not any(r["id"] == keep for r in listed):
        try:
            wanted = store.resolve_run_id(keep)
        except StoreError as exc:
            wanted, missing = None, str(exc)
        if wanted is not None and not any(r["id"] == wanted for r in listed):
            # An id prefix finds the run; any run whose names merely contain it is left out.
            listed += [r for r in store.runs(limit=None, search=wanted) if r["id"] == wanted and accept(r)]
    return RunList(listed, len(rows), total, search, missing)


class RunPicker(QWidget):
    """A combo box of runs, newest first, and a search field beside it.

    It lists the newest 50 runs; scrolling to the end of the list (or choosing its last entry) reads 50 more,
    and the search field says how many there are ("50 of 312 — type to search"). Every read happens on a
    worker thread with its own connection; a list that arrives after a newer one was asked for is dropped.
    With `follow_newest`, the newest run is chosen until the person picks one by hand.
    """

    chosen = Signal(str)  # the person picked a run
    listed = Signal()  # a new list is shown (the current run may have changed with it)
    not_found = Signal(str)  # the run asked for with refresh(select=...) is not stored: why, in words

    def __init__(self, ctx: AppContext, title: Callable[[dict[str, Any]], str],
                 tooltip: Callable[[dict[str, Any]], str] | None = None,
                 accept: Callable[[dict[str, Any]], bool] | None = None, follow_newest: bool = False,
                 object_name: str = "runPicker", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self._title, self._tooltip = title, tooltip or (lambda run: f"run {run['id']}")
        self._accept = accept or (lambda _run: True)
        self.follow_newest = follow_newest
        self.user_chose = False
        self.loaded = False  # a first list has arrived
        self.runs: list[dict[str, Any]] = []
        self.total = 0
        self._read = 0
        self._wanted = PAGE
        self._selecting: str | None = None  # a run asked for by refresh(select=...), until a list shows it
        self._shown_id: str | None = None  # the run chosen now (the "Load more" entry is never one)
        self._reads = LatestOnly(self)

        self.combo = QComboBox()
        self.combo.setObjectName(object_name)
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(20)
        self.combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.combo.setToolTip("The stored runs, newest first")
        self.combo.activated.connect(self._activated)  # by the person, not by a refresh
        self.combo.view().verticalScrollBar().valueChanged.connect(self._scrolled)
        self.search = QLineEdit()
        self.search.setObjectName(f"{object_name}Search")
        self.search.setClearButtonEnabled(True)
        self.search.setPlaceholderText("Search runs")
        self.search.setToolTip("Find a run by the start of its id, its suite's name or a model's name")
        self.search.setMinimumWidth(120)
        self.search.setMaximumWidth(220)
        self._search_timer = QTimer(self, singleShot=True, interval=250, timeout=self._search_changed)
        self.search.textChanged.connect(lambda _text: self._search_timer.start())
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(self.combo, 1)
        layout.addWidget(self.search)

    # Reading ----------------------------------------------------------------------------------

    def refresh(self, select: str | None = None) -> None:
        """Read the list again (as many runs as are listed now); with `select`, choose that run (an id or a
        prefix) as if the person had."""
        if select:
            self.user_chose = True
            self._selecting = select
        keep = self._selecting or self.current_run_id()
        limit, search, accept = max(PAGE, self._wanted), self.search.text().strip(), self._accept
        self._reads.request(with_store(self.ctx.database_path(), lambda store: read_runs(store, limit, search,
                                                                                         keep, accept)),
                            self._show, self._failed)

    def _search_changed(self) -> None:
        self._wanted = PAGE  # the newest matches first
        self.refresh()

    def load_more(self) -> None:
        if self.has_more() and not self._reads.busy():
            self._wanted = self._read + PAGE
            self.refresh()

    def has_more(self) -> bool:
        return self._read < self.total

    def is_empty(self) -> bool:
        """No run at all is stored (or none the screen lists), searching nothing."""
        return self.loaded and not self.runs and not self.search.text().strip()

    def busy(self) -> bool:
        return self._reads.busy()

    def current_run_id(self) -> str | None:
        data = self.combo.currentData()
        return data if data and data != MORE else None

    def current_run(self) -> dict[str, Any] | None:
        run_id = self.current_run_id()
        return next((r for r in self.runs if r["id"] == run_id), None)

    def shutdown(self) -> None:
        self._search_timer.stop()
        self._reads.cancel()
        self._reads.wait(5)

    def _failed(self, exc: BaseException) -> None:
        self._selecting = None
        show_exception(self, "Cannot read the stored runs", exc)

    # Showing ----------------------------------------------------------------------------------

    def _show(self, found: RunList) -> None:
        select, self._selecting = self._selecting, None
        self.runs, self.total, self._read, self.loaded = found.runs, found.total, found.read, True
        ids = [r["id"] for r in found.runs]
        current = self.current_run_id()
        if select and select not in ids:
            asked, select = select, next((i for i in ids if i.startswith(select)), None)
            if select is None:
                self.not_found.emit(found.missing or f"Run {asked} is not among the runs this screen shows.")
        if select:
            chosen = select
        elif current in ids and (self.user_chose or not self.follow_newest or found.search):
            chosen = current  # a search lists what matches; the run on screen stays until one is picked
        else:
            chosen = ids[0] if ids else None
        items = [(self._title(r), r["id"], self._tooltip(r)) for r in found.runs]
        if self.has_more():
            more = (f"Load {min(PAGE, self.total - self._read)} more runs… ({self._read} of {self.total:,} "
                    f"listed)")
            items.append((more, MORE, "Read the next older runs; or type in the search field to find one"))
        self._set_items(items)
        index = self.combo.findData(chosen) if chosen else -1
        if index != self.combo.currentIndex():
            self.combo.blockSignals(True)
            self.combo.setCurrentIndex(index)
            self.combo.blockSignals(False)
        self._shown_id = self.current_run_id()
        self._show_count(found)
        self.listed.emit()

    def _set_items(self, items: list[tuple[str, Any, str]]) -> None:
        """Show these entries. The same list again changes nothing (no flicker, nothing moves); a longer one
        that begins with the runs listed now (more were read) is added below them, so an open list stays
        where it was scrolled."""
        shown = self._items()
        if items == shown:
            return
        if [data for _, data, _ in items] == [data for _, data, _ in shown]:  # the same runs, newer words
            for index, (text, _, tip) in enumerate(items):  # (a live run's count of answers)
                if (text, tip) != (shown[index][0], shown[index][2]):
                    self.combo.setItemText(index, text)
                    self.combo.setItemData(index, tip, Qt.ItemDataRole.ToolTipRole)
            return
        runs_shown = shown[:-1] if shown and shown[-1][1] == MORE else shown
        self.combo.blockSignals(True)
        if runs_shown and items[:len(runs_shown)] == runs_shown:
            if len(shown) > len(runs_shown):
                self.combo.removeItem(len(runs_shown))  # the old "Load more" entry
            added = items[len(runs_shown):]
        else:
            self.combo.clear()
            added = items
        for text, data, tip in added:
            self.combo.addItem(text, data)
            self.combo.setItemData(self.combo.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self.combo.blockSignals(False)

    def _items(self) -> list[tuple[str, Any, Any]]:
        return [(self.combo.itemText(i), self.combo.itemData(i),
                 self.combo.itemData(i, Qt.ItemDataRole.ToolTipRole)) for i in range(self.combo.count())]

    def _show_count(self, found: RunList) -> None:
        """In the search field, while empty: how many runs are listed of how many, when not all are."""
        if found.search:
            self.search.setPlaceholderText("Search runs")
        elif self.has_more():
            self.search.setPlaceholderText(f"{found.read} of {found.total:,} — type to search")
        else:
            self.search.setPlaceholderText(f"Search {found.total:,} run{'s' if found.total != 1 else ''}")
        # Wide enough to read the count whole (the clear button takes some of it).
        wanted = self.search.fontMetrics().horizontalAdvance(self.search.placeholderText()) + 36
        self.search.setMinimumWidth(max(120, min(wanted, 240)))
        self.search.setMaximumWidth(max(220, min(wanted, 240)))
        matching = f" matching “{found.search}”" if found.search else ""
        self.search.setToolTip(f"{found.read} of {found.total:,} runs{matching} listed. Find a run by the start "
                               f"of its id, its suite's name or a model's name")

    def _activated(self, index: int) -> None:
        if self.combo.itemData(index) == MORE:  # an action, not a run: the run on screen stays chosen
            self.combo.blockSignals(True)
            self.combo.setCurrentIndex(self.combo.findData(self._shown_id) if self._shown_id else -1)
            self.combo.blockSignals(False)
            self.load_more()
            return
        self.user_chose = True
        self._shown_id = self.combo.itemData(index)
        self.chosen.emit(self._shown_id)

    def _scrolled(self, _value: int) -> None:
        """The open list is scrolled down to its "Load more" entry: read the next runs."""
        view = self.combo.view()
        last_shown = view.indexAt(QPoint(1, view.viewport().height() - 2)).row()
        if last_shown >= self.combo.count() - 2:
            self.load_more()
