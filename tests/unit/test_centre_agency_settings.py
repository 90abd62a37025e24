"""An agency's centre settings and the grievance service, as pure decisions: the spec's `centre:` block (the
catalogue file relative to the spec, the time zone, the holidays: each wrong value one line naming the key), what
the apps layer hands the role, the working calendar in the agency's time zone, reopening and rating, and the
installed catalogue's versions (an archive with anything but flat files refused)."""

from __future__ import annotations

import io
import shutil
import tarfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from centre_core import bpmn, catalogue, engine, grievance, installed
from centre_core.errors import CatalogueError
from centre_core.timers import Calendar
from govcloud_platform.errors import SpecError
from govcloud_platform.spec.example import EXAMPLE_SPEC
from govcloud_platform.spec.loader import load_spec

APPS_LINE = "    apps: []                   # e.g. [portal, opendata]\n"


def spec_with(tmp_path: Path, block: str, apps: str = "[centre]") -> Path:
    assert APPS_LINE in EXAMPLE_SPEC
    path = tmp_path / "govcloud.yaml"
    path.write_text(EXAMPLE_SPEC.replace(APPS_LINE, f"    apps: {apps}\n{block}"))
    return path


def test_the_spec_names_the_catalogue_relative_to_itself(tmp_path: Path) -> None:
    shutil.copytree(catalogue.SAMPLES, tmp_path / "national")
    spec = load_spec(spec_with(tmp_path, "    centre:\n      catalogue: national/catalogue.yaml\n"
                                         "      time_zone: Asia/Karachi\n      holidays: [2026-03-23, '2026-08-14']\n"))
    assert spec.centre_catalogue("health") == tmp_path.resolve() / "national" / "catalogue.yaml"
    assert spec.agencies[0].centre is not None and spec.agencies[0].centre.holidays == ["2026-03-23", "2026-08-14"]
    assert spec.centre_catalogue("revenue") is None  # no block: the samples
    plain = load_spec(spec_with(tmp_path, "    centre: {}\n"))
    assert plain.centre_catalogue("health") is None and plain.agencies[0].centre is not None
    assert plain.agencies[0].centre.time_zone == "Asia/Karachi"


@pytest.mark.parametrize(("block", "apps", "expected"), [
    ("    centre:\n      catalogue: nowhere/catalogue.yaml\n", "[centre]",
     "agencies[0].centre.catalogue: no catalogue file"),
    ("    centre:\n      catalogue: notes.txt\n", "[centre]",
     "agencies[0].centre.catalogue: 'notes.txt' is not the path of a catalogue file"),
    ("    centre:\n      time_zone: Mars/Olympus\n", "[centre]", "agencies[0].centre.time_zone: unknown time zone"),
    ("    centre:\n      time_zone: ../../etc/passwd\n", "[centre]", "agencies[0].centre.time_zone"),
    ("    centre:\n      holidays: [2026-02-30]\n", "[centre]", "holiday '2026-02-30' is not a date"),
    ("    centre:\n      holidays: [2026-02-05, 2026-02-05]\n", "[centre]", "each holiday may appear only once"),
    ("    centre:\n      colour: green\n", "[centre]", "agencies[0].centre.colour: unknown key"),
    ("    centre: {}\n", "[]", "agencies[0].centre: centre settings given but `centre` is not in `apps`"),
])
def test_a_bad_centre_block_is_one_line_naming_the_key(tmp_path: Path, block: str, apps: str, expected: str) -> None:
    path = spec_with(tmp_path, block, apps)
    with pytest.raises(SpecError) as err:
        load_spec(path)
    message = str(err.value)
    assert expected in message and str(path) in message and "\n" not in message, message


def test_the_apps_layer_hands_the_role_the_catalogue_zone_and_holidays(tmp_path: Path) -> None:
    from govcloud_platform.apps.layout import centre_settings

    shutil.copytree(catalogue.SAMPLES, tmp_path / "cat")
    spec = load_spec(spec_with(tmp_path, "    centre:\n      catalogue: cat/catalogue.yaml\n"
                                         "      time_zone: Asia/Dubai\n      holidays: [2026-12-25]\n"))
    assert centre_settings(spec, "health") == {"catalogue_src": str(tmp_path.resolve() / "cat" / "catalogue.yaml"),
                                               "time_zone": "Asia/Dubai", "holidays": ["2026-12-25"]}
    assert centre_settings(spec, "revenue") == {"catalogue_src": "", "time_zone": "Asia/Karachi", "holidays": []}


