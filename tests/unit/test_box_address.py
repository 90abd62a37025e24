"""A box on a given address, without servers: the address and networks `up` accepts, where each port binds,
the names clients use, pg_hba.conf for the box's networks, the certificates' SANs, what box.json records, and
`up`'s refusals (exit 2, one line, nothing created)."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import pytest
from cryptography import x509

from govcloud_platform.box import network
from govcloud_platform.box.context import Box
from govcloud_platform.box.ports import OFFSETS, Ports
from govcloud_platform.box.services import pg_hba
from govcloud_platform.errors import BoxDamaged, InputError
from govcloud_platform.spec import load_spec_text
from govcloud_platform.spec.example import EXAMPLE_SPEC
from tests.conftest import assert_one_error, run_cli

SPEC = load_spec_text(EXAMPLE_SPEC)


# --- the address and the networks ----------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["127.0.0.1", "10.231.5.11", "192.0.2.10", "127.0.0.2", "169.254.1.1"])
def test_an_ipv4_unicast_address_is_accepted(text: str) -> None:
    assert network.address_problem(text) is None
    assert network.check_address(text) == text


@pytest.mark.parametrize(("text", "says"), [
    ("", "not an IPv4 address"), ("localhost", "not an IPv4 address"), ("10.0.0.256", "not an IPv4 address"),
    ("10.0.0.1/24", "not an IPv4 address"), ("010.0.0.1", "not an IPv4 address"),
    ("0.0.0.0", "unspecified"), ("224.0.0.1", "not a unicast"), ("255.255.255.255", "not a unicast"),
    ("::1", "IPv6"), ("fd00::1", "IPv6"), (" 10.0.0.1", "canonical"), ("10.0.0.1 ", "canonical"),
])
def test_what_cannot_be_a_box_address_is_refused(text: str, says: str) -> None:
    problem = network.address_problem(text)
    assert problem is not None and says in problem
    with pytest.raises(InputError, match="--address"):
        network.check_address(text)


def test_allow_from_is_canonical_ordered_and_deduplicated() -> None:
    got = network.check_allow_from("10.231.5.11", ["10.231.5.1/32", "10.20.0.0/16", "10.231.5.1/32"])
    assert got == ("10.231.5.1/32", "10.20.0.0/16")


@pytest.mark.parametrize(("address", "nets", "says"), [
    ("10.0.0.5", ["10.0.0.0/33"], "not a network"),
    ("10.0.0.5", ["10.0.0.1/24"], "not a network"),  # host bits set: say what is meant
    ("10.0.0.5", ["everyone"], "not a network"),
    ("10.0.0.5", ["0.0.0.0/0"], "every address"),
    ("10.0.0.5", ["fd00::/64"], "IPv6"),
    ("127.0.0.1", ["10.0.0.0/24"], "non-loopback"),
    ("127.0.0.2", ["10.0.0.0/24"], "non-loopback"),
])
def test_networks_that_open_too_much_or_make_no_sense_are_refused(address: str, nets: list[str], says: str) -> None:
    with pytest.raises(InputError, match=says):
        network.check_allow_from(address, nets)


@pytest.mark.parametrize(("given", "allow", "recorded", "recorded_allow", "expected"), [
    (None, None, None, [], ("127.0.0.1", ())),  # a new box: loopback
    (None, None, "10.1.1.5", ["10.1.1.1/32"], ("10.1.1.5", ("10.1.1.1/32",))),  # as recorded
    ("10.1.1.6", None, "10.1.1.5", ["10.1.1.1/32"], ("10.1.1.6", ())),  # an address alone admits no other net
    ("10.1.1.6", ["10.1.1.0/24"], "10.1.1.5", [], ("10.1.1.6", ("10.1.1.0/24",))),
    ("127.0.0.1", [], "10.1.1.5", ["10.1.1.1/32"], ("127.0.0.1", ())),  # back to loopback
])
def test_up_runs_with_what_is_given_else_what_is_recorded(
    given: str | None, allow: list[str] | None, recorded: str | None, recorded_allow: list[str],
    expected: tuple[str, tuple[str, ...]],
) -> None:
    assert network.network_settings(given, allow, recorded, recorded_allow) == expected


def test_allow_from_without_address_is_refused() -> None:
    with pytest.raises(InputError, match="goes with --address"):
        network.network_settings(None, ["10.0.0.0/24"], "10.0.0.5", [])


# --- where ports bind, the names clients use ------------------------------------------------------------------
@pytest.mark.parametrize("address", ["127.0.0.1", "10.231.5.11"])
def test_every_port_binds_the_address_but_the_manager_api_the_proxy_and_the_console_app(address: str) -> None:
    box = Box(home=Path("/nonexistent-box"), spec=SPEC, port_base=30000, address=address)
    binds = {label: box.bind_address(label) for _, label, _ in box.ports.all()}
    assert set(binds) == {*OFFSETS, "s3_http_grpc", "weed_master_grpc", "weed_volume_grpc", "weed_filer_grpc"}
    loopback = {label for label, where in binds.items() if where == "127.0.0.1"}
    if address == "127.0.0.1":
        assert loopback == set(binds)
    else:
        assert loopback == {"idp_manager", "proxy_https", "console_app"}  # the console's gunicorn: behind its nginx
        assert {binds[label] for label in set(binds) - loopback} == {address}


def test_a_box_on_loopback_keeps_its_names() -> None:
    """Nothing changes for the local box: what existing boxes, apps and tests use."""
    box = Box(home=Path("/nonexistent-box"), spec=SPEC, port_base=30000)
    assert box.address == "127.0.0.1" and box.allow_from == ()
    assert box.issuer == "https://localhost:30001"
    assert box.s3_endpoint == "https://127.0.0.1:30003"
    assert box.pg_conninfo(password="x")["host"] == "127.0.0.1"
    assert box.client_networks == ["127.0.0.1/32"]
    assert box.certificate_names() == (["localhost"], ["127.0.0.1"])
    assert box.certificate_names("weed-master") == (["weed-master", "localhost"], ["127.0.0.1"])


def test_a_box_on_an_address_is_named_by_it() -> None:
    box = Box(home=Path("/nonexistent-box"), spec=SPEC, port_base=30000, address="10.231.5.11",
              allow_from=("10.231.5.1/32",))
    assert box.host_name == "10.231.5.11"
    assert box.issuer == "https://10.231.5.11:30001"
    assert box.s3_endpoint == "https://10.231.5.11:30003"
    info = box.pg_conninfo(password="x")
    assert (info["host"], info["sslmode"]) == ("10.231.5.11", "verify-full")
    assert box.client_networks == ["10.231.5.11/32", "10.231.5.1/32"]
    # pgBackRest matches DNS SANs only: the address is one too
    assert box.certificate_names() == (["10.231.5.11"], ["10.231.5.11"])
    assert box.certificate_names("weed-s3") == (["weed-s3", "10.231.5.11"], ["10.231.5.11"])


# --- box.json ----------------------------------------------------------------------------------------------------
def _home_with(tmp_path: Path, doc: dict[str, object]) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    (home / "box.json").write_text(json.dumps(doc))
    return home


def test_every_command_finds_the_address_in_box_json(tmp_path: Path) -> None:
    home = _home_with(tmp_path, {"port_base": 31000, "address": "10.9.8.7", "allow_from": ["10.9.8.0/24"]})
    box = Box(home=home, spec=SPEC, create=False)
    assert (box.port_base, box.address, box.allow_from) == (31000, "10.9.8.7", ("10.9.8.0/24",))


def test_a_box_json_of_an_older_govcloud_means_loopback(tmp_path: Path) -> None:
    box = Box(home=_home_with(tmp_path, {"port_base": 31000, "platform": "x"}), spec=SPEC, create=False)
    assert (box.address, box.allow_from) == ("127.0.0.1", ())


@pytest.mark.parametrize("doc", [
    {"port_base": 31000, "address": "0.0.0.0"},
    {"port_base": 31000, "address": "10.0.0.1", "allow_from": "10.0.0.0/8"},
    {"port_base": 31000, "address": "10.0.0.1", "allow_from": ["0.0.0.0/0"]},
    {"port_base": 31000, "allow_from": ["10.0.0.0/8"]},  # networks for a loopback box
])
def test_a_box_json_made_wrong_is_refused_not_bound(tmp_path: Path, doc: dict[str, object]) -> None:
    with pytest.raises(BoxDamaged, match="box.json"):
        Box(home=_home_with(tmp_path, doc), spec=SPEC, create=False)


# --- pg_hba.conf ---------------------------------------------------------------------------------------------
LOOPBACK_HBA = """\
# written by govcloud; agency lines come from <box>/pg/hba.d/*.conf
local   all  postgres                 peer
hostssl all  postgres  127.0.0.1/32   scram-sha-256
hostssl idp  idp       127.0.0.1/32   scram-sha-256
hostssl "ag_health" "ag_health" 127.0.0.1/32 scram-sha-256
hostssl "ag_health" "ag_health_ro" 127.0.0.1/32 scram-sha-256
hostssl all  all       127.0.0.1/32   reject
host    all  all       0.0.0.0/0      reject
"""


def test_hba_of_a_loopback_box_is_what_it_always_was() -> None:
    """Byte for byte what earlier releases wrote: an existing box's pg_hba.conf does not change (no reload)."""
    part = pg_hba.part_text("ag_health", ["ag_health", "ag_health_ro"], ["127.0.0.1/32"])
    assert part == ('hostssl "ag_health" "ag_health" 127.0.0.1/32 scram-sha-256\n'
                    'hostssl "ag_health" "ag_health_ro" 127.0.0.1/32 scram-sha-256\n')
    assert pg_hba.hba_text(["127.0.0.1/32"], [part]) == LOOPBACK_HBA


