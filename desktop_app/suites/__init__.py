"""Prompt suites: load, validate and version the cases a run asks every model."""

from desktop_app.suites.loader import (Case, Check, Suite, SuiteError, Unsupported, adhoc_suite, load_suite,
                                       save_suite, suite_from_cases)

__all__ = ["Case", "Check", "Suite", "SuiteError", "Unsupported", "adhoc_suite", "load_suite", "save_suite",
           "suite_from_cases"]
