"""The declarative spec (`govcloud.yaml`): models, loading with line numbers, and the example."""

from govcloud_platform.spec.loader import load_spec, load_spec_text, validate_file
from govcloud_platform.spec.models import (
    APP_NAMES,
    DEFAULT_SERVICES,
    RESERVED_SLUGS,
    SERVICE_NAMES,
    SLUG_PATTERN,
    Agency,
    Platform,
    Quota,
    QuotaClass,
    Spec,
    check_slug,
)

__all__ = [
    "APP_NAMES",
    "RESERVED_SLUGS",
    "DEFAULT_SERVICES",
    "SERVICE_NAMES",
    "SLUG_PATTERN",
    "Agency",
    "Platform",
    "Quota",
    "QuotaClass",
    "Spec",
    "check_slug",
    "load_spec",
    "load_spec_text",
    "validate_file",
]
