"""The one table renderer of the CLI: aligned columns for every command that prints rows.

Cells are escaped here (``escaping.escape_text``), so a process name, a file name or a rule name from a rules file
cannot break the layout or smuggle control characters to the terminal; callers pass raw text.
"""
from __future__ import annotations

from collections.abc import Collection, Sequence

from syswarden.escaping import escape_text


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]], numeric: Collection[int] = ()) -> str:
    """Columns two spaces apart, each as wide as its widest cell; the ``numeric`` columns (by index, header
    included) right-aligned, the others left-aligned; no trailing spaces."""
    cells = [[escape_text(str(c)) for c in row] for row in (headers, *rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in numeric else c.ljust(w)
                         for i, (c, w) in enumerate(zip(row, widths))).rstrip()
    return "\n".join(line(row) for row in cells)
