"""The web console of the box (docs/console.md): the platform's own WSGI app (govcloud_platform.console) under
gunicorn on loopback, behind the front door's nginx (its TLS server block is written with the identity service's,
`identity.front_servers`), signed in through the box's IdP with its own OIDC client. Opt-in
(`platform.services.console.enabled`, `Box.runs`). On the hosts target its process runs on the control, where the
registry, the secrets and the brokers are, and the placed identity host's nginx fronts it through the control's SSH
tunnel (`console_conf.tunnel_argv`; docs/console.md "On the hosts target"); `hosts.console` starts and stops it."""

from __future__ import annotations

import json
import os
import shutil

from govcloud_platform.box import idp_api
from govcloud_platform.box.context import CA_ENV_VARS, Box
from govcloud_platform.box.oidc_clients import client_differs
from govcloud_platform.box.secrets import new_password, write_private
from govcloud_platform.box.services import console_conf, mail
from govcloud_platform.box.services.base import Program, Service, file_holds, first_log_line, https_ok
from govcloud_platform.box.services.mail_conf import CONSOLE_LOGIN

PROGRAM = "console"


def _settings_text(box: Box) -> str:
    return json.dumps(console_conf.settings_document(box), indent=2, sort_keys=True) + "\n"


class ConsoleService(Service):
    name = "console"
    serves_brokers = False  # `agency add` works while the console is down
    opt_in = True

    def prepare(self, box: Box) -> None:
        directory = box.dir("console")
        if os.geteuid() == 0:
            shutil.chown(directory, "root", "root")
        box.secrets.get_or_create(console_conf.CLIENT_SECRET, lambda: new_password(32))
        box.secrets.get_or_create(console_conf.SESSION_KEY, lambda: new_password(48))
        if box.runs("mail"):  # the console mails invitations as `console@<mail domain>` (prepared after mail's)
            mail.set_login(box, CONSOLE_LOGIN, box.secrets.get_or_create(console_conf.SMTP_PASSWORD))
        path = console_conf.settings_file(box)
        text = _settings_text(box)
        if not file_holds(path, text):
            write_private(path, text)

    def stale_programs(self, box: Box) -> list[str]:
        """The workers read the settings at start; a console made before it mailed invitations has no SMTP login yet
        (prepare makes it)."""
        no_login = box.runs("mail") and box.secrets.get(console_conf.SMTP_PASSWORD) is None
        return [] if file_holds(console_conf.settings_file(box), _settings_text(box)) and not no_login else [PROGRAM]

    def programs(self, box: Box) -> list[Program]:
        env = {k: str(box.ca_file) for k in CA_ENV_VARS}  # every client of the box verifies its CA
        out = [Program(PROGRAM, console_conf.gunicorn_argv(box, console_conf.settings_file(box)), priority=50,
                       directory=str(box.home / "console"), environment=env, stopwaitsecs=10)]
        front = box.host_of("identity")
        if box.placement is not None and front is not None:  # the control of the hosts target: its front's tunnel
            from govcloud_platform.box.remote import ssh_config

            out.append(Program(console_conf.TUNNEL_PROGRAM,
                               console_conf.tunnel_argv(ssh_config(box), front, box.ports.console_app), priority=50,
                               stopwaitsecs=5, startsecs=2))
        return out

    def post_start(self, box: Box) -> None:
        """The console's OIDC client at the IdP, written only when missing or different (under `up`'s lock)."""
        from govcloud_platform.box.services.identity import OPERATOR_GROUPS

        secret = box.secrets.get_or_create(console_conf.CLIENT_SECRET, lambda: new_password(32))
        body = console_conf.client_body(box, secret, OPERATOR_GROUPS)
        if client_differs(idp_api.configured_clients(box).get(console_conf.CLIENT_ID), body):
            idp_api.put_oidc_clients(box, [body])

    ready_interval = 0.2

    def check(self, box: Box) -> tuple[bool, str]:
        """The console's health page through nginx, over TLS checked against the box CA."""
        resp, why = https_ok(box, f"{console_conf.public_url(box)}/healthz")
        return (True, "web console (HTTPS), API at /api/openapi.json") if resp is not None else (False, why)

    def failure_cause(self, box: Box) -> str:
        return first_log_line(box, [f"{PROGRAM}.log"], lambda line: "Error" in line or "[ERROR]" in line)

    def endpoint(self, box: Box) -> str:
        return console_conf.public_url(box) + "/"
