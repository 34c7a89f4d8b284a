"""The Vote screen: two answers to one prompt, the models hidden, and the person says which is better.

Votes are stored with the real model keys; the models are named only in the ratings below, never next
to the answers being voted on. The ratings (Bradley-Terry with bootstrap intervals) and a judge's
agreement with the votes are computed off the UI thread after each vote.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QRect, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QResizeEvent, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QGroupBox,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop_app.ui.context import AppContext
from desktop_app.ui.errors import show_exception
from desktop_app.ui.voting import (
    OUTCOMES,
    Ratings,
    VotePair,
    VoteSession,
    agreement_sentence,
    load_ratings,
    load_session,
)
from desktop_app.ui.widgets.flow_layout import FlowLayout, labelled, together
from desktop_app.ui.widgets.run_picker import RunPicker
from desktop_app.ui.widgets.text import plain_label, read_only_text
from desktop_app.ui.workers import (
    GeneratorWorker,
    InOrder,
    run_in_background,
    with_store,
)

if TYPE_CHECKING:
    from desktop_app.storage.store import Store

# outcome -> (button text, object name, shortcuts: the first is shown on the button, the rest are aliases)
CHOICES = {
    "left": ("A is better", "voteLeft", ("A", "1")),
    "right": ("B is better", "voteRight", ("B", "2")),
    "tie": ("Tie", "voteTie", ("T", "3")),
    "both_bad": ("Both bad", "voteBothBad", ("X", "4")),
}
STYLE = """
QLabel#answerHeading { font-weight: 600; font-size: 14px; color: #2b303b; }
QPushButton#voteLeft, QPushButton#voteRight { background: #2f6fde; color: white; border: none; border-radius: 4px;
    font-weight: 600; padding: 6px 14px; }
QPushButton#voteLeft:disabled, QPushButton#voteRight:disabled { background: #9db6e8; }
QLabel#voteDone { background: #eef7f1; border: 1px solid #cfe6d7; border-radius: 6px; padding: 8px 12px;
    color: #1f3327; }
"""


def _run_title(run: dict[str, Any]) -> str:
    try:
        when = dt.datetime.fromisoformat(run["created_at"]).astimezone().strftime("%d %b %Y %H:%M")
    except (TypeError, ValueError):
        when = run.get("created_at") or "?"
    return (f"{run.get('suite_name') or 'ad-hoc prompts'} · {when} · {run['models']} models, "
            f"{run['results']} answers")


def _votable(run: dict[str, Any]) -> bool:
    """A run with answers from two or more models: pairs to vote on."""
    return bool(run["results"]) and run["models"] >= 2


def _key_name(key: str) -> str:
    return QKeySequence(key).toString(QKeySequence.SequenceFormat.NativeText)


class StoredVote:
    """A vote as the store knows it, filled in by the worker that stores it: its id, None until then (or when it
    could not be stored). One per vote given: two votes are never equal."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.vote_id: int | None = None


