"""MkDocs hook: show the Sphinx roles of fastkeras's docstrings as code.

The docstrings cross-reference with Sphinx roles (``:class:`~fastkeras.backend.Tensor```,
``:meth:`fit```), which Markdown renders as the role's name followed by a code span. This turns
each into the code span alone, with a leading ``~`` meaning "the last component only", as in
Sphinx.
"""

from __future__ import annotations

import re

_ROLE = re.compile(
    r":(?:py:)?(?:attr|class|const|data|exc|func|meth|mod|obj):<code>(~?)([^<]*)</code>")


def _code(match: re.Match) -> str:
    short, target = match.groups()
    return f"<code>{target.rsplit('.', 1)[-1] if short else target}</code>"


def on_page_content(html: str, **kwargs) -> str:
    """Rewrite the rendered roles of one page."""
    return _ROLE.sub(_code, html)
