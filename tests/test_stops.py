"""Stop strings applied on our side to streamed text."""

from __future__ import annotations

from desktop_app.providers.stops import StopCutter


def stream(stops: list[str], chunks: list[str]) -> tuple[list[list[str]], bool]:
    cutter = StopCutter(stops)
    released = [cutter.feed(chunk) for chunk in chunks]
    released.append(cutter.flush())
    return released, cutter.stopped


def test_text_is_cut_at_the_earliest_stop_even_across_chunks() -> None:
    released, stopped = stream(["Friday", "day, Thu"], ["Monday, Tues", "day, We", "dnesday, T", "hursday"])
    assert stopped and "".join(sum(released, [])) == "Monday, Tuesday, Wednes"
    # "dnesday, T" might end in a stop: it waits whole; the stop then cuts it.
    assert released == [["Monday, Tues"], ["day, We"], [], ["dnes"], []]


def test_a_possible_stop_is_held_back_until_the_text_settles_it() -> None:
    released, stopped = stream(["END"], ["hello E", "N", "ough said", " E"])
    assert not stopped and released == [[], [], ["hello E", "N", "ough said"], [], [" E"]]
    # Chunks pass whole (one chunk counts as one token when a server sends no usage).
    assert "".join(sum(released, [])) == "hello ENough said E"


def test_without_stops_every_chunk_passes_at_once() -> None:
    assert stream(["", ""], ["a", "", "b"]) == ([["a"], [], ["b"], []], False)
