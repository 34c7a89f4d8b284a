"""Scoring: grade answers into structured grades (passed, score 0..1, reason, parts)."""

from desktop_app.scoring.checks import Grade, grade
from desktop_app.scoring.registry import ScoreContext, ScorerSpec, grade_answer, scorer, validate_check

__all__ = ["Grade", "ScoreContext", "ScorerSpec", "grade", "grade_answer", "scorer", "validate_check"]
