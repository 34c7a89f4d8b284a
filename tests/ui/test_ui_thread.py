"""The UI thread stays free: the screens read and write the store on workers, follow a live run as its answers
land, and page through every stored run. Real SQLite files, real runs of the demo model."""

from __future__ import annotations

import itertools
import re
import sqlite3
import sys
import threading
import time
import tomllib
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from benchmarks.ui_responsiveness import grow_run
from desktop_app.storage.store import Store, dumps
from desktop_app.suites import Case, Check, suite_from_cases
from desktop_app.ui.pages.compare import ComparePage
from desktop_app.ui.pages.results import ResultsPage
from desktop_app.ui.pages.suites import SuitesPage
from desktop_app.ui.pages.tradeoff import TradeoffPage
from desktop_app.ui.pages.vote import VotePage
from desktop_app.ui.widgets.run_picker import MORE, PAGE
from desktop_app.ui.workers import (
    ANNOUNCE_MS,
    UI_SWITCH_INTERVAL_S,
    GeneratorWorker,
    InOrder,
    LatestOnly,
    run_in_background,
)
from tests.ui.conftest import install_run

ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT_MS = 180_000  # generous: the shared 2-core test machine can be slowed tenfold


@pytest.fixture
def ui_thread_sql(monkeypatch):
    """Every SQL statement a connection opened from now on runs on the UI thread while `recording` is set."""
    seen: list[str] = []
    recording = threading.Event()
    connect = sqlite3.connect

    def traced(*args, **kwargs):
        conn = connect(*args, **kwargs)
        conn.set_trace_callback(lambda sql: recording.is_set() and threading.current_thread() is
                                threading.main_thread() and seen.append(sql))
        return conn

    monkeypatch.setattr(sqlite3, "connect", traced)
    return seen, recording


def card_qualities(page: ResultsPage) -> dict[str, str]:
    """What each model's card says of its quality, as on screen."""
    cards = {}
    for card in page.strip.findChildren(QLabel, "cardName"):
        frame = card.parentWidget()
        quality = frame.findChild(QLabel, "cardQuality") or frame.findChild(QLabel, "cardQualityMuted")
        cards[card.text()] = quality.text()
    return cards


def test_results_tradeoff_and_vote_never_touch_the_store_on_the_ui_thread(qtbot, ctx, open_page, demo_run_db,
                                                                         ui_thread_sql) -> None:
    """A run of 6,000 answers opened on Results (filled in steps), Tradeoff (a new volume typed in) and Vote; a
    verdict given and a run searched for: not one SQL statement on the UI thread."""
    seen, recording = ui_thread_sql
    run_id = grow_run(ctx.database_path(), install_run(demo_run_db, ctx), answers=6_000, models=2)
    recording.set()

    results = open_page(ResultsPage, ctx)
    steps: list[int] = []  # nothing has come in yet: the run list and the run are read off the UI thread
    results.grid.rowsInserted.connect(lambda _parent, first, last: steps.append(last - first + 1))
    qtbot.waitUntil(lambda: results.run_data is not None and results.run_data.run_id == run_id, timeout=30_000)
    qtbot.waitUntil(lambda: results.proxy.rowCount() == 3_000, timeout=10_000)
    assert steps == [1_000], "3,000 cases come into the grid in steps (2,000 at once, then the rest)"
    assert results.count_label.text() == "3000 cases"

    tradeoff = open_page(TradeoffPage, ctx)
    panel = tradeoff.projection
    with qtbot.waitSignal(tradeoff.updated, timeout=30_000):
        tradeoff.on_shown()
    qtbot.waitUntil(lambda: panel.projection is not None and panel.run_id == run_id, timeout=30_000)
    for typed in ("2", "25", "250", "2500"):  # as a person types, each keystroke a new volume
        panel.requests.setValue(int(typed))
    qtbot.waitUntil(lambda: panel.projection.volume.requests_per_day == 2500, timeout=30_000)
    qtbot.waitUntil(lambda: tradeoff.recommendation is not None
                    and tradeoff.recommendation.requests_per_day == 2500, timeout=30_000)

    row = results.grid.result_at(0, 1)
    with qtbot.waitSignal(results.summary_changed, timeout=30_000):
        results.detail.label_requested.emit(row, -1)  # as the detail's Bad button does
    with qtbot.waitSignal(results.run_picker.listed, timeout=10_000):
        results.run_picker.search.setText(run_id[:4])
    with qtbot.waitSignal(results.score_dialog_opened, timeout=30_000):
        results.score_button.click()  # Score… first reads how the run is scored: the whole suite, parsed
    assert results.score_dialog.run_id == run_id
    results.score_dialog.close()

    vote = open_page(VotePage, ctx)
    with qtbot.waitSignal(vote.session_loaded, timeout=30_000):
        vote.on_shown()
    pair = vote.current_pair()
    assert vote.vote("left") and vote.current_pair() != pair, "the next pair at once, stored meanwhile"
    qtbot.waitUntil(lambda: not vote.writes_pending(), timeout=10_000)
    recording.clear()
    assert [(v["case_id"], v["outcome"]) for v in ctx.store.votes(run_id)] == [(pair.case_id, "left")]
    recording.set()
    assert vote.undo() and vote.current_pair() == pair
    qtbot.waitUntil(lambda: not vote.writes_pending(), timeout=10_000)
    recording.clear()
    assert ctx.store.votes(run_id) == [], "taken back"
    assert seen == [], f"SQL on the UI thread: {seen[:5]}"


