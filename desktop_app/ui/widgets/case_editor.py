"""Editing a suite's cases: editable drafts, the case table model and the side editor for one case."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (QFormLayout, QLabel, QLineEdit, QPlainTextEdit, QSpinBox, QStyle, QVBoxLayout,
                               QWidget)

from desktop_app.suites import Case, Check, SuiteError
from desktop_app.suites.csvfile import parse_checks_text
from desktop_app.suites.loader import CHECK_TYPES
from desktop_app.suites.records import Problems, case_from_record, default_checks  # the loader's own rules
from desktop_app.ui.placeholders import braces, placeholders

CHECKS_HELP = ("How the answer is graded, separated by ';': contains, exact, regex:PATTERN, numeric:TOLERANCE, "
               "contains:TEXT — or a JSON list like [{\"type\": \"regex\", \"pattern\": \"...\", \"flags\": \"i\"}]. "
               "Leave empty to grade automatically from Expected (numeric for a number, else contains).")
FIELD_LABELS = {"id": "ID", "prompt": "Prompt", "system": "System", "expected": "Expected", "checks": "Checks",
                "tags": "Tags", "max_tokens": "Max tokens"}


def checks_to_text(checks: tuple[Check, ...], expected: str | float | None) -> str:
    """The short `contains; regex:...` form when it says everything, else a JSON list; "" for automatic."""
    if checks == default_checks(expected):
        return ""
    parts: list[str] = []
    for check in checks:
        params = check.params
        if not params:
            parts.append(check.type)
        elif check.type == "regex" and set(params) == {"pattern"} and isinstance(params["pattern"], str):
            parts.append(f"regex:{params['pattern']}")
        elif (check.type == "numeric" and set(params) == {"tolerance"}
              and isinstance(params["tolerance"], (int, float)) and not isinstance(params["tolerance"], bool)):
            parts.append(f"numeric:{params['tolerance']:g}")
        elif (check.type in ("exact", "contains") and set(params) == {"value"} and isinstance(params["value"], str)
              and params["value"] == params["value"].strip()):
            parts.append(f"{check.type}:{params['value']}")
        else:
            parts = []
            break
    if parts and not any(";" in part for part in parts):
        return "; ".join(parts)
    return json.dumps([check.to_dict() for check in checks], ensure_ascii=False)


def _text_of(value: str | float | None) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass
class CaseDraft:
    """One case as the person is typing it: plain field texts, valid or not, plus its last verdict."""

    id: str
    prompt: str = ""
    system: str = ""
    expected: str = ""
    checks: str = ""
    tags: str = ""
    max_tokens: int = 0  # 0: the run's setting
    line: int = 0
    original_expected: str | float | None = None  # keeps 366 a JSON number while its text is unchanged
    error: str | None = None
    error_field: str | None = None

    @classmethod
    def from_case(cls, case: Case) -> CaseDraft:
        return cls(id=case.id, prompt=case.prompt, system=case.system or "", expected=_text_of(case.expected),
                   checks=checks_to_text(case.checks, case.expected), tags="; ".join(case.tags),
                   max_tokens=case.max_tokens or 0, line=case.line, original_expected=case.expected)

    def copy_as(self, new_id: str) -> CaseDraft:
        return CaseDraft(id=new_id, prompt=self.prompt, system=self.system, expected=self.expected,
                         checks=self.checks, tags=self.tags, max_tokens=self.max_tokens,
                         original_expected=self.original_expected)

    def to_case(self, ordinal: int = 1) -> Case:
        """Validate with the suite loader's own rules; raises SuiteError naming the field."""
        # The loader's reader gives edits the same rules and wording as a case read from a file.
        record: dict[str, Any] = {"id": self.id, "prompt": self.prompt}
        if self.system.strip():
            record["system"] = self.system
        expected_text = self.expected.strip()
        if expected_text:
            unchanged = expected_text == _text_of(self.original_expected)
            record["expected"] = self.original_expected if unchanged else expected_text
        if self.checks.strip():
            try:
                record["checks"] = parse_checks_text(self.checks.strip())
            except ValueError as exc:
                raise Problems("case").error(self.line, "checks", str(exc)) from None
        tags = [tag.strip() for tag in self.tags.replace(",", ";").split(";") if tag.strip()]
        if tags:
            record["tags"] = tags
        if self.max_tokens:
            record["max_tokens"] = self.max_tokens
        return case_from_record(record, self.line, ordinal)

    def validate(self, ordinal: int = 1) -> Case | None:
        """The case, or None with `error` and `error_field` set to say what to fix."""
        try:
            case = self.to_case(ordinal)
        except SuiteError as exc:
            self.error_field = exc.field
            # The reader's message starts with where it is ("case line 3, field "x": "); the editor shows where.
            problem = str(exc).partition(": ")[2] or str(exc)
            label = FIELD_LABELS.get(exc.field or "", exc.field or "")
            self.error = f"{label}: {problem}" if label else problem
            return None
        self.error = self.error_field = None
        return case


