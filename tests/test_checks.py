"""Reference checks: tricky answers, reasons that say why, and combined grades."""

from __future__ import annotations

from pathlib import Path

import pytest

from desktop_app.scoring import Grade, grade
from desktop_app.scoring.checks import CHECKS, find_numbers, normalize_strict
from desktop_app.suites import Case, Check, load_suite
from desktop_app.suites.loader import CHECK_TYPES


def case(expected: str | float | None, *checks: Check) -> Case:
    return Case(id="c", prompt="p", expected=expected, checks=checks)


def test_every_check_type_the_loader_accepts_has_a_grader() -> None:
    assert set(CHECKS) == set(CHECK_TYPES)


def test_no_checks_means_no_grade() -> None:
    assert grade(case("Paris"), "Paris") is None


@pytest.mark.parametrize("expected, answer, passed", [
    ("Paris", "paris", True),
    ("Paris", '  "Paris."  ', True),
    ("Paris", "**Paris**!", True),
    ("Paris", "`Paris`", True),
    ("Paris", "Ｐａｒｉｓ", True),  # full-width letters, NFKC
    ("New York", "new\n  york", True),
    ("STRASSE", "straße", True),  # casefold
    ("Paris", "The capital is Paris.", False),
    ("Paris", "Paris, France", False),
    ("negative", "The review is negative.", False),
    (42, "42.", True),
    ("Paris", "", False),
])
def test_exact(expected: str | float, answer: str, passed: bool) -> None:
    result = grade(case(expected, Check("exact")), answer)
    assert result is not None and result.passed is passed and result.check == "exact"
    assert result.score == (1.0 if passed else 0.0)


def test_exact_reason_shows_both_sides() -> None:
    result = grade(case("Paris", Check("exact")), "It is Paris")
    assert result.reason == 'expected exactly "Paris", answer is "It is Paris"'


@pytest.mark.parametrize("expected, answer, passed", [
    ("Paris", "The capital of France is Paris.", True),
    ("paris", "PARIS!", True),
    ("Paris", "Parisian food", False),  # word boundary
    ("cat", "category", False),
    ("4", "The answer is 14", False),
    ("4", "about 4.5 metres", False),
    ("4", "4,000 people", False),
    ("4", "It is 4.", True),
    ("4", "0.4", False),
    ("Maria Lopez", "maria   lopez signed it", True),
    ("sales@example.com", 'The email is "Sales@example.com"', True),
    ("U.S.", "made in the u.s. today", True),
    ("2024-03-05", "It is 2024-03-05.", True),
    ("C++", "I like c++ a lot", True),
    ("Paris", "", False),
])
def test_contains(expected: str, answer: str, passed: bool) -> None:
    result = grade(case(expected, Check("contains")), answer)
    assert result.passed is passed


def test_contains_reasons() -> None:
    assert grade(case("Paris", Check("contains")), "In Paris.").reason == 'expected "Paris", found it'
    assert grade(case("Paris", Check("contains")), "Lyon").reason == 'expected "Paris", not found in "Lyon"'
    assert grade(case("Paris", Check("contains")), "  ").reason == 'expected "Paris", the answer is empty'


def test_contains_value_param_overrides_expected() -> None:
    assert grade(case("Paris", Check("contains", {"value": "France"})), "in France").passed


def test_regex_uses_pattern_or_expected_with_flags() -> None:
    assert grade(case(None, Check("regex", {"pattern": r"^\d+$"})), "text\n42\nmore").passed  # multiline
    assert not grade(case(None, Check("regex", {"pattern": "HELLO"})), "hello").passed
    assert grade(case(None, Check("regex", {"pattern": "HELLO", "flags": "i"})), "hello").passed
    assert grade(case(r"\bAu\b", Check("regex")), "Symbol: Au.").passed
    result = grade(case(None, Check("regex", {"pattern": r"\d+"})), "It is 42")
    assert result.reason == r'pattern /\d+/ matched "42"'
    assert "did not match" in grade(case(None, Check("regex", {"pattern": r"\d+"})), "none").reason


@pytest.mark.parametrize("text, numbers", [
    ("1,234 apples", [1234]),
    ("-3.5 degrees", [-3.5]),
    ("1e3 or 2.5E-2", [1000, 0.025]),
    ("costs $15.50.", [15.5]),
    ("version v1.2.3 and H2O", []),
    ("5-3 = 2", [5, 3, 2]),
    ("1,2,3", [1, 2, 3]),
    ("\u22127 below", [-7]),
    (".5 and 0.25", [0.5, 0.25]),
    ("12,345,678.9", [12345678.9]),
    ("between 9 and 5.", [9, 5]),
    ("no numbers", []),
])
def test_find_numbers(text: str, numbers: list[float]) -> None:
    assert find_numbers(text) == pytest.approx(numbers)