def test_working_days_count_in_the_agencys_time_zone_and_skip_its_holidays() -> None:
    """Friday 20:00 UTC is Saturday 01:00 in Karachi, a day off: 5 working days end on Friday 01:00 there (Thursday
    20:00 UTC), or on Monday when the Tuesday is a holiday; counted in UTC they would end a day later."""
    process = bpmn.load_process((catalogue.SAMPLES / "grievance.bpmn").read_bytes(), "grievance.bpmn")
    now = datetime(2026, 12, 4, 20, tzinfo=UTC)
    karachi = ZoneInfo("Asia/Karachi")

    def due(holidays: frozenset[date], zone: ZoneInfo | None) -> datetime:
        wf = engine.start(process, {"sla_examine": 5}, now, holidays, zone)
        return datetime.fromisoformat(engine.status(wf).timers[0][1]).astimezone(UTC)

    assert due(frozenset(), None) == datetime(2026, 12, 11, 20, tzinfo=UTC)
    assert due(frozenset(), karachi) == datetime(2026, 12, 10, 20, tzinfo=UTC)
    assert due(frozenset({date(2026, 12, 8)}), karachi) == datetime(2026, 12, 13, 20, tzinfo=UTC)
    assert Calendar().holidays == frozenset() and Calendar().zone is UTC


def test_the_grievance_flow_resolves_escalates_and_closes() -> None:
    process = bpmn.load_process((catalogue.SAMPLES / "grievance.bpmn").read_bytes(), "grievance.bpmn")
    t0 = datetime(2026, 12, 1, 9, tzinfo=UTC)
    wf = engine.start(process, {"sla_examine": 5, "details": "x"}, t0)
    (task,) = engine.status(wf).ready
    assert (task.step, task.desk, task.actions) == ("examine", "grievance_officer", ("resolve", "not_ours"))
    wf = engine.advance(wf, t0 + timedelta(days=8))  # past 5 working days: to the supervisor
    (task,) = engine.status(wf).ready
    assert (task.step, task.desk) == ("escalated_examine", "grievance_supervisor")
    wf = engine.act(wf, task.id, "not_ours", "grievance_supervisor", {"reason": "federal matter"}, t0)
    assert engine.status(wf).outcome == "closed_not_ours"
    service = catalogue.load_samples().catalogue.service("grievance")
    assert service is not None and service.reopen_within_days == 30 and service.satisfaction_rating
    assert service.name.ur == "شکایت یا تجویز" and all(s.ur for s in service.steps.values())


def test_reopening_and_rating_are_decided_by_pure_rules() -> None:
    closed = datetime(2026, 12, 1, tzinfo=UTC)
    assert grievance.reopen_refusal(30, "closed", closed, closed + timedelta(days=29)) is None
    assert "within 30 days" in (grievance.reopen_refusal(30, "closed", closed, closed + timedelta(days=30)) or "")
    assert "cannot be reopened" in (grievance.reopen_refusal(None, "closed", closed, closed) or "")
    assert "only a closed" in (grievance.reopen_refusal(30, "in_progress", closed, closed) or "")
    assert grievance.reopen_until(30, "closed", closed) == closed + timedelta(days=30)
    assert grievance.reopen_until(30, "in_progress", closed) is None
    assert [grievance.parse_rating(v) for v in ("1", " 5 ", "0", "6", "4.0", "", "x", True, 3)] == \
        [1, 5, None, None, None, None, None, None, 3]
    assert grievance.rating_refusal(True, "closed", 4) is None
    assert "does not ask" in (grievance.rating_refusal(False, "closed", 4) or "")
    assert "once it is closed" in (grievance.rating_refusal(True, "in_progress", 4) or "")
    assert "1 to 5" in (grievance.rating_refusal(True, "closed", 9) or "")
    assert "1 to 5" in (grievance.rating_refusal(True, "closed", True) or "")


def test_versions_are_installed_beside_the_running_one_and_switched_at_once(tmp_path: Path) -> None:
    root = tmp_path / "catalogue"
    loaded = catalogue.load_samples()
    version, differs = installed.install(loaded, root)
    assert differs and installed.current(root) is None  # written, not in use yet
    installed.switch(root, version)
    assert installed.current(root) == version.resolve() and (root / "current").is_symlink()
    assert installed.install(loaded, root) == (version, False)  # the same files: the same version
    assert oct(version.stat().st_mode & 0o777) == "0o700"
    assert catalogue.load(root / "current" / "catalogue.yaml").catalogue == loaded.catalogue
    archive = installed.export_archive(loaded, tmp_path / "cat.tar.gz")
    with installed.read_source(archive) as again:
        assert again.catalogue == loaded.catalogue
    assert not list(root.glob(".incoming-*")) and not list(root.glob(".current.*"))


