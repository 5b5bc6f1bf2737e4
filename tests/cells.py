"""Running a ``%%banana`` cell in the test shell, as most test modules do."""

from __future__ import annotations

from IPython.utils.capture import CapturedIO, capture_output


def run(ip, line: str, cell: str) -> CapturedIO:
    """``%%banana line`` over ``cell`` in ``ip``; what it printed and displayed."""
    with capture_output() as captured:
        ip.run_cell_magic("banana", line, cell)
    return captured
