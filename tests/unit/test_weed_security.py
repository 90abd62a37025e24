"""security.toml and the storage program section, without servers: every section SeaweedFS needs, keys that
stay put across runs, and a digest that restarts storage only when the file's content changes."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from govcloud_platform.box.context import Box
from govcloud_platform.box.services import weed_security
from govcloud_platform.box.services.storage import StorageService
from govcloud_platform.box.supervisor import Supervisor
from govcloud_platform.spec import load_spec_text
from govcloud_platform.spec.example import EXAMPLE_SPEC


@pytest.fixture(scope="module")
def ca_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The certificates issued once (RSA keys take a while): each box starts from a copy."""
    home = tmp_path_factory.mktemp("ca") / "home"
    first = Box(home=home, spec=load_spec_text(EXAMPLE_SPEC), port_base=30000)
    weed_security.ensure(first)
    first.ca.issue("s3", ["localhost"], ["127.0.0.1"])  # what prepare issues besides
    return home / "ca"


@pytest.fixture
def box(tmp_path: Path, ca_dir: Path) -> Box:
    home = tmp_path / "home"
    shutil.copytree(ca_dir, home / "ca")
    return Box(home=home, spec=load_spec_text(EXAMPLE_SPEC), port_base=30000)


def test_security_toml_has_every_section_and_is_private(box: Box) -> None:
    path = weed_security.ensure(box)
    assert path.stat().st_mode & 0o777 == 0o600
    doc = tomllib.loads(path.read_text())
    assert doc["jwt"]["signing"]["key"] and doc["jwt"]["signing"]["read"]["key"]
    assert doc["jwt"]["filer_signing"]["key"] and doc["jwt"]["filer_signing"]["read"]["key"]
    assert len({doc["jwt"]["signing"]["key"], doc["jwt"]["signing"]["read"]["key"],
                doc["jwt"]["filer_signing"]["key"], doc["jwt"]["filer_signing"]["read"]["key"]}) == 4
    assert doc["access"]["ui"] is False
    assert doc["grpc"]["ca"] == str(box.ca_file)
    names = set(doc["grpc"]["master"]["allowed_commonNames"].split(","))
    assert names == {*weed_security.COMPONENTS.values(), weed_security.CLIENT}
    for component in (*weed_security.COMPONENTS, "client"):
        assert Path(doc["grpc"][component]["cert"]).exists() and Path(doc["grpc"][component]["key"]).exists()
    assert doc["https"]["client"]["enabled"] is True and doc["https"]["volume"]["ca"] == str(box.ca_file)


@pytest.mark.parametrize("name", [*weed_security.COMPONENTS.values(), weed_security.CLIENT])
def test_certificates_serve_both_ends_under_their_own_name(box: Box, name: str) -> None:
    weed_security.ensure(box)
    cert = x509.load_pem_x509_certificate((box.ca.directory / "certs" / f"{name}.pem").read_bytes())
    usages = set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    assert usages == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    assert cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == name


def test_rerun_keeps_keys_and_digest_follows_content(box: Box) -> None:
    assert weed_security.digest(box) == "none"
    assert not (box.home / "secrets").exists()  # the digest creates nothing
    text = weed_security.ensure(box).read_text()
    first = weed_security.digest(box)
    assert weed_security.ensure(box).read_text() == text and weed_security.digest(box) == first
    box.secrets.put(weed_security.JWT_KEYS["jwt.signing"], "another-key-" + "x" * 32)
    assert weed_security.digest(box) != first


def test_storage_section_is_out_of_date_until_written(box: Box) -> None:
    """How an existing box picks up the security configuration: `up` re-prepares an out-of-date section."""
    service, sup = StorageService(), Supervisor(box)
    service.prepare(box)
    (program,) = service.programs(box)
    assert "-disableHttp" in program.command and program.directory == str(box.home / "s3")
    assert not sup.is_current(program)
    sup.write_program(program)
    assert sup.is_current(program)
    box.secrets.put(weed_security.JWT_KEYS["jwt.filer_signing"], "rotated-" + "y" * 32)
    weed_security.ensure(box)
    assert not sup.is_current(service.programs(box)[0])
