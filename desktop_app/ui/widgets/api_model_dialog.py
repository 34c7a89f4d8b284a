"""Add an API model: pick the provider, list its models when it can, set the key and, if needed, a price."""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app import keys
from desktop_app.costing.prices import ApiPricing, PriceOverride
from desktop_app.errors import UserError
from desktop_app.providers.api import ApiModelSpec, api_model_name
from desktop_app.ui.context import AppContext
from desktop_app.ui.widgets.elided_label import WrappingLabel
from desktop_app.ui.widgets.sizing import grow_to_content
from desktop_app.ui.workers import run_in_background

PROVIDERS = [("openai", "OpenAI"), ("anthropic", "Anthropic"),
             ("openai-compatible", "OpenAI-compatible server (llama-server, Ollama, vLLM, OpenRouter…)")]


class ApiModelDialog(QDialog):
    """On OK the model is added to the settings (and its key to the OS keychain); `added` says which."""

    added = Signal(str)  # the model reference, e.g. openai:gpt-4o-mini

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("apiModelDialog")
        self.setWindowTitle("Add an API model")
        self.setMinimumWidth(560)

        self.provider = QComboBox()
        self.provider.setObjectName("apiProvider")
        for name, label in PROVIDERS:
            self.provider.addItem(label, name)
        self.base_url = QLineEdit()
        self.base_url.setObjectName("apiBaseUrl")
        self.base_url.setPlaceholderText("http://127.0.0.1:8080/v1")
        self.key = QLineEdit()
        self.key.setObjectName("apiKey")
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.key.setPlaceholderText("leave empty to use the key already set")
        self.key_source = _hint()
        self.model = QComboBox()
        self.model.setObjectName("apiModel")
        self.model.setEditable(True)
        self.model.lineEdit().setPlaceholderText("e.g. gpt-4o-mini")
        self.list_button = QPushButton("List models")
        self.list_button.setObjectName("listModels")
        self.list_button.clicked.connect(self.list_models)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model, 1)
        model_row.addWidget(self.list_button)
        self.list_status = _hint()
        self.display_name = QLineEdit()
        self.display_name.setObjectName("apiDisplayName")
        self.display_name.setPlaceholderText("optional: what tables and plots call it")
        self.display_name.setToolTip("Leave empty for the model's own name (a server's model as model @ host:port)")

        # A note shares its field's cell: QFormLayout gives a word-wrapped label in a row of its own too
        # little height, cutting its last line off.
        form = QFormLayout()
        form.addRow("Provider", self.provider)
        form.addRow("Server URL", self.base_url)
        form.addRow("API key", _with_note(self.key, self.key_source))
        form.addRow("Model", _with_note(model_row, self.list_status))
        form.addRow("Display name", self.display_name)

        self.price_known = _hint()
        self.use_table = QRadioButton("Use the published price")
        self.per_token = QRadioButton("My price per million tokens")
        self.per_hour = QRadioButton("My server's price per hour")
        self.input_price = _dollars("apiInputPrice")
        self.output_price = _dollars("apiOutputPrice")
        self.hour_price = _dollars("apiHourPrice")
        token_row = QHBoxLayout()
        for label, spin in (("in", self.input_price), ("out", self.output_price)):
            token_row.addWidget(QLabel(label))
            token_row.addWidget(spin)
        token_row.addStretch(1)
        hour_row = QHBoxLayout()
        hour_row.addWidget(self.hour_price)
        hour_row.addStretch(1)
        choices = QGridLayout()
        choices.addWidget(self.use_table, 0, 0, 1, 2)
        choices.addWidget(self.per_token, 1, 0)
        choices.addLayout(token_row, 1, 1)
        choices.addWidget(self.per_hour, 2, 0)
        choices.addLayout(hour_row, 2, 1)
        choices.setColumnStretch(1, 1)
        price_box = QGroupBox("Price")
        price_layout = QVBoxLayout(price_box)
        price_layout.addWidget(self.price_known)
        price_layout.addLayout(choices)
        self.use_table.setChecked(True)

        self.error = QLabel()
        self.error.setObjectName("dialogError")
        self.error.setWordWrap(True)
        self.error.setTextFormat(Qt.TextFormat.PlainText)
        self.error.setStyleSheet("color: #b3261e;")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Add model")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(price_box)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)

        self._price_chosen = False  # the user picked a price mode: a stored one no longer fills the form
        self._price_timer = QTimer(self, singleShot=True, interval=250)
        self._price_timer.timeout.connect(self._refresh)
        self.provider.currentIndexChanged.connect(self._provider_changed)
        self.base_url.textChanged.connect(self._provider_changed)
        self.model.currentTextChanged.connect(lambda *_: self._price_timer.start())
        for changed in (self.model.currentTextChanged, self.base_url.textChanged, self.provider.currentIndexChanged):
            changed.connect(lambda *_: self._show_name())
        for widget in (self.use_table, self.per_token, self.per_hour):
            widget.toggled.connect(self._price_mode_changed)
            widget.clicked.connect(lambda *_: setattr(self, "_price_chosen", True))
        self._provider_changed()
        self._price_mode_changed()
        self._refresh()
        self._show_name()

    def event(self, event: QEvent) -> bool:
        handled = super().event(event)
        if event.type() == QEvent.Type.LayoutRequest:  # a note changed: as tall as it now needs
            grow_to_content(self)
        return handled

    # Reading the form -----------------------------------------------------------------------

    def provider_name(self) -> str:
        return self.provider.currentData()

    def spec(self, model: str | None = None) -> ApiModelSpec:
        """The model the form describes; raises UserError with what to fix."""
        provider = self.provider_name()
        base_url = self.base_url.text().strip().rstrip("/") or None if provider == "openai-compatible" else None
        s = self.ctx.settings
        return ApiModelSpec(provider, (model if model is not None else self.model.currentText()).strip(),
                            base_url, timeout_s=s.api_timeout_s, max_retries=s.api_max_retries,
                            max_concurrency=s.api_max_concurrency,
                            display_name=self.display_name.text().strip() or None)

    def _show_name(self) -> None:
        """The name runs will use, as the placeholder while none is typed (never a server's file path)."""
        try:
            shown = api_model_name(dataclasses.replace(self.spec(), display_name=None))
        except UserError:
            shown = "what tables and plots call it"
        self.display_name.setPlaceholderText(f"optional: {shown}")

    def override(self) -> PriceOverride | None:
        if self.per_token.isChecked():
            return PriceOverride(input_usd_per_mtok=self.input_price.value(),
                                 output_usd_per_mtok=self.output_price.value())
        if self.per_hour.isChecked():
            return PriceOverride(usd_per_hour=self.hour_price.value())
        return None

    # Reacting -------------------------------------------------------------------------------

    def _provider_changed(self) -> None:
        compatible = self.provider_name() == "openai-compatible"
        self.base_url.setEnabled(compatible)
        self.model.lineEdit().setPlaceholderText(
            {"openai": "e.g. gpt-4o-mini", "anthropic": "e.g. claude-sonnet-4-5"}.get(
                self.provider_name(), "the server's model name"))
        self._price_timer.start()

    def _refresh(self) -> None:
        """Where the key would come from and what the model costs: a keychain read (which may wait for
        the user to unlock it) and the price tables, both off the UI thread."""
        try:
            key_spec = self.spec(model="x")
        except UserError:
            self.key_source.setText("Enter the server's URL first.")
            return
        try:
            spec = self.spec()
        except UserError:
            spec = None

        def look() -> tuple[ApiModelSpec, str | None, ApiModelSpec | None, ApiPricing | None]:
            source = keys.find(key_spec.key_name, required=False).source
            return key_spec, source, spec, ApiPricing(spec) if spec else None

        run_in_background(look, self._show_refresh, lambda exc: None, self)

    def _show_refresh(self, found: tuple) -> None:
        key_spec, source, spec, pricing = found
        name = key_spec.key_name
        if source:
            self.key_source.setText(f"A key for {name} is set ({source}); type one to replace it.")
        elif not key_spec.needs_key:
            self.key_source.setText("A server on this machine or network may not need a key.")
        else:
            self.key_source.setText(f"No key for {name} yet: paste it here, or set {keys.env_var(name)}.")
        if spec is None or pricing is None:
            self.price_known.setText("Choose a model to see its price.")
            return
        if pricing.known:
            self.price_known.setText(f"Published price: {pricing.describe()}")
        else:
            self.price_known.setText(f"genai-prices has no price for {spec.model} at this endpoint: set yours "
                                     f"below, or keep \"published price\" to count it as free.")
        existing = self.ctx.settings.price_overrides.get(spec.ref)
        if existing and not self._price_chosen:
            self._show_override(PriceOverride.from_dict(existing))

    def _show_override(self, override: PriceOverride) -> None:
        if override.usd_per_hour is not None:
            self.per_hour.setChecked(True)
            self.hour_price.setValue(override.usd_per_hour)
        else:
            self.per_token.setChecked(True)
            self.input_price.setValue(override.input_usd_per_mtok or 0)
            self.output_price.setValue(override.output_usd_per_mtok or 0)

    def _price_mode_changed(self) -> None:
        self.input_price.setEnabled(self.per_token.isChecked())
        self.output_price.setEnabled(self.per_token.isChecked())
        self.hour_price.setEnabled(self.per_hour.isChecked())

    def list_models(self) -> None:
        """Ask the provider for its models, off the UI thread."""
        from desktop_app.providers.registry import api_provider

        try:
            spec = self.spec(model="list")
        except UserError as exc:
            self.list_status.setText(str(exc))
            return
        typed = self.key.text().strip() or None
        self.list_button.setEnabled(False)
        self.list_status.setText("Asking the provider for its models…")
        run_in_background(lambda: api_provider(spec, key=typed).list_models(), self._models_listed,
                          self._listing_failed, self)

    def _models_listed(self, names: list[str]) -> None:
        self.list_button.setEnabled(True)
        current = self.model.currentText()
        self.model.clear()
        self.model.addItems(names)
        self.model.setCurrentText(current if current in names or not names else names[0])
        self.list_status.setText(f"{len(names)} models offered." if names else "The provider lists no models.")

    def _listing_failed(self, exc: BaseException) -> None:
        self.list_button.setEnabled(True)
        text = str(exc) if isinstance(exc, UserError) else f"{type(exc).__name__}: {exc}"
        self.list_status.setText(f"Could not list the models: {text}")

    # Accepting ------------------------------------------------------------------------------

    def accept(self) -> None:
        try:
            spec = self.spec()
            override = self.override()
            if override is not None and override.input_usd_per_mtok == override.output_usd_per_mtok == 0:
                raise UserError("a price of $0 in and out: choose \"Use the published price\" for a free model")
        except UserError as exc:
            self.error.setText(str(exc))
            return
        typed = self.key.text().strip()
        self.buttons.setEnabled(False)
        self.error.setText("")
        if typed:  # the keychain may ask the user to unlock it: not on the UI thread
            run_in_background(lambda: keys.store(spec.key_name, typed), lambda _: self._save(spec, override),
                              self._key_failed, self)
        else:
            self._save(spec, override)

    def _key_failed(self, exc: BaseException) -> None:
        self.buttons.setEnabled(True)
        self.error.setText(str(exc) if isinstance(exc, UserError) else f"Could not store the key: {exc}")

    def _save(self, spec: ApiModelSpec, override: PriceOverride | None) -> None:
        settings = self.ctx.settings
        models = [ref for ref in settings.api_models if ref != spec.ref] + [spec.ref]
        prices = dict(settings.price_overrides)
        if override is not None:
            prices[spec.ref] = override.to_dict()
        else:
            prices.pop(spec.ref, None)
        names = {ref: name for ref, name in settings.api_model_names.items() if ref != spec.ref}
        if spec.display_name:
            names[spec.ref] = spec.display_name
        self.ctx.save_settings(dataclasses.replace(settings, api_models=models, price_overrides=prices,
                                                   api_model_names=names))
        self.key.clear()
        self.added.emit(spec.ref)
        super().accept()


def _with_note(field: QWidget | QHBoxLayout, note: QLabel) -> QWidget:
    """A field with its note under it, in one form cell."""
    cell = QWidget()
    column = QVBoxLayout(cell)
    column.setContentsMargins(0, 0, 0, 0)
    column.setSpacing(3)
    if isinstance(field, QWidget):
        column.addWidget(field)
    else:
        column.addLayout(field)
    column.addWidget(note)
    return cell


def _hint() -> QLabel:
    label = WrappingLabel()  # hints quote key names, URLs and model names: long single words
    label.setObjectName("hint")
    return label


def _dollars(name: str) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setObjectName(name)
    spin.setPrefix("$")
    spin.setDecimals(3)
    spin.setRange(0, 10_000)
    spin.setSingleStep(0.05)
    return spin
