"""The certificate's HTML to PDF with WeasyPrint (imported at first use: it costs ~40 MiB). The fonts are the
system's (fontconfig): Noto Naskh Arabic for Urdu, DejaVu for Latin; WeasyPrint embeds only the glyphs used."""

from __future__ import annotations

from typing import Any

_fonts: Any = None


def render_pdf(page: str) -> bytes:
    global _fonts
    from weasyprint import HTML
    from weasyprint.text.fonts import FontConfiguration

    if _fonts is None:
        _fonts = FontConfiguration()
    pdf: bytes = HTML(string=page).write_pdf(font_config=_fonts)
    return pdf
