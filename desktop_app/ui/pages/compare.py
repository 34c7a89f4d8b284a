"""The Compare screen: one prompt, several models, their answers streaming side by side."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (QDoubleSpinBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPlainTextEdit,
                               QPushButton, QScrollArea, QSpinBox, QSplitter, QStackedWidget,
                               QToolButton, QVBoxLayout, QWidget)

from desktop_app.costing.answer_cost import local_usd_per_second
from desktop_app.providers.api import ApiModelSpec, parse_model_ref
from desktop_app.providers.base import Sampling
from desktop_app.runner.events import (CaseFinished, CaseStarted, ModelFailed, ModelLoaded, ModelLoading,
                                       RunFinished, TokenStreamed)
from desktop_app.ui.context import AppContext
from desktop_app.ui.errors import show_exception
from desktop_app.ui.memory import freeze_long_lived
from desktop_app.ui.placeholders import braces, fill, placeholders
from desktop_app.ui.widgets.answer_column import ANSWER_STYLE, ERROR_COLOUR, AnswerColumn
from desktop_app.ui.widgets.flow_layout import FlowLayout, labelled, together
from desktop_app.ui.widgets.model_picker import ModelPicker
from desktop_app.ui.workers import ANNOUNCE_MS, GeneratorWorker, InOrder, Throttle, run_in_background, with_store

FLUSH_MS = 30  # streamed text is painted at most this often, never once per token
WARM_UP_DELAY_MS = 700
PAGE_STYLE = ANSWER_STYLE + f"""
#inlineError {{ color: {ERROR_COLOUR}; }}
QLineEdit[invalid="true"] {{ border: 1px solid {ERROR_COLOUR}; }}
#sectionLabel {{ font-weight: 600; }}
"""


def _import_run_modules() -> None:
    """The runner and store pull in sqlite-utils (and numpy): a third of a second of imports."""
    import desktop_app.runner.runner
    import desktop_app.storage.store  # noqa: F401


def _token_price(runner: Any, spec: Any) -> float | None:
    """What one answer token of an API model costs (None: a local model, unpriced or priced by the hour)."""
    if not isinstance(spec, ApiModelSpec):
        return None
    usd = runner.pricing(spec).cost(0, 1_000_000).usd
    return None if usd is None else usd / 1e6


@dataclass(frozen=True)
class Planned:
    """The run is stored and its models checked; keys are in the order the models were given."""

    run_id: str
    model_keys: list[str]
    # An API model's price of one answer token, for the live cost estimate (None: local, or no price).
    usd_per_output_token: dict[str, float | None] = field(default_factory=dict)


class ComparePage(QWidget):
    run_finished = Signal(str, str)  # run id ("" if none was created), status: complete/stopped/interrupted/failed

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.setStyleSheet(PAGE_STYLE)
        self.columns: list[AnswerColumn] = []
        self.run_id: str | None = None
        self._by_key: dict[str, AnswerColumn] = {}
        self._worker: GeneratorWorker | None = None
        self._cancel: threading.Event | None = None
        # Results and Tradeoff follow a run as its answers land: told a few times a second, not per answer.
        self._announce_answers = Throttle(ANNOUNCE_MS, ctx.runs_changed.emit, self)
        self._verdicts = InOrder(self)  # good / bad on an answer, stored off the UI thread in the order given
        self._stopped = False
        self._failed = False
        self._closed = False
        self._final_status: str | None = None  # from the runner's RunFinished
        self._final_reason: str | None = None  # why it is incomplete or failed, in words
        self._pending_selection: list[str] | None = None
        self._values: dict[str, str] = {}
        self.variable_fields: dict[str, QLineEdit] = {}
        self._flush_timer = QTimer(self)
        self._flush_timer.setInterval(FLUSH_MS)
        self._flush_timer.timeout.connect(self._flush)

        title = QLabel("Compare")
        title.setObjectName("pageTitle")
        hint = QLabel("Ask several models the same prompt and watch them answer side by side. "
                      "Every comparison is stored as a run.")
        hint.setObjectName("hint")
        hint.setWordWrap(True)

        editor_splitter = QSplitter(Qt.Orientation.Horizontal)
        editor_splitter.setObjectName("compareEditorSplitter")
        editor_splitter.setChildrenCollapsible(False)
        editor_splitter.addWidget(self._build_prompt_editor())
        editor_splitter.addWidget(self._build_model_list())
        editor_splitter.setStretchFactor(0, 3)
        editor_splitter.setStretchFactor(1, 1)
        editor_splitter.setSizes([720, 340])

        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(editor_splitter, 1)
        top_layout.addLayout(self._build_controls())

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setObjectName("compareSplitter")
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(top)
        self.splitter.addWidget(self._build_answers())
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([260, 520])  # the answers get the room; window.ini keeps the user's choice

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 14, 16, 12)
        layout.setSpacing(8)
        layout.addWidget(title)
        layout.addWidget(hint)
        layout.addWidget(self.splitter, 1)

        self.run_shortcuts = [QShortcut(QKeySequence(keys), self) for keys in ("Ctrl+Return", "Ctrl+Enter")]
        for shortcut in self.run_shortcuts:
            shortcut.activated.connect(self.start)
        self.stop_shortcut = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        self.stop_shortcut.activated.connect(self.stop)
        self.stop_shortcut.setEnabled(False)  # Esc stays free for other widgets while nothing runs

        self.picker.scanned.connect(self._apply_pending_selection)
        # Import the run modules off the UI thread once the screen has settled, so neither building
        # the screen nor the first Run waits for them.
        if "desktop_app.runner.runner" not in sys.modules:
            QTimer.singleShot(WARM_UP_DELAY_MS, self, lambda: run_in_background(
                _import_run_modules, lambda _: freeze_long_lived()))  # the modules stay: keep them out of GC passes

    # Building -----------------------------------------------------------------------------

    def _build_prompt_editor(self) -> QWidget:
        self.system_toggle = QToolButton()
        self.system_toggle.setObjectName("systemToggle")
        self.system_toggle.setCheckable(True)
        self.system_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.system_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.system_toggle.setAutoRaise(True)
        self.system_toggle.setToolTip("Instructions sent before the prompt as the system message (optional)")
        self.system_toggle.toggled.connect(self._show_system)
        self.system_edit = QPlainTextEdit()
        self.system_edit.setObjectName("systemPrompt")
        self.system_edit.setPlaceholderText("e.g. You are a concise assistant. Answer in one sentence.")
        self.system_edit.setMaximumHeight(72)
        self.system_edit.setTabChangesFocus(True)
        self.system_edit.hide()
        self.system_edit.textChanged.connect(self._update_system_toggle)
        self.system_edit.textChanged.connect(self._update_variables)

        prompt_label = QLabel("Prompt")
        prompt_label.setObjectName("sectionLabel")
        self.prompt_edit = QPlainTextEdit()
        self.prompt_edit.setObjectName("userPrompt")
        self.prompt_edit.setPlaceholderText("Write the prompt every model answers. Use {name} for a value "
                                            "you fill in below, e.g. Summarise {text} in one line.")
        self.prompt_edit.setTabChangesFocus(True)
        self.prompt_edit.textChanged.connect(self._update_variables)

        self.variables_box = QWidget()
        self.variables_form = QFormLayout(self.variables_box)
        self.variables_form.setContentsMargins(0, 0, 0, 0)
        self.variables_form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.variables_box.hide()

        self.inline_error = QLabel()
        self.inline_error.setObjectName("inlineError")
        self.inline_error.setTextFormat(Qt.TextFormat.PlainText)
        self.inline_error.setWordWrap(True)
        self.inline_error.hide()

        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 6, 0)
        layout.setSpacing(4)
        layout.addWidget(self.system_toggle)
        layout.addWidget(self.system_edit)
        layout.addWidget(prompt_label)
        layout.addWidget(self.prompt_edit, 1)
        layout.addWidget(self.variables_box)
        layout.addWidget(self.inline_error)
        self._update_system_toggle()
        return box

    def _build_model_list(self) -> QWidget:
        label = QLabel("Models")
        label.setObjectName("sectionLabel")
        self.picker = ModelPicker(self.ctx)
        self.picker.setToolTip("Tick every model that should answer; they answer at the same time")
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(6, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(label)
        layout.addWidget(self.picker, 1)
        return box

    def _build_controls(self) -> FlowLayout:
        self.temperature = QDoubleSpinBox()
        self.temperature.setRange(0.0, 5.0)
        self.temperature.setSingleStep(0.1)
        self.temperature.setDecimals(2)
        self.temperature.setToolTip("Randomness of the answers: 0 always picks the likeliest word")
        self.max_tokens = QSpinBox()
        self.max_tokens.setRange(1, 32768)
        self.max_tokens.setToolTip("The longest answer, in tokens")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setToolTip("Random seed: the same seed and settings give the same answer")
        self.top_p = QDoubleSpinBox()
        self.top_p.setRange(0.01, 1.0)
        self.top_p.setSingleStep(0.05)
        self.top_p.setDecimals(2)
        self.top_p.setToolTip("Nucleus sampling: only the likeliest words that together hold this share "
                              "of probability are considered (1 = all)")
        reset = QToolButton()
        reset.setText("↺")
        reset.setAutoRaise(True)
        reset.setToolTip("Back to the defaults from Settings")
        reset.clicked.connect(self.reset_sampling)
        self.reset_sampling()

        row = FlowLayout(spacing=10)  # wraps in a narrow window rather than widening it
        for text, widget in (("Temperature", self.temperature), ("Max tokens", self.max_tokens),
                             ("Seed", self.seed), ("Top-p", self.top_p)):
            label = QLabel(text)
            label.setBuddy(widget)
            label.setToolTip(widget.toolTip())
            row.addWidget(labelled(label, widget))
        row.addWidget(reset)
        row.add_stretch()
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("danger")
        self.stop_button.setToolTip("Stop every model now (Esc)")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stop)
        self.run_button = QPushButton("Run ▶")
        self.run_button.setObjectName("primary")
        self.run_button.setToolTip("Ask every ticked model the prompt (Ctrl+Enter)")
        self.run_button.clicked.connect(self.start)
        row.addWidget(together(self.stop_button, self.run_button, right=True))  # wrap together, on the right
        return row

    def _build_answers(self) -> QWidget:
        self.empty_state = QLabel("Tick a few models, write a prompt and press Run (Ctrl+Enter).\n"
                                  "Their answers appear here side by side, with speed and cost.")
        self.empty_state.setObjectName("emptyState")
        self.empty_state.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.columns_splitter = QSplitter(Qt.Orientation.Horizontal)
        self.columns_splitter.setChildrenCollapsible(False)
        self.columns_splitter.setHandleWidth(6)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)  # columns share the width; past their minimum it scrolls
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self.columns_splitter)
        self.answers = QStackedWidget()
        self.answers.addWidget(self.empty_state)
        self.answers.addWidget(scroll)

        self.run_status = QLabel()
        self.run_status.setObjectName("hint")
        self.run_status.setTextFormat(Qt.TextFormat.PlainText)
        self.run_status.setWordWrap(True)  # an incomplete or failed run's reason can be long
        self.open_button = QPushButton("Open in Results")
        self.open_button.setToolTip("See this comparison on the Results screen")
        self.open_button.clicked.connect(self.open_in_results)
        self.open_button.hide()
        self.answers_header = QWidget()  # the run's state above its answers, once there is a run
        header = QHBoxLayout(self.answers_header)
        header.setContentsMargins(0, 0, 0, 0)
        header.addWidget(self.run_status, 1)
        header.addWidget(self.open_button)
        self.answers_header.hide()
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(self.answers_header)
        layout.addWidget(self.answers, 1)
        return box

    def _set_status(self, text: str) -> None:
        self.run_status.setText(text)
        self.answers_header.setVisible(bool(text))

    # Prompt and variables ---------------------------------------------------------------------

    def _show_system(self, shown: bool) -> None:
        self.system_edit.setVisible(shown)
        self.system_toggle.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)
        if shown:
            self.system_edit.setFocus()

    def _update_system_toggle(self) -> None:
        has_text = bool(self.system_edit.toPlainText().strip())
        self.system_toggle.setText("System prompt" + ("  (set)" if has_text and not self.system_toggle.isChecked()
                                                      else "  (optional)" if not has_text else ""))

    def _update_variables(self) -> None:
        names = placeholders(self.system_edit.toPlainText(), self.prompt_edit.toPlainText())
        if names == list(self.variable_fields):
            return
        for name, edit in self.variable_fields.items():
            self._values[name] = edit.text()
        while self.variables_form.rowCount():
            self.variables_form.removeRow(0)
        self.variable_fields = {}
        for name in names:
            edit = QLineEdit(self._values.get(name, ""))
            edit.setObjectName(f"variable-{name}")
            edit.setPlaceholderText(f"value for {{{name}}}")
            edit.setToolTip(f"Replaces {{{name}}} in the prompt before it is sent")
            edit.textChanged.connect(self._clear_inline_error)
            self.variables_form.addRow(f"{{{name}}}", edit)
            self.variable_fields[name] = edit
        self.variables_box.setVisible(bool(names))
        self._clear_inline_error()

    def values(self) -> dict[str, str]:
        return {name: edit.text() for name, edit in self.variable_fields.items()}

    def _show_inline_error(self, message: str) -> None:
        self.inline_error.setText(message)
        self.inline_error.show()

    def _clear_inline_error(self) -> None:
        self.inline_error.hide()
        for edit in self.variable_fields.values():
            self._mark_invalid(edit, False)

    @staticmethod
    def _mark_invalid(field: QLineEdit, invalid: bool) -> None:
        if field.property("invalid") != invalid:
            field.setProperty("invalid", invalid)
            field.style().unpolish(field)
            field.style().polish(field)

    def reset_sampling(self) -> None:
        settings = self.ctx.settings
        self.temperature.setValue(settings.temperature)
        self.max_tokens.setValue(settings.max_tokens)
        self.seed.setValue(settings.seed)
        self.top_p.setValue(Sampling().top_p)

    def sampling(self) -> Sampling:
        return Sampling(temperature=self.temperature.value(), top_p=self.top_p.value(),
                        max_tokens=self.max_tokens.value(), seed=self.seed.value())

    # Running ------------------------------------------------------------------------------

    def is_running(self) -> bool:
        return self._worker is not None

    def start(self) -> None:
        """Check the input (inline messages, no dialogs), then run every ticked model side by side."""
        if self.is_running():
            return
        prompt = self.prompt_edit.toPlainText()
        system = self.system_edit.toPlainText()
        values = self.values()
        missing = [name for name, value in values.items() if not value.strip()]
        if not prompt.strip():
            self._show_inline_error("Write a prompt first.")
            self.prompt_edit.setFocus()
            return
        if missing:
            self._show_inline_error(f"Give a value for {braces(missing)} below, or write {{{{ and }}}} to keep "
                                    f"literal braces.")
            for name in missing:
                self._mark_invalid(self.variable_fields[name], True)
            self.variable_fields[missing[0]].setFocus()
            return
        model_paths = self.picker.selected_paths()
        if not model_paths:
            self._show_inline_error("Tick at least one model on the right.")
            return
        self._clear_inline_error()
        try:
            sampling = self.sampling()
        except ValueError as exc:  # the spin boxes' ranges make this rare
            self._show_inline_error(str(exc))
            return
        self._begin(fill(prompt, values), fill(system, values).strip() or None, model_paths, sampling)

    def _begin(self, prompt: str, system: str | None, model_paths: list[str], sampling: Sampling) -> None:
        self._clear_columns()
        settings = self.ctx.settings
        usd_per_second = local_usd_per_second(settings)  # the runner's own arithmetic
        for path in model_paths:
            api = parse_model_ref(path) is not None
            column = AnswerColumn(self.picker.label_for(path), path, None if api else usd_per_second)
            if not api:
                column.set_notice(*self.picker.template_notice(path))  # a file without a chat template
            column.set_state("preparing")
            column.label_changed.connect(self._store_label)
            self.columns_splitter.addWidget(column)
            self.columns.append(column)
        self.answers.setCurrentIndex(1)
        self.run_id = None
        self._stopped = self._failed = False
        self._final_status = None
        self._final_reason = None
        self._cancel = threading.Event()
        self._worker = GeneratorWorker(self._make_run(prompt, system, model_paths, sampling, self._cancel))
        self._worker.yielded.connect(self._on_event)
        self._worker.failed.connect(self._on_failed)
        self._worker.finished.connect(self._on_finished)
        self._set_running(True)
        self._set_status("Checking the models…")
        self._flush_timer.start()
        self._worker.start()

    def _make_run(self, prompt: str, system: str | None, model_paths: list[str], sampling: Sampling,
                  cancel: threading.Event) -> Callable[[], Iterator[Any]]:
        ctx = self.ctx
        database, settings, catalog, pool = ctx.database_path(), ctx.settings, ctx.catalog, ctx.pool

        def run() -> Iterator[Any]:
            # Everything here runs on the worker thread: hashing, the loadability check, SQLite writes.
            from desktop_app.runner.runner import Runner
            from desktop_app.storage.store import Store
            from desktop_app.suites import adhoc_suite

            store = Store(database)
            try:
                runner = Runner(store, settings, catalog, ctx.hardware, pool=pool)
                specs = [runner.spec_for(path) for path in model_paths]
                run_id = runner.create_run(adhoc_suite(prompt, system), specs, sampling, kind="compare")
                keys = [m["model_key"] for m in store.run_models(run_id)]
                yield Planned(run_id, keys, {key: _token_price(runner, spec) for key, spec in zip(keys, specs)})
                yield from runner.execute(run_id, cancel, concurrent=True)
            finally:
                store.close()

        return run

    def stop(self) -> None:
        """Stop every model at once; the workers end within a token, what was written stays visible."""
        if not self.is_running() or self._stopped:
            return
        self._stopped = True
        self._cancel.set()
        for column in self.columns:
            column.stop()
        self.stop_button.setEnabled(False)
        self.stop_shortcut.setEnabled(False)
        self._set_status("Stopping…")

    def _on_event(self, event: Any) -> None:
        if self._closed:
            return
        if isinstance(event, TokenStreamed):  # the common case first: one per token
            column = self._by_key.get(event.model_key)
            if column is not None and not self._stopped:
                column.append(event.text)
            return
        if isinstance(event, Planned):
            self.run_id = event.run_id
            self._by_key = dict(zip(event.model_keys, self.columns))
            for key, column in self._by_key.items():
                column.model_key = key
                column.set_title(key)
                if event.usd_per_output_token.get(key) is not None:
                    column.set_token_price(event.usd_per_output_token[key])
                if not column.finished:
                    column.set_state("waiting")
            self._set_status(f"Run {event.run_id} · {'stopping' if self._stopped else 'answering'}…")
            self.open_button.show()
            return
        if isinstance(event, RunFinished):
            self._final_status, self._final_reason = event.status, event.reason
            self._flush()
            return
        column = self._by_key.get(getattr(event, "model_key", ""))
        if column is None or (self._stopped and not isinstance(event, CaseFinished)):
            return
        if isinstance(event, ModelLoading):
            column.set_state("loading")
        elif isinstance(event, ModelLoaded):
            column.set_state("loaded", f"{event.load_ms / 1000:.1f} s")
        elif isinstance(event, ModelFailed):
            column.show_error(event.error)
        elif isinstance(event, CaseStarted):
            column.started()
        elif isinstance(event, CaseFinished):
            column.flush()
            column.finish(event.row, event.reused)
            if self.run_id:
                self._announce_answers(self.run_id)

    def _flush(self) -> None:
        for column in self.columns:
            column.flush()

    def _on_failed(self, exc: BaseException) -> None:
        if self._closed:
            return
        self._failed = True
        for column in self.columns:
            if not column.finished:
                column.stop()
        show_exception(self, "Cannot run the comparison", exc)

    def _on_finished(self) -> None:
        if self._closed:  # the screen was shut down while the worker wound down
            return
        self._flush_timer.stop()
        self._flush()
        self._worker = None
        self._set_running(False)
        for column in self.columns:
            column.stop()  # a column no answer reached (stopped before it began)
        if self.run_id is None:
            status = "failed" if self._failed else "stopped"
            self._set_status("Not run." if self._failed else "Stopped before the run began.")
            if self._failed:
                self._clear_columns()
        else:
            status = self._final_status or "interrupted"
            if self._stopped and status != "complete":
                status = "stopped"
            done = sum(1 for c in self.columns if c.row is not None and not c.row.get("error"))
            errors = sum(1 for c in self.columns if c.state == "error")
            words = {"complete": "done", "stopped": "stopped", "interrupted": "interrupted"}.get(status, status)
            summary = f"Run {self.run_id} · {words} · {done} of {len(self.columns)} answered"
            summary += f" · {errors} failed" if errors else ""
            if status in ("incomplete", "failed") and self._final_reason:
                # A comparison is not resumed here: its remedy is to ask again.
                why = self._final_reason.split("; resume")[0]
                again = " Run it again to retry." if status == "incomplete" or "resume" in self._final_reason else ""
                summary += f"\n{why[:1].upper()}{why[1:]}.{again}"
            self._set_status(summary)
            self._announce_answers.cancel()  # the final word, now
            self.ctx.runs_changed.emit(self.run_id)
        self.run_finished.emit(self.run_id or "", status)

    def _set_running(self, running: bool) -> None:
        self.run_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        self.stop_shortcut.setEnabled(running)
        self.picker.setEnabled(not running)

    def _clear_columns(self) -> None:
        for column in self.columns:
            column.setParent(None)
            column.deleteLater()
        self.columns = []
        self._by_key = {}
        self.open_button.hide()
        self.answers.setCurrentIndex(0)

    def _store_label(self, result_id: int, label: int | None) -> None:
        """Store a verdict off the UI thread (verdicts land in the order given); the screens showing the run hear
        of it once it is stored. One that cannot be stored is said in plain words."""
        run_id = self.run_id

        def saved(_: Any) -> None:
            if run_id:
                self.ctx.runs_changed.emit(run_id)

        self._verdicts.submit(with_store(self.ctx.database_path(),
                                         lambda store: store.set_human_label(result_id, label)),
                              saved, lambda exc: show_exception(self, "Cannot save the verdict", exc))

    def verdicts_pending(self) -> bool:
        """Verdicts given that are not stored yet."""
        return self._verdicts.busy()

    def open_in_results(self) -> None:
        if self.run_id:
            self.ctx.open_run.emit(self.run_id, "")

    # Screen life --------------------------------------------------------------------------

    def _apply_pending_selection(self) -> None:
        if self._pending_selection is not None:
            self.picker.set_selected(self._pending_selection)
            self._pending_selection = None

    def save_state(self, state: QSettings) -> None:
        state.setValue("compare/prompt", self.prompt_edit.toPlainText())
        state.setValue("compare/system", self.system_edit.toPlainText())
        state.setValue("compare/system_shown", int(self.system_toggle.isChecked()))
        state.setValue("compare/variables", json.dumps({**self._values, **self.values()}))
        state.setValue("compare/models", json.dumps(self.picker.selected_paths()))

    def restore_state(self, state: QSettings) -> None:
        try:
            self._values = {str(k): str(v) for k, v in json.loads(state.value("compare/variables", "{}")).items()}
            models = [str(p) for p in json.loads(state.value("compare/models", "[]"))]
        except (TypeError, ValueError, AttributeError):  # a hand-edited or older window.ini
            self._values, models = {}, []
        self.system_edit.setPlainText(str(state.value("compare/system", "")))
        self.prompt_edit.setPlainText(str(state.value("compare/prompt", "")))
        self.system_toggle.setChecked(str(state.value("compare/system_shown", "0")) == "1")
        self._update_system_toggle()
        if self.picker.entries:
            self.picker.set_selected(models)
        else:  # the library is still being scanned: tick them when it arrives
            self._pending_selection = models

    def on_shown(self) -> None:
        if not self.prompt_edit.toPlainText():
            self.prompt_edit.setFocus()

    def running_work(self) -> str | None:
        """The comparison in progress, in words, for the question asked before the window closes; None if none."""
        if self._worker is None or not self._worker.is_running():
            return None
        models = f"{len(self.columns)} model{'s' if len(self.columns) != 1 else ''}"
        return f"Comparison run {self.run_id} on {models}" if self.run_id else f"A comparison on {models}, starting"

    def stop_work(self, seconds: float) -> bool:
        """Stop the comparison and wait up to `seconds` for its thread to end; True when no thread is left."""
        worker = self._worker
        if worker is None:
            return True
        self.stop()
        return worker.wait(seconds)

    def shutdown(self) -> None:
        """Stop a run in progress and wait for its worker (it ends within a token)."""
        self._closed = True  # late events from the worker must not touch a closing app
        self._verdicts.wait(10)  # a verdict being stored is not cut off
        self._announce_answers.cancel()
        self._flush_timer.stop()
        worker = self._worker
        if worker is not None:
            if self._cancel is not None:
                self._cancel.set()
            worker.wait(30)