class VotePage(QWidget):
    session_loaded = Signal(str)  # a run's pairs are on screen (its id)
    ratings_shown = Signal()  # the ratings and agreement below were recomputed
    voted = Signal(object)  # the VotePair just voted on

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.session: VoteSession | None = None
        self.queue: list[VotePair] = []  # the pairs still to vote on, the shown one first
        self.undo_stack: list[tuple[StoredVote, VotePair]] = []  # this visit's votes, newest last
        self.ratings: Ratings | None = None
        self._session_ticket = 0
        self._ratings_ticket = 0
        self._workers: set[GeneratorWorker] = set()
        self._writes = InOrder(self)  # votes and their undoing, stored off the UI thread in the order given
        self.setStyleSheet(STYLE)

        title = QLabel("Vote")
        title.setObjectName("pageTitle")
        hint = QLabel("Two answers to the same prompt, from two models of a run; which wrote which is hidden. "
                      "Say which is better: your votes rate the models, and show whether a judge model agrees "
                      "with you.")
        hint.setObjectName("hint")
        hint.setWordWrap(True)

        self.stack = QStackedWidget()
        self.empty = self._build_empty()
        self.content = self._build_content()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.content)
        self.reading = QWidget()  # blank until the run list arrives: neither state flashes by
        self.stack.addWidget(self.reading)
        self.stack.setCurrentWidget(self.reading)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 12)
        layout.setSpacing(8)
        layout.addWidget(title)
        layout.addWidget(hint)
        layout.addWidget(self.stack, 1)

        # Shortcuts while this screen is shown; the answers are read-only, so letters never type into them.
        self.shortcuts: dict[str, list[QShortcut]] = {}
        for outcome, (_, _, keys) in CHOICES.items():
            self.shortcuts[outcome] = [self._shortcut(k, lambda o=outcome: self.vote(o)) for k in keys]
        self.shortcuts["skip"] = [self._shortcut("S", self.skip)]
        self.shortcuts["undo"] = [self._shortcut(QKeySequence.StandardKey.Undo, self.undo),
                                  self._shortcut("Backspace", self.undo)]

        self._ratings_timer = QTimer(self, singleShot=True, interval=250, timeout=self._load_ratings)
        self._refresh_timer = QTimer(self, singleShot=True, interval=400, timeout=self._runs_changed_later)
        self._changed: set[str] = set()
        ctx.runs_changed.connect(self._on_runs_changed)
        ctx.settings_changed.connect(self._on_settings_changed)  # maybe another database
        self._show_pair()

    def _shortcut(self, key: Any, slot: Any) -> QShortcut:
        shortcut = QShortcut(QKeySequence(key), self, context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
        shortcut.activated.connect(slot)
        return shortcut

    # Building -------------------------------------------------------------------------------

    def _build_empty(self) -> QWidget:
        page = QWidget()
        self.empty_label = QLabel("Nothing to vote on yet.\n\nVoting needs a run of two or more models on the same "
                                  "prompts: run a suite on the Suites screen, or compare models on Compare.")
        self.empty_label.setObjectName("emptyState")
        self.empty_label.setWordWrap(True)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setMaximumWidth(560)
        go = QPushButton("Go to Suites")
        go.setObjectName("primary")
        go.clicked.connect(lambda: self.ctx.navigate.emit("Suites"))
        layout = QVBoxLayout(page)
        layout.addStretch(1)
        layout.addWidget(self.empty_label, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addSpacing(8)
        layout.addWidget(go, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(2)
        return page

    def _build_content(self) -> QWidget:
        # Runs of two or more models with answers, newest first (followed until the person picks one).
        self.run_picker = RunPicker(self.ctx, _run_title, accept=_votable, follow_newest=True, object_name="voteRun")
        self.run_combo = self.run_picker.combo
        self.run_combo.setToolTip("The run whose answers to vote on: runs of two or more models, newest first")
        self.run_picker.chosen.connect(lambda _run_id: self._runs_listed())
        self.run_picker.listed.connect(self._runs_listed)
        run_label = QLabel("&Run:")
        run_label.setBuddy(self.run_combo)
        self.progress_label = plain_label("hint", wrap=False)  # how many pairs are voted
        top = FlowLayout(spacing=12)
        top.addWidget(labelled(run_label, self.run_picker))
        top.addWidget(self.progress_label)

        # The pair being voted on: the prompt, then answer A and answer B side by side.
        self.case_label = plain_label("voteCase", wrap=False)
        self.case_label.setStyleSheet("font-weight: 600;")
        self.prompt_view = read_only_text("votePrompt")
        self.prompt_view.setToolTip("The prompt both models were asked")
        self.context_label = plain_label("voteContext")  # the system prompt and the expected answer, when given
        self.context_label.setStyleSheet("color: #5b6270;")
        self.answer_views: dict[str, QPlainTextEdit] = {}
        columns = QSplitter(Qt.Orientation.Horizontal)
        columns.setObjectName("voteAnswersSplitter")
        columns.setChildrenCollapsible(False)
        for side, name in (("left", "A"), ("right", "B")):
            heading = QLabel(f"Answer {name}")
            heading.setObjectName("answerHeading")
            view = read_only_text(f"voteAnswer{name}")
            view.setPlaceholderText("(the answer is empty)")
            view.setMinimumHeight(90)
            self.answer_views[side] = view
            box = QWidget()
            box_layout = QVBoxLayout(box)
            box_layout.setContentsMargins(0, 0, 0, 0)
            box_layout.setSpacing(3)
            box_layout.addWidget(heading)
            box_layout.addWidget(view, 1)
            columns.addWidget(box)

        self.vote_buttons: dict[str, QPushButton] = {}
        for outcome, (text, name, keys) in CHOICES.items():
            button = QPushButton(f"{text}   {_key_name(keys[0])}")
            button.setObjectName(name)
            button.setToolTip(f"{text} (key {_key_name(keys[0])} or {_key_name(keys[1])}); then the next pair")
            button.clicked.connect(lambda _=False, o=outcome: self.vote(o))
            self.vote_buttons[outcome] = button
        self.skip_button = QPushButton("Skip   S")
        self.skip_button.setObjectName("voteSkip")
        self.skip_button.setToolTip("Not sure: show this pair again later, after the others (key S)")
        self.skip_button.clicked.connect(self.skip)
        undo_key = QKeySequence(QKeySequence.StandardKey.Undo).toString(QKeySequence.SequenceFormat.NativeText)
        self.undo_button = QPushButton(f"Undo   {undo_key}")
        self.undo_button.setObjectName("voteUndo")
        self.undo_button.setToolTip(f"Take back your last vote and show that pair again ({undo_key} or Backspace)")
        self.undo_button.clicked.connect(self.undo)
        buttons = FlowLayout(spacing=8)
        buttons.addWidget(together(*self.vote_buttons.values()))
        buttons.addWidget(together(self.skip_button, self.undo_button, right=True))

        self.done_label = plain_label("voteDone")
        self.done_label.hide()

        ballot = QWidget()
        ballot_layout = QVBoxLayout(ballot)
        ballot_layout.setContentsMargins(0, 0, 0, 4)
        ballot_layout.setSpacing(5)
        ballot_layout.addWidget(self.case_label)
        ballot_layout.addWidget(self.prompt_view)
        ballot_layout.addWidget(self.context_label)
        ballot_layout.addWidget(columns, 1)
        ballot_layout.addWidget(self.done_label)
        ballot_layout.addLayout(buttons)
        self.ballot = ballot

        # The ratings so far: the only place the models are named.
        self.ratings_table = QTableWidget(0, 5)
        self.ratings_table.setObjectName("ratingsTable")
        self.ratings_table.setHorizontalHeaderLabels(["Model", "Rating", "95% interval", "Votes", "Wins"])
        header_tips = ["", ("Bradley-Terry strength on the Elo scale: 1000 is the average of these models; 400 "
                            "points apart is 10 to 1 odds of being preferred"),
                       "Where the rating may lie, from your votes resampled (bootstrap)",
                       "Votes that showed this model's answer", "Votes it won; a tie or “both bad” counts half"]
        for column, tip in enumerate(header_tips):
            if tip:
                self.ratings_table.horizontalHeaderItem(column).setToolTip(tip)
        self.ratings_table.verticalHeader().hide()
        self.ratings_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.ratings_table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.ratings_table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        header = self.ratings_table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, 5):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.ratings_note = plain_label("hint")  # how many votes, and how to read them
        self.agreement_label = plain_label("agreement")
        ratings_box = QGroupBox("Ratings from your votes (the models named)")
        ratings_box.setObjectName("ratingsBox")
        ratings_layout = QVBoxLayout(ratings_box)
        ratings_layout.addWidget(self.ratings_note)
        ratings_layout.addWidget(self.ratings_table)
        ratings_layout.addWidget(self.agreement_label)
        ratings_layout.addStretch(1)
        ratings_scroll = QScrollArea()  # scrolled when short of room: the window stays within 900 x 600
        ratings_scroll.setWidgetResizable(True)
        ratings_scroll.setFrameShape(QFrame.Shape.NoFrame)
        ratings_scroll.setWidget(ratings_box)

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setObjectName("voteSplitter")
        self.splitter.addWidget(ballot)
        self.splitter.addWidget(ratings_scroll)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([430, 190])
        self.splitter.setChildrenCollapsible(False)

        content = QWidget()
        layout = QVBoxLayout(content)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.setSpacing(8)
        layout.addLayout(top)
        layout.addWidget(self.splitter, 1)
        return content

    # Which run --------------------------------------------------------------------------------

    def current_run_id(self) -> str | None:
        return self.run_picker.current_run_id()

    def on_shown(self) -> None:
        self.refresh()

    def show_run(self, run_id: str) -> None:
        self.refresh(prefer=run_id)

    def refresh(self, prefer: str | None = None) -> None:
        """Read the runs again (off the UI thread); the chosen run's pairs load when it changed."""
        self.run_picker.refresh(select=prefer)

    def _runs_listed(self) -> None:
        chosen = self.current_run_id()
        if chosen is None and self.run_picker.search.text().strip():
            return  # a search that matches nothing: the run on screen stays
        self.stack.setCurrentWidget(self.content if chosen else self.empty)
        if chosen is None:
            self._session_ticket += 1
            self.session, self.queue, self.undo_stack, self.ratings = None, [], [], None
            self._show_pair()
            return
        if self.session is None or self.session.run_id != chosen:
            self._load_session(chosen)

    def _on_runs_changed(self, run_id: str) -> None:
        self._changed.add(run_id)
        if self.isVisible():
            self._refresh_timer.start()

    def _on_settings_changed(self) -> None:
        self._session_ticket += 1
        self.session, self.queue, self.undo_stack = None, [], []
        self._show_pair()
        if self.isVisible():  # a hidden screen reloads in on_shown()
            self.refresh()

    def _runs_changed_later(self) -> None:
        changed, self._changed = self._changed, set()
        before = self.session.run_id if self.session else None
        self.refresh()
        if before and before == self.current_run_id() and before in changed:
            self._load_session(before, keep=True)  # new answers, or a judge's verdicts to agree with

    def _load_session(self, run_id: str, keep: bool = False) -> None:
        self._session_ticket += 1
        ticket = self._session_ticket
        database = self.ctx.database_path()
        self._background(lambda: load_session(database, run_id),
                         lambda session: self._session_loaded(ticket, session, keep),
                         lambda exc: ticket == self._session_ticket and show_exception(self, "Cannot open the run",
                                                                                      exc))

    def _background(self, fn: Any, done: Any, failed: Any) -> None:
        worker = run_in_background(fn, done, failed, self)
        self._workers.add(worker)
        worker.finished.connect(lambda: self._workers.discard(worker))

    def _session_loaded(self, ticket: int, session: VoteSession, keep: bool) -> None:
        if ticket != self._session_ticket:
            return
        shown = self.queue[0] if keep and self.queue else None
        if not keep or self.session is None or self.session.run_id != session.run_id:
            self.undo_stack = []
        self.session = session
        self.queue = session.remaining()
        if shown is not None and shown in self.queue:  # a refresh keeps the pair the person is reading
            self.queue.remove(shown)
            self.queue.insert(0, shown)
        self._show_pair()
        self._load_ratings()
        self.session_loaded.emit(session.run_id)

    # Voting -----------------------------------------------------------------------------------

    def current_pair(self) -> VotePair | None:
        return self.queue[0] if self.queue else None

    def vote(self, outcome: str) -> bool:
        """Show the next pair at once and store the shown pair's vote, with its real models and sides, off the
        UI thread; the ratings follow once it is stored. A vote that cannot be stored brings its pair back."""
        pair = self.current_pair()
        if pair is None or self.session is None or outcome not in OUTCOMES:
            return False
        run_id, stored = self.session.run_id, StoredVote(self.session.run_id)

        def write(store: Store) -> None:
            stored.vote_id = store.add_vote(run_id, pair.case_id, pair.left, pair.right, outcome)

        self._writes.submit(with_store(self.ctx.database_path(), write), lambda _: self._ratings_timer.start(),
                            lambda exc: self._vote_not_stored(stored, pair, exc))
        self.session.voted.add(pair.key)
        self.undo_stack.append((stored, pair))
        self.queue.pop(0)
        self._show_pair()
        self.voted.emit(pair)
        return True

    def _vote_not_stored(self, stored: StoredVote, pair: VotePair, exc: BaseException) -> None:
        """A locked or moved database: say so, and ask for that pair again."""
        if (stored, pair) in self.undo_stack:
            self.undo_stack.remove((stored, pair))
            if self.session is not None:
                self.session.voted.discard(pair.key)
            if pair in self.queue:
                self.queue.remove(pair)
            self.queue.insert(0, pair)
            self._show_pair()
        show_exception(self, "Cannot save your vote", exc)

    def writes_pending(self) -> bool:
        """Votes (or their undoing) not stored yet."""
        return self._writes.busy()

    def skip(self) -> None:
        """Leave the shown pair for later: it comes back after the others."""
        if len(self.queue) > 1:
            self.queue.append(self.queue.pop(0))
            self._show_pair()

    def undo(self) -> bool:
        """Take back the last vote of this visit and show its pair again; the vote is deleted off the UI thread,
        after it was stored (the writes keep their order)."""
        if not self.undo_stack or self.session is None:
            return False
        stored, pair = self.undo_stack.pop()

        def delete(store: Store) -> None:
            if stored.vote_id is not None:  # None: it could not be stored, nothing to take back
                store.delete_vote(stored.vote_id)

        self._writes.submit(with_store(self.ctx.database_path(), delete), lambda _: self._ratings_timer.start(),
                            lambda exc: self._undo_not_stored(stored, pair, exc))
        self.session.voted.discard(pair.key)
        if pair in self.queue:
            self.queue.remove(pair)
        self.queue.insert(0, pair)
        self._show_pair()
        return True

    def _undo_not_stored(self, stored: StoredVote, pair: VotePair, exc: BaseException) -> None:
        """The vote is still stored: it counts again, and says why it could not be taken back."""
        if self.session is not None and self.session.run_id == stored.run_id:
            self.session.voted.add(pair.key)
            if pair in self.queue:
                self.queue.remove(pair)
            self.undo_stack.append((stored, pair))
            self._show_pair()
        show_exception(self, "Cannot take the vote back", exc)

    def _show_pair(self) -> None:
        session, pair = self.session, self.current_pair()
        total = len(session.pairs) if session else 0
        done = total - len(self.queue) if session else 0
        for button in self.vote_buttons.values():
            button.setEnabled(pair is not None)
        self.skip_button.setEnabled(len(self.queue) > 1)
        self.undo_button.setEnabled(bool(self.undo_stack))
        for outcome, shortcuts in self.shortcuts.items():
            for shortcut in shortcuts:
                shortcut.setEnabled(bool(self.undo_stack) if outcome == "undo" else
                                    len(self.queue) > 1 if outcome == "skip" else pair is not None)
        if session is None:
            self.progress_label.setText("")
            self._show_texts("", "", "", "", "")
            self.done_label.hide()
            return
        self.progress_label.setText(f"{done} of {total} pair{'s' if total != 1 else ''} voted")
        if pair is None:
            self._show_texts("", "", "", "", "")
            self.done_label.setText(
                f"All {total} pairs of this run have a vote. Thank you: the ratings below count every one."
                if total else "This run has no two answers to the same prompt to compare (the models failed, "
                              "or only one answered each case).")
            self.done_label.show()
            for view in self.answer_views.values():
                view.setPlaceholderText("")
            return
        self.done_label.hide()
        case = session.cases.get(pair.case_id, {})
        context = []
        if case.get("system"):
            context.append(f"System prompt: {case['system']}")
        if case.get("expected") is not None:
            context.append(f"Expected answer: {case['expected']}")
        self._show_texts(f"Case {pair.case_id} · pair {done + 1} of {total}", case.get("prompt") or "",
                         "\n".join(context), session.answers.get((pair.case_id, pair.left), ""),
                         session.answers.get((pair.case_id, pair.right), ""))
        for view in self.answer_views.values():
            view.setPlaceholderText("(the answer is empty)")

    def _show_texts(self, case: str, prompt: str, context: str, left: str, right: str) -> None:
        self.case_label.setText(case)
        self.prompt_view.setPlainText(prompt)
        self.context_label.setText(context)
        self.context_label.setVisible(bool(context))
        self.answer_views["left"].setPlainText(left)
        self.answer_views["right"].setPlainText(right)
        self._fit_prompt()

    def _fit_prompt(self) -> None:
        """The prompt box as tall as its text, one to five lines: the answers keep the room."""
        view = self.prompt_view
        margin = view.document().documentMargin()
        width = max(80, view.viewport().width() - int(2 * margin))
        needed = view.fontMetrics().boundingRect(QRect(0, 0, width, 1_000_000), Qt.TextFlag.TextWordWrap,
                                                 view.toPlainText() or " ").height()
        line = view.fontMetrics().lineSpacing()
        view.setFixedHeight(max(line, min(5 * line, needed)) + int(2 * margin) + 2 * view.frameWidth() + 2)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_prompt()

    # Ratings ----------------------------------------------------------------------------------

    def _load_ratings(self) -> None:
        if self.session is None:
            return
        self._ratings_ticket += 1
        ticket = self._ratings_ticket
        database, run_id = self.ctx.database_path(), self.session.run_id
        self._background(lambda: load_ratings(database, run_id), lambda ratings: self._ratings_loaded(ticket, ratings),
                         lambda exc: ticket == self._ratings_ticket and show_exception(
                             self, "Cannot rate the models", exc))

    def _ratings_loaded(self, ticket: int, ratings: Ratings) -> None:
        if ticket != self._ratings_ticket:
            return
        self.ratings = ratings
        table = self.ratings_table
        table.setRowCount(0)
        for rating in ratings.verdicts.ratings:
            row = table.rowCount()
            table.insertRow(row)
            low, high = (1000 + 400 * x / 2.302585092994046 for x in (rating.low, rating.high))
            cells = [rating.model, f"{rating.elo:,.0f}", f"{low:,.0f} – {high:,.0f}", str(rating.votes),
                     f"{rating.wins:g}"]
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                if column:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                table.setItem(row, column, item)
        table.setVisible(bool(ratings.verdicts.ratings))
        # As tall as its rows: a handful of models, never a scrolled box inside the scrolled panel.
        rows = sum(table.rowHeight(r) for r in range(table.rowCount()))
        table.setFixedHeight(table.horizontalHeader().height() + rows + 2 * table.frameWidth())
        if not ratings.votes:
            note = "No votes on this run yet: the ratings appear here after your first vote."
        else:
            note = (f"From {ratings.votes} vote{'s' if ratings.votes != 1 else ''}. Ties and “both bad” count half "
                    f"a win to each side.")
            if ratings.votes < 20:
                note += " With this few votes the intervals are wide."
        self.ratings_note.setText(note)
        lines = []
        for agreement in ratings.verdicts.agreements:
            lines.append(agreement_sentence(agreement.judge, agreement.agreed, agreement.pairs, agreement.kappa,
                                            ratings.judge_pairs.get(agreement.judge, 0)))
        if not lines:
            lines.append("No judge has compared answers of this run in pairs: score the run with a judge and "
                         "“compare in pairs” on the Results screen to see how far it agrees with you.")
        self.agreement_label.setText("\n".join(lines))
        self.ratings_shown.emit()

    # Screen life ------------------------------------------------------------------------------

    def shutdown(self) -> None:
        self._ratings_timer.stop()
        self._refresh_timer.stop()
        self.run_picker.shutdown()
        self._session_ticket += 1
        self._ratings_ticket += 1
        self._writes.wait(10)  # a vote being stored is not cut off
        for worker in list(self._workers):
            worker.wait(10)