def test_hba_admits_every_role_from_each_client_network_and_rejects_the_rest() -> None:
    nets = network.client_networks("10.231.5.11", ["10.231.5.1/32"])
    old_part = pg_hba.part_text("ag_health", ["ag_health", "ag_health_ro"], ["127.0.0.1/32"])  # as written before
    text = pg_hba.hba_text(nets, [old_part, pg_hba.part_text("ag_edu_portal", ["ag_edu_portal"], nets)])
    lines = text.splitlines()
    for net in nets:
        assert f"hostssl all  postgres  {net:<14} scram-sha-256" in lines
        assert f"hostssl idp  idp       {net:<14} scram-sha-256" in lines
        for db, role in (("ag_health", "ag_health"), ("ag_health", "ag_health_ro"), ("ag_edu_portal", "ag_edu_portal")):
            assert f'hostssl "{db}" "{role}" {net} scram-sha-256' in lines
    assert "127.0.0.1" not in text  # the parts of the loopback box follow it to its address
    admitted = [line.split()[3] for line in lines if line.startswith("hostssl") and line.endswith("scram-sha-256")]
    assert set(admitted) == set(nets)
    assert lines[-1] == "host    all  all       0.0.0.0/0      reject"
    assert lines[-1 - len(nets):-1] == [f"hostssl all  all       {net:<14} reject" for net in nets]


