"""Figures the deployment tests measure, printed at the end of the run (pytest's summary)."""

from __future__ import annotations

from typing import Any

FIGURES: list[str] = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.section("deployment figures")
        for line in FIGURES:
            terminalreporter.write_line(line)