def mark_duplicate_ids(drafts: list[CaseDraft]) -> None:
    """Give every case whose id another case also uses an error on its id field."""
    seen: dict[str, int] = {}
    for draft in drafts:
        key = draft.id.strip()
        seen[key] = seen.get(key, 0) + 1
    for draft in drafts:
        if draft.error is None and seen.get(draft.id.strip(), 0) > 1:
            draft.error_field = "id"
            draft.error = f'ID: "{draft.id.strip()}" is used by another case too; give every case its own id'


def _rich_plain(text: str) -> str:
    """A tooltip that shows user text as written (tooltips would otherwise guess it is HTML)."""
    return f"<p style='white-space:pre-wrap'>{html.escape(text)}</p>"


_ROOT = QModelIndex()


class CaseTableModel(QAbstractTableModel):
    """The drafts as rows; cases with a mistake are tinted and carry the reason as a tooltip."""

    # System comes last: it is often the same for every case and is the column best left scrolled away.
    FIELDS = ("id", "prompt", "expected", "checks", "tags", "max_tokens", "system")
    COLUMNS = tuple(FIELD_LABELS[name] for name in FIELDS)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.drafts: list[CaseDraft] = []
        self._style = parent.style() if parent is not None else None

    def set_drafts(self, drafts: list[CaseDraft]) -> None:
        self.beginResetModel()
        self.drafts = drafts
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self.drafts)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.COLUMNS[section]
        if orientation == Qt.Orientation.Vertical and role == Qt.ItemDataRole.DisplayRole:
            return section + 1
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        draft = self.drafts[index.row()]
        field = self.FIELDS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(draft, field)
        if role == Qt.ItemDataRole.ToolTipRole:
            if draft.error:
                return _rich_plain(draft.error)
            if field in ("prompt", "system") and getattr(draft, field):
                return _rich_plain(getattr(draft, field))
            if field == "checks":
                return CHECKS_HELP
            return None
        if role == Qt.ItemDataRole.ForegroundRole:
            if (field == "checks" and not draft.checks) or (field == "max_tokens" and not draft.max_tokens):
                return QColor("#8a909c")
            return None
        if role == Qt.ItemDataRole.BackgroundRole and draft.error:
            return QColor("#fdecea")
        if role == Qt.ItemDataRole.DecorationRole and field == "id" and draft.error and self._style:
            return self._style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        if role == Qt.ItemDataRole.FontRole and field == "id":
            font = QFont()
            font.setBold(True)
            return font
        return None

    @staticmethod
    def _display(draft: CaseDraft, field: str) -> str:
        if field in ("prompt", "system"):
            text = " ⏎ ".join(line.strip() for line in getattr(draft, field).splitlines())
            return text if len(text) <= 160 else text[:159] + "…"
        if field == "checks":
            return draft.checks or _auto_checks_label(draft.expected)
        if field == "max_tokens":
            return str(draft.max_tokens) if draft.max_tokens else "default"
        return getattr(draft, field)

    def row_changed(self, row: int) -> None:
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(self.COLUMNS) - 1))
        self.headerDataChanged.emit(Qt.Orientation.Vertical, row, row)

    def insert(self, row: int, draft: CaseDraft) -> None:
        self.beginInsertRows(QModelIndex(), row, row)
        self.drafts.insert(row, draft)
        self.endInsertRows()

    def remove(self, row: int) -> CaseDraft:
        self.beginRemoveRows(QModelIndex(), row, row)
        draft = self.drafts.pop(row)
        self.endRemoveRows()
        return draft


def _auto_checks_label(expected: str) -> str:
    checks = default_checks(expected.strip() or None)  # what the loader gives a case that names no checks
    return f"auto: {checks[0].type}" if checks else "none"


