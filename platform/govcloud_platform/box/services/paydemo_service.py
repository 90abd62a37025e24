"""The demo payment provider as a box service (docs/centre.md "E-payments"): the WSGI app of paydemo.py in its own
process, serving HTTPS itself (a certificate from the box CA) on the box's address, port `port_base + 19`. Opt-in
(`platform.services.paydemo.enabled`, `Box.runs`): a demo provider never runs by surprise. On a box on one machine
only (the hosts target does not place it).

Its merchants file (each agency's webhook secret and its centre's notification URL, 0600) is written by the paydemo
broker (brokers/paydemo.py) at `agency add`; the process reads it again when it changes. It posts notifications
through the box's proxy (`--connect`), checking the centres' certificates against the box CA. No money moves."""

from __future__ import annotations

import sys
from pathlib import Path

from govcloud_platform.box.context import Box
from govcloud_platform.box.secrets import write_private
from govcloud_platform.box.services.base import Program, Service, first_log_line, https_ok

PROGRAM = "paydemo"
SERVICE = "paydemo"


def public_url(box: Box) -> str:
    return f"https://{box.host_name}:{box.ports.paydemo_https}"


def merchants_file(box: Box) -> Path:
    return box.home / "paydemo" / "merchants.json"


def argv(box: Box) -> list[str]:
    """The provider's command line (no secret on it: the secrets are in the merchants file)."""
    certs = box.ca.directory / "certs"
    return [sys.executable, "-m", "govcloud_platform.box.services.paydemo",
            "--host", box.bind_address("paydemo_https"), "--port", str(box.ports.paydemo_https),
            "--merchants", str(merchants_file(box)), "--cert", str(certs / "paydemo.pem"),
            "--key", str(certs / "paydemo.key"), "--ca-file", str(box.ca_file),
            "--connect", box.bind_address("proxy_https")]


class PaydemoService(Service):
    name = SERVICE
    serves_brokers = False  # the broker writes the merchants file; `agency add` works while the service is down
    opt_in = True

    def prepare(self, box: Box) -> None:
        box.dir("paydemo")
        if not merchants_file(box).exists():
            write_private(merchants_file(box), "{}\n")
        dns, ips = box.certificate_names()
        box.ca.issue("paydemo", dns, ips)

    def programs(self, box: Box) -> list[Program]:
        return [Program(PROGRAM, argv(box), priority=45, directory=str(box.home / "paydemo"), stopwaitsecs=5)]

    ready_interval = 0.1

    def check(self, box: Box) -> tuple[bool, str]:
        resp, why = https_ok(box, f"{public_url(box)}/healthz")
        return (True, "demo payment provider (HTTPS), no money moves") if resp is not None else (False, why)

    def failure_cause(self, box: Box) -> str:
        return first_log_line(box, [f"{PROGRAM}.log"], lambda line: "Error" in line or "refused" in line)

    def endpoint(self, box: Box) -> str:
        return public_url(box)
