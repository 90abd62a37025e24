"""The app catalogue and what a deploy hands a role: the spec accepts exactly the catalogue's apps with the
services their manifests need, and the app's own keys (Django's, the centre's tracking key) go to the apps that
use them and no other."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from govcloud_platform.apps.layout import key_vars, new_secrets
from govcloud_platform.apps.manifests import CATALOGUE, manifest
from govcloud_platform.errors import InputError
from govcloud_platform.spec.models import APP_NAMES, APP_NEEDS


def test_the_spec_knows_every_app_of_the_catalogue_and_its_services() -> None:
    assert set(APP_NAMES) == set(CATALOGUE) == set(APP_NEEDS)
    for name, m in CATALOGUE.items():
        assert APP_NEEDS[name] == set(m.services), name
        assert m.role == name and m.health_path.startswith("/")


def test_the_centre_is_in_the_catalogue_with_its_database_bucket_and_identity() -> None:
    centre = manifest("centre")  # documents in the agency's bucket; staff tokens: the agency's client
    assert centre.services == ("database", "storage", "identity") and centre.implemented
    doc = centre.as_dict()
    assert doc["keys"] == ["secret_key", "tracking_key"] and doc["services"] == ["database", "storage", "identity"]
    with pytest.raises(InputError):
        manifest("centres")


def test_a_new_centre_gets_a_tracking_key_of_32_random_bytes_and_other_apps_none() -> None:
    first, second = new_secrets(manifest("centre")), new_secrets(manifest("centre"))
    assert re.fullmatch(r"[0-9a-f]{64}", first["tracking_key"])
    assert first["tracking_key"] != second["tracking_key"] and first["secret_key"] != second["secret_key"]
    assert len(first["secret_key"]) >= 32 and first["db_password"]
    for other in ("portal", "opendata", "messaging", "documents"):
        assert "tracking_key" not in new_secrets(manifest(other)), other


@pytest.mark.parametrize(("app", "keys"), [
    ("centre", {"secret_key", "tracking_key"}),   # its citizens' signed session and the codes' HMAC
    ("portal", {"secret_key"}),                   # SSO apps: Django's key
    ("documents", {"secret_key"}),
    ("messaging", {"secret_key"}),
    ("opendata", set()),                          # no session, no key
])
def test_each_app_gets_only_its_own_keys(app: str, keys: set[str]) -> None:
    secrets = {"secret_key": "s" * 40, "tracking_key": "ab" * 32, "db_password": "p", "oidc_secret": "o"}
    out = key_vars(manifest(app), secrets)
    assert set(out) == keys
    assert all(out[k] == secrets[k] for k in out)


def test_every_app_has_a_port_on_openstack() -> None:
    """The `openstack` target opens each app's port on its VM: an app missing there would fail its stack."""
    from govcloud_stacks.app import APP_PORTS

    assert set(APP_PORTS) == set(CATALOGUE)
    assert len(set(APP_PORTS.values())) == len(APP_PORTS)


def test_the_spec_declares_a_centre_for_an_agency_with_a_database_and_identity() -> None:
    from govcloud_platform.errors import SpecError
    from govcloud_platform.spec import load_spec_text
    from govcloud_platform.spec.example import EXAMPLE_SPEC

    old = "    services: [database, storage, identity, backups]\n    apps: []"
    assert old in EXAMPLE_SPEC
    spec = load_spec_text(EXAMPLE_SPEC.replace(old, "    services: [database, storage, identity]\n    apps: [centre]"),
                          "g.yaml")
    assert spec.agencies[0].apps == ["centre"]
    with pytest.raises(SpecError) as refused:  # no database for applications, no bucket for documents, no IdP
        load_spec_text(EXAMPLE_SPEC.replace(old, "    services: [backups]\n    apps: [centre]"), "g.yaml")
    found = [str(p) for p in refused.value.problems]
    assert len(found) == 1 and re.fullmatch(r"g\.yaml:\d+: agencies\[0\]\.apps: app 'centre' needs services "
                                            r"\['database', 'identity', 'storage'\]", found[0]), found


