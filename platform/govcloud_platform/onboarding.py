"""Agency onboarding: add, remove, credentials, usage, apply (converge to the spec) and doctor.

Order of an `add`: validate (no side effect on bad input) -> lock -> registry row and credentials
(encrypted, before any server is touched) -> each broker provisions -> state `ready`. A crash at any
point leaves a `provisioning` row whose stored credentials the next run reuses: re-running converges."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from govcloud_platform.box.context import Box
from govcloud_platform.brokers import brokers
from govcloud_platform.brokers.base import Broker, Provisioning, is_client_error
from govcloud_platform.errors import ConflictError, InputError, ServiceError
from govcloud_platform.spec import SERVICE_NAMES, Agency, Quota, check_slug
from govcloud_platform.state.lock import box_lock
from govcloud_platform.state.registry import AgencyRecord, Registry
from govcloud_platform.text import check_text

Progress = Callable[[str], None]
READY, PROVISIONING, RETIRED = "ready", "provisioning", "retired"


def _quiet(_: str) -> None:
    return None


def _fault_hook(when: str, step: str, box: Box) -> None:
    """Test hook: GOVCLOUD_TEST_FAULT=<before|after>:<service>:stop:<program> stops a box program before or
    after a broker step, to prove that a failure half-way converges on re-run. Inert unless the variable is
    set."""
    spec = os.environ.get("GOVCLOUD_TEST_FAULT", "")
    parts = spec.split(":")
    if len(parts) == 4 and parts[0] == when and parts[1] == step and parts[2] == "stop":
        from govcloud_platform.box.supervisor import Supervisor

        Supervisor(box).stop(parts[3])


@dataclass
class AgencyRequest:
    slug: str
    name: str
    email: str
    quota: str = "standard"
    services: list[str] = field(default_factory=lambda: list(SERVICE_NAMES))

    def settings(self) -> dict[str, Any]:
        return {"name": self.name, "email": self.email, "quota": self.quota, "services": sorted(self.services)}

    @classmethod
    def from_spec(cls, agency: Agency) -> AgencyRequest:
        return cls(agency.slug, agency.name, agency.email, agency.quota, list(agency.services))


def foreign_objects(requests: list[AgencyRequest], found: dict[str, dict[str, list[str]]]) -> list[tuple[str, str]]:
    """(slug, object) for every server-side object that agencies new to the registry would take although it
    exists already (`found`: service -> slug -> objects, from the brokers' `taken`), in the requests' order,
    for the services each agency asks for."""
    return [(req.slug, obj) for req in requests for service in req.services
            for obj in found.get(service, {}).get(req.slug, [])]


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
    def __init__(self, box: Box, actor: str | None = None, progress: Progress = _quiet) -> None:
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
                self._release(self._brokers)

    def _add_locked(self, req: AgencyRequest, allow_update: bool) -> tuple[AgencyRecord, bool]:
        existing = self.registry.agency(req.slug)
        if existing is not None and existing.state == READY:
            if existing.settings() == req.settings():
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
            self._refuse_taken([req], all_brokers)
        self.registry.save_agency(req.slug, req.name, req.email, req.quota, req.services, PROVISIONING)
        steps: list[tuple[str, dict[str, Any], bool]] = []
        for service in [s for s in all_brokers if s in req.services]:
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
        for service in [s for s in all_brokers if s not in req.services]:
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

    def _refuse_taken(self, requests: list[AgencyRequest], all_brokers: dict[str, Broker]) -> None:
        """Agencies the registry does not know must find none of their names taken on the servers: each broker
        looks (all at once), and any object found refuses the whole command before anything changes (exit 4)."""
        services = [s for s in all_brokers if any(s in r.services for r in requests)]
        slugs = [r.slug for r in requests]
        if not slugs or not services:
            return
        with ThreadPoolExecutor(max_workers=len(services)) as pool:
            futures = {s: pool.submit(all_brokers[s].taken, self.box, slugs) for s in services}
        try:
            found = {s: f.result() for s, f in futures.items()}
        except BaseException:
            self._release(all_brokers)
            raise
        refused = foreign_objects(requests, found)
        if refused:
            self._release(all_brokers)
            slug, obj = refused[0]
            more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
            raise ConflictError(
                f"agency {slug}: {obj} exists already and the registry records no agency {slug!r}{more}; "
                "nothing was changed",
                hint="it is not this agency's: choose another slug, or find its owner (`govcloud doctor`)",
            )

    @staticmethod
    def _release(all_brokers: dict[str, Broker]) -> None:
        for broker in all_brokers.values():
            broker.release()

    def _provision_step(self, req: AgencyRequest, quota: Quota, all_brokers: dict[str, Broker], service: str,
                        creds: dict[str, Any], new: bool) -> None:
        """One broker's provisioning of one agency; errors become one line naming the agency and service."""
        self.progress(f"{req.slug}: {service}")
        _fault_hook("before", service, self.box)
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
        _fault_hook("after", service, self.box)

    def _mark_ready(self, slug: str, action: str) -> None:
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
            _fault_hook("before", service, self.box)
            try:
                broker.provision_many(self.box, jobs)
            except (OSError, ServiceError) as exc:
                raise ServiceError(
                    f"{service} provisioning failed: {exc}",
                    hint="check `govcloud status`, then re-run `govcloud apply`: it converges",
                ) from None
            _fault_hook("after", service, self.box)
        for slug, action in pending:
            self._mark_ready(slug, action)

    def _require_services(self) -> None:
        """Cheap liveness (supervisord states); a service that fails later gives its own clear error. A box
        upgraded from an earlier release must have renamed its objects first (`govcloud up`)."""
        from govcloud_platform.upgrade import require_current_names

        require_current_names(self.box)
        from govcloud_platform.box.services import all_services
        from govcloud_platform.box.supervisor import Supervisor

        info = Supervisor(self.box).info()
        for svc in all_services():
            for prog in svc.programs(self.box):
                state = info.get(prog.name, {}).get("statename")
                if state != "RUNNING":
                    raise ServiceError(
                        f"{svc.name} is not running ({prog.name}: {str(state or 'not started').lower()})",
                        hint="run `govcloud up` first",
                    )

    # --- remove ---------------------------------------------------------------------------------
    def remove(self, slug: str, purge: bool) -> bool:
        """Revoke every access of the agency; with purge also delete its data. False if unknown."""
        existing = self.registry.agency(slug)
        if existing is None:
            raise InputError(f"unknown agency {slug!r}", hint="`govcloud agency list` shows the agencies")
        if existing.state == RETIRED and not purge:
            return False
        with box_lock(self.box.home, f"agency remove {slug}"):
            self._remove_locked(slug, purge)
        return True

    def _remove_locked(self, slug: str, purge: bool) -> None:
        self._require_services()
        from govcloud_platform.apps.service import AppService

        apps = AppService(self.box, self.actor, self.progress)
        for deployment in apps.store.all(slug):  # an app keeps no access its agency lost
            self.progress(f"{slug}: app {deployment.app}")
            apps.remove(slug, deployment.app, purge)
        for service, broker in reversed(list(brokers().items())):
            self.progress(f"{slug}: {service}")
            broker.deprovision(self.box, slug, purge)
        if purge:
            self.registry.delete_agency(slug)
        else:
            self.registry.set_state(slug, RETIRED)
        self.registry.audit("agency remove", slug, "purged" if purge else "retired (data kept)", self.actor)

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
        record = self.get(slug)
        quota = self.box.spec.resolve_quota(record.quota) if record.quota in self.box.spec.quota_classes else None
        out: dict[str, Any] = {"slug": slug, "quota": record.quota}
        for service, broker in brokers().items():
            if service in record.services and record.state == READY:
                out[service] = broker.usage(self.box, slug)
        if quota is not None and "storage" in out:
            out["storage"]["limit_bytes"] = int(quota.storage_gb * 1024**3)
        return out

    # --- apply / doctor -------------------------------------------------------------------------
    def apply(self, prune: bool) -> dict[str, list[str]]:
        """Converge the box to the spec: add missing agencies, apply changed settings, report drift."""
        report: dict[str, list[str]] = {"added": [], "updated": [], "unchanged": [], "drift": [], "removed": []}
        wanted = {a.slug: a for a in self.box.spec.agencies}
        requests = [validate_request(self.box, AgencyRequest.from_spec(a)) for a in self.box.spec.agencies]
        with box_lock(self.box.home, "apply"):
            self._batch, self._pending, self._brokers = {}, [], brokers()
            try:
                new = [r for r in requests if self.registry.agency(r.slug) is None]
                if new:
                    self._require_services()
                    self._refuse_taken(new, self._brokers)
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
            except Exception as exc:
                self._batch = None
                self.registry.audit("apply", "spec", "failed", self.actor, str(exc))
                raise
            finally:
                self._release(self._brokers)
            for record in self.registry.agencies():
                if record.slug not in wanted and record.state != RETIRED:
                    if prune:
                        self._remove_locked(record.slug, purge=False)
                        report["removed"].append(record.slug)
                    else:
                        report["drift"].append(record.slug)
        self.registry.audit("apply", "spec", "ok", self.actor, str({k: len(v) for k, v in report.items()}))
        return report

    def doctor(self) -> dict[str, Any]:
        known = {r.slug for r in self.registry.agencies()}
        stuck = [r.slug for r in self.registry.agencies() if r.state == PROVISIONING]
        orphans: list[str] = []
        for broker in brokers().values():
            orphans += broker.orphans(self.box, known)
        return {"orphans": orphans, "unfinished": stuck, "healthy": not orphans and not stuck}
