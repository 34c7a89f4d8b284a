"""Prompt suites: load, validate and version the cases a run asks every model."""

from desktop_app.suites.loader import Case, Check, Suite, SuiteError, load_suite

__all__ = ["Case", "Check", "Suite", "SuiteError", "load_suite"]
