"""Pydantic v2 models of govcloud.yaml. Structural rules live on the fields; rules that cross
references (quota classes, duplicates) live in `Spec.cross_check` so they can name a key path."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from govcloud_platform.spec.brand import Brand
from govcloud_platform.spec.cron import check_cron
from govcloud_platform.spec.ec2 import Ec2Settings
from govcloud_platform.spec.g2g import G2GSettings
from govcloud_platform.spec.g2g import problems as g2g_problems
from govcloud_platform.spec.openstack import OpenStackSettings
from govcloud_platform.spec.sms import CentreSms
from govcloud_platform.spec.topology import Topology, spec_problems

SLUG_PATTERN = r"^(?!.*--)[a-z][a-z0-9-]{1,30}[a-z0-9]$"  # no "--": it separates the parts of derived names
_SLUG_RE = re.compile(SLUG_PATTERN)
# Names that collide with PostgreSQL, the IdP, S3 or our own objects.
RESERVED_SLUGS = frozenset(
    {
        "admin", "administrator", "postgres", "public", "template0", "template1", "root", "govcloud",
        "platform", "operator", "system", "pgbackrest", "backup", "backups", "restic", "seaweedfs", "s3",
        "idp", "sso", "lemonldap", "llng", "manager", "portal", "auth", "nginx", "www", "api", "default",
        "pg-catalog", "information-schema", "replication", "all", "none", "null", "test",
    }
)
SERVICE_NAMES = ("database", "storage", "identity", "backups", "mail")
DEFAULT_SERVICES = ("database", "storage", "identity", "backups")  # an agency's when it names none (not mail)
APP_NAMES = ("portal", "opendata", "messaging", "documents", "centre")
ServiceName = Literal["database", "storage", "identity", "backups", "mail"]
AppName = Literal["portal", "opendata", "messaging", "documents", "centre"]
_EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_DNS_RE = re.compile(r"^(?=.{1,200}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
MAX_AGENCIES = 10_000  # one spec, one box or cloud; beyond that, split the platform
SPEC_VERSION = 1
# services each app needs on its agency
APP_NEEDS = {"portal": {"database", "storage", "identity"}, "opendata": {"storage"},
             "messaging": {"database", "storage", "identity"}, "documents": {"database", "storage", "identity"},
             "centre": {"database", "storage", "identity"}}  # the centre: documents in the bucket, staff tokens


def check_slug(slug: str) -> str:
    """Return the slug if it is valid, else raise ValueError saying why."""
    if isinstance(slug, str) and "--" in slug:
        raise ValueError(f"invalid slug {slug!r}: '--' is reserved as the separator of derived names")
    if not isinstance(slug, str) or not slug.isascii() or not _SLUG_RE.fullmatch(slug):
        raise ValueError(
            f"invalid slug {slug!r}: use 3-32 lowercase ASCII letters, digits and '-', "
            "starting with a letter and not ending with '-'"
        )
    if slug in RESERVED_SLUGS:
        raise ValueError(f"slug {slug!r} is reserved; choose another name")
    return slug


Slug = Annotated[str, Field(description=f"Agency identifier; pattern {SLUG_PATTERN}, not reserved")]
Cron = Annotated[str, Field(description="cron schedule: minute hour day-of-month month day-of-week")]


class StrictModel(BaseModel):
    """Unknown keys are errors. The loader validates the file with strict=True: no type is coerced, so a
    YAML number or boolean where a name is expected, or a quoted "18000" where a number is expected, is an
    error instead of a silent guess. (Python callers, such as `agency add`, keep pydantic's lax mode.)"""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _check_cron(value: str | None) -> str | None:
    """Five valid cron fields (see spec/cron.py), normalised to single spaces."""
    return None if value is None else " ".join(check_cron(value).split())


class DatabaseSettings(StrictModel):
    """PostgreSQL 15 on the box."""

    max_connections: int = Field(200, ge=20, le=5000)
    shared_buffers_mb: int = Field(128, ge=16, le=65536)
    log_failed_statements: bool = Field(
        False, description="log the text, parameters and details of failing statements (they can carry "
        "citizens' data; the log stays private to root); off by default")


class StorageSettings(StrictModel):
    """SeaweedFS with the S3 gateway."""

    volume_max: int = Field(
        0, ge=0, le=100000,
        description="volume slots of the volume server: 0 = as many as the free disk space holds (grows and shrinks "
                    "with it); N = a fixed cap: N x volume_size_limit_mb is then all the box stores, every bucket "
                    "included (each takes one slot at its first write, one more per volume_size_limit_mb of data)",
    )
    volume_size_limit_mb: int = Field(64, ge=16, le=30000)

    @field_validator("volume_max")
    @classmethod
    def _slots(cls, value: int) -> int:
        if 0 < value < 8:
            raise ValueError(f"volume_max {value}: use 0 (from free disk space) or at least 8")
        return value


class IdentitySettings(StrictModel):
    """LemonLDAP::NG as OIDC provider."""

    operator_user: str = Field("operator", pattern=r"^[a-z][a-z0-9._-]{1,30}$")
    operator_email: str = "operator@localhost"
    access_token_lifetime_s: int = Field(3600, ge=60, le=86400)


class BackupSettings(StrictModel):
    """pgBackRest for the cluster, restic per agency."""

    retention_full: int = Field(2, ge=1, le=100)
    retention_diff: int = Field(6, ge=1, le=100)
    archive_timeout_s: int = Field(30, ge=5, le=3600, description="upper bound of the RPO from WAL archiving")
    schedule: Cron = Field("0 1 * * 0", description="platform full backup")
    diff_schedule: Cron | None = Field("0 1 * * 1-6", description="platform differential backup")
    agency_schedule: Cron = Field("30 2 * * *", description="default per-agency logical backup")
    max_age_hours: int = Field(26, ge=1, le=24 * 60, description="`backup status` fails when older")

    _cron = field_validator("schedule", "diff_schedule", "agency_schedule")(_check_cron)


class MailRelay(StrictModel):
    """Where the box's Postfix sends mail instead of its own Maildir (off: `host` empty, the default)."""

    host: str = Field("", description="relay host name or address; empty (the default): deliver into the box's "
                                      "Maildir, nothing leaves the box")
    port: int = Field(587, ge=1, le=65535)
    tls: Literal["encrypt", "verify", "may"] = Field(
        "encrypt", description="TLS to the relay: encrypt (required), verify (required, certificate checked "
                               "against the system's CAs) or may (opportunistic)")
    username: str = Field("", max_length=254, description="SASL login at the relay (empty: no AUTH)")
    password_file: str = Field("", max_length=4096, description="file holding the relay password (one line, "
                                                                "0600); never in the spec itself")

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        if value and not re.fullmatch(r"[A-Za-z0-9.:-]{1,253}", value):
            raise ValueError(f"invalid relay host {value!r}: a DNS name or an IP address")
        return value


class MailSettings(StrictModel):
    """Postfix: SMTP submission for the agencies, delivered into the box's Maildir unless a relay is set."""

    domain: str = Field("", description="the mail domain; empty (the default): the platform's domain. Agency "
                                        "<slug> sends as <anything>@<slug>.<domain>")
    max_message_kb: int = Field(10240, ge=64, le=102400, description="largest message accepted")
    relay: MailRelay = MailRelay()

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        if value and not _DNS_RE.fullmatch(value):
            raise ValueError(f"invalid mail domain {value!r}: lowercase labels separated by dots")
        return value


class ChargebackRates(StrictModel):
    """Prices per GiB-month of the month's average use (the chargeback report's `cost`)."""

    currency: str = Field(..., pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. PKR")
    storage_gib_month: float = Field(0, ge=0, description="per GiB of bucket bytes")
    database_gib_month: float = Field(0, ge=0, description="per GiB of database bytes")
    backup_gib_month: float = Field(0, ge=0, description="per GiB of backup bytes")


class ConsoleSettings(StrictModel):
    """The web console (docs/console.md): the platform's own web app behind the box's nginx, signed in through the
    box's IdP. Off unless enabled; on the hosts target its process runs on the control, fronted by the placed
    identity host's nginx (docs/console.md "On the hosts target")."""

    enabled: bool = Field(False, description="run the console (`govcloud up` starts it, `status` lists it)")
    usage_interval_minutes: int = Field(
        15, ge=1, le=1440, description="how often the console measures every agency's usage in the background")
    chargeback: ChargebackRates | None = Field(
        None, description="rates for the monthly chargeback report's cost column (none: quantities only)")


class Pkcs11Settings(StrictModel):
    """A PKCS#11 token (an HSM) that holds the agencies' signing keys and the TSA's (docs/signing.md)."""

    module: str = Field(..., min_length=1, max_length=1000,
                        description="the token's PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so")
    token: str = Field(..., min_length=1, max_length=32, description="the token's label")
    pin_file: str = Field(..., min_length=1, max_length=1000,
                          description="a 0600 file holding the token's user PIN (never the PIN itself)")
    environment: dict[str, str] = Field(
        default_factory=dict, description="environment the library needs, e.g. SOFTHSM2_CONF for SoftHSM")


class SigningSettings(StrictModel):
    """The signing and timestamp service (docs/signing.md): each agency's signing key, PAdES, RFC 3161, JWS."""

    backend: Literal["files", "pkcs11"] = Field(
        "files", description="where the signing keys live: files of the box (0600), or a PKCS#11 token")
    pkcs11: Pkcs11Settings | None = Field(None, description="the token, when backend is pkcs11")

    @model_validator(mode="after")
    def _token(self) -> SigningSettings:
        if self.backend == "pkcs11" and self.pkcs11 is None:
            raise ValueError("backend pkcs11 needs the `pkcs11` block (module, token, pin_file)")
        return self


class PaydemoSettings(StrictModel):
    """The demo payment provider (docs/centre.md "E-payments"): a provider that runs on the box for tests and demos,
    no money moves. Off unless enabled: a demo provider never runs by surprise. On a box on one machine only."""

    enabled: bool = Field(False, description="run the demo payment provider (`govcloud up` starts it, `status` "
                                             "lists it; every agency gets a webhook secret, its centre is wired to it)")


class Services(StrictModel):
    database: DatabaseSettings = DatabaseSettings()
    storage: StorageSettings = StorageSettings()
    identity: IdentitySettings = IdentitySettings()
    backups: BackupSettings = BackupSettings()
    mail: MailSettings = MailSettings()
    console: ConsoleSettings = ConsoleSettings()
    signing: SigningSettings = SigningSettings()
    paydemo: PaydemoSettings = PaydemoSettings()


class Platform(StrictModel):
    name: str = Field(..., pattern=r"^[a-z][a-z0-9-]{1,40}[a-z0-9]$", description="platform identifier")
    domain: str = Field(..., description="DNS domain under which apps are published")
    target: Literal["local", "openstack", "hosts", "ec2"] = "local"
    port_base: int = Field(
        18000, ge=1024, le=55000, description="first of the ports the box uses on 127.0.0.1 (base..base+99)"
    )
    services: Services = Services()
    openstack: OpenStackSettings = OpenStackSettings()
    ec2: Ec2Settings = Ec2Settings()
    topology: Topology | None = Field(None, description="the hosts of the `hosts` target (docs/topology.md)")
    g2g: G2GSettings = Field(G2GSettings(), description="data sharing between agencies' centres (docs/centre.md)")

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        if not _DNS_RE.fullmatch(value):
            raise ValueError(f"invalid DNS domain {value!r}: lowercase labels separated by dots, like gov.example")
        return value


class QuotaClass(StrictModel):
    """Limits given to an agency. Unset fields come from the class named by `inherits`."""

    inherits: str | None = None
    description: str | None = None
    database_connections: int | None = Field(None, ge=1, le=1000)
    storage_gb: float | None = Field(None, ge=0.001, le=1_000_000, description="bucket quota (enforced)")
    instances: int | None = Field(None, ge=0, le=10_000)
    cores: int | None = Field(None, ge=0, le=100_000)
    ram_mb: int | None = Field(None, ge=0, le=100_000_000)
    volumes: int | None = Field(None, ge=0, le=10_000)
    volume_gb: int | None = Field(None, ge=0, le=1_000_000)
    floating_ips: int | None = Field(None, ge=0, le=1000)
    networks: int | None = Field(None, ge=0, le=100)
    security_groups: int | None = Field(None, ge=0, le=1000)


class Quota(StrictModel):
    """A fully resolved quota class."""

    name: str
    database_connections: int
    storage_gb: float
    instances: int
    cores: int
    ram_mb: int
    volumes: int
    volume_gb: int
    floating_ips: int
    networks: int
    security_groups: int


QUOTA_FIELDS = tuple(f for f in Quota.model_fields if f != "name")
DEFAULT_QUOTA = {
    "database_connections": 20,
    "storage_gb": 10,
    "instances": 4,
    "cores": 8,
    "ram_mb": 16384,
    "volumes": 8,
    "volume_gb": 200,
    "floating_ips": 1,
    "networks": 2,
    "security_groups": 10,
}


def _all_services() -> list[ServiceName]:
    """The default services of an agency. Not `mail`: it is asked for by name (an agency that sends no mail holds
    no SMTP login), existing specs and registries keep their meaning, and the hosts target does not place it yet."""
    return ["database", "storage", "identity", "backups"]  # DEFAULT_SERVICES


_CATALOGUE_RE = re.compile(r"^[^\x00-\x1f]{1,1000}\.(yaml|yml|json)$")


class CentreSettings(StrictModel):
    """The agency's Citizen's Centre (app `centre`): its catalogue, and the calendar its SLAs count in."""

    catalogue: str | None = Field(
        None, description="the centre's catalogue.yaml (its BPMN files beside it), relative to this spec file; "
        "default: the sample catalogue")
    time_zone: str = Field("Asia/Karachi", description="IANA time zone in which working days are counted")
    holidays: list[str] = Field(default_factory=list, max_length=1000,
                                description="the agency's holidays, YYYY-MM-DD (SLA working days skip them)")
    sms: CentreSms | None = Field(None, description="the agency's SMS provider (default: no text messages)")

    @field_validator("catalogue")
    @classmethod
    def _catalogue(cls, value: str | None) -> str | None:
        if value is not None and not _CATALOGUE_RE.fullmatch(value):
            raise ValueError(f"{value!r} is not the path of a catalogue file (a .yaml, .yml or .json)")
        return value

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            if "." in value or value.startswith("/"):
                raise ValueError(value)
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as Asia/Karachi)") from None
        return value

    @field_validator("holidays")
    @classmethod
    def _holidays(cls, value: list[str]) -> list[str]:
        for day in value:
            try:
                if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", day):
                    raise ValueError(day)
                date.fromisoformat(day)
            except ValueError:
                raise ValueError(f"holiday {day!r} is not a date YYYY-MM-DD") from None
        if len(set(value)) != len(value):
            raise ValueError("each holiday may appear only once")
        return value


class Agency(StrictModel):
    slug: Slug
    name: str = Field(..., min_length=2, max_length=120, description="display name")
    email: str = Field(..., max_length=254, description="contact email")
    quota: str = Field("standard", description="name of a quota class")
    services: list[ServiceName] = Field(
        default_factory=lambda: _all_services(), json_schema_extra={"minItems": 1},
        description="default: database, storage, identity, backups (mail is asked for by name)",
    )
    apps: list[AppName] = Field(default_factory=list)
    backup_schedule: Cron | None = None
    centre: CentreSettings | None = Field(None, description="settings of the `centre` app (default: samples)")
    brand: Brand = Field(default_factory=Brand, description="colour and logo of its citizen pages (docs/design.md)")

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str) -> str:
        return check_slug(value)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if any(ord(c) < 32 or c in "\x7f<>`$;\\" for c in value):
            raise ValueError("display name must not contain control characters or any of < > ` $ ; \\")
        return value.strip()

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not _EMAIL_RE.fullmatch(value):
            raise ValueError(f"invalid email address {value!r}")
        return value

    @field_validator("services", "apps")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("each entry may appear only once")
        return value

    @field_validator("services")
    @classmethod
    def _some(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError(f"an agency needs at least one service ({', '.join(SERVICE_NAMES)}); "
                             "leave `services` out for the default four")
        return value

    _cron = field_validator("backup_schedule")(_check_cron)


class Spec(StrictModel):
    version: Literal[1] = Field(..., description="format version of this file: 1")
    platform: Platform
    quota_classes: dict[str, QuotaClass] = Field(
        default_factory=lambda: {"standard": QuotaClass()},
        description="when left out, one class `standard` with the built-in defaults",
    )
    agencies: list[Agency] = Field(default_factory=list, max_length=MAX_AGENCIES)
    _folder: Path | None = PrivateAttr(default=None)  # the spec file's folder: relative paths start there

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, value: object) -> object:
        if type(value) is not int or value != SPEC_VERSION:  # not true, 1.0 or "1"
            raise ValueError(f"unsupported spec version {value!r}: this govcloud reads `version: {SPEC_VERSION}`")
        return value

    def cross_check(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Problems that span keys, each with the key path it belongs to. Linear in the spec's size."""
        problems = self._inheritance_problems()
        slugs: dict[str, int] = {}
        known = ", ".join(sorted(self.quota_classes)) or "none defined"
        for i, agency in enumerate(self.agencies):
            if agency.slug in slugs:
                first = slugs[agency.slug]
                msg = f"duplicate agency slug {agency.slug!r} (also agencies[{first}])"
                problems.append((("agencies", i, "slug"), msg))
            slugs.setdefault(agency.slug, i)
            if agency.quota not in self.quota_classes:
                if "quota" in agency.model_fields_set:
                    msg = f"unknown quota class {agency.quota!r} (known: {known})"
                else:
                    msg = (f"no `quota` given and the default class {agency.quota!r} is not defined (known: {known}); "
                           f"set `quota:` or define quota_classes.{agency.quota}")
                problems.append((("agencies", i, "quota"), msg))
            if agency.centre is not None and "centre" not in agency.apps:
                problems.append((("agencies", i, "centre"), "centre settings given but `centre` is not in `apps`"))
            services = set(agency.services)
            for app in agency.apps:
                missing = APP_NEEDS[app] - services
                if missing:
                    problems.append((("agencies", i, "apps"), f"app {app!r} needs services {sorted(missing)}"))
        wants_apps = any(a.apps for a in self.agencies)
        wants_mail = any("mail" in a.services for a in self.agencies)
        problems.extend(spec_problems(self.platform.target, self.platform.topology, wants_apps, wants_mail))
        problems.extend(g2g_problems(self.platform.g2g, [a.slug for a in self.agencies if "centre" in a.apps],
                                     [a.slug for a in self.agencies]))
        return problems

    def _inheritance_problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Unknown parents, and each inheritance cycle once (at the class where the walk in file order meets
        it). Every class is walked once, so a long chain costs linear time."""
        problems: list[tuple[tuple[str | int, ...], str]] = []
        classes = self.quota_classes
        for name, qc in classes.items():
            if qc.inherits is not None and qc.inherits not in classes:
                problems.append((("quota_classes", name, "inherits"), f"unknown quota class {qc.inherits!r}"))
        done: set[str] = set()
        for name in classes:
            path: list[str] = []
            on_path: set[str] = set()
            cur: str | None = name
            while cur is not None and cur in classes and cur not in done and cur not in on_path:
                path.append(cur)
                on_path.add(cur)
                cur = classes[cur].inherits
            if cur is not None and cur in on_path:
                cycle = path[path.index(cur):] + [cur]
                shown = cycle if len(cycle) <= 12 else [*cycle[:5], "...", *cycle[-5:]]
                more = "" if len(cycle) <= 12 else f" ({len(cycle) - 1} classes)"
                problems.append((("quota_classes", cur, "inherits"), f"inheritance cycle: {' -> '.join(shown)}{more}"))
            done.update(path)
        return problems

    def centre_catalogue(self, slug: str) -> Path | None:
        """The catalogue file of an agency's centre (a path relative to the spec file resolved), or None for
        the sample catalogue."""
        agency = next((a for a in self.agencies if a.slug == slug), None)
        if agency is None or agency.centre is None or agency.centre.catalogue is None:
            return None
        return (self._folder or Path.cwd()) / agency.centre.catalogue

    def centre_sms_files(self, slug: str) -> tuple[Path, Path | None] | None:
        """(the key file, the CA file or None) of an agency centre's SMS provider, relative paths resolved against
        the spec file's folder; None without a provider."""
        agency = next((a for a in self.agencies if a.slug == slug), None)
        if agency is None or agency.centre is None or agency.centre.sms is None:
            return None
        folder, sms = self._folder or Path.cwd(), agency.centre.sms
        return folder / sms.key_file, (folder / sms.ca_file) if sms.ca_file else None

    def resolve_quota(self, name: str) -> Quota:
        """Resolve a quota class through `inherits`, falling back to built-in defaults."""
        chain: list[QuotaClass] = []
        seen: set[str] = set()
        cur: str | None = name
        while cur is not None:
            if cur in seen or cur not in self.quota_classes:
                raise KeyError(cur)
            seen.add(cur)
            chain.append(self.quota_classes[cur])
            cur = self.quota_classes[cur].inherits
        values: dict[str, float] = dict(DEFAULT_QUOTA)
        for qc in reversed(chain):
            for field in QUOTA_FIELDS:
                v = getattr(qc, field)
                if v is not None:
                    values[field] = v
        return Quota(name=name, **values)

    def agency(self, slug: str) -> Agency | None:
        return next((a for a in self.agencies if a.slug == slug), None)
