"""The demo payment provider as a box service (docs/centre.md "E-payments"): opt-in in the spec, its port, where it
runs, its broker's merchants file, the centre's `centre_payments`, and the provider reading the platform's merchants
file (a registered notification URL wins over a checkout's; an agency added while it runs is known at once)."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest

from govcloud_platform.apps.layout import role_vars
from govcloud_platform.apps.manifests import manifest
from govcloud_platform.apps.store import Deployment
from govcloud_platform.box.context import Box
from govcloud_platform.box.ports import NOT_ON_HOSTS, OFFSETS, Ports
from govcloud_platform.box.services import all_services, paydemo, paydemo_service
from govcloud_platform.brokers import SECRET_KEYS, brokers
from govcloud_platform.brokers.paydemo import PaydemoBroker, notify_url
from govcloud_platform.errors import SpecError
from govcloud_platform.spec import Quota, load_spec_text
from govcloud_platform.spec.example import EXAMPLE_SPEC

ENABLED = EXAMPLE_SPEC.replace("  openstack:                   # used",
                               "    paydemo:\n      enabled: true\n  openstack:                   # used", 1)
SECRETS = {"db_password": "p" * 20, "oidc_secret": "s" * 32, "secret_key": "k" * 40, "tracking_key": "ab" * 32}


def _box(tmp_path: Path, text: str = ENABLED) -> Box:
    return Box(home=tmp_path / "box", spec=load_spec_text(text))


def test_off_unless_the_spec_enables_it(tmp_path: Path) -> None:
    assert ENABLED != EXAMPLE_SPEC
    off, on = _box(tmp_path, EXAMPLE_SPEC), _box(tmp_path)
    assert not off.spec.platform.services.paydemo.enabled and not off.runs("paydemo")
    assert on.runs("paydemo")
    svc = next(s for s in all_services() if s.name == "paydemo")
    assert svc.opt_in and not svc.serves_brokers  # `up` retires it once turned off; `agency add` never waits on it
    assert "paydemo_https" in off.unbound_ports() and "paydemo_https" not in on.unbound_ports()


@pytest.mark.parametrize("block", ["enabled: maybe", "enabled: true\n      port: 1"])
def test_the_spec_refuses_what_it_does_not_know(block: str) -> None:
    with pytest.raises(SpecError):
        load_spec_text(ENABLED.replace("enabled: true", block, 1))


def test_its_port_and_never_on_hosts(tmp_path: Path) -> None:
    assert OFFSETS["paydemo_https"] == (19, "paydemo") and Ports(18000).paydemo_https == 18019
    assert len({off for off, _ in OFFSETS.values()}) == len(OFFSETS)
    assert "paydemo_https" in NOT_ON_HOSTS
    box = _box(tmp_path)
    box.__dict__["placement"] = object()  # a home of the hosts target: the provider is not placed there
    assert not box.runs("paydemo")


def test_its_command_line_holds_no_secret(tmp_path: Path) -> None:
    box = _box(tmp_path)
    argv = paydemo_service.argv(box)
    assert argv[1:3] == ["-m", "govcloud_platform.box.services.paydemo"]
    assert argv[argv.index("--port") + 1] == str(box.ports.paydemo_https)
    assert argv[argv.index("--merchants") + 1] == str(paydemo_service.merchants_file(box))
    assert argv[argv.index("--connect") + 1] == box.bind_address("proxy_https")  # the centres through the proxy


def test_the_broker_keeps_one_secret_per_agency_in_a_private_file(tmp_path: Path) -> None:
    box = _box(tmp_path)
    broker = brokers()["paydemo"]
    assert isinstance(broker, PaydemoBroker)
    quota = Quota.model_construct()  # not read by this broker
    creds = {s: broker.new_credentials(box, s) for s in ("health", "revenue")}
    assert creds["health"]["secret"] != creds["revenue"]["secret"] and len(creds["health"]["secret"]) >= 32
    for slug, c in creds.items():
        broker.provision(box, slug, slug, quota, c)
        broker.provision(box, slug, slug, quota, c)  # idempotent
    path = paydemo_service.merchants_file(box)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    doc = json.loads(path.read_text())
    assert doc["health"] == {"secret": creds["health"]["secret"],
                             "notify_url": f"https://centre.health.gov.example:{box.ports.proxy_https}"
                                           "/api/payments/notify"}
    bound = broker.bind(box, "health", creds["health"])
    assert bound["url"] == f"https://{box.host_name}:{box.ports.paydemo_https}/m/health"
    assert bound["kind"] == "paydemo" and bound["ca_file"] == str(box.ca_file) and "secret" in SECRET_KEYS
    assert broker.usage(box, "health") == {"merchant": True}
    assert broker.orphans(box, {"health"}) == ["paydemo merchant revenue"]
    broker.deprovision(box, "revenue", purge=False)
    assert set(json.loads(path.read_text())) == {"health"}
    assert paydemo.read_merchants(path)["health"].notify_url == notify_url(box, "health")


def _centre_vars(box: Box, payments: dict[str, Any] | None) -> dict[str, Any]:
    d = Deployment(agency="alpha", app="centre", state="ready", port=box.port_base + 20, created_at="", updated_at="")
    return role_vars(box, "alpha", "Alpha", manifest("centre"), d, SECRETS, {}, None, None, "deploy",
                     payments=payments)


def test_the_centre_is_handed_its_payments_where_the_provider_runs(tmp_path: Path) -> None:
    box = _box(tmp_path)
    bound = PaydemoBroker().bind(box, "alpha", {"secret": "x" * 43})
    v = _centre_vars(box, bound)
    assert v["centre_payments"] == {"url": bound["url"], "secret": "x" * 43, "kind": "paydemo",
                                    "ca_file": str(box.ca_file)}
    assert "centre_payments" not in _centre_vars(box, {})  # the role's default: counter only


def test_the_provider_reads_the_platforms_merchants_file(tmp_path: Path) -> None:
    path = tmp_path / "merchants.json"
    path.write_text(json.dumps({"alpha": {"secret": "a" * 43, "notify_url": "https://centre.alpha.test/n"}}))
    path.chmod(0o600)
    app = paydemo.PayDemo(paydemo.MerchantsFile(path))
    assert app.merchant("alpha") == paydemo.Merchant(b"a" * 43, "https://centre.alpha.test/n")
    assert "a" * 43 not in repr(app.merchant("alpha"))
    assert app.merchant("beta") is None
    path.write_text(json.dumps({"alpha": "a" * 43, "beta": {"secret": "b" * 43}}) + " ")  # added while it runs
    assert app.merchant("beta") == paydemo.Merchant(b"b" * 43, "")
    assert app.merchant("alpha") == paydemo.Merchant(b"a" * 43, "")  # the older form: a secret only


def _wsgi(app: paydemo.PayDemo, method: str, path: str, body: bytes = b"",
          headers: dict[str, str] | None = None) -> tuple[str, bytes]:
    import io

    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "CONTENT_LENGTH": str(len(body)),
               "wsgi.input": io.BytesIO(body), "SERVER_NAME": "pay.test", "SERVER_PORT": "443",
               "wsgi.url_scheme": "https", "HTTP_HOST": "pay.test"}
    environ.update({"HTTP_" + k.upper().replace("-", "_"): v for k, v in (headers or {}).items()})
    got: list[str] = []
    out = b"".join(app(environ, lambda status, _headers: got.append(status)))
    return got[0], out


def test_a_registered_notification_url_wins_over_the_checkouts(tmp_path: Path) -> None:
    secret = b"s" * 43
    app = paydemo.PayDemo({"alpha": paydemo.Merchant(secret, "https://centre.alpha.test/api/payments/notify")})
    assert _wsgi(app, "GET", "/healthz") == ("200 OK", b"ok")
    body = json.dumps({"bill": "B1", "amount": "10.00", "currency": "PKR", "returnUrl": "https://r.test/",
                       "notifyUrl": "https://elsewhere.test/steal"}).encode()
    status, out = _wsgi(app, "POST", "/m/alpha/v1/checkouts", body, paydemo.sign(secret, body))
    assert status.startswith("201")
    checkout = app.checkouts[json.loads(out)["id"]]
    assert checkout.notify_url == "https://centre.alpha.test/api/payments/notify"
    status, _ = _wsgi(app, "POST", "/m/alpha/v1/checkouts", body, paydemo.sign(b"t" * 43, body))
    assert status.startswith("401")


@pytest.mark.parametrize("url", ["ftp://x.test/n", "https:///n", "not a url"])
def test_no_notification_to_what_is_not_a_web_address(url: str) -> None:
    assert paydemo.post(url, b"{}", {}, None) == 0
