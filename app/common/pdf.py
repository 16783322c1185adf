"""HTML to PDF with WeasyPrint: the printable page and its PDF are one template and one stylesheet.

Why WeasyPrint: it lays out HTML with CSS Paged Media (``@page`` margins and running headers, page
counters, ``position: fixed`` repeated on every page), so the page a user prints from the browser and the
PDF the server renders share the same template and print stylesheet; it is pure Python over Debian's
pango (``libpango-1.0-0``, ``libpangoft2-1.0-0``) and embeds subsets of the system fonts, so Chinese text
renders with ``fonts-noto-cjk`` and comes back out of the PDF as text (searchable, extractable).

The document is built from our own template, but it carries what users typed (names, narratives). The
URL fetcher therefore refuses every URL: no stylesheet, image or font is fetched from the network or the
file system while rendering (the stylesheet is passed in as a string), so nothing in a record can make the
server read a file or call another host.
"""

from __future__ import annotations

from typing import Any, NoReturn

PDF_FONTS = '"Noto Sans CJK SC", "Noto Sans CJK", "Noto Sans SC", "WenQuanYi Micro Hei", sans-serif'
"""The font stack of printed records (Debian's ``fonts-noto-cjk``)."""


class FetchRefused(Exception):
    """A rendered record asked for a URL; records are self-contained."""


def _refuse(url: str, *args: Any, **kwargs: Any) -> NoReturn:
    raise FetchRefused(f"records fetch nothing (asked for {url[:80]!r})")


def html_to_pdf(html: str, stylesheets: list[str]) -> bytes:
    """Render ``html`` with the given CSS texts to PDF bytes; no URL is ever fetched."""
    # deferred: weasyprint loads pango and fontconfig on import; only printing needs them
    import weasyprint

    sheets = [weasyprint.CSS(string=css, url_fetcher=_refuse) for css in stylesheets]
    document = weasyprint.HTML(string=html, base_url="about:blank", url_fetcher=_refuse)
    return bytes(document.write_pdf(stylesheets=sheets))
