"""What a deploy hands the centre's role for data sharing between agencies: the agency's part of the spec's G2G
directory; where the platform runs the signing service, no key (the centre signs through it: one key home), else (the
hosts target) a key with a certificate from the box's platform CA naming `<slug>.g2g.govcloud` (which the centre reads
as the agency); the env file's G2G lines; nothing for an agency that takes no part."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from centre_core import g2g
from centre_core.g2g_keys import FileSigner
from govcloud_platform.apps.layout import public_url, role_vars
from govcloud_platform.apps.manifests import manifest
from govcloud_platform.apps.store import Deployment
from govcloud_platform.box.context import Box
from govcloud_platform.spec.loader import load_spec_text
from tests.unit.test_spec_g2g import SPEC

ROLE = Path(__file__).resolve().parents[2] / "roles" / "centre"
SECRETS = {"db_password": "p" * 20, "oidc_secret": "s" * 32, "secret_key": "k" * 40, "tracking_key": "ab" * 32}


def deploy_vars(box: Box, slug: str, signing: dict[str, Any] | None = None) -> dict[str, Any]:
    """Without `signing`: as on the hosts target, where the platform runs no signing service."""
    d = Deployment(agency=slug, app="centre", state="ready", port=box.port_base + 20, created_at="", updated_at="")
    return role_vars(box, slug, slug.title(), manifest("centre"), d, SECRETS, None, None, None, "deploy",
                     signing=signing)


def _signing(slug: str) -> dict[str, Any]:
    return {"sign_url": f"https://localhost:18018/sign/{slug}", "secret": "s" * 40}


def test_each_agency_gets_its_part_and_a_key_naming_it(tmp_path: Path) -> None:
    box = Box(home=tmp_path, spec=load_spec_text(SPEC))
    health, trade, police = (deploy_vars(box, s) for s in ("health", "trade", "police"))
    assert health["centre_g2g_directory"]["asks"][0]["url"] == public_url(box, "trade", "centre") + "/api/g2g/requests"
    assert trade["centre_g2g_directory"]["offers"][0]["grants"][0]["agency"] == "health"
    assert "centre_g2g_directory" not in police  # takes no part: no key issued either
    for v, slug in ((health, "health"), (trade, "trade")):
        signer = FileSigner(Path(v["centre_g2g_key_src"]), Path(v["centre_g2g_cert_src"]))
        leaf = x509.load_der_x509_certificate(signer.chain[0])
        assert g2g.cert_agency(leaf) == slug
        leaf.verify_directly_issued_by(x509.load_pem_x509_certificate(box.ca.cert_file.read_bytes()))
    assert g2g.directory(health["centre_g2g_directory"]).asks["business_registered"].answerer == "trade"
    removing = role_vars(box, "trade", "Trade", manifest("centre"),
                         Deployment(agency="trade", app="centre", state="ready", port=1, created_at="", updated_at=""),
                         None, None, None, None, "remove")
    assert "centre_g2g_directory" not in removing


def test_where_the_signing_service_runs_no_g2g_key_is_issued_or_copied(tmp_path: Path) -> None:
    """The box runs the signing service: the agency's G2G key is the service's; the deploy issues none, removes one
    an earlier deploy issued from the controller, and the role is told no key source (it removes the instance's)."""
    box = Box(home=tmp_path, spec=load_spec_text(SPEC))
    earlier = deploy_vars(box, "health")  # as a deploy before the signing service held the key
    old_key = Path(earlier["centre_g2g_key_src"])
    assert old_key.exists()
    v = deploy_vars(box, "health", _signing("health"))
    assert v["centre_g2g_directory"] == earlier["centre_g2g_directory"]
    assert "centre_g2g_key_src" not in v and "centre_g2g_cert_src" not in v
    assert not old_key.exists() and not Path(earlier["centre_g2g_cert_src"]).exists()
    assert v["centre_signing"]["sign_url"].endswith("/sign/health")
    assert not list((box.ca.directory / "certs").glob("g2g-*"))
    assert deploy_vars(box, "police", _signing("police")).get("centre_g2g_directory") is None


def test_on_the_hosts_target_the_key_file_is_the_one_place(tmp_path: Path) -> None:
    """The hosts target places no signing service (`ports.NOT_ON_HOSTS`): there, and only there, the deploy issues
    the agency's G2G key from the control's platform CA, even if signing credentials were handed in."""
    import json

    from govcloud_platform.apps.layout import AppTarget
    from govcloud_platform.hosts.placement import placement_for
    from tests.unit.test_apps_on_hosts import lab3

    control = tmp_path / "control"
    control.mkdir()
    (control / "placement.json").write_text(json.dumps(placement_for(lab3(), None).to_json()))
    box = Box(home=control, spec=load_spec_text(SPEC))
    assert not box.runs("signing")
    there = AppTarget(Path("/srv/h3/box"), "h3", "10.231.8.13", "10.231.8.11", "/opt/govcloud/bin/supervisorctl")
    d = Deployment(agency="health", app="centre", state="ready", port=box.port_base + 20, created_at="", updated_at="")
    for signing in (None, _signing("health")):
        v = role_vars(box, "health", "Health", manifest("centre"), d, SECRETS, None, None, None, "deploy",
                      target=there, signing=signing)
        key = Path(v["centre_g2g_key_src"])
        assert key.is_relative_to(control / "ca") and key.exists() and Path(v["centre_g2g_cert_src"]).exists()
        assert v["centre_g2g_directory"]["connect"] == there.connect


def test_the_env_file_names_the_g2g_files_only_when_the_agency_takes_part(tmp_path: Path) -> None:
    box = Box(home=tmp_path, spec=load_spec_text(SPEC))
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    env = jinja2.Environment(undefined=jinja2.ChainableUndefined, keep_trailing_newline=True)  # noqa: S701 - env file
    template = env.from_string((ROLE / "templates" / "centre.env.j2").read_text())
    for slug, present in (("health", True), ("police", False)):
        text = template.render({**defaults, **deploy_vars(box, slug), "centre_instance_dir": "/srv/i"})
        lines = [line for line in text.splitlines() if line.startswith("G2G_")]
        assert lines == (["G2G_DIRECTORY=/srv/i/g2g.json", "G2G_CERT_FILE=/srv/i/g2g.pem",
                          "G2G_KEY_FILE=/srv/i/g2g.key", f"G2G_CA_FILE={box.ca_file}"] if present else []), slug
        text = template.render({**defaults, **deploy_vars(box, slug, _signing(slug)), "centre_instance_dir": "/srv/i",
                                "_centre_signing_secret_file": "/srv/i/signing.secret"})
        lines = [line for line in text.splitlines() if line.startswith(("G2G_", "SIGNING_"))]
        assert lines == (["SIGNING_URL=https://localhost:18018/sign/health",  # the key is the signing service's
                          "SIGNING_SECRET_FILE=/srv/i/signing.secret", "G2G_DIRECTORY=/srv/i/g2g.json",
                          f"G2G_CA_FILE={box.ca_file}"] if present else [
                          "SIGNING_URL=https://localhost:18018/sign/police",
                          "SIGNING_SECRET_FILE=/srv/i/signing.secret"]), slug
    deploy = (ROLE / "tasks" / "deploy.yml").read_text()
    block = deploy[deploy.index("- name: Copy the G2G key and certificate"):][:700]
    assert 'mode: "0600"' in block and "no_log: true" in block and "centre_g2g_key_src | length > 0" in block
    removal = deploy[deploy.index("- name: Remove a G2G key file the signing service replaced"):][:400]
    assert "centre_g2g_key_src | length == 0" in removal and "loop: [g2g.key, g2g.pem]" in removal
    preflight = (ROLE / "tasks" / "preflight.yml").read_text()
    assert "(centre_g2g_key_src | length > 0)" in preflight  # one of the two key homes, never both
    spec = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    assert {"centre_g2g_directory", "centre_g2g_cert_src", "centre_g2g_key_src"} <= set(spec)


def test_peers_are_reached_through_the_edge_proxy_by_name(tmp_path: Path) -> None:
    """The directory says where the apps host reaches the platform's public names (the proxy: the box's own), and the
    centre's transport connects there with the peer's name for SNI, Host and the certificate check (no DNS for the
    platform's names); a certificate for another name is refused."""
    import http.server
    import ssl
    import threading

    from centre_web.g2g import transport
    from tests.g2g_kit import TestCA

    box = Box(home=tmp_path / "box", spec=load_spec_text(SPEC))
    assert deploy_vars(box, "health")["centre_g2g_directory"]["connect"] == "127.0.0.1"
    assert g2g.directory(deploy_vars(box, "health")["centre_g2g_directory"]).connect == "127.0.0.1"
    ca = TestCA()
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(ca.cert.public_bytes(serialization.Encoding.PEM))
    key, cert = ca.issue(tmp_path / "web", "trade", cn="centre.trade.gov.example")
    seen: list[tuple[str, str, bytes]] = []

    class Peer(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            seen.append((self.path, self.headers["Host"], self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Type", "application/jose")
            self.end_headers()
            self.wfile.write(b"a.b.c")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Peer)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_port
        send = transport(str(ca_file), timeout=5, connect="127.0.0.1")
        assert send(f"https://centre.trade.gov.example:{port}/api/g2g/requests", "x.y.z") == (200, "a.b.c")
        assert seen == [("/api/g2g/requests", f"centre.trade.gov.example:{port}", b"x.y.z")]
        try:
            send(f"https://centre.police.gov.example:{port}/api/g2g/requests", "x.y.z")
            raise AssertionError("a certificate for another name was accepted")
        except OSError:
            pass
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(("directory", "signing", "key_src", "ok"), [
    ({}, {}, "", True),  # takes no part
    ({"agency": "health"}, {"sign_url": "https://localhost:18018/sign/health"}, "", True),  # the signing service's key
    ({"agency": "health"}, {}, "/ca/certs/g2g-health.key", True),  # the hosts target: a key file
    ({"agency": "health"}, {}, "", False),  # no key at all
    ({"agency": "health"}, {"sign_url": "https://localhost:18018/sign/health"}, "/k", False),  # two key homes
])
def test_the_preflight_wants_one_key_home(directory: dict[str, str], signing: dict[str, str], key_src: str,
                                          ok: bool) -> None:
    """The role's preflight assertion on G2G, evaluated as ansible-core does (a boolean, or the deploy fails)."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar, trust_as_template

    tasks = yaml.safe_load((ROLE / "tasks" / "preflight.yml").read_text())
    [condition] = [c for t in tasks for c in t.get("ansible.builtin.assert", {}).get("that", [])
                   if "centre_g2g_key_src" in c]
    templar = Templar(loader=DataLoader(), variables={"centre_g2g_directory": directory, "centre_signing": signing,
                                                      "centre_g2g_key_src": key_src})
    assert templar.evaluate_conditional(trust_as_template(condition)) is ok
