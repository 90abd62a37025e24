"""An agency's brand for its citizen pages (docs/design.md): colour and logo, each with a default.

    agencies:
      - slug: health
        brand:
          colour: "#00703c"    # white text on it must reach WCAG AA (4.5:1); default #1d70b8
          logo: logos/health.svg  # relative to the spec file; .svg or .png, at most 16 KiB; default none

Pure checks here; the loader reads the logo file (it knows the spec file's directory)."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

DEFAULT_COLOUR = "#1d70b8"
MIN_CONTRAST = 4.5  # WCAG 2.2 AA, normal text
LOGO_MAX_BYTES = 16 * 1024  # the page budget: 100 KB with the stylesheet (≈78 KB) and the HTML
LOGO_TYPES = {".svg": "image/svg+xml", ".png": "image/png"}
_HEX = re.compile(r"#[0-9a-fA-F]{6}")


def _channel(c: int) -> float:
    s = c / 255
    return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4


def luminance(colour: str) -> float:
    """Pure: WCAG relative luminance of '#rrggbb'."""
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast_with_white(colour: str) -> float:
    """Pure: the contrast ratio of white text on `colour` (1 to 21)."""
    return 1.05 / (luminance(colour) + 0.05)


def darker_passing(colour: str) -> str:
    """Pure: `colour` darkened (same hue, channels scaled down) until white text on it reaches MIN_CONTRAST."""
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    for step in range(100, -1, -1):
        candidate = "#{:02x}{:02x}{:02x}".format(*(int(c * step / 100) for c in (r, g, b)))
        if contrast_with_white(candidate) >= MIN_CONTRAST:
            return candidate
    return "#000000"


def check_colour(value: str) -> str:
    """'#rrggbb' (lower-cased) on which white text reaches WCAG AA; else ValueError with one line that says
    what would pass."""
    if not _HEX.fullmatch(value):
        raise ValueError(f"{value!r} is not a colour: write it as \"#rrggbb\" (e.g. \"{DEFAULT_COLOUR}\")")
    value = value.lower()
    ratio = contrast_with_white(value)
    if ratio < MIN_CONTRAST:
        raise ValueError(f"white text on {value} has a contrast of {ratio:.2f}:1, WCAG AA needs {MIN_CONTRAST}:1; "
                         f"use a darker colour such as \"{darker_passing(value)}\"")
    return value


def check_logo_path(value: str) -> str:
    """A relative path below the spec's directory to an .svg or .png file."""
    p = PurePosixPath(value)
    if not value or p.is_absolute() or ".." in p.parts or "\\" in value:
        raise ValueError(f"{value!r}: give the logo's path relative to the spec file, inside its directory")
    if p.suffix.lower() not in LOGO_TYPES:
        raise ValueError(f"{value!r}: the logo must be an .svg or a .png file")
    return value


def check_logo_bytes(name: str, data: bytes) -> None:
    """The logo's content: within LOGO_MAX_BYTES and of the type its name says (PNG signature; SVG markup
    without script or external references)."""
    if len(data) > LOGO_MAX_BYTES:
        raise ValueError(f"{name} is {len(data)} bytes; a logo may have at most {LOGO_MAX_BYTES} "
                         "(the citizen page budget is 100 KB)")
    if name.lower().endswith(".png"):
        if not data.startswith(b"\x89PNG\r\n\x1a\n"):
            raise ValueError(f"{name} is not a PNG image")
        return
    text = data.decode("utf-8", errors="replace").lower()
    if "<svg" not in text:
        raise ValueError(f"{name} is not an SVG image")
    external = re.search(r"(href|src)\s*=\s*[\"']\s*(https?:|//)", text)
    if "<script" in text or re.search(r"\bon[a-z]+\s*=", text) or external:
        raise ValueError(f"{name}: an SVG logo may not hold scripts, event handlers or external references")


def read_logo(spec_dir: Path, logo: str) -> Path:
    """The logo file (resolved) after its checks; ValueError with one line otherwise."""
    path = (spec_dir / logo).resolve()
    if not path.is_relative_to(spec_dir.resolve()):
        raise ValueError(f"{logo!r} leaves the spec file's directory")
    try:
        data = path.read_bytes()[:LOGO_MAX_BYTES + 1] if path.is_file() else None
    except OSError as exc:
        raise ValueError(f"cannot read {logo}: {exc.strerror or exc}") from None
    if data is None:
        raise ValueError(f"{logo}: no such file next to the spec")
    check_logo_bytes(logo, data)
    return path


class Brand(BaseModel):
    """The agency's look on its citizen pages (portal, centre); every field has a default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    colour: str = Field(DEFAULT_COLOUR, description="#rrggbb; white text on it must reach WCAG AA (4.5:1)")
    logo: str | None = Field(None, description=".svg or .png relative to the spec file, at most 16 KiB")
    # the checked file, set by the loader (it knows the spec file's directory); None: no logo or not loaded
    # from a file
    _logo_file: Path | None = PrivateAttr(None)

    @property
    def logo_file(self) -> Path | None:
        return self._logo_file

    @field_validator("colour")
    @classmethod
    def _colour(cls, value: str) -> str:
        return check_colour(value)

    @field_validator("logo")
    @classmethod
    def _logo(cls, value: str | None) -> str | None:
        return None if value is None else check_logo_path(value)