def test_a_verdict_in_results_updates_its_summary_at_once_and_tradeoff_follows(qtbot, ctx, open_page,
                                                                              demo_run_db) -> None:
    run_id = install_run(demo_run_db, ctx)
    results = open_page(ResultsPage, ctx)
    qtbot.waitUntil(lambda: results.run_data is not None and results.run_data.run_id == run_id, timeout=30_000)
    tradeoff = open_page(TradeoffPage, ctx)
    with qtbot.waitSignal(tradeoff.updated, timeout=30_000):
        tradeoff.on_shown()
    data = results.run_data
    model = data.model_keys[0]
    failed = [rows[0] for rows in data.rows if rows[0] and not rows[0]["grade_passed"] and not rows[0]["error"]]
    assert failed, "the demo run has an answer its checks failed"
    before = {m.model: m.quality for m in data.summary.models}
    shown_before = card_qualities(results)

    with qtbot.waitSignal(results.summary_changed, timeout=30_000):
        results.detail.label_requested.emit(failed[0], 1)  # "Good": a person's verdict outranks the checks
    after = {m.model: m.quality for m in results.run_data.summary.models}
    assert after[model] > before[model] and after[data.model_keys[1]] == before[data.model_keys[1]]
    assert card_qualities(results) != shown_before
    assert Store(ctx.database_path()).db["results"].get(failed[0]["id"])["human_label"] == 1
    # Tradeoff hears of the new verdict and weighs the model again.
    qtbot.waitUntil(lambda: {m.model: m.quality for m in tradeoff.summary.models} == after, timeout=30_000)


def test_a_live_suite_run_tells_the_screens_as_its_answers_land(qtbot, ctx, open_page, small_suite,
                                                               demo_model) -> None:
    ctx.settings.max_tokens = 16
    page = open_page(SuitesPage, ctx)
    with qtbot.waitSignal(page.suite_opened, timeout=30_000):
        page.open_suite(small_suite)
    qtbot.waitUntil(lambda: bool(page.picker.entries), timeout=30_000)
    page.picker.set_selected([demo_model])
    told: list[tuple[float, str, bool, int]] = []  # (when, run id, while running, answers stored then)

    def heard(run_id: str) -> None:
        store = Store(ctx.database_path())
        try:
            told.append((time.perf_counter(), run_id, page.is_running(), len(store.results(run_id))))
        finally:
            store.close()

    ctx.runs_changed.connect(heard)
    with qtbot.waitSignal(page.run_finished, timeout=RUN_TIMEOUT_MS) as finished:
        page.run()
    run_id, status = finished.args
    assert status == "complete", (page.run_reason, page.banner_message())
    live = [entry for entry in told if entry[2]]
    assert live, "the run screen said nothing until the run ended"
    assert all(r == run_id and answers >= 1 for _, r, _, answers in live), "each time, an answer had landed"
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(live)]
    assert all(gap >= ANNOUNCE_MS / 1000 * 0.9 for gap in gaps), f"throttled to one per {ANNOUNCE_MS} ms: {gaps}"
    assert told[-1][1] == run_id and not told[-1][2] and told[-1][3] == 3, "and a final word at the end"


