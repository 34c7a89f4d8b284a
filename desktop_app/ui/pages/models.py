"""The Models screen: every GGUF model on this machine, where it came from, whether it fits, and what is loaded."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QSettings, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QDragEnterEvent, QDropEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (QAbstractItemView, QFileDialog, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QMenu,
                               QPushButton, QSizePolicy, QSplitter, QStackedWidget, QTableView, QVBoxLayout, QWidget)

from desktop_app.errors import UserError
from desktop_app.models.hardware import Hardware
from desktop_app.providers.llama_caps import capabilities, gpu_build_command, gpu_build_steps
from desktop_app.providers.local import LocalModelSpec
from desktop_app.runner.specs import local_spec, with_fitted_layers
from desktop_app.settings import Settings
from desktop_app.ui.context import AppContext
from desktop_app.ui.errors import show_error, show_exception
from desktop_app.ui.widgets.banner import Banner
from desktop_app.ui.widgets.empty_library import EmptyLibraryPanel
from desktop_app.ui.widgets.flow_layout import FlowLayout
from desktop_app.ui.widgets.library_table import (ADDED_FILE, COL_ARCH, COL_CONTEXT, COL_FIT, COL_LOADED, COL_NAME,
                                                  COL_PARAMS, COL_QUANT, COL_SIZE, COL_SOURCE,
                                                  FitBadgeDelegate, LibraryModel, LibraryProxy, LibraryRow, scan_rows)
from desktop_app.ui.widgets.model_detail import DetailPanel
from desktop_app.ui.widgets.quantize_dialog import QuantizeDialog
from desktop_app.ui.workers import GeneratorWorker, run_in_background
from desktop_app.units import format_bytes

__all__ = ["ADDED_FILE", "COL_FIT", "COL_LOADED", "COL_NAME", "COL_PARAMS", "COL_QUANT", "COL_SIZE", "COL_SOURCE",
           "ModelsPage", "spec_for"]

MEMORY_REFRESH_MS = 2000


def spec_for(settings: Settings, hardware: Hardware, row: LibraryRow) -> LocalModelSpec:
    """The configuration a run would ask the pool for (the runner's own), so a run reuses the loaded model."""
    return with_fitted_layers(local_spec(settings, hardware, row.key), row.entry.fit)


class _ScanProgress(QObject):
    """What a scan is doing, said from its thread and shown by the screen."""

    said = Signal(str)


class ModelsPage(QWidget):
    scanned = Signal()  # a scan finished and the table shows its result
    run_demo_suite = Signal(list)  # the guided start's last step: the demo suite on these model paths

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.setAcceptDrops(True)
        self.model = LibraryModel(self)
        self.proxy = LibraryProxy(self)
        self.proxy.setSourceModel(self.model)
        self._scan_worker: GeneratorWorker | None = None
        self._scan_again = False
        self._select_after_scan: str | None = None
        self._ever_scanned = False
        self._jobs: set[GeneratorWorker] = set()  # loads and unloads in flight
        self._busy: dict[str, str] = {}
        self._emitting = False
        self.quantize_dialog: QuantizeDialog | None = None

        self._make_actions()
        self._build()
        self.memory_timer = QTimer(self)
        self.memory_timer.setInterval(MEMORY_REFRESH_MS)
        self.memory_timer.timeout.connect(self.refresh_loaded)

        ctx.settings_changed.connect(self.rescan)
        ctx.library_changed.connect(self._library_changed_elsewhere)
        ctx.runs_changed.connect(lambda _run_id: self.refresh_loaded())  # runs load models into the pool
        self._update_actions()
        self.rescan()

    # Building ------------------------------------------------------------------------------

    def _action(self, text: str, tip: str, slot: Any, shortcut: QKeySequence | str | None = None) -> QAction:
        action = QAction(text, self)
        action.setToolTip(tip)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            action.setToolTip(f"{tip} ({action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)})")
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _make_actions(self) -> None:
        self.add_folder_action = self._action(
            "Add folder…", "Add a folder of .gguf models to the library", self.choose_folder, "Ctrl+O")
        self.rescan_action = self._action("Rescan", "Look for models again", self.rescan, QKeySequence.StandardKey.Refresh)
        self.load_action = self._action(
            "Load", "Load the model into memory now, so that runs start at once", self.load_selected, "Ctrl+L")
        self.unload_action = self._action(
            "Unload", "Stop the model's worker and give its memory back", self.unload_selected, "Ctrl+U")
        self.quantize_action = self._action(
            "Make quantized variant…", "Write a smaller, lower-bit copy of the model with llama.cpp",
            self.quantize_selected)
        self.open_folder_action = self._action(
            "Open containing folder", "Show the model file in your file manager", self.open_selected_folder)
        self.remove_action = self._action(
            "Remove from library", "Forget this file you added (the file itself stays on disk)",
            self.remove_selected)
        self.copy_path_action = self._action(
            "Copy path", "Copy the model file's full path", self.copy_selected_path)
        self.load_key_action = QAction("Load", self)
        self.load_key_action.triggered.connect(self.load_selected)
        self.search_action = self._action("Search", "Search the library", self._focus_search,
                                          QKeySequence.StandardKey.Find)

    def _button(self, action: QAction, object_name: str = "") -> QPushButton:
        button = QPushButton(action.text())
        if object_name:
            button.setObjectName(object_name)
        button.setToolTip(action.toolTip())
        button.clicked.connect(action.trigger)
        button.setEnabled(action.isEnabled())
        action.changed.connect(lambda: button.setEnabled(action.isEnabled()))
        return button

    def _build(self) -> None:
        title = QLabel("Models")
        title.setObjectName("pageTitle")
        hint = QLabel("Every GGUF model on this machine, where it came from, and whether it fits. "
                      "Drag .gguf files or folders here to add them.")
        hint.setObjectName("hint")
        hint.setWordWrap(True)

        self.search = QLineEdit()
        self.search.setObjectName("modelSearch")
        self.search.setPlaceholderText("Search name, type, source, path…")
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumWidth(220)
        self.search.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.search.textChanged.connect(self._search_changed)
        self.scan_label = QLabel("Scanning…")
        self.scan_label.setObjectName("hint")
        self._scan_progress = _ScanProgress(self)
        self._scan_progress.said.connect(self._show_scan_step)
        self.count_label = QLabel()
        self.count_label.setObjectName("hint")

        toolbar = FlowLayout()  # wraps in a narrow window rather than widening it
        toolbar.addWidget(self._button(self.add_folder_action))
        toolbar.addWidget(self._button(self.rescan_action))
        toolbar.add_spacing(8)
        self.load_button = self._button(self.load_action, "primary")
        toolbar.addWidget(self.load_button)
        toolbar.addWidget(self._button(self.unload_action))
        toolbar.addWidget(self._button(self.quantize_action))
        toolbar.add_stretch()
        toolbar.addWidget(self.scan_label)
        toolbar.addWidget(self.search)

        self.table = QTableView()
        self.table.setObjectName("modelTable")
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # discovery order until a header is clicked
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.setTabKeyNavigation(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(28)
        self.table.setItemDelegateForColumn(COL_FIT, FitBadgeDelegate(self.table))
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)
        # Keys that only mean something on the table (Ctrl+C in the search box copies its text).
        for action, keys in ((self.copy_path_action, [QKeySequence.StandardKey.Copy]),
                             (self.load_key_action, [QKeySequence(Qt.Key.Key_Return), QKeySequence(Qt.Key.Key_Enter)])):
            action.setShortcuts(keys)
            action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
            self.table.addAction(action)
        header = self.table.horizontalHeader()
        header.setHighlightSections(False)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for column, width in ((COL_NAME, 250), (COL_ARCH, 95), (COL_PARAMS, 85), (COL_QUANT, 95), (COL_SIZE, 85),
                              (COL_CONTEXT, 70), (COL_SOURCE, 110), (COL_FIT, 110)):
            self.table.setColumnWidth(column, width)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)

        self.detail = DetailPanel()
        self.detail.template_chosen.connect(self.choose_template)
        self._names_worker: GeneratorWorker | None = None  # llama.cpp's template names, asked when first needed
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setObjectName("modelsSplitter")
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self.detail)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([380, 260])  # until the remembered sizes are restored

        footer = QHBoxLayout()
        footer.addWidget(self.count_label)
        footer.addStretch(1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 14, 18, 10)
        layout.setSpacing(8)
        layout.addWidget(title)
        layout.addWidget(hint)
        self.gpu_banner = Banner("gpuBuildBanner")  # a GPU that this llama.cpp build cannot use
        self.gpu_banner.action_clicked.connect(self._copy_gpu_build_command)
        layout.addWidget(self.gpu_banner)
        layout.addLayout(toolbar)
        # A folder chosen in the guided start is scanned even when the library had it already: it says what it found.
        self.empty = EmptyLibraryPanel(self.add_folder_action, add_paths=lambda chosen: (self.add_paths(chosen),
                                                                                       self.rescan()))
        self.empty.changed.connect(self._update_empty_state)
        self.empty.fetched.connect(self._variant_created)  # scanned, selected, and the other screens told
        self.empty.run_demo.connect(self.run_demo_suite)
        self.table_stack = QStackedWidget()
        self.table_stack.addWidget(self.splitter)
        self.table_stack.addWidget(self.empty)
        layout.addWidget(self.table_stack, 1)
        layout.addLayout(footer)

    # Scanning ------------------------------------------------------------------------------

    def is_scanning(self) -> bool:
        return self._scan_worker is not None

    def rescan(self) -> None:
        if self._scan_worker is not None:
            self._scan_again = True  # settings changed mid-scan: its result may be stale
            return
        ctx = self.ctx
        settings, catalog = ctx.settings, ctx.catalog
        self.scan_label.setText("Scanning…")
        self.scan_label.show()
        self.rescan_action.setEnabled(False)
        said = self._scan_progress.said.emit  # queued over from the scan's thread
        worker = run_in_background(lambda: scan_rows(settings, catalog, ctx.hardware, said), self._scanned,
                                   self._scan_failed, self)
        worker.finished.connect(self._scan_finished)
        self._scan_worker = worker

    def _scanned(self, rows: list[LibraryRow]) -> None:
        selected = self._select_after_scan or self.selected_key()
        self._select_after_scan = None
        self.model.set_rows(rows, self.ctx.settings.context_size)
        if not self._ever_scanned:
            self._show_gpu_build_note(self.ctx.hardware)  # probed by the scan, off this thread
        self._ever_scanned = True
        self.refresh_loaded()
        if selected:
            self.select_path(selected)
        self._update_empty_state()
        self._selection_changed()

    def _show_gpu_build_note(self, hardware: Hardware) -> None:
        if not hardware.cpu_only_build:
            return
        names = " and ".join(gpu.name for gpu in hardware.gpus)
        verb = "are" if len(hardware.gpus) > 1 else "is"
        self.gpu_banner.show_message(f"{names} {verb} not used: llama.cpp here is a CPU-only build",
                                     gpu_build_steps(hardware.gpus[0].backend), "warning", "Copy command",
                                     "Copy the reinstall command to paste into a terminal")

    def _copy_gpu_build_command(self) -> None:
        QGuiApplication.clipboard().setText(gpu_build_command(self.ctx.hardware.gpus[0].backend))

    def _show_scan_step(self, text: str) -> None:
        if self._scan_worker is not None:  # a late word from a scan that has ended says nothing
            self.scan_label.setText(f"Scanning: {text}")

    def _scan_failed(self, exc: BaseException) -> None:
        show_exception(self, "Could not list the models", exc)

    def _scan_finished(self) -> None:
        self._scan_worker = None
        self.rescan_action.setEnabled(True)
        if self._scan_again:
            self._scan_again = False
            self.rescan()
            return
        self.scan_label.hide()
        self.scanned.emit()

    def _update_empty_state(self) -> None:
        empty = self._ever_scanned and self.empty.show_library(self.model.rows)
        self.table_stack.setCurrentWidget(self.empty if empty else self.splitter)
        self._update_count()

    def _update_count(self) -> None:
        rows = self.model.rows
        if not rows:
            self.count_label.setText("")
            return
        unreadable = sum(1 for row in rows if row.entry.error)
        loaded = [self.model.memory.get(row.key) for row in rows if row.key in self.model.memory]
        parts = [f"{len(rows)} model{'s' if len(rows) != 1 else ''}"]
        if unreadable:
            parts.append(f"{unreadable} unreadable")
        if loaded:
            used = sum(m for m in loaded if m)
            parts.append(f"{len(loaded)} loaded, using {format_bytes(used)}")
        self.count_label.setText(" · ".join(parts))

    def _library_changed_elsewhere(self) -> None:
        if not self._emitting:
            self.rescan()

    def _emit_library_changed(self) -> None:
        self._emitting = True
        try:
            self.ctx.library_changed.emit()
        finally:
            self._emitting = False

    # Selection -----------------------------------------------------------------------------

    def selected_row(self) -> LibraryRow | None:
        indexes = self.table.selectionModel().selectedRows()
        if not indexes:
            return None
        source = self.proxy.mapToSource(indexes[0])
        return self.model.rows[source.row()] if source.isValid() else None

    def selected_key(self) -> str | None:
        row = self.selected_row()
        return row.key if row else None

    def select_path(self, path: str | Path) -> bool:
        source_row = self.model.row_of(path)
        if source_row < 0:
            return False
        index = self.proxy.mapFromSource(self.model.index(source_row, 0))
        if not index.isValid():  # hidden by the search
            self.search.clear()
            index = self.proxy.mapFromSource(self.model.index(source_row, 0))
        self.table.selectRow(index.row())
        self.table.scrollTo(index)
        return True

    def _selection_changed(self, *_: Any) -> None:
        self._update_actions()
        row = self.selected_row()
        self.detail.show_row(row, self.ctx.settings.chat_templates.get(row.key) if row else None)
        if row is not None and self._names_worker is None:
            # Asked once per llama.cpp version in a throwaway process, then cached: never on this thread.
            self._names_worker = run_in_background(lambda: capabilities().chat_templates,
                                                   self.detail.set_template_names, lambda exc: None, self)
        self._show_loaded_detail()

    def _show_loaded_detail(self) -> None:
        row = self.selected_row()
        loaded_text = ""
        if row is not None:
            if row.key in self._busy:
                loaded_text = self._busy[row.key]
            elif row.key in self.model.memory:
                used = self.model.memory[row.key]
                loaded_text = (f"Loaded: its worker process uses {format_bytes(used)} now." if used is not None
                               else "Loaded.")
        self.detail.set_loaded(loaded_text)

    def _update_actions(self) -> None:
        row = self.selected_row()
        usable = row is not None and row.entry.info is not None
        busy = row is not None and row.key in self._busy
        loaded = row is not None and row.key in self.model.memory
        self.load_action.setEnabled(usable and not busy and not loaded and bool(row.entry.fit and row.entry.fit.fits))
        self.unload_action.setEnabled(loaded and not busy)
        self.quantize_action.setEnabled(usable and self.quantize_dialog is None)
        self.open_folder_action.setEnabled(row is not None)
        self.copy_path_action.setEnabled(row is not None)
        self.remove_action.setEnabled(row is not None and row.source_name == ADDED_FILE and not busy and not loaded)

    def _search_changed(self, text: str) -> None:
        self.proxy.set_search(text)

    def _focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    def _context_menu(self, pos: Any) -> None:
        index = self.table.indexAt(pos)
        if not index.isValid():
            return
        self.table.selectRow(index.row())
        menu = QMenu(self)
        for action in (self.load_action, self.unload_action, self.quantize_action, None,
                       self.open_folder_action, self.copy_path_action, self.remove_action):
            if action is None:
                menu.addSeparator()
            else:
                menu.addAction(action)
        menu.popup(self.table.viewport().mapToGlobal(pos))

    # Adding models -------------------------------------------------------------------------

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of models", str(Path.home()))
        if folder:
            self.add_paths([Path(folder)])

    def add_paths(self, dropped: list[Path]) -> list[Path]:
        """Add folders and .gguf files to the library; returns what was refused (not a folder or .gguf)."""
        settings = self.ctx.settings
        folders, files = list(settings.model_folders), list(settings.model_files)
        refused: list[Path] = []
        added: list[Path] = []
        for path in dropped:
            path = path.expanduser()
            if path.is_dir():  # a stat per dropped item: quick enough here
                target = folders
            elif path.suffix.lower() == ".gguf" and path.is_file():
                target = files
            else:
                refused.append(path)
                continue
            text = str(path.resolve())
            if text not in target:
                target.append(text)
            added.append(path)
        if folders != settings.model_folders or files != settings.model_files:
            try:
                self.ctx.save_settings(dataclasses.replace(settings, model_folders=folders, model_files=files))
            except (UserError, OSError) as exc:
                show_exception(self, "Could not save the library", exc)
                return refused
            # save_settings emitted settings_changed, which started the rescan.
            self._emit_library_changed()
            if added and added[-1].is_file():
                self._select_after_scan = str(added[-1].resolve())
        elif added:
            self.select_path(added[-1])
        if refused:
            names = "\n".join(f"  {p.name}" for p in refused[:10]) + ("\n  …" if len(refused) > 10 else "")
            show_error(self, "Not a GGUF model",
                       f"ModelScout runs GGUF model files (.gguf), so these were not added:\n{names}\n\n"
                       f"Drop .gguf files or folders that contain them. A Hugging Face model in another "
                       f"format can be converted with llama.cpp's convert_hf_to_gguf.py.")
        return refused

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: Any) -> None:
        event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        dropped = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        if not dropped:
            event.ignore()
            return
        event.acceptProposedAction()
        self.add_paths(dropped)

    def remove_selected(self) -> None:
        row = self.selected_row()
        if row is None or not self.remove_action.isEnabled():
            return
        settings = self.ctx.settings
        kept = [f for f in settings.model_files if str(Path(f).expanduser().resolve()) != row.key]
        try:
            self.ctx.save_settings(dataclasses.replace(settings, model_files=kept))  # rescans
        except (UserError, OSError) as exc:
            show_exception(self, "Could not save the library", exc)
            return
        self._emit_library_changed()

    # Quantizing ----------------------------------------------------------------------------

    def quantize_selected(self) -> None:
        row = self.selected_row()
        if row is None or row.entry.info is None or self.quantize_dialog is not None:
            return
        dialog = QuantizeDialog(Path(row.key), row.entry.info, self.ctx.settings.threads, self)
        dialog.created.connect(self._variant_created)
        dialog.finished.connect(self._quantize_dialog_closed)
        self.quantize_dialog = dialog
        self._update_actions()
        dialog.open()

    def _variant_created(self, path: str) -> None:
        self._select_after_scan = str(Path(path).resolve())
        self.rescan()
        self._emit_library_changed()

    def _quantize_dialog_closed(self) -> None:
        dialog, self.quantize_dialog = self.quantize_dialog, None
        if dialog is not None:
            dialog.deleteLater()
        self._update_actions()

    # Loading -------------------------------------------------------------------------------

    def load_selected(self) -> None:
        row = self.selected_row()
        if row is None or not self.load_action.isEnabled():
            return
        spec = spec_for(self.ctx.settings, self.ctx.hardware, row)
        pool, label = self.ctx.pool, row.entry.display_name

        def load() -> None:
            pool.get(spec, label=label).load()

        self._start_job(row.key, "Loading…", load, "Could not load the model")

    def unload_selected(self) -> None:
        row = self.selected_row()
        if row is None or not self.unload_action.isEnabled():
            return
        pool, key = self.ctx.pool, row.key
        self._start_job(key, "Unloading…", lambda: pool.unload(key), "Could not unload the model")

    def _start_job(self, key: str, doing: str, work: Any, failure_title: str) -> None:
        self._busy[key] = doing
        self.refresh_loaded()

        def failed(exc: BaseException) -> None:
            show_exception(self, failure_title, exc)

        worker = run_in_background(work, None, failed, self)

        def finished() -> None:
            self._jobs.discard(worker)
            self._busy.pop(key, None)
            self.refresh_loaded()
            self._emit_library_changed()

        worker.finished.connect(finished)
        self._jobs.add(worker)

    def refresh_loaded(self) -> None:
        """Read which models are loaded and their memory (a psutil call per worker: sub-millisecond)."""
        memory = {provider.spec.path: provider.memory_bytes() for provider in self.ctx.pool.loaded()}
        self.model.set_loaded(memory, self._busy)
        if memory or self._busy:
            if not self.memory_timer.isActive():
                self.memory_timer.start()
        else:
            self.memory_timer.stop()
        self._update_count()
        self._update_actions()
        self._show_loaded_detail()

    # Prompt format -------------------------------------------------------------------------

    def choose_template(self, key: str, choice: str | None) -> None:
        """Remember the prompt format chosen for a model file (None: its own template again)."""
        settings = self.ctx.settings
        chosen = dict(settings.chat_templates)
        if choice is None:
            chosen.pop(key, None)
        else:
            chosen[key] = choice
        if chosen == settings.chat_templates:
            return
        try:
            self.ctx.save_settings(dataclasses.replace(settings, chat_templates=chosen))  # rescans
        except (UserError, OSError) as exc:
            show_exception(self, "Could not save the prompt format", exc)
            return
        # A loaded worker keeps the format it was started with: load the model again in the new one.
        if key in self.model.memory and key not in self._busy and not self.ctx.active_runs:
            row = next((r for r in self.model.rows if r.key == key), None)
            if row is not None:
                spec = spec_for(self.ctx.settings, self.ctx.hardware, row)
                pool, label = self.ctx.pool, row.entry.display_name

                def reload() -> None:
                    pool.unload(key)
                    pool.get(spec, label=label).load()

                self._start_job(key, "Reloading…", reload, "Could not load the model in its new prompt format")

    # Other actions -------------------------------------------------------------------------

    def open_selected_folder(self) -> None:
        row = self.selected_row()
        if row is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(row.key).parent)))

    def copy_selected_path(self) -> None:
        row = self.selected_row()
        if row is not None:
            QGuiApplication.clipboard().setText(row.key)

    # Screen hooks --------------------------------------------------------------------------

    def on_shown(self) -> None:
        self.refresh_loaded()  # a run may have loaded models since

    def save_state(self, state: QSettings) -> None:
        state.setValue("models/header", self.table.horizontalHeader().saveState())

    def restore_state(self, state: QSettings) -> None:
        if header := state.value("models/header"):
            self.table.horizontalHeader().restoreState(header)

    def shutdown(self) -> None:
        self.memory_timer.stop()
        self.empty.shutdown()
        if self.quantize_dialog is not None:
            self.quantize_dialog.cancel_and_wait()
        for worker in [self._scan_worker, self._names_worker, *self._jobs]:
            if worker is not None:
                worker.wait(30)
