"""The Suites screen opens suites from other tools and says which of their parts it skipped."""

from __future__ import annotations

from desktop_app.ui.pages.suites import SuitesPage
from tests.conftest import SUITES

EXAMPLES = SUITES / "examples"


def test_a_promptfoo_config_opens_and_its_skipped_parts_are_shown(qtbot, ctx, open_page):
    page = open_page(SuitesPage, ctx)
    with qtbot.waitSignals([page.suite_opened, page.picker.scanned], timeout=30_000):
        pass
    assert not page.banner.isVisible()  # the demo suite skips nothing

    with qtbot.waitSignal(page.suite_opened, timeout=10_000):
        page.open_suite(EXAMPLES / "promptfooconfig.yaml")
    assert page.table_model.rowCount() == 10
    assert page.banner.isVisible() and page.banner.property("kind") == "warning"
    message = page.banner_message()
    assert "promptfooconfig.yaml" in message and "not supported" in message
    assert "promptfooconfig.yaml:13: assertion javascript" in message and "tests.csv:4: assertion python" in message
    assert all(draft.error is None for draft in page.drafts)  # every imported case reads as a valid case

    with qtbot.waitSignal(page.suite_opened, timeout=10_000):
        page.open_suite(SUITES / "demo.yaml")
    assert not page.banner.isVisible()
    listed = [page.suite_list.item(i).text() for i in range(page.suite_list.count())]
    assert "demo.yaml" in listed
