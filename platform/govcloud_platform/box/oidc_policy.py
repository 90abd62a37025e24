"""Whom the IdP's OIDC clients admit, as pure decisions: the platform's policy (`admitted_groups`), the
LemonLDAP::NG access rule that enforces it (`access_rule`), and its upgrade of clients written by older code
(`enforce_access_rules`). `idp_api` writes the rules into the clients; tests/unit/test_oidc_access_rules.py
evaluates them with LLNG's own rule compiler."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from govcloud_platform.errors import InputError
from govcloud_platform.names import group, parse_client

GROUP_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"
GROUP_RE = re.compile(GROUP_PATTERN)
# The groups of a user reach LLNG as one string joined by its multiValuesSeparator.
GROUP_SEPARATOR = "; "


def access_rule(groups: Sequence[str], *, client_credentials: bool = False, prefixes: Sequence[str] = ()) -> str:
    """The relying party's access rule (`oidcRPMetaDataOptionsRule`, a Perl expression LLNG evaluates over the
    session's attributes at every authorization, password and client-credentials grant): true for a user one of
    whose groups IS one of `groups`, and for the client-credentials grant if `client_credentials` (there the
    session is the client itself, without groups). Nobody else: an empty `groups` admits no user.

    Groups reach LLNG as one string joined by GROUP_SEPARATOR, so membership is a whole-element test: the
    string is padded with the separator on both sides and searched for `<sep><group><sep>`; `agency-x` never
    matches `agency-x-y` or `agency-x--admins`. Literals are written as `\\x{..}` escapes because LLNG rewrites
    words of a rule before compiling it (`skip` becomes a constant, `$word` a session attribute): a group
    named `agency-skip` written plainly would silently test another name.

    `prefixes`: also true for a user one of whose groups BEGINS with one of them (the platform's console admits
    every agency's members, `agency-`, whichever agencies exist when they sign in): the string is searched for
    `<sep><prefix>`."""
    bad = [g for g in [*groups, *prefixes] if not GROUP_RE.fullmatch(g)]
    if bad:
        raise InputError(f"invalid group names {bad}", hint="lowercase letters, digits, '.', '_', '-'")
    sep = _perl_string(GROUP_SEPARATOR)
    clauses = ['$_oidc_grant_type eq "clientcredentials"'] if client_credentials else []
    clauses += [f'index({sep} . ($groups // "") . {sep}, {_perl_string(GROUP_SEPARATOR + g + GROUP_SEPARATOR)}) >= 0'
                for g in groups]
    clauses += [f'index({sep} . ($groups // ""), {_perl_string(GROUP_SEPARATOR + p)}) >= 0' for p in prefixes]
    return " or ".join(clauses) or "0"


def _perl_string(text: str) -> str:
    """A double-quoted Perl string of hex escapes only: no word in it for LLNG's rule rewriting to touch."""
    return '"' + "".join(f"\\x{{{ord(c):02x}}}" for c in text) + '"'


def admitted_groups(client_id: str) -> list[str] | None:
    """The platform's policy: whom an agency's clients admit. An agency's own client (`ag-<slug>`) and its apps'
    clients (`ag-<slug>--<app>`) admit the agency's members (group `agency-<slug>`; its administrators are
    members too) and nobody else: not another agency's users, not the platform's operators (they work through
    the CLI and have no business in an agency's applications; an agency client that admitted them would hand
    the agency an id_token for an operator). None for a client that is no agency's (the platform's own)."""
    owner = parse_client(client_id)
    return None if owner is None else [group(owner.slug)]


def option_text(value: Any) -> str | None:
    """A configuration value as text (the manager API and our own writer store 1/"1", lists as one string)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, list):
        return " ".join(value)
    return str(value)


def enforce_access_rules(conf: dict[str, Any]) -> dict[str, Any]:
    """`conf` (an lmConf) with every agency client's access rule set as `admitted_groups` says, whatever wrote
    it: `govcloud up` applies this to the clients of a box made by older code, which admitted every user."""
    for key, options in conf.get("oidcRPMetaDataOptions", {}).items():
        groups = admitted_groups(key)
        if groups is not None:
            grant = option_text(options.get("oidcRPMetaDataOptionsAllowClientCredentialsGrant")) == "1"
            options["oidcRPMetaDataOptionsRule"] = access_rule(groups, client_credentials=grant)
    return conf
