"""Putting an agency's user at a desk of its Citizen's Centre: the IdP group `agency-<slug>--desk-<lane>`
(names.desk_group), whose members' access tokens the centre maps to that desk. The desk must be a lane of the
agency's catalogue (the spec's `centre.catalogue`, else the samples the role ships); the user must already be a
member of the agency (`agency-<slug>`: the only members the centre's OIDC client admits).

The lanes are read from the catalogue's BPMN files here, without the centre's code: the lane ids of each
process (`citizen` is the applicant's, not a desk). The deploy checks the catalogue fully; this only needs
the lane ids, and refuses a DOCTYPE or an entity (no expansion) and files over 1 MiB as the centre does."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import yaml

from govcloud_platform.apps.runner import roles_path
from govcloud_platform.box import idp_api
from govcloud_platform.box.context import Box
from govcloud_platform.errors import InputError
from govcloud_platform.names import desk_group, group, parse_login

BPMN_NS = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
CITIZEN = "citizen"
# Not a desk: the group `agency-<slug>--desk-catalogue` makes its members the managers of the centre's catalogue
# (its staff pages under /staff/catalogue/; the centre's api_rules.CATALOGUE_MANAGER). No lane may take the name.
CATALOGUE_MANAGERS = "catalogue"
MAX_BYTES = 1024 * 1024


def samples() -> Path:
    return roles_path() / "centre" / "files" / "app" / "centre_core" / "samples" / "catalogue.yaml"


def catalogue_of(box: Box, slug: str) -> Path:
    """The catalogue file of the agency's centre: the spec's, else the samples."""
    return box.spec.centre_catalogue(slug) or samples()


def lanes(catalogue: Path) -> list[str]:
    """The desks (lane ids, `citizen` left out) of the processes of a catalogue file, sorted; InputError naming
    the file when it cannot be read."""
    data = yaml.safe_load(_read(catalogue))
    services = data.get("services") if isinstance(data, dict) else None
    if not isinstance(services, list):
        raise InputError(f"{catalogue}: no `services` list")
    found: set[str] = set()
    for service in services:
        process = service.get("process") if isinstance(service, dict) else None
        if not isinstance(process, str) or "/" in process or not process.endswith(".bpmn"):
            raise InputError(f"{catalogue}: services.{_id(service)}.process: not a .bpmn file name")
        found |= bpmn_lanes(_read(catalogue.parent / process), str(catalogue.parent / process))
    return sorted(found - {CITIZEN, CATALOGUE_MANAGERS})


def bpmn_lanes(xml: bytes, where: str) -> set[str]:
    if b"<!DOCTYPE" in xml or b"<!ENTITY" in xml:
        raise InputError(f"{where}: a DOCTYPE or ENTITY declaration is not allowed in a BPMN file")
    try:
        root = ET.fromstring(xml)  # noqa: S314 - no DOCTYPE or ENTITY (refused above): nothing to expand
    except ET.ParseError as exc:
        raise InputError(f"{where}: not well-formed XML ({exc})") from None
    return {str(lane.get("id")) for lane in root.iter(f"{BPMN_NS}lane") if lane.get("id")}


def put_at_desk(box: Box, slug: str, login: str, desk: str, remove: bool = False) -> dict[str, Any]:
    """Add (or remove) the user's membership of the desk group (`catalogue`: of the catalogue managers' group).
    Returns {agency, login, desk, group, changed}."""
    known = lanes(catalogue_of(box, slug))
    if desk not in known and desk != CATALOGUE_MANAGERS:
        raise InputError(f"no desk {desk!r} in the catalogue of {slug}'s centre",
                         hint=f"its desks: {', '.join(known) or 'none'} (and `{CATALOGUE_MANAGERS}`: its managers)")
    owner = parse_login(login)
    if owner is None or owner[0] != slug:
        raise InputError(f"{login!r} is not a login of agency {slug} (<name>@{slug})")
    name = desk_group(slug, desk)
    user = idp_api.get_user(box, login)
    if user is None:
        raise InputError(f"no user {login!r} in the IdP", hint="add the user to the agency first")
    if not remove and group(slug) not in user["groups"]:
        raise InputError(f"{login!r} is not a member of {group(slug)} (the centre's client admits only them)")
    changed = (idp_api.remove_membership if remove else idp_api.add_membership)(box, login, name)
    return {"agency": slug, "login": login, "desk": desk, "group": name, "changed": changed}


def _read(path: Path) -> bytes:
    try:
        if path.stat().st_size > MAX_BYTES:
            raise InputError(f"{path}: larger than {MAX_BYTES // 1024} KiB")
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _id(service: Any) -> str:
    return str(service.get("id")) if isinstance(service, dict) else "?"
