"""The attacker's suite: real clients try to cross from one agency (or an unprivileged local user, or a
citizen without a code or token) into what another agency owns. Every attempt is recorded in a matrix of
attempts and successes per class, printed at the end of the run (tests/conftest.py; written as JSON next to
the test boxes): the goal is 0 successes. A new service or app is covered by adding a row to the class's
parametrized table.

Classes: names (crafted slugs and app names), local (an unprivileged local user, and each app's system user),
oidc (cross-client login, code and token exchange, introspection, refresh), database (privilege escalation
from an agency's roles), s3 (another agency's bucket through every API family), citizen (the Citizen's Centre
through the agency's TLS proxy, as a citizen without the link or code: saved answers, the tracking throttle),
cluster (the highly available database's own ports on the hosts target: etcd, Patroni's REST API, pgBackRest's
TLS server, replication; run on test_hosts_ha's lab), mail (the box's SMTP submission: sending as another agency,
relaying without AUTH, another agency's login), console (the web console's API and pages as another agency's
member: its slug tampered with, forged or foreign tokens, a forged session)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import BoxHandle

# --- shared targets: two agencies on the session box, the attacker and the victim ----------------------
VICTIM, INTRUDER = "sec-victim", "sec-intruder"


@pytest.fixture(scope="session")
def tenants(box: BoxHandle) -> dict[str, dict[str, Any]]:
    """Credentials (`agency credentials --json --show-secrets`) of the victim and the intruder agency, both
    onboarded through the CLI on the session box."""
    out: dict[str, dict[str, Any]] = {}
    for slug in (VICTIM, INTRUDER):
        added = box.cli("agency", "add", slug, "--name", f"Security {slug}", "--email", f"it@{slug}.example")
        assert added.rc == 0, added.stderr
        creds = box.cli("--json", "agency", "credentials", slug, "--show-secrets")
        assert creds.rc == 0, creds.stderr
        out[slug] = creds.json()
    return out
