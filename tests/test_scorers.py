"""The scorer registry: each check type passing and failing, weights, thresholds, missing inputs,
validation messages, and the similarity measures against their reference implementations."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from desktop_app.scoring import Grade, grade
from desktop_app.scoring.registry import (
    SCORERS,
    ScoreContext,
    grade_answer,
    needs_of,
    score_check,
    scorer,
    validate_check,
)
from desktop_app.scoring.similarity import chrf, rouge_l, squad_normalize, token_f1
from desktop_app.suites import Case, Check


@dataclass(frozen=True)
class Judged:
    """The attributes of scoring.judge.Judgment that the judge check reads."""

    score: float | None
    reason: str = ""
    error: str | None = None


def case(*checks: Check, expected: str | float | None = None, threshold: float | None = None,
         prompt: str = "Answer the question.") -> Case:
    return Case(id="c", prompt=prompt, expected=expected, checks=checks, threshold=threshold)


def ctx(answer: str, *, expected: str | float | None = None, reference: str | None = None,
        judgment: Judged | None = None, prompt: str = "Answer the question.") -> ScoreContext:
    if reference is None and expected is not None:
        reference = str(expected)
    return ScoreContext(answer=answer, prompt=prompt, expected=expected, reference=reference, judgment=judgment)


def one(check: Check | dict | str, answer: str, **context) -> Grade:
    return score_check(validate_check(check), ctx(answer, **context))


# --- the registry ----------------------------------------------------------------------------------

def test_every_check_type_of_the_design_is_registered_with_what_it_needs() -> None:
    needs = {kind: set(spec.needs) for kind, spec in SCORERS.items()}
    assert needs == {
        "exact": {"expected"}, "contains": {"expected"}, "regex": {"expected"}, "numeric": {"expected"},
        "any": set(), "all": set(), "not": set(), "length": set(), "is_json": set(), "json_schema": set(),
        "f1": {"reference"}, "rouge_l": {"reference"}, "chrf": {"reference"}, "judge": {"judge"},
    }
    assert scorer("rouge_l").type == "rouge_l"
    with pytest.raises(KeyError, match='did you mean "rouge_l"'):
        scorer("rougel")


def test_needs_follow_given_values_and_sub_checks() -> None:
    assert needs_of(Check("contains")) == {"expected"}
    assert needs_of(Check("contains", {"value": "Paris"})) == set()
    combined = validate_check({"type": "any", "checks": [{"type": "not", "check": "judge"}, "f1",
                                                         {"type": "regex", "pattern": "x"}]})
    assert needs_of(combined) == {"judge", "reference"}


# --- validation ------------------------------------------------------------------------------------

def test_validation_normalises_sub_checks_and_keeps_what_was_written() -> None:
    check = validate_check({"type": "all", "weight": 2, "checks": ["contains", {"type": "regex", "pattern": 42}]})
    assert check == Check("all", {"weight": 2, "checks": [{"type": "contains"}, {"type": "regex", "pattern": "42"}]})
    assert validate_check(Check("exact")) == Check("exact")  # no defaults are written in
    assert validate_check("f1") == Check("f1")


@pytest.mark.parametrize("check, message", [
    ("exakt", 'unknown check type "exakt"; did you mean "exact"?'),
    ({"pattern": "x"}, 'has no "type"; use one of exact, contains'),
    (3, "must be a check name or an object"),
    ({"type": "regex", "patern": "x"}, 'unknown parameter "patern"; did you mean "pattern"?'),
    ({"type": "contains", "weight": 0}, '"weight" must be a number above 0'),
    ({"type": "contains", "weight": True}, '"weight" must be a number above 0'),
    ({"type": "contains", "ignore_case": "yes"}, '"ignore_case" must be true or false'),
    ({"type": "regex", "pattern": "(unclosed"}, "invalid pattern '(unclosed': missing ), unterminated subpattern"),
    ({"type": "numeric", "value": "many"}, 'needs a number but "value" is "many"'),
    ({"type": "numeric", "tolerance": -1}, '"tolerance" must be a number of at least 0'),
    ({"type": "numeric", "which": "middle"}, '"which" must be one of last, first, any'),
    ({"type": "any", "checks": []}, 'needs "checks": a non-empty list of checks'),
    ({"type": "all", "checks": "contains"}, 'needs "checks": a non-empty list'),
    ({"type": "any", "checks": ["contains", {"type": "regex", "pattern": "[a-"}]},
     'check 2 of "checks" (regex): invalid pattern'),
    ({"type": "not", "check": {"type": "any", "checks": [{"type": "lenght"}]}},
     '"check" (any): check 1 of "checks": unknown check type "lenght"; did you mean "length"?'),
    ({"type": "not"}, 'needs "check": the check that must fail'),
    ({"type": "length"}, "give at least one limit: min_chars, max_chars, min_words, max_words, max_lines"),
    ({"type": "length", "max_words": 2.5}, '"max_words" must be a whole number of at least 0'),
    ({"type": "length", "min_chars": 50, "max_chars": 10}, '"min_chars" (50) is more than "max_chars" (10)'),
    ({"type": "is_json", "contains": 1}, '"contains" must be true or false'),
    ({"type": "json_schema"}, 'needs "schema": a JSON Schema object'),
    ({"type": "json_schema", "schema": {"type": "strng"}}, '"schema" is not a valid JSON Schema at "type": '),
    ({"type": "json_schema", "schema": {"properties": {"n": {"minimum": "zero"}}}},
     '"schema" is not a valid JSON Schema at "properties/n/minimum": '),
    ({"type": "json_schema", "schema": {"$ref": "https://example.com/person.json"}},
     '"$ref" "https://example.com/person.json" points outside the schema'),
    ({"type": "json_schema", "schema": {"properties": {"a": {"$ref": "#/$defs/missing"}}}},
     '"$ref" "#/$defs/missing" points to nothing in the schema'),
    ({"type": "f1", "threshold": 1.5}, '"threshold" must be a number from 0 to 1'),
    ({"type": "chrf", "threshold": "high"}, '"threshold" must be a number from 0 to 1'),
    ({"type": "judge", "rubric": "  "}, '"rubric" must be non-empty text'),
])
def test_invalid_checks_say_what_is_wrong(check, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        validate_check(check)
    assert message in str(raised.value)


@pytest.mark.parametrize("check, expected, message", [
    ("contains", None, 'needs a reference answer but the case has no "expected"; add "expected" or give the check a "value"'),
    ("regex", None, 'give the check a "pattern"'),
    ("numeric", "Paris", 'needs a number but the reference is "Paris"'),
    ("regex", "[a-", "invalid pattern '[a-'"),
    ({"type": "not", "check": "exact"}, None, '"check" (exact): needs a reference answer'),
])
def test_a_check_that_takes_the_cases_expected_answer_needs_one(check, expected, message: str) -> None:
    validate_check(check)  # without the case's expected answer, nothing to check it against
    with pytest.raises(ValueError) as raised:
        validate_check(check, expected)
    assert message in str(raised.value)
    validate_check({"type": "contains", "value": "Paris"}, None)  # a check with its own value needs none


# --- scoring each check type -----------------------------------------------------------------------

def test_contains_can_respect_case() -> None:
    assert one("contains", "PARIS", expected="Paris").passed  # today's default: case does not matter
    strict = {"type": "contains", "value": "Paris", "ignore_case": False}
    assert one(strict, "I love Paris.").passed
    assert not one(strict, "I love PARIS.").passed


def test_any_passes_when_one_passes() -> None:
    check = {"type": "any", "checks": [{"type": "contains", "value": "Paris"}, {"type": "contains", "value": "Lyon"}]}
    passed = one(check, "Lyon, surely")
    assert passed.passed and passed.score == 1.0 and passed.reason == 'contains passed: expected "Lyon", found it'
    assert [part.passed for part in passed.parts] == [False, True]
    failed = one(check, "Marseille")
    assert not failed.passed and failed.score == 0.0 and failed.reason.startswith("none of 2 passed: contains:")


def test_all_passes_when_every_one_passes_and_scores_their_weighted_mean() -> None:
    check = {"type": "all", "checks": [{"type": "contains", "value": "Paris", "weight": 3},
                                      {"type": "length", "max_words": 2}]}
    assert one(check, "Paris.").passed
    failed = one(check, "It is Paris, of course.")
    assert not failed.passed and failed.score == pytest.approx(3 / 4)
    assert failed.reason.startswith("1 of 2 failed: length: the answer has 5 words, more than the 2 allowed")


def test_not_passes_when_its_check_fails() -> None:
    check = {"type": "not", "check": {"type": "contains", "value": "as an AI"}}
    passed = one(check, "Paris.")
    assert passed.passed and passed.score == 1.0 and passed.reason.startswith("contains failed, as required")
    failed = one(check, "As an AI, I cannot know.")
    assert not failed.passed and failed.score == 0.0 and "should fail but passed" in failed.reason
    # A graded check's score is turned over: F1 0.25 (1 shared token of 3 and 5) becomes 0.75.
    graded = one({"type": "not", "check": "f1"}, "Paris is big", reference="Lyon is a small town")
    assert graded.passed and graded.score == pytest.approx(1 - 2 * (1 / 3) * (1 / 4) / (1 / 3 + 1 / 4))


def test_length_limits() -> None:
    check = {"type": "length", "min_words": 2, "max_chars": 20, "max_lines": 1}
    passed = one(check, "  Paris, France.  ")
    assert passed.passed and passed.reason == "the answer has 14 characters, 2 words and 1 line, within the limits"
    assert not one(check, "Paris").passed
    failed = one(check, "Paris\nFrance\nEurope and the world")
    assert not failed.passed
    assert failed.reason == ("the answer has 33 characters, more than the 20 allowed; "
                             "3 lines, more than the 1 allowed")
    assert one({"type": "length", "max_chars": 0}, "   ").reason == "the answer has 0 characters, within the limits"


def test_is_json() -> None:
    assert one("is_json", ' {"name": "Ada", "tags": [1, 2]}\n').passed
    assert one("is_json", "42").passed  # any JSON value, as promptfoo's is-json
    broken = one("is_json", '{"name": "Ada",}')
    assert not broken.passed and broken.reason.startswith("the answer is not valid JSON (")
    assert "line 1, column 16" in broken.reason
    assert not one("is_json", '{"x": NaN}').passed  # not JSON, though Python's json reads it
    fenced = one("is_json", '```json\n{"name": "Ada"}\n```')
    assert not fenced.passed and '"contains": true accepts JSON within text' in fenced.reason
    assert one("is_json", "").reason == "the answer is empty"


def test_is_json_within_text() -> None:
    check = {"type": "is_json", "contains": True}
    assert one(check, 'Here it is: ```json\n{"name": "Ada"}\n``` Anything else?').passed
    assert one(check, "The list [1, 2, 3] is sorted.").passed
    failed = one(check, "The set {a, b} has two members.")
    assert not failed.passed and failed.reason == "no JSON object or array found in the answer"


SCHEMA = {"type": "object", "required": ["name", "age"],
          "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}}}


def test_json_schema() -> None:
    check = {"type": "json_schema", "schema": SCHEMA}
    assert one(check, '{"name": "Ada", "age": 36}').passed
    wrong = one(check, '{"name": "Ada", "age": -1}')
    assert not wrong.passed and wrong.reason == "the JSON does not match the schema at $.age: -1 is less than the minimum of 0"
    missing = one(check, '{"name": "Ada"}')
    assert not missing.passed and missing.reason == "the JSON does not match the schema: 'age' is a required property"
    assert one(check, "Ada, 36").reason.startswith("the answer is not valid JSON")
    defined = {"$defs": {"person": SCHEMA}, "type": "array", "items": {"$ref": "#/$defs/person"}}
    assert one({"type": "json_schema", "schema": defined}, '[{"name": "Ada", "age": 36}]').passed
    assert not one({"type": "json_schema", "schema": defined}, '[{"name": "Ada"}]').passed
    within = {**check, "contains": True}
    assert one(within, 'Sure! {"name": "Ada"} or rather {"name": "Ada", "age": 36}').passed
    assert not one(within, 'Sure! {"name": "Ada"}').passed


@pytest.mark.parametrize("kind, answer, passed, score", [
    # token F1: "paris france" against "paris": P = 1/2, R = 1/1, F1 = 2 * 1/2 / (3/2) = 2/3
    ("f1", "Paris, France", True, 2 / 3),
    ("f1", "Lyon", False, 0.0),
    # ROUGE-L: LCS "paris" of 2 and 1 words: P = 1/2, R = 1, F = 2/3 (threshold 0.4)
    ("rouge_l", "Paris France", True, 2 / 3),
    ("rouge_l", "Lyon", False, 0.0),
    ("chrf", "Paris", True, 1.0),
    ("chrf", "Lyon", False, 0.0),
])
def test_similarity_checks_against_the_reference(kind: str, answer: str, passed: bool, score: float) -> None:
    result = one(kind, answer, reference="Paris")
    assert result.passed is passed and result.score == pytest.approx(score) and result.check == kind


def test_similarity_thresholds() -> None:
    # chrF of "ab" against "abc" is 7/11 = 0.636 (worked out in test_chrf_on_a_tiny_example).
    assert one({"type": "chrf", "threshold": 0.6}, "ab", reference="abc").passed
    below = one({"type": "chrf", "threshold": 0.7}, "ab", reference="abc")
    assert not below.passed and below.score == pytest.approx(7 / 11)
    assert below.reason == "chrF 0.64 with the reference, below the threshold 0.7"


def test_judge_reads_the_judgment() -> None:
    passed = one("judge", "Paris.", judgment=Judged(score=8 / 9, reason="Correct and concise. [[9]]"))
    assert passed.passed and passed.score == pytest.approx(8 / 9) and passed.reason == "Correct and concise. [[9]]"
    failed = one({"type": "judge", "threshold": 0.9}, "Paris.", judgment=Judged(score=8 / 9, reason="Good. [[9]]"))
    assert not failed.passed and failed.score == pytest.approx(8 / 9)


@pytest.mark.parametrize("context, error", [
    ({}, "no judgment of this answer"),
    ({"judgment": Judged(score=None, reason="I think it is fine", error="no [[rating]] in the verdict")},
     "the judge's verdict is unusable: no [[rating]] in the verdict"),
    ({"judgment": Judged(score=None)}, "the judge gave no score"),
])
def test_a_judge_check_without_a_usable_judgment_is_not_scored(context: dict, error: str) -> None:
    result = one("judge", "Paris.", **context)
    assert result.error is not None and result.error.startswith(error) and result.check == "judge"


def test_a_similarity_check_without_a_reference_is_not_scored() -> None:
    result = one("rouge_l", "Paris.")
    assert result.error.startswith("no reference answer") and result.reason.startswith("not scored: no reference")


def test_negating_a_part_that_cannot_be_scored_is_not_a_pass() -> None:
    result = one({"type": "not", "check": "judge"}, "Paris.")
    assert result.error == "no judgment of this answer (no judge has graded it)" and not result.passed
    assert result.parts[0].check == "judge"
    assert one({"type": "not", "check": "f1"}, "Paris.").error.startswith("no reference answer")


def test_any_and_all_with_a_part_that_cannot_be_scored() -> None:
    either = {"type": "any", "checks": [{"type": "contains", "value": "Paris"}, "judge"]}
    assert one(either, "Paris.").passed  # one passing part is enough
    assert one(either, "Lyon.").error.startswith("judge: no judgment")  # the judge might have passed it
    both = {"type": "all", "checks": [{"type": "contains", "value": "Paris"}, "judge"]}
    failed = one(both, "Lyon.")  # one failing part is enough
    assert not failed.passed and failed.error is None and "not scored: judge: no judgment" in failed.reason
    assert one(both, "Paris.").error.startswith("judge: no judgment")  # the judge might have failed it


# --- a case's grade --------------------------------------------------------------------------------

def test_weights_make_the_case_score_a_weighted_mean() -> None:
    checks = (Check("contains", {"value": "Paris", "weight": 3}), Check("length", {"max_words": 1}))
    result = grade(case(*checks), "Paris, France")
    assert not result.passed and result.score == pytest.approx(3 / 4)
    assert result.reason == "1 of 2 checks failed: length: the answer has 2 words, more than the 1 allowed"
    assert result.check == "contains+length"


def test_a_threshold_passes_on_the_weighted_score() -> None:
    checks = (Check("contains", {"value": "Paris", "weight": 3}), Check("length", {"max_words": 1}))
    passed = grade(case(*checks, threshold=0.75), "Paris, France")
    assert passed.passed and passed.score == pytest.approx(0.75)
    assert passed.reason.startswith("score 0.75 reaches the threshold 0.75 (1 of 2 checks failed: length:")
    failed = grade(case(*checks, threshold=0.8), "Paris, France")
    assert not failed.passed and failed.reason.startswith("score 0.75 is below the threshold 0.8 (")
    lone = grade(case(Check("f1"), expected="Paris", threshold=0.6), "Paris, France")  # F1 2/3
    assert lone.passed and lone.score == pytest.approx(2 / 3) and lone.parts[0].passed


def test_a_part_that_cannot_be_scored_is_left_out_of_the_score_and_named() -> None:
    checks = (Check("contains", {"value": "Paris"}), Check("judge"), Check("length", {"max_words": 1}))
    result = grade_answer(case(*checks), ctx("Paris, France"))
    assert result.score == pytest.approx(1 / 2) and not result.passed
    assert [part.error is not None for part in result.parts] == [False, True, False]
    assert result.reason.endswith("; not scored: judge: no judgment of this answer (no judge has graded it)")
    only_contains = grade_answer(case(checks[0], checks[1]), ctx("Paris!"))
    assert only_contains.passed and only_contains.score == 1.0
    assert only_contains.reason.startswith('contains passed: expected "Paris", found it; not scored: judge')
    judged = grade_answer(case(*checks), ctx("Paris, France", judgment=Judged(score=1.0, reason="Right.")))
    assert judged.score == pytest.approx(2 / 3) and judged.parts[1].passed
    assert Grade.from_dict(result.to_dict()) == result


def test_no_part_that_can_be_scored_means_no_grade() -> None:
    assert grade_answer(case(Check("judge"), Check("f1")), ctx("Paris")) is None
    assert grade_answer(case(), ctx("Paris")) is None


def test_grade_takes_the_expected_answer_as_the_reference() -> None:
    result = grade(case(Check("rouge_l"), expected="The capital is Paris"), "The capital of France is Paris")
    # LCS "the capital is paris": 4 of 6 and of 4 words: P = 2/3, R = 1, F = 4/5
    assert result.passed and result.score == pytest.approx(4 / 5)
    assert grade(case(Check("judge"), expected="Paris"), "Paris") is None  # grade() has no judge


def test_the_reference_is_the_expected_answer_else_the_reference_models() -> None:
    with_expected = Case(id="c", prompt="p", expected=42)
    assert ScoreContext.for_case(with_expected, None, reference_answer="41").reference == "42"
    without = Case(id="c", prompt="p")
    context = ScoreContext.for_case(without, "Paris", reference_answer="Paris, France")
    assert (context.answer, context.expected, context.reference) == ("Paris", None, "Paris, France")


# --- echoes never pass, whatever the check --------------------------------------------------------

ECHOED = "Write a few words about the weather in Paris today please"


def test_an_echo_does_not_pass_a_length_check() -> None:
    checks = (Check("length", {"min_words": 5}),)
    result = grade(case(*checks, prompt=ECHOED), f"{ECHOED}. Sunny.")
    assert not result.passed and result.score == 0.0
    assert result.reason.startswith("the answer repeats the prompt (11 words), and only the repeated text passes")
    assert grade(case(*checks, prompt=ECHOED), "Sunny and warm, with a light breeze.").passed


def test_an_echo_does_not_raise_a_similarity_score() -> None:
    prompt = "Summarise: the cat sat on the mat all day long"
    echo = case(Check("f1"), expected="the cat sat on the mat", prompt=prompt)
    # With the echo, "cat sat on mat all day long" against "cat sat on mat": F1 = 2 * 4/7 / (4/7 + 1) = 8/11.
    result = grade(echo, "the cat sat on the mat all day long")
    assert not result.passed and result.score == 0.0 and "only the repeated text passes" in result.reason


def test_an_echo_does_not_pass_a_negated_or_grouped_check() -> None:
    prompt = "Say nothing about Paris in a short sentence about French food please"
    grouped = Check("all", {"checks": [{"type": "contains", "value": "Paris"}, {"type": "length", "min_words": 3}]})
    result = grade(case(grouped, prompt=prompt), f"{prompt}.")
    assert not result.passed and "repeats the prompt" in result.reason
    # "More than 3 words", said through not: the echo alone is long enough, the answer is not.
    negated = Check("not", {"check": {"type": "length", "max_words": 3}})
    echoed = grade(case(negated, prompt=prompt), f"{prompt}. Cheese.")
    assert not echoed.passed and echoed.score == 0.0 and "only the repeated text passes" in echoed.reason
    assert grade(case(negated, prompt=prompt), "Cheese, bread and wine.").passed


# --- the measures agree with their reference implementations --------------------------------------

def test_squad_normalisation() -> None:
    assert squad_normalize("The  Denver Broncos!") == "denver broncos"
    assert squad_normalize("an apple, a pear; theory") == "apple pear theory"  # articles only as words


@pytest.mark.parametrize("prediction, truth, f1", [
    # SQuAD v1.1 dev examples (Super Bowl 50), by the official script's f1_score:
    ("the Denver Broncos", "Denver Broncos", 1.0),  # both normalise to "denver broncos"
    # [super, bowl, l] vs [l]: 1 shared; P = 1/3, R = 1/1; F1 = 2 * 1/3 * 1 / (1/3 + 1) = 1/2
    ("Super Bowl L", "L", 0.5),
    # [february, 7, 2016, at, levis, stadium] vs [february, 7, 2016]: 3 shared; P = 3/6, R = 3/3; F1 = 2/3
    ("February 7, 2016 at Levi's Stadium", "February 7, 2016", 2 / 3),
    ("Santa Clara, California", "Levi's Stadium", 0.0),
    # [cat, cat, sat] vs [cat, sat, on, mat]: shared min counts cat 1 + sat 1 = 2; P = 2/3, R = 2/4;
    # F1 = 2 * 2/3 * 1/2 / (2/3 + 1/2) = (2/3) / (7/6) = 4/7
    ("the cat the cat sat", "a cat sat on the mat", 4 / 7),
    ("", "", 1.0),  # as SQuAD v2.0: two empty answers agree
    ("The", "Paris", 0.0),  # nothing left of the prediction
])
def test_token_f1_agrees_with_the_squad_script(prediction: str, truth: str, f1: float) -> None:
    assert token_f1(prediction, truth) == pytest.approx(f1)


def test_rouge_l_agrees_with_rouge_scores_readme_example() -> None:
    from rouge_score import rouge_scorer

    target, prediction = "The quick brown fox jumps over the lazy dog", "The quick brown dog jumps on the log."
    # Stemmed: [the quick brown fox jump over the lazi dog] and [the quick brown dog jump on the log].
    # Longest common subsequence: the quick brown jump the = 5 words; P = 5/8 = 0.625, R = 5/9;
    # F = 2 * 5/8 * 5/9 / (5/8 + 5/9) = 10/17 = 0.588.
    library = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True).score(target, prediction)["rougeL"]
    assert (library.precision, library.fmeasure) == pytest.approx((0.625, 10 / 17))
    assert rouge_l(prediction, target) == pytest.approx(10 / 17)
    for answer, reference in [("running runners ran", "the runner runs"), ("a b c d", "d c b a"), ("x", "y")]:
        expected = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True).score(reference, answer)["rougeL"]
        assert rouge_l(answer, reference) == pytest.approx(expected.fmeasure)


def test_rouge_l_reads_text_beyond_ascii() -> None:
    # rouge-score's own tokenizer keeps only a-z and 0-9: this would score 0.
    assert rouge_l("Столица Франции — Париж", "Столица Франции — Париж") == pytest.approx(1.0)
    # One token per character in Chinese: LCS 北京 of 4 and 2 characters: P = 2/4, R = 1, F = 2/3.
    assert rouge_l("首都北京", "北京") == pytest.approx(2 / 3)


def test_chrf_agrees_with_sacrebleus_documented_example() -> None:
    from sacrebleu.metrics import CHRF

    refs = [["The dog bit the man.", "It was not unexpected.", "The man bit him first."],
            ["The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."]]
    hyps = ["The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."]
    assert round(CHRF().corpus_score(hyps, refs).score, 2) == 59.73  # sacrebleu's README
    for hyp, ref in zip(hyps, refs[0]):
        assert chrf(hyp, ref) == pytest.approx(CHRF().sentence_score(hyp, [ref]).score / 100)
    assert chrf("The dog bit the man.", "The dog bit the man.") == 1.0
    assert chrf("abc", "xyz") == 0.0


def test_chrf_on_a_tiny_example() -> None:
    # Characters of "ab" against "abc" (beta 2, orders where both have n-grams):
    #   1-grams: a b in a b c -> P = 2/2, R = 2/3;  2-grams: ab in ab bc -> P = 1/1, R = 1/2
    #   mean P = 1, mean R = (2/3 + 1/2) / 2 = 7/12;  F2 = 5 P R / (4 P + R) = (35/12) / (55/12) = 7/11
    assert chrf("ab", "abc") == pytest.approx(7 / 11)