def test_numeric_compares_the_last_number_by_default() -> None:
    result = grade(case(42, Check("numeric")), "17 + 25 = 41")
    assert not result.passed
    assert result.reason == "expected 42, last number in the answer is 41"
    assert grade(case(42, Check("numeric")), "17 + 25 = 42.").passed
    assert grade(case("1,234", Check("numeric")), "It is 1234").passed


def test_numeric_first_and_any() -> None:
    answer = "I think 41, no wait: 42, or maybe 43"
    assert not grade(case(42, Check("numeric", {"which": "first"})), answer).passed
    assert grade(case(41, Check("numeric", {"which": "first"})), answer).passed
    assert grade(case(42, Check("numeric", {"which": "any"})), answer).passed
    missing = grade(case(7, Check("numeric", {"which": "any"})), answer)
    assert not missing.passed and "41, 42, 43" in missing.reason


def test_numeric_tolerances() -> None:
    assert grade(case(3.14, Check("numeric", {"tolerance": 0.005})), "about 3.142857").passed
    assert not grade(case(3.14, Check("numeric", {"tolerance": 0.001})), "about 3.142857").passed
    assert grade(case(1000, Check("numeric", {"relative": 0.01})), "roughly 1,009").passed
    assert not grade(case(1000, Check("numeric", {"relative": 0.01})), "roughly 1,011").passed
    assert not grade(case(0.1, Check("numeric")), "0.10001").passed  # the default tolerance is 1e-6
    assert "(within 0.005)" in grade(case(3.14, Check("numeric", {"tolerance": 0.005})), "3").reason


def test_numeric_without_a_number_in_the_answer() -> None:
    result = grade(case(366, Check("numeric")), "a leap year has many days")
    assert not result.passed and result.reason == "expected 366, the answer has no number"


def test_several_checks_combine() -> None:
    checks = (Check("contains"), Check("regex", {"pattern": r"^\w+$"}), Check("numeric", {"value": 3, "which": "any"}))
    result = grade(case("Paris", *checks), "Paris has 3 airports")
    assert not result.passed
    assert result.score == pytest.approx(2 / 3)
    assert [part.passed for part in result.parts] == [True, False, True]
    assert result.check == "contains+regex+numeric"
    assert result.reason.startswith("1 of 3 checks failed: regex: pattern")
    everything = grade(case("Paris", Check("contains"), Check("exact")), "Paris.")
    assert everything.passed and everything.score == 1.0 and everything.reason == "all 2 checks passed"


def test_grade_round_trips_through_dict() -> None:
    result = grade(case("Paris", Check("contains"), Check("exact")), "Paris, France")
    assert Grade.from_dict(result.to_dict()) == result
    assert result.to_dict()["parts"][1]["check"] == "exact"


def test_none_answer_grades_as_empty() -> None:
    assert not grade(case("Paris", Check("contains")), None).passed


def test_normalize_strict_drops_wrappers_repeatedly() -> None:
    assert normalize_strict(' "**Paris**." ') == "paris"
    assert normalize_strict("It's fine!") == "it's fine"


def test_demo_suite_grades_real_answers(tmp_path: Path) -> None:
    """Answers the demo model actually gave are graded as a reader would."""
    suite = load_suite(Path(__file__).resolve().parent.parent / "resources" / "suites" / "demo.jsonl")
    verdicts = {
        "capital-france": ("Le Grand Paris is the capital of France.", True),
        "leap-year-days": ("Alejandro's answer is 19.", False),
        "add-two": ("17 + 25 = 32.", False),
        "sentiment-negative": ("The review is negative.", False),
        "whale-class": ("A whale is a mammal.", True),
        "json-object": ('{\n  "name": "Ada"\n}', True),
        "uppercase": ('Hello in capital letters: "HELLO"', False),
        "iso-date": ("The date in the format YYYY-MM-DD is 2024-03-05.", True),
        "invoice-total": ("The total amount due is $15.50.", True),
        "comma-list": ("The first three letters are A, E, and I.", False),
    }
    for case_id, (answer, passed) in verdicts.items():
        result = grade(suite.case(case_id), answer)
        assert result.passed is passed, (case_id, result.reason)
