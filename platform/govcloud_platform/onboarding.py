"""Agency onboarding: add, remove, credentials, usage, apply (converge to the spec) and doctor.

Order of an `add`: validate (no side effect on bad input) -> lock -> registry row and credentials
(encrypted, before any server is touched) -> each broker provisions -> state `ready`. A crash at any
point leaves a `provisioning` row whose stored credentials the next run reuses: re-running converges.
A removal saves `removing` before any server is touched; a failure leaves it there, and the same `agency remove`
run again completes it (`add` and `apply` refuse such an agency; `doctor` lists it)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from govcloud_platform import claims, faults
from govcloud_platform.box.context import Box
from govcloud_platform.brokers import brokers
from govcloud_platform.brokers.base import Broker, Provisioning, is_client_error
from govcloud_platform.brokers.limits import quota_values
from govcloud_platform.enforcement import Enforcement
from govcloud_platform.errors import ConflictError, GovCloudError, InputError, ServiceError
from govcloud_platform.progress import Progress, quiet
from govcloud_platform.spec import DEFAULT_SERVICES, Agency, Quota, check_slug
from govcloud_platform.state.lock import box_lock
from govcloud_platform.state.registry import PROVISIONING, READY, REMOVING, RETIRED, AgencyRecord, Registry
from govcloud_platform.text import check_text

# every agency's where the box runs them, whatever its `services` list says (the demo payment provider's merchant
# account: where the spec enables it)
IMPLICIT_SERVICES = ("signing", "paydemo")

# REMOVING is saved before a removal touches any server and kept until every broker has deprovisioned: a removal
# that fails half-way leaves the agency `removing` (never a hollow `ready`), and `agency remove` run again
# completes it.


# The port that answers when a service placed on another host runs (the hosts target): a TCP connection to it
# is the cheap liveness check there (its supervisord is on that host).
_LIVENESS_PORT = {"storage": "s3_https", "database": "postgres", "identity": "idp_https"}


def _require_remote_services(box: Box) -> None:
    """Each service answers on one of its hosts at least (the database under Patroni: on any of its hosts, the
    leader among them; a lost host's instance is not needed)."""
    import socket

    for service, label in _LIVENESS_PORT.items():
        if box.runs(service):
            continue
        port = getattr(box.ports, label)
        wheres = box.placement.instances_of(service) if box.placement is not None else ()
        targets = [(w.host, w.address) for w in wheres] or [(str(box.host_of(service)), box.address_of(service))]
        tried = []
        for host, address in targets:
            try:
                socket.create_connection((address, port), timeout=3).close()
                break
            except OSError as exc:
                tried.append(f"host {host} ({address}:{port}: {exc.strerror or type(exc).__name__})")
        else:
            raise ServiceError(f"{service} is not answering on {'; '.join(tried)}",
                               hint="run `govcloud status`, then `govcloud up`")


@dataclass
class AgencyRequest:
    slug: str
    name: str
    email: str
    quota: str = "standard"
    services: list[str] = field(default_factory=lambda: list(DEFAULT_SERVICES))  # `agency add`: not mail

    def settings(self) -> dict[str, Any]:
        return {"name": self.name, "email": self.email, "quota": self.quota, "services": sorted(self.services)}

    @classmethod
    def from_spec(cls, agency: Agency) -> AgencyRequest:
        return cls(agency.slug, agency.name, agency.email, agency.quota, list(agency.services))


def validate_request(box: Box, req: AgencyRequest) -> AgencyRequest:
    """Every check that needs no server; raises InputError (exit 2) before anything changes."""
    try:
        check_slug(req.slug)
        Agency(slug=req.slug, name=req.name, email=req.email, quota=req.quota, services=req.services)
        check_text(req.name, "name", max_length=120)  # no blank, control or bidi-override display name
    except ValueError as exc:
        first = exc.errors()[0]["msg"] if hasattr(exc, "errors") else str(exc)  # pydantic or plain
        raise InputError(f"agency {req.slug!r}: {str(first).removeprefix('Value error, ')}") from None
    if req.quota not in box.spec.quota_classes:
        known = ", ".join(sorted(box.spec.quota_classes))
        raise InputError(f"unknown quota class {req.quota!r}", hint=f"define it under quota_classes; known: {known}")
    return req


class Onboarding:
    def __init__(self, box: Box, actor: str | None = None, progress: Progress = quiet) -> None:
        self.box = box
        self.registry = Registry(box.home)
        self.actor = actor
        self.progress = progress
        # While `apply` runs: each service's provisioning of every agency, run per service at the end
        # (`provision_many`: shared sessions, one IdP configuration, one pg_hba reload).
        self._batch: dict[str, list[Provisioning]] | None = None
        self._pending: list[tuple[str, str]] = []  # (slug, action) marked ready once the batch has run
        self._brokers: dict[str, Broker] = {}  # one set for a whole `apply` (what `taken` learned serves the batch)

    # --- add / converge -----------------------------------------------------------------------
    def add(self, req: AgencyRequest, *, allow_update: bool = False) -> tuple[AgencyRecord, bool]:
        """Onboard (or converge) an agency. Returns (record, changed)."""
        validate_request(self.box, req)
        with box_lock(self.box.home, f"agency add {req.slug}"):
            self._brokers = brokers()
            try:
                return self._add_locked(req, allow_update)
            except Exception as exc:
                self.registry.audit("agency add", req.slug, "failed", self.actor, str(exc))
                raise
            finally:
                claims.release(self._brokers)

    def _add_locked(self, req: AgencyRequest, allow_update: bool) -> tuple[AgencyRecord, bool]:
        existing = self.registry.agency(req.slug)
        self._refuse_removing([req.slug])
        wanted = self._services_of(req)
        if existing is not None and existing.state == READY:
            if existing.settings() == req.settings() and not self._missing_implicit(req.slug, wanted):
                return existing, False
            if not allow_update:
                diff = sorted(k for k, v in req.settings().items() if existing.settings()[k] != v)
                raise ConflictError(
                    f"agency {req.slug!r} exists with different {', '.join(diff)}",
                    hint="change it in the spec and run `govcloud apply`, or remove it first",
                )
        self._require_services()
        quota = self.box.spec.resolve_quota(req.quota)
        all_brokers = self._brokers
        if existing is None and self._batch is None:
            claims.refuse_taken(self.box, [req], all_brokers)
        self.registry.save_agency(req.slug, req.name, req.email, req.quota, req.services, PROVISIONING)
        steps: list[tuple[str, dict[str, Any], bool]] = []
        for service in [s for s in all_brokers if s in wanted]:
            creds = self.registry.binding(req.slug, service)
            new = creds is None
            if creds is None:
                creds = all_brokers[service].new_credentials(self.box, req.slug)
                self.registry.save_binding(req.slug, service, creds)
            if self._batch is not None:
                self._batch.setdefault(service, []).append(Provisioning(req.slug, req.name, quota, creds))
            else:
                steps.append((service, creds, new))
        if steps:
            # Every service at once: they share no server-side object, and each is mostly waiting on its own
            # server (a weed shell session, the IdP's API, bcrypt and CREATE DATABASE in PostgreSQL).
            with ThreadPoolExecutor(max_workers=len(steps)) as pool:
                futures = [pool.submit(self._provision_step, req, quota, all_brokers, *step) for step in steps]
            for future in futures:
                future.result()  # the first failure, in broker order
        for service in [s for s in all_brokers if s not in wanted]:
            if self.registry.binding(req.slug, service) is not None:
                all_brokers[service].deprovision(self.box, req.slug, purge=False)
                self.registry.delete_binding(req.slug, service)
        action = "updated" if existing is not None and existing.state == READY else "added"
        if self._batch is None:
            self._mark_ready(req.slug, action)
        else:
            self._pending.append((req.slug, action))
        record = self.registry.agency(req.slug)
        assert record is not None
        return record, True

    def _services_of(self, req: AgencyRequest) -> list[str]:
        """The services an agency gets: those it asks for, and signing and the demo payment provider wherever the box
        runs them (every agency's: brokers/signing.py, brokers/paydemo.py)."""
        return [*req.services, *(s for s in IMPLICIT_SERVICES if self.box.runs(s) and s not in req.services)]

    def _missing_implicit(self, slug: str, wanted: list[str]) -> bool:
        """Whether a ready agency lacks a service it gets without asking (one added before the box ran signing):
        `add` and `apply` then give it, instead of reporting it unchanged."""
        return any(self.registry.binding(slug, s) is None for s in IMPLICIT_SERVICES if s in wanted)

    def _provision_step(self, req: AgencyRequest, quota: Quota, all_brokers: dict[str, Broker], service: str,
                        creds: dict[str, Any], new: bool) -> None:
        """One broker's provisioning of one agency; errors become one line naming the agency and service."""
        self.progress(f"{req.slug}: {service}")
        faults.onboarding_step("before", service, self.box)
        try:
            all_brokers[service].provision(self.box, req.slug, req.name, quota, creds, new=new)
        except (OSError, ServiceError) as exc:
            raise ServiceError(
                f"agency {req.slug}: {service} provisioning failed: {exc}",
                hint="check `govcloud status`, then re-run the same command: it converges",
            ) from None
        except Exception as exc:
            if is_client_error(exc):
                raise ServiceError(
                    f"agency {req.slug}: {service} provisioning failed ({type(exc).__name__})",
                    hint="check `govcloud status`, then re-run the same command: it converges",
                ) from None
            raise
        faults.onboarding_step("after", service, self.box)

    def _mark_ready(self, slug: str, action: str) -> None:
        record = self.registry.agency(slug)
        if record is not None and record.quota in self.box.spec.quota_classes:  # what was just provisioned
            self.registry.save_applied_quota(slug, quota_values(self.box.spec.resolve_quota(record.quota)))
        self.registry.set_state(slug, READY)
        self.registry.audit("agency add", slug, action, self.actor)

    def _flush_batch(self) -> None:
        """Run each service's batch (in broker order), then mark the agencies ready."""
        batch, self._batch = self._batch or {}, None
        pending, self._pending = self._pending, []
        for service, broker in self._brokers.items():
            jobs = batch.get(service, [])
            if not jobs:
                continue
            self.progress(f"{service}: {len(jobs)} agencies")
            faults.onboarding_step("before", service, self.box)
            try:
                broker.provision_many(self.box, jobs)
            except (OSError, ServiceError) as exc:
                raise ServiceError(
                    f"{service} provisioning failed: {exc}",
                    hint="check `govcloud status`, then re-run `govcloud apply`: it converges",
                ) from None
            faults.onboarding_step("after", service, self.box)
        for slug, action in pending:
            self._mark_ready(slug, action)

    def _require_services(self) -> None:
        """Cheap liveness (supervisord states); a service that fails later gives its own clear error. A box
        upgraded from an earlier release must have renamed its objects first (`govcloud up`)."""
        from govcloud_platform.upgrade import require_current_names

        require_current_names(self.box)
        from govcloud_platform.box.services import all_services
        from govcloud_platform.box.supervisor import Supervisor

        _require_remote_services(self.box)
        info = Supervisor(self.box).info() if any(self.box.runs(svc.name) for svc in all_services()) else {}
        for svc in all_services():
            if not self.box.runs(svc.name) or not svc.serves_brokers:
                continue
            for prog in svc.programs(self.box):
                state = info.get(prog.name, {}).get("statename")
                if state != "RUNNING":
                    raise ServiceError(
                        f"{svc.name} is not running ({prog.name}: {str(state or 'not started').lower()})",
                        hint="run `govcloud up` first",
                    )

    # --- remove ---------------------------------------------------------------------------------
    def remove(self, slug: str, purge: bool) -> bool:
        """Revoke every access of the agency; with purge also delete its data. False if unknown. A removal
        that failed half-way (state `removing`) is completed by the same command run again."""
        existing = self.registry.agency(slug)
        if existing is None:
            raise InputError(f"unknown agency {slug!r}", hint="`govcloud agency list` shows the agencies")
        if existing.state == RETIRED and not purge:
            return False
        with box_lock(self.box.home, f"agency remove {slug}"):
            self._remove_locked(slug, purge)
        return True

    def _remove_locked(self, slug: str, purge: bool) -> None:
        """`removing` is saved before any server is touched; each step is idempotent; any failure is audited
        and leaves `removing`, so that neither `add` nor the scheduler take the agency for a live one."""
        try:
            record = self.registry.agency(slug)
            resuming = record is not None and record.state == REMOVING
            purging = resuming and self._removal_purges(slug)
            if purging and not purge:
                raise ConflictError(
                    f"the removal of agency {slug!r} was started with --purge-data and is unfinished; part of "
                    "its data may be gone already", hint=f"complete it: {removal_command(slug, True)}")
            self._require_services()
            if record is not None and (not resuming or (purge and not purging)):  # a new removal, or now a purge
                self.registry.set_state(slug, REMOVING)
                self.registry.audit("agency remove", slug, "started", self.actor, _intent(purge))
            from govcloud_platform.apps.service import AppService

            apps = AppService(self.box, self.actor, self.progress)
            for deployment in apps.store.all(slug):  # an app keeps no access its agency lost
                self.progress(f"{slug}: app {deployment.app}")
                apps.remove(slug, deployment.app, purge)
            from govcloud_platform.console_scripts import ScriptClients

            ScriptClients(self.box, self.actor).remove_agency(self.registry, slug)  # the console's script clients
            for service, broker in reversed(list(brokers().items())):
                self.progress(f"{slug}: {service}")
                self._deprovision_step(slug, service, broker, purge)
        except Exception as exc:
            self.registry.audit("agency remove", slug, "failed", self.actor, str(exc))
            raise
        if purge:
            self.registry.delete_agency(slug)
        else:
            self.registry.set_state(slug, RETIRED)
        self.registry.audit("agency remove", slug, "purged" if purge else "retired (data kept)", self.actor)

    def _deprovision_step(self, slug: str, service: str, broker: Broker, purge: bool) -> None:
        """One broker's deprovisioning; errors become one line naming the agency, the service and the way on."""
        hint = f"the agency stays `removing`; check `govcloud status`, then run `{removal_command(slug, purge)}` " \
               "again: it completes the removal"
        faults.onboarding_step("before", f"remove:{service}", self.box)
        try:
            broker.deprovision(self.box, slug, purge)
        except GovCloudError as exc:
            raise ServiceError(f"agency {slug}: {service} removal failed: {exc.message}", hint=hint) from None
        except OSError as exc:
            raise ServiceError(f"agency {slug}: {service} removal failed: {exc}", hint=hint) from None
        except Exception as exc:
            if is_client_error(exc):
                raise ServiceError(f"agency {slug}: {service} removal failed ({type(exc).__name__})",
                                   hint=hint) from None
            raise
        faults.onboarding_step("after", f"remove:{service}", self.box)

    def _removal_purges(self, slug: str) -> bool:
        """Whether the unfinished removal of `slug` was started with --purge-data (its `started` audit entry)."""
        for entry in self.registry.audit_log(limit=200, target=slug):
            if entry["command"] == "agency remove" and entry["result"] == "started":
                return bool(entry["detail"] == _intent(True))
        return False

    def _refuse_removing(self, slugs: list[str]) -> None:
        """An agency half-way through its removal is neither re-added nor converged (exit 4): its data may be
        half gone, and only the removal knows how it was started."""
        for slug in slugs:
            record = self.registry.agency(slug)
            if record is not None and record.state == REMOVING:
                raise ConflictError(
                    f"agency {slug!r} is being removed (a removal failed half-way); nothing was changed",
                    hint=f"finish the removal first: {removal_command(slug, self._removal_purges(slug))}")

    def unfinished_removals(self) -> dict[str, str]:
        """slug -> the command that completes its removal, for every `removing` agency."""
        return {r.slug: removal_command(r.slug, self._removal_purges(r.slug))
                for r in self.registry.agencies() if r.state == REMOVING}

    # --- read -----------------------------------------------------------------------------------
    def get(self, slug: str) -> AgencyRecord:
        record = self.registry.agency(slug)
        if record is None:
            raise InputError(f"unknown agency {slug!r}", hint="`govcloud agency list` shows the agencies")
        return record

    def credentials(self, slug: str) -> dict[str, dict[str, Any]]:
        record = self.get(slug)
        if record.state != READY:
            raise ConflictError(f"agency {slug!r} is {record.state}", hint="run `govcloud apply` to converge it")
        out: dict[str, dict[str, Any]] = {}
        for service, broker in brokers().items():
            creds = self.registry.binding(slug, service)
            if creds is not None:
                out[service] = broker.bind(self.box, slug, creds)
        return out

    def usage(self, slug: str) -> dict[str, Any]:
        return self.usages([slug])[0]

    def usages(self, slugs: list[str]) -> list[dict[str, Any]]:
        """Measured usage, and the limits the servers enforce (read from them, not from the spec) next to the
        applied quota: `enforced` is true when every limit of the service is the applied one."""
        records = [self.get(slug) for slug in slugs]
        docs = []
        for record in records:
            doc: dict[str, Any] = {"slug": record.slug, "quota": record.quota}
            for service, broker in brokers().items():
                if service in record.services and record.state == READY:
                    doc[service] = broker.usage(self.box, record.slug)
            docs.append(doc)
        Enforcement(self.box, self.registry, self.actor, self.progress).annotate(records, docs)
        return docs

    # --- apply / doctor -------------------------------------------------------------------------
    def apply(self, prune: bool) -> dict[str, list[str]]:
        """Converge the box to the spec: add missing agencies, apply changed settings and quota values, restore
        limits the servers no longer enforce, report drift."""
        report: dict[str, list[str]] = {"added": [], "updated": [], "unchanged": [], "drift": [], "removed": [],
                                        "restored": []}
        wanted = {a.slug: a for a in self.box.spec.agencies}
        requests = [validate_request(self.box, AgencyRequest.from_spec(a)) for a in self.box.spec.agencies]
        with box_lock(self.box.home, "apply"):
            self._batch, self._pending, self._brokers = {}, [], brokers()
            try:
                self._refuse_removing([r.slug for r in requests])
                new = [r for r in requests if self.registry.agency(r.slug) is None]
                if requests:  # even with nothing new: "unchanged" means the services hold what the spec says
                    self._require_services()
                if new:
                    claims.refuse_taken(self.box, new, self._brokers)
                for req in requests:
                    before = self.registry.agency(req.slug)
                    _, changed = self._add_locked(req, allow_update=True)
                    if not changed:
                        report["unchanged"].append(req.slug)
                    elif before is None or before.state != READY:
                        report["added"].append(req.slug)
                    else:
                        report["updated"].append(req.slug)
                self._flush_batch()
                Enforcement(self.box, self.registry, self.actor, self.progress).converge(report)
            except Exception as exc:
                self._batch = None
                self.registry.audit("apply", "spec", "failed", self.actor, str(exc))
                raise
            finally:
                claims.release(self._brokers)
            for record in self.registry.agencies():
                if record.slug not in wanted and record.state != RETIRED:
                    if prune and record.state != REMOVING:  # a half-done removal is finished by its own command
                        self._remove_locked(record.slug, purge=False)
                        report["removed"].append(record.slug)
                    else:
                        report["drift"].append(record.slug)
        self.registry.audit("apply", "spec", "ok", self.actor, str({k: len(v) for k, v in report.items()}))
        return report

    def doctor(self) -> dict[str, Any]:
        """Orphans, unfinished onboardings and removals, every limit a server holds that is not the applied
        quota's (`limits`: agency, object, setting, expected, actual, detail), and buckets that cannot take a write
        (`unwritable`: every bucket probed, and a new one). `pending`: agencies whose spec quota values differ from
        the applied ones (`apply` applies them; not a fault)."""
        from govcloud_platform.box.services.storage_probe import problems

        records = self.registry.agencies()
        known = {r.slug for r in records}
        stuck = [r.slug for r in records if r.state in (PROVISIONING, REMOVING)]
        orphans: list[str] = []
        for broker in brokers().values():
            orphans += broker.orphans(self.box, known)
        limits, pending = Enforcement(self.box, self.registry, self.actor, self.progress).check()
        unwritable = problems(self.box.s3_client())  # every bucket, and a new one: a listing proves no write
        return {"orphans": orphans, "unfinished": stuck, "removing": self.unfinished_removals(),
                "limits": [{**lim.as_dict(), "detail": lim.describe()} for lim in limits],
                "pending": pending, "unwritable": unwritable,
                "healthy": not orphans and not stuck and not limits and not unwritable}


def _intent(purge: bool) -> str:
    return "purge data" if purge else "keep data"


def removal_command(slug: str, purge: bool) -> str:
    return f"govcloud agency remove {slug}" + (" --purge-data --yes" if purge else "")
