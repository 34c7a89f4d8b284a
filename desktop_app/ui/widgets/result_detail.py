"""One answer of a run in full: the case, the answer as plain text, its grade, the person's verdict, the numbers."""

from __future__ import annotations

import html
import json
from typing import Any

from PySide6.QtCore import QRect, QSize, Qt, Signal
from PySide6.QtGui import QGuiApplication, QResizeEvent
from PySide6.QtWidgets import (QFrame, QGridLayout, QHBoxLayout, QLabel, QPushButton, QScrollArea, QStackedWidget,
                               QToolButton, QVBoxLayout, QWidget)

from desktop_app.providers.prompt_formats import BASE_MODEL_WARNING, is_fallback
from desktop_app.ui.formatting import format_ms, format_rate, format_usd
from desktop_app.ui.widgets.flow_layout import FlowLayout, together
from desktop_app.ui.widgets.results_grid import (ERROR, MISSING, STATE_COLORS, STATE_LABELS, UNGRADED, mark_icon,
                                                 measurement_caveats, result_state, retry_note)
from desktop_app.ui.widgets.text import plain_label, read_only_text
from desktop_app.units import format_bytes


CAVEAT_TEXT_COLOR = "#8a5a00"


def _section(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("sectionLabel")
    return label


class ResultDetail(QWidget):
    """Everything about one answer: the case, the answer as plain text, its grade and numbers."""

    label_requested = Signal(object, object)  # the result row, 1 / -1 / None
    run_requested = Signal(str)  # show another run: the one a reused answer was measured in

    METRICS = ("Tokens", "First token", "Speed", "Prompt speed", "Wall time", "Peak memory", "Energy", "Cost",
               "Finish", "Reused", "Prompt format", "Threads", "Error")  # Error last: a row of its own
    PEAK_SCOPES = {"answer": ("this answer", "The worker's largest resident memory while it wrote this answer."),
                   "batch": ("its batch", "The worker's largest resident memory while it wrote this answer's batch "
                                          "(the cases it decoded together), up to this answer's end."),
                   "process": ("worker lifetime",
                               "The worker's largest resident memory since it started (this system cannot "
                               "measure one answer alone), so it may come from an earlier, larger answer.")}

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("resultDetail")
        self.row: dict[str, Any] | None = None
        self.requested_models: dict[str, str] = {}  # API model key -> the model name asked for (the page sets it)
        # A judge's verdicts (the page sets them): (case id, model key) -> single judgments, pairwise ones.
        self.judgments: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.pair_judgments: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.title = plain_label("detailTitle")
        self.title.setStyleSheet("font-size: 15px; font-weight: 600;")
        self.model_label = plain_label("detailModel")
        self.template_warning = plain_label("templateWarning")  # answered in a guessed prompt format
        self.template_warning.setStyleSheet("color: #a66a00;")
        self.template_warning.hide()
        self.verdict_icon = QLabel()
        self.verdict = plain_label("verdict", wrap=False)

        self.prompt_view = self._text_view("promptText")
        self.system_label = plain_label("hint")
        self.expected_label = plain_label("expectedText")
        self.answer_view = self._text_view("answerText")
        self.grade_label = plain_label("gradeReason")
        self.parts_label = plain_label("gradeParts")
        self.judge_verdict = plain_label("judgeVerdict")
        self.judge_verdict.setStyleSheet("font-weight: 600;")
        self.judge_reason = plain_label("judgeReason")
        self.judge_reason.setStyleSheet("color: #3b4150;")
        self.pair_label = plain_label("pairVerdicts")

        self.good_button = QPushButton("Good")
        self.bad_button = QPushButton("Bad")
        for button, value, tip in ((self.good_button, 1, "This answer is good, whatever the checks say"),
                                   (self.bad_button, -1, "This answer is bad, whatever the checks say")):
            button.setCheckable(True)
            button.setToolTip(tip + " (click again to clear); kept with the answer")
            button.clicked.connect(lambda checked, value=value: self._label_clicked(value if checked else None))
        self.copy_button = QToolButton()
        self.copy_button.setText("Copy")
        self.copy_button.setAutoRaise(True)
        self.copy_button.setToolTip("Copy the whole answer to the clipboard")
        self.copy_button.clicked.connect(self.copy_answer)
        # The verdict line: the grade's mark on the left, the person's own verdict on the right.
        # In a narrow panel the person's verdict wraps below the grade instead of being cut off.
        verdict_row = FlowLayout(spacing=6)
        verdict_row.addWidget(self.verdict_icon)
        verdict_row.addWidget(self.verdict)
        verdict_row.add_stretch()
        self.your_verdict = QLabel("Your verdict:")
        self.your_verdict.setObjectName("hint")
        verdict_row.addWidget(together(self.your_verdict, self.good_button, self.bad_button))
        answer_header = QHBoxLayout()

        self.metric_values: dict[str, QLabel] = {}
        self.metric_names: dict[str, QLabel] = {}
        metrics = QGridLayout()
        metrics.setHorizontalSpacing(10)
        metrics.setVerticalSpacing(3)
        for i, name in enumerate(self.METRICS):
            name_label = QLabel(name)
            name_label.setObjectName("hint")
            wrap = name in ("Error", "Prompt format", "Peak memory")  # long: "chatml (fallback: no template…)"
            value = plain_label(f"metric-{name.lower().replace(' ', '-')}", wrap=wrap)
            if name == "Error":  # long: a row of its own
                metrics.addWidget(name_label, i // 2, 0)
                metrics.addWidget(value, i // 2, 1, 1, 3)
            else:
                metrics.addWidget(name_label, i // 2, (i % 2) * 2)
                metrics.addWidget(value, i // 2, (i % 2) * 2 + 1)
            self.metric_names[name], self.metric_values[name] = name_label, value
        metrics.setColumnStretch(1, 1)
        metrics.setColumnStretch(3, 1)

        self.placeholder = QLabel("Select a cell to read the answer.\nCtrl-click a second one to compare them.")
        self.placeholder.setObjectName("emptyState")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)

        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(12, 4, 8, 8)
        layout.setSpacing(4)
        layout.addWidget(self.title)
        layout.addWidget(self.model_label)
        layout.addWidget(self.template_warning)
        layout.addLayout(verdict_row)
        self.prompt_section = _section("Prompt")
        layout.addWidget(self.prompt_section)
        layout.addWidget(self.prompt_view)
        layout.addWidget(self.system_label)
        self.expected_section = _section("Expected")
        layout.addWidget(self.expected_section)
        layout.addWidget(self.expected_label)
        self.answer_section = _section("Answer")
        answer_header.addWidget(self.answer_section)
        answer_header.addStretch(1)
        answer_header.addWidget(self.copy_button)
        layout.addLayout(answer_header)
        layout.addWidget(self.answer_view)
        self.grade_section = _section("Grade")
        layout.addWidget(self.grade_section)
        layout.addWidget(self.grade_label)
        layout.addWidget(self.parts_label)
        self.judge_section = _section("Judge")
        layout.addWidget(self.judge_section)
        layout.addWidget(self.judge_verdict)
        layout.addWidget(self.judge_reason)
        layout.addWidget(self.pair_label)
        self.metrics_section = _section("Measurements")
        layout.addWidget(self.metrics_section)
        layout.addLayout(metrics)
        # How to read the figures: measured under load, sharing the CPU, reused from another run (a link),
        # the model an API server answered with, whether a resume retries a failure. Rich text, escaped.
        self.conditions = QLabel()
        self.conditions.setObjectName("measurementConditions")
        self.conditions.setTextFormat(Qt.TextFormat.RichText)
        self.conditions.setWordWrap(True)
        self.conditions.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.conditions.setStyleSheet(f"color: {CAVEAT_TEXT_COLOR};")
        self.conditions.linkActivated.connect(self._link_activated)
        layout.addWidget(self.conditions)
        layout.addStretch(1)
        self.answer_widgets = [self.verdict_icon, self.verdict, self.answer_section, self.answer_view,
                               self.grade_section, self.grade_label, self.parts_label, self.metrics_section,
                               *self.metric_names.values(), *self.metric_values.values(), self.good_button,
                               self.bad_button, self.copy_button, self.your_verdict]
        self.answer_widgets.append(self.conditions)
        self.judge_widgets = [self.judge_section, self.judge_verdict, self.judge_reason, self.pair_label]
        self.body = QScrollArea()  # long prompts and reasons scroll instead of squeezing the answer
        self.body.setObjectName("detailScroll")
        self.body.setWidgetResizable(True)
        self.body.setFrameShape(QFrame.Shape.NoFrame)
        self.body.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.body.setWidget(body)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.placeholder)
        self.stack.addWidget(self.body)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.stack)
        self.setMinimumWidth(300)

    _text_view = staticmethod(read_only_text)

    def _fit_heights(self) -> None:
        """Text boxes as tall as their text (within limits), so the grade and numbers stay in view."""
        for view, least, most in ((self.prompt_view, 1, 6), (self.answer_view, 3, 16)):
            margin = view.document().documentMargin()
            width = max(80, view.viewport().width() - int(2 * margin))
            text = view.toPlainText() or " "
            needed = view.fontMetrics().boundingRect(QRect(0, 0, width, 1_000_000),
                                                     Qt.TextFlag.TextWordWrap, text).height()
            line = view.fontMetrics().lineSpacing()
            height = max(least * line, min(most * line, needed))
            view.setFixedHeight(height + int(2 * margin) + 2 * view.frameWidth() + 2)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self.stack.currentWidget() is self.body:
            self._fit_heights()

    def clear(self) -> None:
        self.row = None
        self.stack.setCurrentWidget(self.placeholder)

    def show_cell(self, case: dict[str, Any], model_key: str | None, row: dict[str, Any] | None) -> None:
        self.row = row
        self.stack.setCurrentWidget(self.body)
        self.title.setText(case["id"])
        self.model_label.setText(model_key or "")
        self.model_label.setVisible(bool(model_key))
        self.prompt_view.setPlainText(case.get("prompt") or "")
        self._fit_heights()
        self.system_label.setText(f"System: {case['system']}" if case.get("system") else "")
        self.system_label.setVisible(bool(case.get("system")))
        expected = case.get("expected")
        checks = ", ".join(check.get("type", "?") for check in case.get("checks") or ())
        expected_text = "none given" if expected is None else str(expected)
        self.expected_label.setText(expected_text + (f"   (checks: {checks})" if checks else ""))
        for widget in self.answer_widgets:
            widget.setVisible(model_key is not None)
        for widget in self.judge_widgets:
            widget.hide()  # shown by _show_judge when a judge has seen this answer
        fallback = model_key is not None and row is not None and is_fallback(row.get("chat_template"))
        self.template_warning.setVisible(fallback)
        if fallback:
            self.template_warning.setText(
                f"⚠ {BASE_MODEL_WARNING[:1].upper()}{BASE_MODEL_WARNING[1:]}. This answer was prompted with "
                f"ChatML, a guess; choose the model's format on the Models screen and run it again.")
        if model_key is None:
            return
        state = result_state(row)
        self.verdict_icon.setPixmap(mark_icon(state).pixmap(QSize(16, 16)))
        verdict = STATE_LABELS[state]
        if row is not None and row.get("grade_score") is not None and state != ERROR:
            verdict += f" · score {row['grade_score']:.2f}"
        self.verdict.setText(verdict)
        self.verdict.setStyleSheet(f"color: {STATE_COLORS[state]};")
        self.answer_view.setPlainText("" if row is None else row.get("text") or "")
        self.answer_view.setPlaceholderText({MISSING: "Not answered yet", ERROR: "No answer: see the error below"}
                                            .get(state, "(the answer is empty)"))
        self._fit_heights()
        self._show_grade(row, state, self.judgments.get((case["id"], model_key)) or [])
        self._show_judge(model_key, row, self.judgments.get((case["id"], model_key)) or [],
                         self.pair_judgments.get((case["id"], model_key)) or [])
        self._show_metrics(row)
        self._show_conditions(model_key, row)
        self.show_label(row)

    def _show_grade(self, row: dict[str, Any] | None, state: str, judgments: list[dict[str, Any]]) -> None:
        failed_judgment = next((j for j in reversed(judgments) if j.get("error")), None)
        if row is None:
            reason = "This case has no answer from this model yet."
        elif state == ERROR:
            reason = f"No answer: {row['error']}"
        elif state == UNGRADED and failed_judgment is not None:  # only the judge could grade it, and it failed
            reason = f"Not scored: the judge's verdict is unusable: {failed_judgment['error']}"
        elif state == UNGRADED:
            reason = "Not graded: the case has no expected answer or checks."
        else:
            reason = row.get("grade_reason") or ""
        self.grade_label.setText(reason)
        parts = []
        if row and row.get("grade_json"):
            for part in json.loads(row["grade_json"]).get("parts") or ():
                parts.append(part_line(part))
        self.parts_label.setText("\n".join(parts))
        self.parts_label.setVisible(bool(parts))

    def _show_judge(self, model_key: str, row: dict[str, Any] | None, judgments: list[dict[str, Any]],
                    pairs: list[dict[str, Any]]) -> None:
        """The judge's verdict on this answer and its reasons; its pairwise verdicts against the other model."""
        part = judge_part(json.loads(row["grade_json"])) if row and row.get("grade_json") else None
        judgment = judgments[-1] if judgments else None  # the newest
        if judgment is None and part is None:
            return
        if judgment is not None and judgment.get("error"):
            verdict = f"{judgment['judge_key']}: not scored: {judgment['error']}"
        elif judgment is not None:
            rating = judgment.get("verdict")
            verdict = f"{judgment['judge_key']} rates it {rating} out of 10 (score {judgment['score']:.2f})"
            if part is not None and not part.get("error"):
                verdict += ": passes" if part.get("passed") else ": below the pass mark"
        else:  # a judge check no judge has run yet
            verdict = f"Judge: {part.get('reason') or 'not scored'}"
        self.judge_verdict.setText(verdict)
        self.judge_verdict.setStyleSheet("font-weight: 600;" + (f" color: {STATE_COLORS[ERROR]};"
                                                                if judgment is None or judgment.get("error") else ""))
        reason = (judgment or {}).get("reason") or ""
        self.judge_reason.setText(reason.strip())
        lines = [pair_line(model_key, j) for j in pairs]
        self.pair_label.setText("\n".join(lines))
        self.pair_label.setToolTip("The judge saw both answers twice, their sides swapped; what it wrote:\n\n"
                                   + "\n\n".join((j.get("reason") or "").strip() for j in pairs if j.get("reason"))
                                   if lines else "")
        for widget, shown in ((self.judge_section, True), (self.judge_verdict, True),
                              (self.judge_reason, bool(reason.strip())), (self.pair_label, bool(lines))):
            widget.setVisible(shown)

    def _show_metrics(self, row: dict[str, Any] | None) -> None:
        row = row or {}
        tokens = "–"
        if row.get("completion_tokens") is not None:
            tokens = f"{row.get('prompt_tokens') or 0} in · {row['completion_tokens']} out"
            if row.get("cached_tokens"):
                tokens += f" ({row['cached_tokens']} cached)"
        energy = "–" if row.get("energy_joules") is None else f"{row['energy_joules']:.1f} J"
        peak = format_bytes(row["peak_memory_bytes"]) if row.get("peak_memory_bytes") else "–"
        scope, scope_tip = self.PEAK_SCOPES.get(row.get("peak_memory_scope") or "", ("", ""))
        if scope and row.get("peak_memory_bytes"):
            peak += f" ({scope})"
        self.metric_values["Peak memory"].setToolTip(scope_tip)
        template = row.get("chat_template")
        self.metric_values["Prompt format"].setStyleSheet("color: #a66a00;" if is_fallback(template) else "")
        self.metric_values["Prompt format"].setToolTip(
            "The chat template the local model's prompt was laid out with: gguf is the file's own; completion "
            "is the prompt as plain text" if template else "")
        self.metric_values["Energy"].setToolTip(
            f"How it was measured: {row['energy_source']}" if row.get("energy_source") else "")
        values = {
            "Tokens": tokens,
            "First token": format_ms(row.get("time_to_first_token_ms")),
            "Speed": format_rate(row.get("generation_tokens_per_second")),
            "Prompt speed": format_rate(row.get("prompt_tokens_per_second")),
            "Wall time": "–" if row.get("wall_time_ms") is None else f"{row['wall_time_ms'] / 1000:.2f} s",
            "Peak memory": peak,
            "Energy": energy,
            "Cost": format_usd(row.get("cost_usd")),
            "Finish": row.get("finish_reason") or "–",
            "Reused": (f"from run {row['measured_in_run']}" if row.get("measured_in_run") else
                       f"from answer #{row['reused_from']}") if row.get("reused_from") else "no",
            "Prompt format": template or "–",
            "Threads": str(row["threads"]) if row.get("threads") else "–",
            "Error": row.get("error") or "",
        }
        for name, value in values.items():
            self.metric_values[name].setText(value)
        has_error = bool(row.get("error"))
        self.metric_names["Error"].setVisible(has_error)
        self.metric_values["Error"].setVisible(has_error)
        self.metric_values["Error"].setStyleSheet(f"color: {STATE_COLORS[ERROR]};")

    def _show_conditions(self, model_key: str, row: dict[str, Any] | None) -> None:
        """What the figures were measured under, and what a resume does with a failure, in sentences."""
        lines = []
        if row is not None:
            served, asked = row.get("served_model"), self.requested_models.get(model_key)
            if served and served != (asked or model_key):
                lines.append(html.escape(f"The server answered with {served}"
                                         + (f" (asked for {asked})." if asked else ".")))
            for note in measurement_caveats(row):
                origin = row.get("measured_in_run")
                text = html.escape(note)
                if origin and row.get("reused_from"):  # the run id leads to that run
                    escaped = html.escape(origin)
                    text = text.replace(escaped, f"<a href='run:{escaped}'>{escaped}</a>", 1)
                lines.append(f"\u25cf {text}")
            if retry := retry_note(row):
                lines.append(html.escape(retry))
        self.conditions.setText("<br>".join(lines))
        self.conditions.setVisible(bool(lines))

    def _link_activated(self, link: str) -> None:
        if link.startswith("run:"):
            self.run_requested.emit(link[4:])

    def show_label(self, row: dict[str, Any] | None) -> None:
        label = (row or {}).get("human_label")
        for button, value in ((self.good_button, 1), (self.bad_button, -1)):
            button.setEnabled(row is not None)
            button.setChecked(label == value)
        self.copy_button.setEnabled(bool(row and row.get("text")))

    def _label_clicked(self, value: int | None) -> None:
        if self.row is not None:
            self.label_requested.emit(self.row, value)
        self.show_label(self.row)  # the page sets the row's label when the store took it

    def copy_answer(self) -> None:
        if self.row and self.row.get("text"):
            QGuiApplication.clipboard().setText(self.row["text"])


def part_line(part: dict[str, Any]) -> str:
    """One part of a grade: passed, failed, or not scored (its input was missing: never a 0)."""
    check = part.get("check", "")
    if part.get("error"):
        return f"not scored · {check}: {part['error']}"
    return f"{'pass' if part.get('passed') else 'fail'} · {check}: {part.get('reason', '')}"


def judge_part(grade: dict[str, Any]) -> dict[str, Any] | None:
    """The judge's part of a grade (the grade itself when the judge is its only check), through any/all/not."""
    if grade.get("check") == "judge":
        return grade
    for part in grade.get("parts") or ():
        if found := judge_part(part):
            return found
    return None


def pair_line(model_key: str, judgment: dict[str, Any]) -> str:
    """A pairwise verdict from this answer's side: against which model, and who the judge preferred."""
    other = judgment["other_model_key"] if judgment["model_key"] == model_key else judgment["model_key"]
    if judgment.get("error"):
        return f"Against {other}: not scored: {judgment['error']}"
    outcome = judgment.get("outcome")
    if outcome == model_key:
        said = "the judge preferred this answer"
    elif outcome == other:
        said = f"the judge preferred {other}'s answer"
    elif outcome == "tie":
        said = "the judge called it a tie"
    else:
        said = "the judge changed its verdict when the answers swapped sides (counted as a tie)"
    return f"Against {other}: {said}."
