"""The agency's `brand:` in the spec: colour (WCAG AA with white text) and logo (type, size, place), each with
a default; one clear line naming the key when wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from govcloud_platform.errors import SpecError
from govcloud_platform.spec import load_spec, load_spec_text
from govcloud_platform.spec.brand import (
    DEFAULT_COLOUR,
    LOGO_MAX_BYTES,
    MIN_CONTRAST,
    Brand,
    check_colour,
    contrast_with_white,
    darker_passing,
)
from govcloud_platform.spec.example import EXAMPLE_SPEC

SVG = b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><rect width="10" height="10"/></svg>'


def spec_with(brand: str) -> str:
    """The example spec with `brand` (YAML lines) under its first agency."""
    lines = EXAMPLE_SPEC.splitlines()
    i = next(n for n, line in enumerate(lines) if line.strip().startswith("- slug:"))
    indent = " " * (len(lines[i]) - len(lines[i].lstrip()) + 2)
    block = [f"{indent}brand:"] + [f"{indent}  {b}" for b in brand.splitlines()]
    return "\n".join(lines[:i + 1] + block + lines[i + 1:]) + "\n"


def test_contrast_figures_match_wcag() -> None:
    assert contrast_with_white("#000000") == pytest.approx(21.0)
    assert contrast_with_white("#ffffff") == pytest.approx(1.0)
    assert contrast_with_white(DEFAULT_COLOUR) >= MIN_CONTRAST  # GOV.UK's blue: ≈5.2
    assert contrast_with_white("#767676") == pytest.approx(4.54, abs=0.01)  # the classic AA grey


@pytest.mark.parametrize("colour", ["#ffdd00", "#00a0e0", "#f47738", "#85994b", "#ffffff"])
def test_a_light_colour_is_refused_with_a_darker_one_that_passes(colour: str) -> None:
    with pytest.raises(ValueError, match="WCAG AA needs 4.5:1") as exc:
        check_colour(colour)
    suggestion = darker_passing(colour)
    assert suggestion in str(exc.value) and contrast_with_white(suggestion) >= MIN_CONTRAST
    assert check_colour(suggestion) == suggestion


@pytest.mark.parametrize("bad", ["red", "#fff", "00703c", "#00703g", "#00703c ", ""])
def test_malformed_colours_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="#rrggbb"):
        check_colour(bad)


def test_defaults_and_normalisation() -> None:
    assert Brand().colour == DEFAULT_COLOUR and Brand().logo is None
    assert Brand(colour="#00703C").colour == "#00703c"
    spec = load_spec_text(EXAMPLE_SPEC)
    assert all(a.brand == Brand() for a in spec.agencies)


def test_spec_error_names_the_key_in_one_line() -> None:
    with pytest.raises(SpecError) as exc:
        load_spec_text(spec_with('colour: "#ffdd00"'))
    message = str(exc.value)
    assert "agencies[0].brand.colour" in message and "\n" not in message


@pytest.mark.parametrize("logo", ["/etc/logo.svg", "../logo.svg", "logo.gif", "a/../../logo.png"])
def test_logo_paths_outside_the_spec_or_of_other_types_are_refused(logo: str) -> None:
    with pytest.raises(SpecError, match=r"agencies\[0\]\.brand\.logo"):
        load_spec_text(spec_with(f"logo: {logo}"))


def _write_spec(tmp_path: Path, logo_name: str, data: bytes) -> Path:
    (tmp_path / "logos").mkdir()
    (tmp_path / "logos" / logo_name).write_bytes(data)
    path = tmp_path / "govcloud.yaml"
    path.write_text(spec_with(f'colour: "#00703c"\nlogo: logos/{logo_name}'))
    return path


def test_a_good_logo_is_resolved_next_to_the_spec(tmp_path: Path) -> None:
    spec = load_spec(_write_spec(tmp_path, "health.svg", SVG))
    brand = spec.agencies[0].brand
    assert brand.colour == "#00703c" and brand.logo_file == (tmp_path / "logos" / "health.svg").resolve()


@pytest.mark.parametrize(("name", "data", "why"), [
    ("big.svg", SVG + b" " * LOGO_MAX_BYTES, "at most"),
    ("fake.png", SVG, "not a PNG"),
    ("text.svg", b"hello", "not an SVG"),
    ("evil.svg", b'<svg><script>alert(1)</script></svg>', "scripts"),
    ("tracker.svg", b'<svg><image href="https://x.example/p.png"/></svg>', "external"),
])
def test_bad_logo_files_are_refused_with_one_line(tmp_path: Path, name: str, data: bytes, why: str) -> None:
    with pytest.raises(SpecError, match=why) as exc:
        load_spec(_write_spec(tmp_path, name, data))
    assert "agencies[0].brand.logo" in str(exc.value)


def test_a_missing_logo_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "govcloud.yaml"
    path.write_text(spec_with("logo: nowhere.png"))
    with pytest.raises(SpecError, match="no such file"):
        load_spec(path)


def test_the_portal_role_gets_the_agencys_brand(tmp_path: Path) -> None:
    from govcloud_platform.apps.layout import brand_vars
    from govcloud_platform.box.context import Box

    spec = load_spec(_write_spec(tmp_path, "health.svg", SVG))
    box = Box(home=tmp_path / "box", spec=spec)
    slug = spec.agencies[0].slug
    assert brand_vars(box, slug) == {"brand_colour": "#00703c", "brand_logo_ext": "svg",
                                     "brand_logo_src": str((tmp_path / "logos" / "health.svg").resolve())}
    assert brand_vars(box, "not-in-the-spec") == {"brand_colour": DEFAULT_COLOUR, "brand_logo_src": "",
                                                  "brand_logo_ext": ""}