@pytest.mark.parametrize(("member", "expected"), [
    (("sub/catalogue.yaml", tarfile.REGTYPE), "only the catalogue's files"),
    (("../evil.bpmn", tarfile.REGTYPE), "only the catalogue's files"),
    (("link.bpmn", tarfile.SYMTYPE), "only the catalogue's files"),
    (("dev.bpmn", tarfile.CHRTYPE), "only the catalogue's files"),
    (("big.bpmn", "big"), "larger than 1024 KiB"),
])
def test_an_archive_holds_only_flat_small_files(tmp_path: Path, member: tuple[str, object], expected: str) -> None:
    archive = tmp_path / "x.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        name, kind = member
        info = tarfile.TarInfo(name)
        data = b"x" * (1024 * 1024 + 1) if kind == "big" else b"x"
        if kind in (tarfile.REGTYPE, "big"):
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        else:
            info.type = kind  # type: ignore[assignment]
            info.linkname = "/etc/passwd"
            tar.addfile(info)
    with pytest.raises(CatalogueError, match=expected):
        with installed.read_source(archive):
            pass
    (tmp_path / "junk.tar.gz").write_bytes(b"not an archive")
    with pytest.raises(CatalogueError, match="not a readable archive"):
        with installed.read_source(tmp_path / "junk.tar.gz"):
            pass


SMS_KEY = "sk_live_0123456789abcdefXYZ"


def sms_spec(tmp_path: Path, block: str | None = None, key: str = SMS_KEY + "\n", mode: int = 0o600) -> Path:
    """A spec whose agency `health` has the centre with an SMS provider; its key in `secrets/sms.key` (mode)."""
    (tmp_path / "secrets").mkdir(exist_ok=True)
    key_file = tmp_path / "secrets" / "sms.key"
    key_file.write_text(key)
    key_file.chmod(mode)
    return spec_with(tmp_path, block if block is not None else (
        "    centre:\n      sms:\n        url: https://sms.example.pk:8443/v1/send\n"
        "        key_file: secrets/sms.key\n        sender: CIVIC\n        timeout_s: 7\n"))


def test_the_sms_provider_has_its_place_in_the_spec_and_reaches_the_role(tmp_path: Path) -> None:
    """The block is read, its key taken from the 0600 file (never from the spec), handed to the role on deploy
    only as `centre_sms`, and written by the role's env template as the adapter's settings."""
    from govcloud_platform.apps.layout import centre_sms_vars
    from govcloud_platform.box.context import Box
    from tests.unit.test_apps_mail_vars import render_env

    path = sms_spec(tmp_path)
    assert SMS_KEY not in path.read_text()  # the spec holds the file's name, not the key
    spec = load_spec(path)
    assert spec.centre_sms_files("health") == (tmp_path.resolve() / "secrets" / "sms.key", None)
    assert spec.centre_sms_files("revenue") is None
    expected = {"url": "https://sms.example.pk:8443/v1/send", "key": SMS_KEY, "sender": "CIVIC", "ca_file": "",
                "timeout_s": 7}
    assert centre_sms_vars(spec, "health") == expected and centre_sms_vars(spec, "revenue") == {}

    from govcloud_platform.apps.layout import role_vars
    from govcloud_platform.apps.manifests import manifest
    from govcloud_platform.apps.store import Deployment
    from tests.unit.test_apps_mail_vars import SECRETS

    box = Box(home=tmp_path / "home", spec=spec)
    d = Deployment(agency="health", app="centre", state="ready", port=box.port_base + 20, created_at="",
                   updated_at="")
    storage = {"endpoint": "https://s3.test:8333", "bucket": "ag-health", "access_key": "AK", "secret_key": "x" * 40}
    variables = role_vars(box, "health", "Health", manifest("centre"), d, SECRETS, storage, None, None, "deploy")
    assert variables["centre_sms"] == expected
    lines = render_env("centre", variables)
    assert {k: v for k, v in lines.items() if k.startswith("SMS_")} == {
        "SMS_URL": "https://sms.example.pk:8443/v1/send", "SMS_KEY": SMS_KEY, "SMS_SENDER": "CIVIC",
        "SMS_CA_FILE": "", "SMS_TIMEOUT_S": "7"}
    removing = role_vars(box, "health", "Health", manifest("centre"), d, None, None, None, None, "remove")
    assert SMS_KEY not in repr(removing) and "centre_sms" not in removing
    other = Deployment(agency="revenue", app="centre", state="ready", port=box.port_base + 21, created_at="",
                       updated_at="")
    off = role_vars(box, "revenue", "Revenue", manifest("centre"), other, SECRETS, storage, None, None, "deploy")
    assert "centre_sms" not in off and not any(k.startswith("SMS_") for k in render_env("centre", off))


