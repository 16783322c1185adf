"""Issue 14, part 5: the stylesheet's colours meet WCAG 2.2 AA, computed from app/static/css/app.css itself
(axe checks the text it finds on the pages a test opens; this checks every pairing the stylesheet allows,
such as an amber "due soon" on a red-tinted row that today's data may not show)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CSS = Path(__file__).resolve().parents[2] / "app" / "static" / "css" / "app.css"
TEXT = ("--ink", "--muted", "--brand", "--ok", "--warn", "--bad")
BACKGROUNDS = ("#ffffff", "--bg", "--warn-bg", "--bad-bg", "#eef2f7", "#e6f0fa", "#e7f5e8")
"""White cards, the page, overdue and due-soon rows, table heads, the flash and tag blue, success flash."""


def _vars() -> dict[str, str]:
    root = re.search(r":root\s*\{([^}]*)\}", CSS.read_text(encoding="utf-8"))
    assert root is not None
    return dict(re.findall(r"(--[\w-]+):\s*(#[0-9a-fA-F]{6})", root.group(1)))


def _luminance(colour: str) -> float:
    channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_contrast_of_known_pairs() -> None:
    assert round(contrast("#ffffff", "#000000"), 1) == 21.0
    assert round(contrast("#777777", "#ffffff"), 2) == 4.48  # the classic just-failing grey


@pytest.mark.parametrize("text", TEXT)
def test_every_text_colour_is_aa_on_every_background(text: str) -> None:
    colours = _vars()
    for background in BACKGROUNDS:
        bg = colours.get(background, background)
        assert contrast(colours[text], bg) >= 4.5, (text, background, round(contrast(colours[text], bg), 2))


def test_white_text_on_buttons_badges_and_the_header_and_control_borders() -> None:
    colours = _vars()
    for fill in ("--brand", "--bad", "#12355b"):
        assert contrast("#ffffff", colours.get(fill, fill)) >= 4.5, fill
    assert contrast(colours["--control"], "#ffffff") >= 3.0  # WCAG 1.4.11: input and button borders
    assert contrast(colours["--focus"], "#ffffff") >= 3.0 and contrast(colours["--focus"], colours["--bg"]) >= 3.0


def test_no_colour_is_faded_by_opacity() -> None:
    """Opacity under 1 on text lowers its contrast below what the numbers above promise."""
    css = CSS.read_text(encoding="utf-8")
    assert re.findall(r"opacity:\s*0?\.\d+", css) == []
    assert contrast("#dbe4ee", "#12355b") >= 4.5 and "color: #dbe4ee" in css  # the header's user name