class CaseEditor(QWidget):
    """Every field of one case; each keystroke updates the draft and emits `changed`."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.draft: CaseDraft | None = None
        self._filling = False

        self.id_edit = QLineEdit()
        self.id_edit.setObjectName("caseId")
        self.id_edit.setToolTip("A short name for the case, unique in the suite (results are matched by it)")
        self.prompt_edit = QPlainTextEdit()
        self.prompt_edit.setObjectName("casePrompt")
        self.prompt_edit.setPlaceholderText("What the model is asked (several lines are fine)")
        self.prompt_edit.setTabChangesFocus(True)
        self.prompt_edit.setMinimumHeight(self.fontMetrics().lineSpacing() * 4 + 12)
        self.system_edit = QPlainTextEdit()
        self.system_edit.setObjectName("caseSystem")
        self.system_edit.setPlaceholderText("Optional system prompt")
        self.system_edit.setTabChangesFocus(True)
        self.system_edit.setFixedHeight(self.fontMetrics().lineSpacing() * 2 + 16)
        self.expected_edit = QLineEdit()
        self.expected_edit.setObjectName("caseExpected")
        self.expected_edit.setPlaceholderText("The reference answer (optional)")
        self.checks_edit = QLineEdit()
        self.checks_edit.setObjectName("caseChecks")
        self.checks_edit.setPlaceholderText("automatic from Expected · or e.g. contains; regex:\\bAu\\b")
        self.checks_edit.setToolTip(CHECKS_HELP + "\nKnown checks: " + ", ".join(CHECK_TYPES))
        self.tags_edit = QLineEdit()
        self.tags_edit.setObjectName("caseTags")
        self.tags_edit.setPlaceholderText("e.g. facts; easy")
        self.max_tokens_spin = QSpinBox()
        self.max_tokens_spin.setObjectName("caseMaxTokens")
        self.max_tokens_spin.setRange(0, 1_000_000)
        self.max_tokens_spin.setSpecialValueText("default (from Settings)")
        self.max_tokens_spin.setToolTip("The most tokens an answer to this case may have; 0 uses the run's setting")
        self.error_label = QLabel()
        self.error_label.setObjectName("caseError")
        self.error_label.setTextFormat(Qt.TextFormat.PlainText)
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #b3261e;")
        self.error_label.hide()
        self.placeholder_note = QLabel()
        self.placeholder_note.setObjectName("hint")
        self.placeholder_note.setTextFormat(Qt.TextFormat.PlainText)
        self.placeholder_note.setWordWrap(True)
        self.placeholder_note.hide()

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.addRow("ID", self.id_edit)
        form.addRow("Prompt", self.prompt_edit)
        form.addRow("System", self.system_edit)
        form.addRow("Expected", self.expected_edit)
        form.addRow("Checks", self.checks_edit)
        form.addRow("Tags", self.tags_edit)
        form.addRow("Max tokens", self.max_tokens_spin)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(form, 1)
        layout.addWidget(self.placeholder_note)
        layout.addWidget(self.error_label)

        self._fields: dict[str, QWidget] = {"id": self.id_edit, "prompt": self.prompt_edit,
                                            "system": self.system_edit, "expected": self.expected_edit,
                                            "checks": self.checks_edit, "tags": self.tags_edit,
                                            "max_tokens": self.max_tokens_spin}
        for edit in (self.id_edit, self.expected_edit, self.checks_edit, self.tags_edit):
            edit.textEdited.connect(self._store)
        self.prompt_edit.textChanged.connect(self._store)
        self.system_edit.textChanged.connect(self._store)
        self.max_tokens_spin.valueChanged.connect(self._store)
        self.set_draft(None)

    def set_draft(self, draft: CaseDraft | None) -> None:
        self.draft = draft
        self._filling = True
        try:
            self.id_edit.setText(draft.id if draft else "")
            self.prompt_edit.setPlainText(draft.prompt if draft else "")
            self.system_edit.setPlainText(draft.system if draft else "")
            self.expected_edit.setText(draft.expected if draft else "")
            self.checks_edit.setText(draft.checks if draft else "")
            self.tags_edit.setText(draft.tags if draft else "")
            self.max_tokens_spin.setValue(draft.max_tokens if draft else 0)
        finally:
            self._filling = False
        for widget in self._fields.values():
            widget.setEnabled(draft is not None)
        self._show_placeholders()
        self.show_verdict()

    def _show_placeholders(self) -> None:
        """An edited case is sent as written: say so when it holds `{name}` placeholders (Compare fills them)."""
        names = placeholders(self.draft.prompt, self.draft.system) if self.draft else []
        self.placeholder_note.setText(f"The model sees {braces(names)} as written: a suite fills placeholders "
                                      f"only from a case's \"vars\" when its file is read." if names else "")
        self.placeholder_note.setVisible(bool(names))

    def show_verdict(self) -> None:
        """Show the draft's mistake under the form and outline the field it is in."""
        error = self.draft.error if self.draft else None
        self.error_label.setText(error or "")
        self.error_label.setVisible(bool(error))
        bad = self.draft.error_field if self.draft and error else None
        for name, widget in self._fields.items():
            widget.setStyleSheet("border: 1px solid #d9534f; border-radius: 3px;" if name == bad else "")

    def focus_field(self, name: str) -> None:
        widget = self._fields.get(name)
        if widget is not None:
            widget.setFocus(Qt.FocusReason.OtherFocusReason)

    def _store(self, *_: object) -> None:
        if self._filling or self.draft is None:
            return
        draft = self.draft
        draft.id = self.id_edit.text()
        draft.prompt = self.prompt_edit.toPlainText()
        draft.system = self.system_edit.toPlainText()
        draft.expected = self.expected_edit.text()
        draft.checks = self.checks_edit.text()
        draft.tags = self.tags_edit.text()
        draft.max_tokens = self.max_tokens_spin.value()
        self._show_placeholders()
        self.changed.emit()