def test_a_live_comparison_tells_the_screens_as_its_answers_land(qtbot, ctx, open_page, demo_model,
                                                                 ui_thread_sql) -> None:
    """... and a verdict on its answer (Good, Bad) is stored off the UI thread, then the screens hear of it."""
    seen, recording = ui_thread_sql
    ctx.settings.max_tokens = 8
    page = open_page(ComparePage, ctx)
    qtbot.waitUntil(lambda: bool(page.picker.entries), timeout=30_000)
    page.picker.set_selected([demo_model])
    page.prompt_edit.setPlainText("Name a colour.")
    told: list[bool] = []
    ctx.runs_changed.connect(lambda _run_id: told.append(page.is_running()))
    with qtbot.waitSignal(page.run_finished, timeout=RUN_TIMEOUT_MS) as finished:
        page.run_button.click()
    assert finished.args[1] == "complete"
    assert told[0] is True, "told when the answer landed, before the run was over"
    assert told[-1] is False

    column, heard = page.columns[0], len(told)
    recording.set()
    column.good.click()
    qtbot.waitUntil(lambda: not page.verdicts_pending() and len(told) > heard, timeout=10_000)
    recording.clear()
    assert seen == [], f"SQL on the UI thread: {seen[:5]}"
    assert ctx.store.db["results"].get(column.row["id"])["human_label"] == 1


def many_runs(store: Store, count: int) -> list[str]:
    """`count` small runs, oldest first; every seventh's suite is called needle-N."""
    suite = suite_from_cases("hay", [Case(id="c1", prompt="Say 1.", expected="1", checks=(Check("contains"),))])
    ids = []
    for n in range(count):
        run_id = store.new_run_id()
        name = f"needle-{n}" if n % 7 == 0 else f"hay-{n}"
        store.create_run({"id": run_id, "kind": "suite", "suite_name": name, "suite_version": "1",
                          "suite_hash": suite.content_hash, "suite_json": dumps(suite.to_dict()),
                          "sampling_json": "{}", "created_at": f"2025-01-01T00:{n // 60:02d}:{n % 60:02d}+00:00",
                          "status": "complete"},
                         [{"model_key": "model-a", "provider": "llama.cpp", "spec_json": "{}",
                           "metadata_json": "{}", "identity_json": "{}"}])
        ids.append(run_id)
    return ids


def test_run_pickers_page_through_every_run_and_search_them(qtbot, ctx, open_page) -> None:
    ids = many_runs(ctx.store, 2 * PAGE + 20)
    page = open_page(ResultsPage, ctx)
    picker, combo = page.run_picker, page.run_combo
    qtbot.waitUntil(lambda: picker.loaded, timeout=10_000)
    assert combo.count() == PAGE + 1 and combo.itemData(PAGE) == MORE
    assert combo.itemText(PAGE).startswith("Load 50 more runs")
    assert picker.search.placeholderText() == f"{PAGE} of {len(ids)} — type to search"
    assert page.current_run_id() == ids[-1], "the newest first"

    # Its last entry reads the next page; the run on screen stays chosen.
    with qtbot.waitSignal(picker.listed, timeout=10_000):
        combo.activated.emit(PAGE)
    assert combo.count() == 2 * PAGE + 1 and page.current_run_id() == ids[-1]
    # Scrolling to the end of the open list reads the rest.
    combo.showPopup()
    bar = combo.view().verticalScrollBar()
    with qtbot.waitSignal(picker.listed, timeout=10_000):
        bar.setValue(bar.maximum())
    combo.hidePopup()
    assert combo.count() == len(ids) and combo.findData(MORE) == -1
    assert picker.search.placeholderText() == f"Search {len(ids)} runs"

    # A search lists what matches (the run on screen stays listed and chosen).
    shown = ids[-2]
    with qtbot.waitSignal(page.loaded, timeout=10_000):
        combo.setCurrentIndex(combo.findData(shown))
        combo.activated.emit(combo.currentIndex())
    with qtbot.waitSignal(picker.listed, timeout=10_000):
        qtbot.keyClicks(picker.search, "needle")
    listed = [combo.itemData(i) for i in range(combo.count())]
    needles = {run_id for n, run_id in enumerate(ids) if n % 7 == 0}
    assert shown not in needles and ids[-3] not in listed
    assert sorted(listed) == sorted(needles | {shown}) and page.current_run_id() == shown == page.run_data.run_id
    picker.search.clear()

    # A run far down the list opens by a prefix of its id, as Tradeoff's clicks and the CLI name runs.
    with qtbot.waitSignal(page.loaded, timeout=10_000):
        page.show_run(ids[0][:6])
    assert page.current_run_id() == ids[0] and page.run_data.run_id == ids[0]


