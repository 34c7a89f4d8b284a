"""One model's answer in a side-by-side comparison: name, live text, metrics, status and a verdict."""

from __future__ import annotations

import html
import time
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPlainTextEdit, QToolButton, QVBoxLayout, QWidget

from desktop_app.providers.prompt_formats import BASE_MODEL_ADVICE, BASE_MODEL_WARNING, is_fallback
from desktop_app.ui.formatting import format_usd
from desktop_app.ui.widgets.elided_label import ElidedLabel

# state -> (what the user reads, colour of the status text)
STATES: dict[str, tuple[str, str]] = {
    "waiting": ("waiting", "#5b6270"),
    "preparing": ("checking the model…", "#5b6270"),
    "loading": ("loading…", "#a66a00"),
    "loaded": ("model loaded", "#5b6270"),
    "answering": ("answering", "#2f6fde"),
    "done": ("done", "#2e7d32"),
    "reused": ("done · earlier answer reused", "#2e7d32"),
    "stopped": ("stopped", "#a66a00"),
    "error": ("error", "#c0392b"),
}

ERROR_COLOUR = "#c0392b"
WARNING_COLOUR = "#a66a00"

# Set once by the screen that holds the columns: a style sheet per widget would make every new
# column (and every status change) re-polish its widgets, which costs the UI thread milliseconds.
ANSWER_STYLE = "\n".join([
    "#answerTitle { font-weight: 600; font-size: 14px; }",
    "#answerStatus { font-weight: 600; }",
    f"#answerError {{ color: {ERROR_COLOUR}; }}",
    f"#answerNotice {{ color: {WARNING_COLOUR}; }}",
    *(f'#answerStatus[state="{state}"] {{ color: {colour}; }}' for state, (_, colour) in STATES.items()),
])


# Narrow enough that three columns fit side by side in a 900-pixel-wide window without a scroll bar.
MIN_WIDTH = 180
SEPARATOR = " · "  # between figures: the only place a line of figures may break


class FiguresLabel(QLabel):
    """Figures joined by " · ", wrapped only between them, never inside one ("first token / 737 ms").

    text() gives the plain text, as set; what is drawn is rich text with each figure kept on one line.
    """

    def __init__(self) -> None:
        super().__init__()
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setWordWrap(True)
        self._plain = ""

    def setText(self, text: str) -> None:
        self._plain = text
        parts = [html.escape(part).replace(" ", "&nbsp;") for part in text.split(SEPARATOR)]
        super().setText(" · ".join(parts))

    def text(self) -> str:
        return self._plain


