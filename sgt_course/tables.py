"""Tables as Markdown, for ``display(Markdown(...))`` in a notebook: the columns line up in the rendered
page, not by padding in the source.

    display(Markdown(markdown_table(["model", "accuracy"], [["standard", "98.1 %"], ["SGT", "97.9 %"]])))
"""

from __future__ import annotations

from collections.abc import Sequence


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table with ``header`` and one line per row; cells are written with ``str``.

    Raises:
        ValueError: a row has more or fewer cells than the header.
    """
    if not header:
        raise ValueError("header must name at least one column")
    for i, row in enumerate(rows):
        if len(row) != len(header):
            raise ValueError(f"row {i} has {len(row)} cells; the header has {len(header)} columns")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in rows]
    return "\n".join(lines)
