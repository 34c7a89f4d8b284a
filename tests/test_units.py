"""Money and sizes as people read them."""

from __future__ import annotations

import pytest

from desktop_app.units import format_usd, format_usd_per_1k, format_usd_price


@pytest.mark.parametrize(("value", "shown"), [
    (None, "-"), (0, "$0"), (3.2e-6, "$0.0000032"), (4.2e-4, "$0.00042"), (3.79e-5, "$0.000038"),
    (0.0042, "$0.0042"), (0.012, "$0.012"), (0.5, "$0.50"), (0.1, "$0.10"), (1.25, "$1.25"),
    (12.345, "$12.35"), (1234.5, "$1,234.50"), (2_000_000, "$2,000,000.00"), (-0.0042, "-$0.0042"),
    # Rounding that reaches the next place or a whole dollar is written as such.
    (9.9999e-5, "$0.0001"), (0.0099999, "$0.01"), (0.999, "$1.00"),
    (1e-9, "$0.000000001"), (1e-13, "<$0.000000001"),
])
def test_money_is_written_as_plain_decimals(value: float | None, shown: str) -> None:
    assert format_usd(value) == shown


def test_no_size_of_money_is_written_in_scientific_notation() -> None:
    for exponent in range(-8, 9):
        for mantissa in (1, 1.5, 2.1, 3.79, 9.99):
            text = format_usd(mantissa * 10.0 ** exponent)
            assert "e" not in text.lower() and text.startswith("$"), text
            assert float(text[1:].replace(",", "")) == pytest.approx(mantissa * 10.0 ** exponent, rel=0.03), text


def test_digits_and_the_per_thousand_form() -> None:
    assert format_usd(1.99999e-5, 1) == "$0.00002" and format_usd(3.79e-5, 3) == "$0.0000379"
    assert format_usd_per_1k(2.1e-6) == "$0.0021" and format_usd_per_1k(None, missing="–") == "–"


def test_prices_are_written_as_set_to_the_cent_at_least() -> None:
    assert [format_usd_price(v) for v in (2.5, 0.6, 0.075, 1.875, 0.0375, 15, 1e-7)] == [
        "$2.50", "$0.60", "$0.075", "$1.875", "$0.0375", "$15.00", "$0.0000001"]