class AnswerColumn(QFrame):
    """Tokens are buffered by append() and painted by flush(), which the page calls on a timer."""

    label_changed = Signal(int, object)  # result id, 1 (good) / -1 (bad) / None (cleared)

    def __init__(self, title: str, tooltip: str = "", usd_per_second: float | None = 0.0,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("answerColumn")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setMinimumWidth(MIN_WIDTH)
        self.model_key: str | None = None
        self.row: dict[str, Any] | None = None
        self.state = "waiting"
        self.tokens = 0
        # For the live cost estimate: device watts x price. None for an API model, priced by its tokens
        # once the answer is in.
        self._usd_per_second = usd_per_second
        self._usd_per_token: float | None = None
        self._pending: list[str] = []
        self._started_at: float | None = None
        self._first_at: float | None = None
        self._last_at: float | None = None

        # The model's name has the column's width to itself (elided, whole in its tooltip, when narrower); the
        # state shares the next line with the verdict buttons and gives way to them.
        self.title = ElidedLabel(title, tip=tooltip if tooltip != title else "")
        self.title.setObjectName("answerTitle")
        self.status = ElidedLabel()
        self.status.setObjectName("answerStatus")
        self.notice = QLabel()  # e.g. a model file without a chat template
        self.notice.setObjectName("answerNotice")
        self.notice.setTextFormat(Qt.TextFormat.PlainText)
        self.notice.setWordWrap(True)
        self.notice.hide()

        self.text = QPlainTextEdit()
        self.text.setObjectName("answerText")
        self.text.setReadOnly(True)  # plain text: model output is never interpreted as markup
        self.text.setPlaceholderText("The answer appears here as the model writes it.")
        self.text.setMinimumHeight(60)
        # Made now, not at the first token: the first QTextCursor of a process costs tens of
        # milliseconds (PySide sets up the type), which would stall the UI mid-answer.
        self._end = QTextCursor(self.text.document())
        self.error = QLabel()
        self.error.setObjectName("answerError")
        self.error.setTextFormat(Qt.TextFormat.PlainText)
        self.error.setWordWrap(True)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.hide()
        self.metrics = FiguresLabel()
        self.metrics.setObjectName("hint")
        self.metrics.setText(" ")
        self.metrics.setToolTip("Generated tokens, generation speed, time to the first token, "
                                "total time and cost (≈: a live estimate until the answer is stored)")

        self.good = self._verdict_button("✓ Good", "Mark this answer as good (stored with the run)", 1)
        self.bad = self._verdict_button("✗ Bad", "Mark this answer as bad (stored with the run)", -1)
        state_row = QHBoxLayout()
        state_row.setSpacing(4)
        state_row.addWidget(self.status, 1)
        state_row.addWidget(self.good)
        state_row.addWidget(self.bad)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(4)
        layout.addWidget(self.title)
        layout.addLayout(state_row)
        layout.addWidget(self.notice)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.error)
        layout.addWidget(self.metrics)
        self.set_state("waiting")

    def _verdict_button(self, text: str, tip: str, value: int) -> QToolButton:
        button = QToolButton()
        button.setText(text)
        button.setToolTip(tip)
        button.setCheckable(True)
        button.setEnabled(False)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        button.clicked.connect(lambda checked: self._on_verdict(value if checked else None))
        return button

    # State --------------------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        return self.state in ("done", "reused", "stopped", "error")

    def set_state(self, state: str, detail: str = "") -> None:
        changed = state != self.state or not self.status.text()
        self.state = state
        label = STATES[state][0]
        self.status.setText(f"{label} · {detail}" if detail else label)
        if changed:
            self.status.setProperty("state", state)
            self.status.style().unpolish(self.status)
            self.status.style().polish(self.status)

    def set_notice(self, text: str, tooltip: str = "") -> None:
        """A caution above the answer ("" hides it)."""
        self.notice.setText(f"⚠ {text}" if text else "")
        self.notice.setToolTip(tooltip)
        self.notice.setVisible(bool(text))

    def set_title(self, title: str) -> None:
        self.title.setText(title)

    def started(self) -> None:
        self._started_at = time.perf_counter()
        self.set_state("answering")
        self.metrics.setText("waiting for the first token…")

    def append(self, text: str) -> None:
        """Buffer streamed text; it is painted at the next flush()."""
        now = time.perf_counter()
        self._first_at = self._first_at or now
        self._last_at = now
        self.tokens += 1
        self._pending.append(text)

    def flush(self) -> None:
        if not self._pending:
            return
        chunk = "".join(self._pending)
        self._pending.clear()
        bar = self.text.verticalScrollBar()
        follow = bar.value() >= bar.maximum() - 4  # keep following the answer unless the user scrolled up
        self._end.movePosition(QTextCursor.MoveOperation.End)
        self._end.insertText(chunk)
        if follow:
            bar.setValue(bar.maximum())
        if self.state == "answering":
            self.metrics.setText(self._live_metrics())

    def _live_metrics(self) -> str:
        parts = [f"{self.tokens} tokens"]
        if self._first_at and self._last_at and self.tokens > 1 and self._last_at > self._first_at:
            parts.append(f"{(self.tokens - 1) / (self._last_at - self._first_at):.1f} tok/s")
        if self._started_at and self._first_at:
            parts.append(f"first token {(self._first_at - self._started_at) * 1000:.0f} ms")
        if self._started_at:
            elapsed = time.perf_counter() - self._started_at
            parts.append(f"{elapsed:.1f} s")
            if self._usd_per_token is not None:
                parts.append(f"≈{format_usd(self.tokens * self._usd_per_token)}")
            elif self._usd_per_second is not None:
                parts.append(f"≈{format_usd(elapsed * self._usd_per_second)}")
        return " · ".join(parts)

    def set_token_price(self, usd_per_token: float) -> None:
        """An API model: the live estimate counts its answer tokens (the prompt is priced at the end)."""
        self._usd_per_token = usd_per_token

    def finish(self, row: dict[str, Any], reused: bool = False) -> None:
        """Show the stored answer: its exact text and measurements replace the live ones."""
        self._pending.clear()
        self.row = row
        self.text.setPlainText(row.get("text") or "")
        self.metrics.setText(stored_metrics(row))
        if is_fallback(row.get("chat_template")):  # the stored answer says it was prompted with a guess
            self.set_notice(BASE_MODEL_WARNING, BASE_MODEL_ADVICE)
        if row.get("error"):
            self.show_error(row["error"])
        else:
            self.set_state("reused" if reused else "done")
        self.good.setEnabled(row.get("id") is not None)
        self.bad.setEnabled(row.get("id") is not None)
        self._show_label(row.get("human_label"))

    def show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.show()
        self.set_state("error")

    def stop(self) -> None:
        """The user stopped the run: keep what was written, say it was not stored."""
        if self.finished:
            return
        self.flush()
        self.set_state("stopped")
        if self.tokens:
            self.metrics.setText(self._live_metrics() + " · not stored")
        else:
            self.metrics.setText("stopped before the answer began")

    # Verdict ------------------------------------------------------------------------------

    def _on_verdict(self, label: int | None) -> None:
        self._show_label(label)
        if self.row is not None and self.row.get("id") is not None:
            self.row["human_label"] = label
            self.label_changed.emit(int(self.row["id"]), label)

    def _show_label(self, label: int | None) -> None:
        self.good.setChecked(label == 1)
        self.bad.setChecked(label == -1)


def stored_metrics(row: dict[str, Any]) -> str:
    parts = []
    if row.get("completion_tokens") is not None:
        prompt = f" (+{row['prompt_tokens']} prompt)" if row.get("prompt_tokens") else ""
        parts.append(f"{row['completion_tokens']} tokens{prompt}")
    if row.get("generation_tokens_per_second"):
        parts.append(f"{row['generation_tokens_per_second']:.1f} tok/s")
    if row.get("time_to_first_token_ms") is not None:
        parts.append(f"first token {row['time_to_first_token_ms']:.0f} ms")
    if row.get("wall_time_ms") is not None:
        parts.append(f"{row['wall_time_ms'] / 1000:.1f} s")
    if row.get("cost_usd") is not None:
        parts.append(format_usd(row["cost_usd"]))
    return " · ".join(parts) or "no measurements"
