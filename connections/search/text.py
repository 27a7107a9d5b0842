"""Confluence storage format to the plain text Microsoft Search indexes.

The storage format is XHTML with Confluence's own `ac:` (macros, layouts) and `ri:` (resource
identifiers) elements. Their text is kept where a person wrote it (a macro's rich-text body, a
link's body) and dropped where it is configuration (`ac:parameter`, resource ids) or code the
reader would not search for (script, style). The result is capped at Graph's item size.
"""

from __future__ import annotations

from html.parser import HTMLParser

# An external item's request is at most 4 MB; the text is kept within that in UTF-8.
# Reference: https://learn.microsoft.com/graph/connecting-external-content-api-limits
MAX_CONTENT_BYTES = 4_000_000

_SKIP = {"ac:parameter", "ri:attachment", "ri:page", "ri:user", "ri:url", "ri:space", "script", "style"}
_BLOCK = {
    "p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "pre",
    "blockquote", "hr", "ac:structured-macro", "ac:layout-section", "ac:task",
}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skipping += 1
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def plain_text(storage: str) -> tuple[str, bool]:
    """(text, truncated): the storage body as plain text, within MAX_CONTENT_BYTES of UTF-8."""
    parser = _Text()
    parser.feed(storage or "")
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    text = "\n".join(line for line in lines if line)
    encoded = text.encode("utf-8")
    if len(encoded) <= MAX_CONTENT_BYTES:
        return text, False
    # Cut on a character boundary: drop a partial multi-byte sequence at the end.
    return encoded[:MAX_CONTENT_BYTES].decode("utf-8", errors="ignore"), True