def test_background_jobs_drop_what_is_stale_and_keep_writes_in_order(qtbot) -> None:
    """LatestOnly hands over only the newest request's answer (or a fresher one of the same key); InOrder
    runs writes one after another; errors reach the UI thread."""
    latest = LatestOnly()
    got: list[str] = []
    release = threading.Event()
    latest.request(lambda: release.wait(5) and "first", got.append)
    latest.request(lambda: "second", got.append)  # waits; replaced by the third before it starts
    latest.request(lambda: "third", got.append)
    release.set()
    qtbot.waitUntil(lambda: not latest.busy(), timeout=5_000)
    assert got == ["third"]

    got.clear()
    release.clear()
    latest.request(lambda: release.wait(5) and "older figures", got.append, key="run-1")
    latest.request(lambda: "newer figures", got.append, key="run-1")
    release.set()
    qtbot.waitUntil(lambda: not latest.busy(), timeout=5_000)
    assert got == ["older figures", "newer figures"], "fresher figures of the same run are shown meanwhile"

    errors: list[tuple[BaseException, bool]] = []
    latest.request(lambda: 1 / 0, got.append, lambda exc: errors.append((exc, threading.current_thread() is
                                                                        threading.main_thread())))
    qtbot.waitUntil(lambda: bool(errors), timeout=5_000)
    assert isinstance(errors[0][0], ZeroDivisionError) and errors[0][1]

    order = InOrder()
    written: list[int] = []
    for n in range(5):
        order.submit(lambda n=n: time.sleep(0.02 * (5 - n)) or written.append(n))
    qtbot.waitUntil(lambda: len(written) == 5 and not order.busy(), timeout=5_000)
    assert written == [0, 1, 2, 3, 4]

    # Closing the window waits for every write given, not only the one under way: none is dropped, though the
    # event loop that would start the next one no longer turns.
    closing = InOrder()
    stored: list[int] = []
    for n in range(4):
        closing.submit(lambda n=n: time.sleep(0.02) or stored.append(n))
    assert closing.wait(5) and stored == [0, 1, 2, 3]
    qtbot.waitUntil(lambda: not closing.busy(), timeout=5_000)  # its workers' last words, before it goes


def test_a_job_goes_to_a_thread_that_waits_and_the_ui_thread_gets_the_lock_back_soon(qtbot) -> None:
    """Starting a thread waits until it runs: with a busy worker holding Python's lock that cost the window 15-30 ms
    a job. Jobs go to threads already waiting, and one is kept spare, so a job never waits behind a long one.
    While workers run, the UI thread gets the lock back within a millisecond of asking, not Python's 5 ms (each
    Qt call lets it go; a busy worker kept it a whole interval each time)."""
    ran_on: list[threading.Thread] = []
    done: list[int] = []

    def job() -> int:
        ran_on.append(threading.current_thread())
        return len(ran_on)

    run_in_background(job, done.append)
    qtbot.waitUntil(lambda: len(done) == 1, timeout=5_000)
    assert sys.getswitchinterval() <= UI_SWITCH_INTERVAL_S <= 0.001
    for n in range(2, 5):
        waiting = set(threading.enumerate())
        run_in_background(job, done.append)
        qtbot.waitUntil(lambda n=n: len(done) == n, timeout=5_000)
        assert ran_on[-1] in waiting, "taken by a thread that was there before the job"

    # A long job keeps its thread; the next one gets another at once.
    release = threading.Event()
    long_job = GeneratorWorker(lambda: iter([release.wait(10)])).start()
    quick: list[int] = []
    run_in_background(lambda: 1, quick.append)
    qtbot.waitUntil(lambda: quick == [1], timeout=5_000)
    assert long_job.is_running() and not long_job.wait(0)
    release.set()
    assert long_job.wait(5) and not long_job.is_running()


def test_superqt_is_declared_only_if_the_app_uses_it() -> None:
    """The UI's workers are its own (see desktop_app/ui/workers.py for why): no unused dependency is installed."""
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    names = {re.split(r"[<>=!~;\[ ]", spec, maxsplit=1)[0].lower() for spec in declared}
    source = "\n".join(path.read_text(encoding="utf-8") for path in (ROOT / "desktop_app").rglob("*.py"))
    used = re.search(r"^\s*(?:import|from)\s+superqt\b", source, re.MULTILINE) is not None
    assert ("superqt" in names) == used


