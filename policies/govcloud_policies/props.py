"""Reading resource properties as CrossGuard passes them (camelCase, possibly unknown during preview)."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

OPENSTACK = "openstack:"
PUBLIC_PREFIXES = ("0.0.0.0/0", "::/0")


def text(props: Mapping[str, Any], key: str) -> str | None:
    value = props.get(key)
    return value if isinstance(value, str) else None


def labels(props: Mapping[str, Any]) -> dict[str, str]:
    """`govcloud:*` labels found in tags, metadata or description."""
    found: dict[str, str] = {}
    words: list[str] = []
    tags = props.get("tags")
    if isinstance(tags, list):
        words += [t for t in tags if isinstance(t, str)]
    elif isinstance(tags, Mapping):  # aws: a map of tags
        found.update({str(k): str(v) for k, v in tags.items() if str(k).startswith("govcloud:")})
    desc = text(props, "description")
    if desc:
        words += desc.replace("[", " ").replace("]", " ").split()
    for word in words:
        key, sep, value = word.partition("=")
        if sep and key.startswith("govcloud:"):
            found[key] = value
    metadata = props.get("metadata")
    if isinstance(metadata, Mapping):
        found.update({k: str(v) for k, v in metadata.items() if str(k).startswith("govcloud:")})
    return found


def is_public_source(props: Mapping[str, Any]) -> bool:
    """An ingress rule open to any address: a /0 prefix, or neither a prefix nor a remote group."""
    prefix = text(props, "remoteIpPrefix")
    if prefix is None:
        return not props.get("remoteGroupId") and not props.get("remoteAddressGroupId")
    try:
        return ipaddress.ip_network(prefix, strict=False).prefixlen == 0
    except ValueError:
        return prefix in PUBLIC_PREFIXES


def port_range(props: Mapping[str, Any]) -> tuple[int, int]:
    """The rule's TCP/UDP port range; a rule without ports (or any protocol) covers all of them."""
    protocol = text(props, "protocol")
    lo, hi = props.get("portRangeMin"), props.get("portRangeMax")
    if protocol not in ("tcp", "udp", "6", "17") or not isinstance(lo, int | float) or not isinstance(hi, int | float):
        return (1, 65535) if protocol in (None, "", "any", "tcp", "udp", "6", "17") else (0, -1)
    return int(lo), int(hi)
