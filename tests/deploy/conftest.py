"""Figures the deployment tests measure, printed at the end of the run (pytest's summary).

A test records a figure with ``record_property("figure", text)``: the property travels
with the test's report, so the summary shows it also when the suite runs on xdist
workers (a module-level list would stay in the worker's process).
"""

from __future__ import annotations

from typing import Any


def pytest_terminal_summary(terminalreporter: Any) -> None:
    figures = [
        value
        for reports in terminalreporter.stats.values()
        for r in reports
        if getattr(r, "when", None) == "call"
        for name, value in getattr(r, "user_properties", ())
        if name == "figure"
    ]
    if figures:
        terminalreporter.section("deployment figures")
        for line in figures:
            terminalreporter.write_line(line)
