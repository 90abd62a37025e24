"""What a deploy hands an app's role of the agency's mail (docs/mail.md): one shape, `<role>_mail` with the same
keys for every app that takes mail (`layout.mail_vars`), only on deploy, none without the agency's mail and none to
an app that sends none; and the two roles that send (the portal's newsletter, the centre's notifications) write
from it the same env file lines as before the shape was one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml

from govcloud_platform.apps.layout import MAIL_KEYS, mail_vars, role_vars
from govcloud_platform.apps.manifests import CATALOGUE, manifest
from govcloud_platform.apps.store import Deployment
from govcloud_platform.box.context import Box
from govcloud_platform.spec.example import EXAMPLE_SPEC
from govcloud_platform.spec.loader import load_spec_text
from govcloud_platform.spec.models import APP_NEEDS

ROLES = Path(__file__).resolve().parents[2] / "roles"
SENDING = sorted(n for n, m in CATALOGUE.items() if "mail" in (*m.services, *m.optional_services))
SECRETS = {"db_password": "p" * 20, "oidc_secret": "s" * 32, "secret_key": "k" * 40, "tracking_key": "ab" * 32}


def login(tmp_path: Path) -> dict[str, Any]:
    """The agency's SMTP login as its mail broker binds it (brokers/mail.py)."""
    return {"host": "localhost", "port": 18015, "username": "ag-alpha", "password": "m" * 24,
            "from_address": "noreply@alpha.gov.example", "sender_domain": "alpha.gov.example", "tls": "starttls",
            "ca_file": str(tmp_path / "ca" / "ca.pem")}


def deploy_vars(tmp_path: Path, app: str, action: str = "deploy", mail: dict[str, Any] | None = None,
                secrets: dict[str, Any] | None = SECRETS) -> dict[str, Any]:
    box = Box(home=tmp_path, spec=load_spec_text(EXAMPLE_SPEC))
    d = Deployment(agency="alpha", app=app, state="ready", port=box.port_base + 20, created_at="", updated_at="")
    return role_vars(box, "alpha", "Alpha", manifest(app), d, secrets if action == "deploy" else None, None, None,
                     None, action, mail=mail)


def test_the_apps_that_send_mail_take_it_as_an_optional_service() -> None:
    assert SENDING == ["centre", "portal"]
    for app in SENDING:
        assert "mail" not in APP_NEEDS[app] and manifest(app).optional_services == ("mail",)
        assert manifest(app).as_dict()["optional_services"] == ["mail"]


def test_every_app_that_sends_gets_the_same_shape_under_its_role(tmp_path: Path) -> None:
    mail = login(tmp_path)
    expected = {"host": "localhost", "port": 18015, "username": "ag-alpha", "password": "m" * 24,
                "from_address": "noreply@alpha.gov.example", "sender_domain": "alpha.gov.example", "starttls": True,
                "ca_file": str(tmp_path / "ca" / "ca.pem")}
    assert set(expected) == set(MAIL_KEYS)
    for app in SENDING:
        v = deploy_vars(tmp_path, app, mail=mail)
        assert v[f"{app}_mail"] == expected, app
        assert not any(k.endswith("_smtp") for k in v), app  # no second shape (the portal's `portal_smtp` was one)
        assert [k for k in v if k.endswith("_mail")] == [f"{app}_mail"], app


@pytest.mark.parametrize("app", SENDING)
def test_no_mail_without_the_agencys_login_nor_on_remove(tmp_path: Path, app: str) -> None:
    assert f"{app}_mail" not in deploy_vars(tmp_path, app)  # the role's default {}: its mail is off
    assert f"{app}_mail" not in deploy_vars(tmp_path, app, mail={})
    removing = deploy_vars(tmp_path, app, "remove", mail=login(tmp_path))
    assert "m" * 24 not in repr(removing)


