"""The mail service's pure parts: Postfix's files (the submission and sender rules, local delivery or the relay),
the spec's `mail` service and settings, the SMTP login names and the Maildir reader.
The real Postfix: tests/integration/test_mail.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from govcloud_platform.box import placement as record
from govcloud_platform.box.ports import NOT_ON_HOSTS, OFFSETS, Ports
from govcloud_platform.box.services import all_services
from govcloud_platform.box.services.mail_conf import (
    MailPaths,
    mail_domain,
    mailboxes_regexp,
    main_cf,
    master_cf,
    relay_map,
    senders_regexp,
)
from govcloud_platform.brokers import brokers
from govcloud_platform.errors import SpecError
from govcloud_platform.mailbox import delivered, is_for
from govcloud_platform.names import parse_smtp_login, sender_domain, smtp_login
from govcloud_platform.spec import load_spec_text
from govcloud_platform.spec.example import EXAMPLE_SPEC
from govcloud_platform.spec.models import Agency, MailSettings

PATHS = MailPaths(Path("/srv/box/mail"))


def _main(settings: MailSettings, relay_auth: bool = False) -> dict[str, str]:
    text = main_cf(PATHS, address="127.0.0.1", port=18015, domain="gov.example", settings=settings,
                   cert=Path("/c.pem"), key=Path("/c.key"), uid=105, gid=107, relay_auth=relay_auth)
    return dict(line.split(" = ", 1) if " = " in line else (line.rstrip(" ="), "")
                for line in text.splitlines() if line and not line.startswith("#"))


def test_submission_needs_tls_then_auth_and_only_authenticated_clients_send_as_their_own_agency() -> None:
    conf = _main(MailSettings())
    assert conf["smtpd_tls_security_level"] == "encrypt" and conf["smtpd_tls_auth_only"] == "yes"
    assert conf["smtpd_relay_restrictions"] == "permit_sasl_authenticated, reject"
    assert "reject_sender_login_mismatch" in conf["smtpd_sender_restrictions"]
    assert conf["smtpd_sender_login_maps"] == "regexp:/srv/box/mail/etc/senders.regexp"
    assert conf["mynetworks"] == "" and conf["mydestination"] == ""  # no client is trusted for its address
    assert conf["inet_interfaces"] == "127.0.0.1" and conf["queue_directory"] == "/srv/box/mail/queue"


def test_local_delivery_by_default_and_the_relay_when_the_operator_sets_one() -> None:
    local = _main(MailSettings())
    assert local["default_transport"] == "virtual" and local["virtual_mailbox_base"] == "/srv/box/mail/maildir"
    assert "relayhost" not in local
    relayed = MailSettings.model_validate({"relay": {"host": "smtp.gov.example", "username": "box",
                                                     "password_file": "/etc/relay"}})
    out = _main(relayed, relay_auth=True)
    assert out["default_transport"] == "smtp" and out["relayhost"] == "[smtp.gov.example]:587"
    assert out["smtp_tls_security_level"] == "encrypt" and out["smtp_sasl_auth_enable"] == "yes"
    assert "virtual_mailbox_base" not in out
    assert relay_map(relayed, "pw") == "[smtp.gov.example]:587 box:pw\n"
    assert relay_map(MailSettings(), "pw") == ""


def test_every_daemon_runs_without_chroot_and_smtpd_listens_on_the_box_port() -> None:
    text = master_cf("127.0.0.1", 18015)
    rows = [line.split() for line in text.splitlines() if line and not line.startswith("#")]
    assert rows[0] == ["127.0.0.1:18015", "inet", "n", "-", "n", "-", "-", "smtpd"]
    assert all(row[4] == "n" for row in rows)  # chroot off: the queue lives in the box home


def _owner(domain: str, sender: str) -> str | None:
    """Postfix's regexp map, read with Python's re (the pattern uses only what both understand)."""
    for line in senders_regexp(domain).splitlines():  # the first match wins, as in Postfix
        pattern, result = line.split(" ", 1)
        found = re.match(pattern.strip("/"), sender, re.IGNORECASE)
        if found:
            return result.replace("${1}", found.group(1)) if found.groups() else result
    return None


@pytest.mark.parametrize(("sender", "owner"), [
    ("noreply@health.gov.example", "ag-health@gov.example"),
    ("notices@city-council.gov.example", "ag-city-council@gov.example"),
    ("x@revenue.gov.example", "ag-revenue@gov.example"),
    ("noreply@gov.example", None),  # the platform's own domain: no agency's, so no agency may use it
    ("console@gov.example", "platform-console@gov.example"),  # the console's one address there (invitations)
    ("console@health.gov.example", "ag-health@gov.example"),
    ("xconsole@gov.example", None),
    ("noreply@a.health.gov.example", None),  # a sub-domain of an agency's is not the agency's
    ("noreply@health.gov.example.evil.org", None),
    ("noreply@healthxgovxexample", None),  # the dots are literal
    ("someone@gmail.com", None),
])
def test_the_sender_map_gives_each_agency_domain_to_its_login_only(sender: str, owner: str | None) -> None:
    assert _owner("gov.example", sender) == owner


def test_no_recipient_chooses_a_path() -> None:
    assert mailboxes_regexp() == "/^/ all/\n"


def test_mail_is_opt_in_and_needs_a_mail_host_on_the_hosts_target() -> None:
    assert "mail" not in Agency(slug="health", name="Health", email="it@health.gov.example").services
    spec = load_spec_text(EXAMPLE_SPEC.replace("services: [database, storage, identity, backups]",
                                               "services: [database, identity, mail]"), "g.yaml")
    assert "mail" in spec.agencies[0].services and mail_domain(spec) == "gov.example"
    text = EXAMPLE_SPEC.replace("target: local ", "target: hosts ").replace(
        "services: [database, storage, identity, backups]", "services: [database, mail]")
    with pytest.raises(SpecError) as info:
        load_spec_text(text, "g.yaml")
    assert not any("mail" in str(p) for p in info.value.problems)  # no topology at all: that problem only
    # with a topology: one host must serve `mail` (tests/unit/test_mail_hosts.py)


def test_mail_settings_have_defaults_and_refuse_bad_values() -> None:
    settings = MailSettings()
    assert settings.domain == "" and settings.relay.host == "" and settings.relay.port == 587
    with pytest.raises(ValueError, match="invalid relay host"):
        MailSettings.model_validate({"relay": {"host": "smtp.example; rm -rf /"}})
    with pytest.raises(ValueError, match="invalid mail domain"):
        MailSettings.model_validate({"domain": "Not A Domain"})


def test_the_mail_service_runs_on_the_box_and_on_a_mail_host() -> None:
    assert [s.name for s in all_services()][-2:] == ["mail", "console"] and "mail" in brokers()
    assert "mail" in record.ALL and "mail" in record.OPTIONAL  # on the hosts target: the `mail` host's
    assert OFFSETS["smtp"] == (15, "mail") and Ports(18000).smtp == 18015
    assert "smtp" in record.unbound_ports(record.Placement(()))  # nothing binds it on hosts without a mail host
    assert "smtp" not in record.unbound_ports(None) and "smtp" not in NOT_ON_HOSTS


def test_smtp_login_names_round_trip() -> None:
    assert smtp_login("city-council") == "ag-city-council"
    owner = parse_smtp_login("ag-city-council")
    assert owner is not None and owner.slug == "city-council"
    assert parse_smtp_login("postfix") is None and parse_smtp_login("ag-x") is None
    assert sender_domain("health", "gov.example") == "health.gov.example"


def test_the_reader_finds_an_address_mail_by_its_delivered_to(tmp_path: Path) -> None:
    new = tmp_path / "mail" / "maildir" / "all" / "new"
    new.mkdir(parents=True)
    (new / "1.a").write_bytes(b"Delivered-To: Citizen@Example.org\r\nSubject: one\r\n\r\nbody\r\n")
    (new / "2.b").write_bytes(b"Delivered-To: other@example.org\r\nSubject: two\r\n\r\nbody\r\n")
    assert [m["Subject"] for m in delivered(tmp_path, "citizen@example.org")] == ["one"]
    assert delivered(tmp_path, "nobody@example.org") == []
    assert is_for(["<a@b.c>"], "A@B.C") and not is_for([], "a@b.c")