def test_a_part_is_read_back_in_order_once_each_keeping_lines_it_does_not_know() -> None:
    text = ('hostssl "a" "r1" 10.0.0.1/32 scram-sha-256\n# note\n\n'
            'hostssl "a" "r1" 10.0.0.2/32 scram-sha-256\nhostssl "a" "r2" 10.0.0.1/32 scram-sha-256\n'
            "host all all 10.0.0.0/8 trust\n")
    assert pg_hba.part_entries(text) == ([('"a"', '"r1"'), ('"a"', '"r2"')], ["host all all 10.0.0.0/8 trust"])


# --- certificates ------------------------------------------------------------------------------------------------
def _sans(path: Path) -> tuple[list[str], list[str]]:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return san.get_values_for_type(x509.DNSName), [str(i) for i in san.get_values_for_type(x509.IPAddress)]


def test_certificates_carry_the_address_and_are_reissued_when_it_changes(tmp_path: Path) -> None:
    loopback = Box(home=tmp_path / "home", spec=SPEC, port_base=30000)
    cert, _ = loopback.ca.issue("postgres", *loopback.certificate_names())
    assert _sans(cert) == (["localhost"], ["127.0.0.1"])
    first = cert.read_bytes()
    assert loopback.ca.issue("postgres", *loopback.certificate_names())[0].read_bytes() == first  # kept
    moved = Box(home=tmp_path / "home", spec=SPEC, port_base=30000, address="10.231.5.11")
    cert, _ = moved.ca.issue("postgres", *moved.certificate_names())
    assert _sans(cert) == (["10.231.5.11"], ["10.231.5.11"])
    assert ipaddress.ip_address("10.231.5.11") in x509.load_pem_x509_certificate(cert.read_bytes()).extensions \
        .get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.IPAddress)
    cert, _ = moved.ca.issue("weed-master", *moved.certificate_names("weed-master"), client=True)
    assert _sans(cert) == (["weed-master", "10.231.5.11"], ["10.231.5.11"])
    assert Ports(30000).idp_manager == 30002  # the port that stays on loopback


# --- `govcloud up`'s refusals: before anything is made ---------------------------------------------------------------
@pytest.mark.parametrize(("args", "says"), [
    (["--address", "0.0.0.0"], "unspecified"),
    (["--address", "fd00::1"], "IPv6"),
    (["--address", "10.0.0.300"], "not an IPv4 address"),
    (["--allow-from", "10.0.0.0/24"], "goes with --address"),
    (["--address", "127.0.0.1", "--allow-from", "10.0.0.0/24"], "non-loopback"),
    (["--address", "10.231.250.250", "--allow-from", "0.0.0.0/0"], "every address"),
    (["--address", "192.0.2.77"], "not an address of this host"),  # TEST-NET-1: held by no interface here
])
def test_up_refuses_a_bad_address_and_makes_nothing(tmp_path: Path, args: list[str], says: str) -> None:
    spec = tmp_path / "govcloud.yaml"
    spec.write_text(EXAMPLE_SPEC)
    home = tmp_path / "home"
    result = run_cli("--home", str(home), "--spec", str(spec), "up", *args, timeout=120)
    assert result.rc == 2, result.stderr
    assert_one_error(result)
    assert says in result.stderr
    assert not home.exists()


