"""Draw the app's icons into app/static/icons/ (committed; run again after changing the design).

    .venv/bin/python tools/icons.py

One design: the character 联 in white on the app's blue. Pillow draws the PNGs with Debian's Noto Sans
CJK (fonts-noto-cjk), so the glyph is the same on every phone; the SVG (favicon, any size) draws the
same rounded square and names the same font. Chrome's install needs 192 and 512 px; the maskable icon
keeps the glyph inside the central 80 % that launchers never crop; iOS uses the 180 px touch icon.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

OUT = Path(__file__).resolve().parents[1] / "app" / "static" / "icons"
FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"
FONT_INDEX = 2  # the simplified Chinese face (SC) of the collection
BLUE = (31, 95, 139)
GLYPH = "联"

SVG = """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 512 512">
<rect width="512" height="512" rx="96" fill="#1f5f8b"/>
<text x="256" y="258" font-size="300" font-weight="700" fill="#fff" text-anchor="middle" dominant-baseline="central"
 font-family="'Noto Sans CJK SC','Noto Sans SC','PingFang SC','Microsoft YaHei',sans-serif">联</text>
</svg>
"""


def draw(size: int, glyph_share: float, rounded: bool) -> Image.Image:
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0) if rounded else BLUE + (255,))
    pen = ImageDraw.Draw(image)
    if rounded:
        pen.rounded_rectangle((0, 0, size - 1, size - 1), radius=size * 96 // 512, fill=BLUE + (255,))
    font = ImageFont.truetype(FONT, int(size * glyph_share), index=FONT_INDEX)
    pen.text((size / 2, size / 2), GLYPH, font=font, fill=(255, 255, 255, 255), anchor="mm")
    return image


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, size, share, rounded in [
        ("icon-192.png", 192, 0.6, True), ("icon-512.png", 512, 0.6, True),
        ("maskable-512.png", 512, 0.46, False), ("apple-touch-icon.png", 180, 0.56, False),
        ("favicon-32.png", 32, 0.72, True),
    ]:
        draw(size, share, rounded).save(OUT / name, optimize=True)
    (OUT / "icon.svg").write_text(SVG, encoding="utf-8")


if __name__ == "__main__":
    main()