@pytest.mark.parametrize("app", sorted(set(CATALOGUE) - set(SENDING)))
def test_apps_that_send_no_mail_never_get_the_login(tmp_path: Path, app: str) -> None:
    got = deploy_vars(tmp_path, app, mail=login(tmp_path))
    assert "m" * 24 not in repr(got) and not any(k.endswith(("_mail", "_smtp")) for k in got)


@pytest.mark.parametrize(("given", "domain", "starttls"), [
    ({}, "alpha.gov.example", True),
    ({"sender_domain": None}, "alpha.gov.example", True),  # none named: the domain of from_address
    ({"sender_domain": "other.example"}, "other.example", True),
    ({"tls": "none"}, "alpha.gov.example", False),
])
def test_mail_vars_sender_domain_and_starttls(tmp_path: Path, given: dict[str, Any], domain: str,
                                              starttls: bool) -> None:
    mail = {**login(tmp_path), **given}
    if given.get("sender_domain", "") is None:
        del mail["sender_domain"]
    out = mail_vars(mail, "/on/the/host/ca.pem")
    assert tuple(out) == MAIL_KEYS
    assert (out["sender_domain"], out["starttls"], out["ca_file"]) == (domain, starttls, "/on/the/host/ca.pem")


def render_env(app: str, variables: dict[str, Any]) -> dict[str, str]:
    """The role's env file template rendered (Jinja, as Ansible does) with its defaults and `variables`: its lines."""
    role = ROLES / app
    defaults = yaml.safe_load((role / "defaults" / "main.yml").read_text())
    env = jinja2.Environment(undefined=jinja2.ChainableUndefined, keep_trailing_newline=True)  # noqa: S701 - env file
    text = env.from_string((role / "templates" / f"{app}.env.j2").read_text()).render({**defaults, **variables})
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))


def test_the_portal_writes_the_newsletters_settings_as_before(tmp_path: Path) -> None:
    ca = str(tmp_path / "ca" / "ca.pem")
    lines = render_env("portal", deploy_vars(tmp_path, "portal", mail=login(tmp_path)))
    assert {k: v for k, v in lines.items() if k.startswith(("SMTP_", "MAIL_"))} == {
        "SMTP_HOST": "localhost", "SMTP_PORT": "18015", "SMTP_USER": "ag-alpha", "SMTP_PASSWORD": "m" * 24,
        "SMTP_STARTTLS": "true", "MAIL_FROM": "newsletter@alpha.gov.example", "SMTP_CA_FILE": ca}
    off = render_env("portal", deploy_vars(tmp_path, "portal"))
    assert not any(k.startswith(("SMTP_", "MAIL_")) for k in off)  # no newsletter


def test_the_centre_writes_its_notifications_settings_as_before(tmp_path: Path) -> None:
    ca = str(tmp_path / "ca" / "ca.pem")
    lines = render_env("centre", deploy_vars(tmp_path, "centre", mail=login(tmp_path)))
    assert {k: v for k, v in lines.items() if k.startswith(("SMTP_", "MAIL_"))} == {
        "SMTP_HOST": "localhost", "SMTP_PORT": "18015", "SMTP_USERNAME": "ag-alpha", "SMTP_PASSWORD": "m" * 24,
        "SMTP_FROM": "noreply@alpha.gov.example", "SMTP_CA_FILE": ca}
    off = render_env("centre", deploy_vars(tmp_path, "centre"))
    assert not any(k.startswith(("SMTP_", "MAIL_")) for k in off)  # notifications off


@pytest.mark.parametrize("app", SENDING)
def test_each_roles_argument_spec_takes_the_one_shape(app: str) -> None:
    specs = yaml.safe_load((ROLES / app / "meta" / "argument_specs.yml").read_text())
    options = specs["argument_specs"]["main"]["options"][f"{app}_mail"]
    assert options["type"] == "dict" and tuple(options["options"]) == MAIL_KEYS
    assert options["options"]["password"].get("no_log") is True
    assert f"{app}_smtp" not in specs["argument_specs"]["main"]["options"]
