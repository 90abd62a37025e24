"""`{% t "key" %}` for the pages' own words and `|loc` for the catalogue's texts, in the page's language."""

from __future__ import annotations

from typing import Any

from django import template

from centre_web import texts

register = template.Library()


@register.simple_tag
def t(key: str, **values: Any) -> str:
    return texts.t(key, **values)


@register.filter
def loc(value: Any) -> str:
    """A catalogue text ({en, ur}) in the page's language."""
    if value is None:
        return ""
    return str(value.ur if texts.lang() == "ur" else value.en)


@register.filter
def get(mapping: Any, key: Any) -> Any:
    """`names|get:subject`: a dictionary's value in a template (the staff pages' names of colleagues)."""
    return mapping.get(key) if isinstance(mapping, dict) else None