# --- every service's configuration ---------------------------------------------------------------------------
def test_every_service_binds_and_reaches_the_box_address(tmp_path: Path) -> None:
    """What `prepare` and `programs` write for a box on 10.231.5.11: nothing of 127.0.0.1 but the manager API."""
    from govcloud_platform.box.services import database, identity, identity_conf
    from govcloud_platform.box.services import pgbackrest_conf as backups
    from govcloud_platform.box.services.storage import StorageService, master_address

    box = Box(home=tmp_path / "home", spec=SPEC, port_base=30000, address="10.231.5.11",
              allow_from=("10.231.5.1/32",))
    conf = database.render_conf(box)
    assert "listen_addresses = '10.231.5.11'" in conf.splitlines()

    (cmd,) = [p.command for p in StorageService().programs(box)]
    assert "-ip=10.231.5.11" in cmd and "-ip.bind=10.231.5.11" in cmd
    assert master_address(box) == "10.231.5.11:30005"

    paths = identity.IdentityService._paths(box)
    servers = identity_conf.idp_servers(box, paths, Path("/c.pem"), Path("/c.key"))
    listens = [line.strip() for line in servers.splitlines() if line.strip().startswith("listen ")]
    assert listens == ["listen 10.231.5.11:30001 ssl;", "listen 127.0.0.1:30002;"]  # the manager API: loopback
    assert "server_name 10.231.5.11;" in servers and "allow 127.0.0.1;" in servers
    managed = identity_conf.managed_conf(box, paths, "pw")
    assert managed["portal"] == "https://10.231.5.11:30001/" == f"{box.issuer}/"
    assert managed["oidcServiceMetaDataIssuer"] == box.issuer
    # the manager API wants a DNS name in the configuration; the portal's own [portal] section names the address
    assert managed["domain"] == "localhost"
    ini = identity_conf.render_ini(box, paths, "pw")
    assert "\n[portal]\n" in ini and "domain = 10.231.5.11\n" in ini.split("[portal]")[1].split("[handler]")[0]
    assert ";host=10.231.5.11;port=30000;sslmode=verify-full;" in managed["dbiAuthChain"]

    pgbr = backups.conf_text(box).splitlines()
    assert "repo1-s3-endpoint=10.231.5.11" in pgbr and "repo1-storage-port=30003" in pgbr

    everything = "\n".join([conf, " ".join(cmd), servers, json.dumps({**managed, "domain": None}), *pgbr])
    assert "localhost" not in everything.replace('"localhost": {"default": "accept"}', "")
    assert [line for line in everything.splitlines() if "127.0.0.1" in line] == [
        "        listen 127.0.0.1:30002;", "        server_name 127.0.0.1;", "        allow 127.0.0.1;"]


def test_a_loopback_box_writes_what_it_always_wrote(tmp_path: Path) -> None:
    from govcloud_platform.box.services import database, identity, identity_conf
    from govcloud_platform.box.services import pgbackrest_conf as backups
    from govcloud_platform.box.services.storage import StorageService

    box = Box(home=tmp_path / "home", spec=SPEC, port_base=30000)
    assert "listen_addresses = '127.0.0.1'" in database.render_conf(box).splitlines()
    (cmd,) = [p.command for p in StorageService().programs(box)]
    assert "-ip=127.0.0.1" in cmd and "-ip.bind=127.0.0.1" in cmd
    paths = identity.IdentityService._paths(box)
    servers = identity_conf.idp_servers(box, paths, Path("/c.pem"), Path("/c.key"))
    assert "listen 127.0.0.1:30001 ssl;" in servers and "server_name localhost;" in servers
    managed = identity_conf.managed_conf(box, paths, "pw")
    assert (managed["domain"], managed["portal"]) == ("localhost", "https://localhost:30001/")
    assert "repo1-s3-endpoint=localhost" in backups.conf_text(box).splitlines()
    assert "domain" not in identity_conf.render_ini(box, paths, "pw")


@pytest.mark.parametrize(("host", "expected"), [
    ("localhost", ("localhost", None)), ("idp.gov.example", ("idp.gov.example", None)),
    ("10.231.5.11", ("localhost", "10.231.5.11")),
])
def test_the_portal_cookie_names_the_host_it_is_served_from(host: str, expected: tuple[str, str | None]) -> None:
    from govcloud_platform.box.services.identity_conf import cookie_domains

    assert cookie_domains(host) == expected
