"""An OIDC client of the box IdP as data: the body the LemonLDAP::NG manager API takes (`oidc_client`), the
lmConf entries the manager writes for it (`conf_entries`), and whether a configured client lacks anything a
body sets (`client_differs`). Pure: box/idp_api.py does the I/O."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from govcloud_platform.box.oidc_policy import access_rule, option_text
from govcloud_platform.errors import InputError

if TYPE_CHECKING:
    from govcloud_platform.box.context import Box

_CONFKEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

DEFAULT_EXPORTED_VARS = {
    "preferred_username": "uid",
    "name": "cn",
    "email": "mail",
    "groups": "groups;string;always",
}
DEFAULT_EXTRA_CLAIMS = {"groups": "groups"}  # scope -> claims it releases


def check_conf_key(conf_key: str) -> None:
    if not _CONFKEY_RE.fullmatch(conf_key):
        raise InputError(f"invalid OIDC client id {conf_key!r}", hint="letters, digits, '.', '_', '-'")


def oidc_client(
    box: Box,
    client_id: str,
    client_secret: str,
    redirect_uris: list[str],
    display_name: str = "",
    *,
    admit: Sequence[str],
    extra_claims: dict[str, str] | None = None,
    exported_vars: dict[str, str] | None = None,
    post_logout_redirect_uris: list[str] | None = None,
    allow_password_grant: bool = False,
    allow_client_credentials: bool = False,
    refresh_tokens: bool = False,
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A confidential client (confKey = client_id) in the manager API's shape: RS256 id_tokens carrying the
    claims (IDTokenForceClaims), consent bypassed (clients are ours). Access tokens are RS256 JWTs with the
    userinfo claims of the granted scopes (`groups` among them) and `aud` = [client_id]: LLNG's default is an
    opaque session id that only its userinfo endpoint can read, so an app that serves an API (the centre) could
    not check a token without a round trip to the IdP per call. The IdP still knows the token (its `jti` is the
    session): the userinfo endpoint answers for it as before. `admit`: the groups whose members may
    sign in through it (`access_rule`; required: a client without a rule admits every user of the IdP).
    `extra_claims` maps a scope to the space-separated claims it releases; `exported_vars` maps a claim to a
    session attribute."""
    check_conf_key(client_id)
    if not redirect_uris and not allow_client_credentials:
        raise InputError(f"OIDC client {client_id}: at least one redirect URI is needed")
    opts: dict[str, Any] = {
        "clientSecret": client_secret,
        "displayName": display_name or client_id,
        "IDTokenSignAlg": "RS256",
        "IDTokenForceClaims": True,
        "bypassConsent": True,
        "public": False,
        "allowPasswordGrant": allow_password_grant,
        "allowClientCredentialsGrant": allow_client_credentials,
        "refreshToken": refresh_tokens,
        "postLogoutRedirectUris": post_logout_redirect_uris or [],
        "accessTokenExpiration": box.spec.platform.services.identity.access_token_lifetime_s,
        "accessTokenJWT": True,
        "accessTokenClaims": True,
        "accessTokenSignAlg": "RS256",
        "rule": access_rule(admit, client_credentials=allow_client_credentials),
    }
    opts.update(options or {})
    return {
        "confKey": client_id,
        "clientId": client_id,
        "redirectUris": redirect_uris,
        "exportedVars": exported_vars if exported_vars is not None else DEFAULT_EXPORTED_VARS,
        "extraClaims": extra_claims if extra_claims is not None else DEFAULT_EXTRA_CLAIMS,
        "options": opts,
    }


# The options the manager API fills in for a new client (as LLNG 2.16 writes them), under ours.
_RP_OPTION_DEFAULTS: dict[str, Any] = {
    "AccessTokenClaims": 0, "AccessTokenJWT": 0, "AccessTokenSignAlg": "RS256", "AllowOffline": 0,
    "LogoutBypassConfirm": 0, "LogoutSessionRequired": 0, "LogoutType": "front", "RequirePKCE": 0,
    "UserInfoSignAlg": "", "PostLogoutRedirectUris": "", "ExtraClaims": {},
}


def conf_entries(body: dict[str, Any]) -> dict[str, Any]:
    """A manager-API client body as the lmConf keys the manager itself would write for it."""
    def conf_value(value: Any) -> Any:
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, list):
            return " ".join(value)
        return value

    options = {f"oidcRPMetaDataOptions{k}": v for k, v in _RP_OPTION_DEFAULTS.items()}
    for key, value in body["options"].items():
        options[f"oidcRPMetaDataOptions{key[0].upper()}{key[1:]}"] = conf_value(value)
    options.update({
        "oidcRPMetaDataOptionsClientID": body["clientId"],
        "oidcRPMetaDataOptionsRedirectUris": conf_value(body["redirectUris"]),
        "oidcRPMetaDataScopeRules": {},
    })
    return {
        "oidcRPMetaDataOptions": options,
        "oidcRPMetaDataExportedVars": dict(body["exportedVars"]),
        "oidcRPMetaDataOptionsExtraClaims": dict(body["extraClaims"]),
        "oidcRPMetaDataMacros": {},
    }


def client_differs(current: dict[str, Any] | None, body: dict[str, Any]) -> bool:
    """Whether a configured client (its lmConf options, as `configured_clients` reads them) lacks anything
    `body` sets: its id, redirect URIs, secret, access rule or any other option of ours. A client written by
    older code (say, one without an access rule) differs, so the next provisioning rewrites it."""
    if not current:
        return True
    wanted = conf_entries(body)["oidcRPMetaDataOptions"]
    ours = {f"oidcRPMetaDataOptions{k[0].upper()}{k[1:]}" for k in body["options"]}
    ours |= {"oidcRPMetaDataOptionsClientID", "oidcRPMetaDataOptionsRedirectUris"}
    return any(option_text(current.get(key)) != option_text(wanted[key]) for key in ours)