def test_the_sms_ca_file_is_relative_to_the_spec(tmp_path: Path) -> None:
    from govcloud_platform.apps.layout import centre_sms_vars

    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "sms-ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    spec = load_spec(sms_spec(tmp_path, "    centre:\n      sms:\n        url: https://sms.example.pk/send\n"
                                        "        key_file: secrets/sms.key\n        ca_file: certs/sms-ca.pem\n"))
    got = centre_sms_vars(spec, "health")
    assert got["ca_file"] == str(tmp_path.resolve() / "certs" / "sms-ca.pem") and got["timeout_s"] == 10
    assert got["sender"] == ""


_SMS = "    centre:\n      sms:\n"
_GOOD = "        url: https://sms.example.pk/send\n        key_file: secrets/sms.key\n"


@pytest.mark.parametrize(("block", "key", "mode", "expected"), [
    (_SMS + "        url: http://sms.example.pk/send\n        key_file: secrets/sms.key\n", SMS_KEY, 0o600,
     "agencies[0].centre.sms.url: 'http://sms.example.pk/send' is not an https URL"),
    (_SMS + "        url: https://sms.example.pk/a b\n        key_file: secrets/sms.key\n", SMS_KEY, 0o600,
     "agencies[0].centre.sms.url: "),
    (_SMS + "        key_file: secrets/sms.key\n", SMS_KEY, 0o600, "agencies[0].centre.sms.url: "),
    (_SMS + "        url: https://sms.example.pk/send\n", SMS_KEY, 0o600, "agencies[0].centre.sms.key_file: "),
    (_SMS + _GOOD + "        sender: THE-CIVIC-REGISTRY\n", SMS_KEY, 0o600,
     "agencies[0].centre.sms.sender: the sender is up to 15"),
    (_SMS + _GOOD + "        timeout_s: 0\n", SMS_KEY, 0o600, "agencies[0].centre.sms.timeout_s: "),
    (_SMS + _GOOD + "        timeout_s: '10'\n", SMS_KEY, 0o600, "agencies[0].centre.sms.timeout_s: "),
    (_SMS + _GOOD + "        key: sk_live_in_the_spec_itself\n", SMS_KEY, 0o600,
     "agencies[0].centre.sms.key: unknown key"),
    (_SMS + _GOOD, SMS_KEY, 0o644, "agencies[0].centre.sms.key_file: "),
    (_SMS + _GOOD, SMS_KEY, 0o640, "may be read by others (mode 0640): chmod 600 it"),
    (_SMS + _GOOD, "short", 0o600, "agencies[0].centre.sms.key_file: "),
    (_SMS + _GOOD, "two words in a key file", 0o600, "does not hold one key of 16 or more characters"),
    (_SMS + "        url: https://sms.example.pk/send\n        key_file: secrets/none.key\n", SMS_KEY, 0o600,
     "agencies[0].centre.sms.key_file: no key file"),
    (_SMS + _GOOD + "        ca_file: certs/none.pem\n", SMS_KEY, 0o600, "agencies[0].centre.sms.ca_file: no CA file"),
])
def test_a_bad_sms_block_is_one_line_naming_the_key_and_never_the_key(
        tmp_path: Path, block: str, key: str, mode: int, expected: str) -> None:
    path = sms_spec(tmp_path, block, key, mode)
    with pytest.raises(SpecError) as err:
        load_spec(path)
    message = str(err.value)
    assert expected in message and str(path) in message and "\n" not in message, message
    assert key not in message and SMS_KEY not in message


def test_a_key_file_that_is_a_link_is_refused(tmp_path: Path) -> None:
    path = sms_spec(tmp_path)
    real = tmp_path / "secrets" / "real.key"
    (tmp_path / "secrets" / "sms.key").rename(real)
    (tmp_path / "secrets" / "sms.key").symlink_to(real)
    with pytest.raises(SpecError, match=r"agencies\[0\]\.centre\.sms\.key_file: .* is not a regular file"):
        load_spec(path)
