"""Scoring: grade answers into structured grades (passed, score 0..1, reason, parts)."""

from desktop_app.scoring.checks import Grade, grade

__all__ = ["Grade", "grade"]