def test_the_run_picker_keeps_the_list_steady(qtbot, ctx, open_page) -> None:
    """A list read again unchanged is not redrawn (no flicker); the run shown stays chosen."""
    ids = many_runs(ctx.store, 3)
    page = open_page(ResultsPage, ctx)
    qtbot.waitUntil(lambda: page.run_picker.loaded, timeout=10_000)
    redrawn: list[int] = []
    page.run_combo.model().modelReset.connect(lambda: redrawn.append(1))
    page.run_combo.model().rowsRemoved.connect(lambda *_: redrawn.append(1))
    with qtbot.waitSignal(page.run_picker.listed, timeout=10_000):
        page.refresh_runs()
    assert redrawn == [] and page.current_run_id() == ids[-1]
    assert page.run_combo.itemData(0, Qt.ItemDataRole.ToolTipRole)
    # A run's words change (as a live run's do): that entry is rewritten in place, the list stays.
    ctx.store.set_run_status(ids[0], "interrupted", "cancelled")
    with qtbot.waitSignal(page.run_picker.listed, timeout=10_000):
        page.refresh_runs()
    assert redrawn == [] and "interrupted" in page.run_combo.itemText(page.run_combo.findData(ids[0]))
    assert page.current_run_id() == ids[-1]


def test_workers_opening_a_new_store_at_once_all_get_it(tmp_path: Path) -> None:
    """On a first start every screen's worker opens its own connection to a database not made yet: each
    migration runs once, and none of them fails "database is locked"."""
    failures: list[str] = []
    for trial in range(10):
        path = tmp_path / f"new-{trial}.db"

        def open_it(path: Path = path) -> None:
            try:
                Store(path).close()
            except Exception as exc:  # noqa: BLE001 - collected and shown by the assertion
                failures.append(str(exc))

        threads = [threading.Thread(target=open_it) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        store = Store(path)
        names = [row["name"] for row in store.db.query("select name from _migrations")]
        store.close()
        assert len(names) == len(set(names)), names
    assert failures == []


def test_finished_workers_are_freed_on_the_ui_thread(qtbot) -> None:
    """A QObject must be destroyed on its own thread: a worker whose last reference its work thread dropped
    (while the UI thread was still emitting its `finished`) crashed the app with a segmentation fault."""
    import gc
    import threading

    from PySide6.QtCore import Qt

    from desktop_app.ui.workers import GeneratorWorker, run_in_background

    freed_on: list[str] = []
    finished: list[int] = []
    stop = threading.Event()

    def busy() -> None:  # another Python thread wanting the lock: work threads get paused at any line
        while not stop.is_set():
            sum(range(200))

    hog = threading.Thread(target=busy, daemon=True)
    hog.start()
    try:
        for n in range(300):  # parentless and quick: the work thread ends within microseconds of its `done`
            worker = run_in_background(lambda n=n: n, finished.append)
            worker.destroyed.connect(lambda *_: freed_on.append(threading.current_thread().name),
                                     Qt.ConnectionType.DirectConnection)
            del worker
            if n % 10 == 0:
                qtbot.wait(1)
        qtbot.waitUntil(lambda: len(finished) == 300 and not GeneratorWorker._active, timeout=30_000)
    finally:
        stop.set()
        hog.join()
    gc.collect()
    qtbot.wait(50)
    assert sorted(finished) == list(range(300))
    assert len(freed_on) == 300 and set(freed_on) == {threading.main_thread().name}, set(freed_on)


def test_a_job_ending_after_qt_is_gone_ends_quietly(qtbot, monkeypatch: pytest.MonkeyPatch) -> None:
    """At exit PySide deletes Qt's objects while a work thread may still be ending a job: the self-test
    printed `RuntimeError: Signal source has been deleted` from a work thread into the terminal. The job
    ends without a word, and its generator is closed (its `finally` runs), not left suspended."""
    import shiboken6

    from desktop_app.ui import workers

    monkeypatch.setattr(workers, "_the_reaper", [])  # this test's own reaper, deleted below
    go, closed, crashes = threading.Event(), threading.Event(), []
    monkeypatch.setattr(threading, "excepthook", crashes.append)

    def job():
        try:
            yield 1
            go.wait(10)
            yield 2
            yield 3
        finally:
            closed.set()

    seen: list[int] = []
    worker = GeneratorWorker(job)
    worker.yielded.connect(seen.append)
    worker.start()
    qtbot.waitUntil(lambda: seen == [1])
    shiboken6.delete(worker._bridge)  # what PySide's exit handler does to every Qt object
    shiboken6.delete(workers._the_reaper[0])
    go.set()
    assert worker.wait(10) and closed.wait(10), "the job ends and its generator is closed"
    qtbot.wait(20)
    assert crashes == [] and seen == [1]
    # No UI was left to let go of it (as at exit): this test does, so later tests count only their own jobs.
    for token in [t for t, w in GeneratorWorker._active.items() if w is worker]:
        GeneratorWorker._active.pop(token)