def test_the_centre_is_told_its_agencys_client_and_desk_groups(tmp_path: Path) -> None:
    """Staff tokens: the issuer and the audience (the agency's client for the centre), the desk groups' prefix;
    the staff pages sign staff in with the client's code flow, so its secret goes to the role (only on deploy)."""
    from govcloud_platform.apps.layout import role_vars
    from govcloud_platform.apps.store import Deployment
    from govcloud_platform.box.context import Box
    from govcloud_platform.spec.example import EXAMPLE_SPEC
    from govcloud_platform.spec.loader import load_spec_text

    box = Box(home=tmp_path, spec=load_spec_text(EXAMPLE_SPEC))
    d = Deployment(agency="alpha", app="centre", state="ready", port=box.port_base + 20, created_at="", updated_at="")
    secrets = {"db_password": "p" * 20, "oidc_secret": "s" * 32, "secret_key": "k" * 40, "tracking_key": "ab" * 32}
    storage = {"endpoint": "https://s3.test:8333", "bucket": "ag-alpha", "access_key": "AK", "secret_key": "x" * 40,
               "ca_file": "/ca.pem"}
    v = role_vars(box, "alpha", "Alpha", manifest("centre"), d, secrets, storage, None, None, "deploy")
    assert v["centre_oidc"] == {"issuer": box.issuer, "client_id": "ag-alpha--centre", "client_secret": "s" * 32}
    assert v["centre_s3"] == {k: storage[k] for k in ("endpoint", "bucket", "access_key", "secret_key")}
    assert v["centre_desk_group_prefix"] == "agency-alpha--desk-" and v["centre_agency_group"] == "agency-alpha"
    removing = role_vars(box, "alpha", "Alpha", manifest("centre"), d, None, None, None, None, "remove")
    assert "s" * 32 not in repr(removing)
    assert "centre_mail" not in v  # the agency has no mail service: notifications are off
    # the shared design (docs/design.md): the agency's brand, as the portal's (the example's agency has no `brand:`)
    assert v["centre_brand_colour"] == "#1d70b8" and v["centre_brand_logo_src"] == ""
    assert "centre_brand_colour" not in removing


def test_the_centres_client_registers_its_signed_out_pages_for_the_idps_logout(tmp_path: Path) -> None:
    """LemonLDAP::NG sends a browser back after ending its session only to a post-logout redirect URI registered
    (exactly) for the client: the centre's client registers its staff pages' signed-out page in each language,
    and skips the IdP's logout confirmation (the sign-out is a form with a CSRF token in the centre); a client
    registered before without them differs, so the next deploy rewrites it. Other apps register none."""
    from govcloud_platform.apps.layout import app_oidc_client, public_url
    from govcloud_platform.box import oidc_clients
    from govcloud_platform.box.context import Box
    from govcloud_platform.spec.example import EXAMPLE_SPEC
    from govcloud_platform.spec.loader import load_spec_text

    box = Box(home=tmp_path, spec=load_spec_text(EXAMPLE_SPEC))
    body = app_oidc_client(box, "alpha", "Alpha", manifest("centre"), "s" * 32)
    base = public_url(box, "alpha", "centre")
    assert body["clientId"] == "ag-alpha--centre" and body["redirectUris"] == [f"{base}/oidc/callback/"]
    back = [f"{base}/en/staff/signed-out/", f"{base}/ur/staff/signed-out/"]
    assert body["options"]["postLogoutRedirectUris"] == back and body["options"]["logoutBypassConfirm"] is True
    conf = oidc_clients.conf_entries(body)["oidcRPMetaDataOptions"]
    assert conf["oidcRPMetaDataOptionsPostLogoutRedirectUris"] == " ".join(back)
    assert conf["oidcRPMetaDataOptionsLogoutBypassConfirm"] == 1
    assert not oidc_clients.client_differs(conf, body)
    older = {**conf, "oidcRPMetaDataOptionsPostLogoutRedirectUris": "", "oidcRPMetaDataOptionsLogoutBypassConfirm": 0}
    assert oidc_clients.client_differs(older, body)
    for app in ("portal", "messaging", "documents"):
        other = app_oidc_client(box, "alpha", "Alpha", manifest(app), "s" * 32)
        assert other["options"]["postLogoutRedirectUris"] == [] and "logoutBypassConfirm" not in other["options"]
        assert other["redirectUris"] == [f"{public_url(box, 'alpha', app)}{manifest(app).oidc_callback}"]
