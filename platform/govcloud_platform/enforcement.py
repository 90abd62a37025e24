"""Quota enforcement: the limits the servers hold for each agency, against the quota applied to it (recorded in
the registry). `apply` converges them (`converge`), `doctor` reports them (`check`), `agency usage` shows them
(`annotate`). Before, `apply` compared only the quota class's name, so changed values of a class never reached
the servers, and nothing noticed a limit changed on a server (issue 10 item 4, issue 11 item 1)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from govcloud_platform.box.context import Box
from govcloud_platform.brokers import brokers
from govcloud_platform.brokers.base import Provisioning, is_client_error
from govcloud_platform.brokers.limits import Limit, changed_fields, drifted, outcome, quota_values
from govcloud_platform.errors import SERVICE_HINT, ServiceError
from govcloud_platform.progress import Progress
from govcloud_platform.spec import Quota
from govcloud_platform.state.registry import READY, AgencyRecord, Registry


@dataclass
class Settled:
    """What `settle` did: every limit it restored (over all rounds), and whether the last reads were clean."""

    restored: list[Limit] = field(default_factory=list)
    steady: bool = True
    rounds: int = 0


def settle(heal: Callable[[], list[Limit]], *, clean_reads: int = 2, every_s: float = 3.0, max_s: float = 45.0,
           sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> Settled:
    """Heal, and when something had to be restored, read again every `every_s` until `clean_reads` reads in a row
    find nothing to restore (at most `max_s`). A SeaweedFS filer back from a crash replays its peers' changes for a
    while after it answers, and a replayed older change can undo a heal (seen once on the lab: a bucket quota drifted
    again after `up` healed it). A first read that finds nothing is trusted: nothing was drifting."""
    done = Settled()
    deadline = clock() + max_s
    clean = 0
    while True:
        restored = heal()
        done.rounds += 1
        done.restored += restored
        clean = 0 if restored else clean + 1
        if not done.restored or clean >= clean_reads:
            return done
        if clock() + every_s > deadline:
            done.steady = False
            return done
        sleep(every_s)


class Enforcement:
    def __init__(self, box: Box, registry: Registry, actor: str | None, progress: Progress) -> None:
        self.box, self.registry, self.actor, self.progress = box, registry, actor, progress

    def applied(self, slug: str) -> Quota | None:
        """The quota last applied to the agency (an older box's agencies: their class as the spec resolves it)."""
        values = self.registry.applied_quota(slug)
        if values is not None:
            return Quota(**values)
        record = self.registry.agency(slug)
        if record is not None and record.quota in self.box.spec.quota_classes:
            return self.box.spec.resolve_quota(record.quota)
        return None

    def read(self, records: list[AgencyRecord], quotas: dict[str, Quota],
             only: str | None = None) -> dict[str, list[Limit]]:
        """Each service's limits (`only` that one's) of these agencies (expected from `quotas`), read from the
        servers: one session per service for all of them."""
        out: dict[str, list[Limit]] = {}
        for service, broker in brokers().items():
            if only is not None and service != only:
                continue
            serving = {r.slug: quotas[r.slug] for r in records if service in r.services and r.slug in quotas}
            if not serving:
                continue
            try:
                out[service] = broker.limits(self.box, serving)
            except ServiceError:
                raise
            except Exception as exc:
                if not isinstance(exc, OSError) and not is_client_error(exc):
                    raise
                raise ServiceError(f"{service}: reading the limits the server enforces failed ({type(exc).__name__})",
                                   hint=SERVICE_HINT) from None
        return out

    def annotate(self, records: list[AgencyRecord], docs: list[dict[str, Any]]) -> None:
        """Add to `agency usage` documents (one per record) each service's limits as the server holds them and
        `enforced` (all of them the applied quota's); the bucket's quota as `storage.limit_bytes`."""
        quotas = {r.slug: q for r in records if r.state == READY and (q := self.applied(r.slug)) is not None}
        limits = self.read([r for r in records if r.slug in quotas], quotas)
        for record, doc in zip(records, docs, strict=True):
            for service, found in limits.items():
                own = [lim for lim in found if lim.slug == record.slug]
                if own and service in doc:
                    doc[service]["enforced"] = not drifted(own)
                    doc[service]["limits"] = [lim.as_dict() for lim in own]
            if "storage" in doc and doc["storage"].get("limits"):
                doc["storage"]["limit_bytes"] = doc["storage"]["limits"][0]["actual"]

    def check(self) -> tuple[list[Limit], list[str]]:
        """`doctor`: every limit a server holds that differs from the applied quota, and the spec's agencies
        whose resolved quota values differ from the applied ones (pending an `apply`)."""
        ready = [r for r in self.registry.agencies() if r.state == READY]
        quotas = {r.slug: q for r in ready if (q := self.applied(r.slug)) is not None}
        limits = [lim for found in self.read(ready, quotas).values() for lim in drifted(found)]
        pending = []
        for agency in self.box.spec.agencies:
            applied = self.registry.applied_quota(agency.slug)
            if agency.slug in quotas and applied is not None and agency.quota in self.box.spec.quota_classes:
                if changed_fields(applied, self.box.spec.resolve_quota(agency.quota)):
                    pending.append(agency.slug)
        return limits, pending

    def converge(self, report: dict[str, list[str]]) -> None:
        """`apply`: every ready agency's limits, read back from the servers, made what its quota says: the
        spec's for the spec's agencies (so a changed value of a quota class reaches the servers), the applied one
        for the others. An agency `unchanged` so far becomes `updated` when its class's values changed since they
        were applied, `restored` when a server held another value than the applied one (someone changed it)."""
        from govcloud_platform.box.services.pg_hardening import cluster_current, harden_cluster

        if not cluster_current(self.box):  # a box hardened by an older govcloud, or never
            self.progress("database: hardening the catalogs of every database")
            harden_cluster(self.box)
        wanted = {a.slug: a for a in self.box.spec.agencies}
        records = [r for r in self.registry.agencies() if r.state == READY]
        quotas: dict[str, Quota] = {}
        for record in records:
            quota = (self.box.spec.resolve_quota(wanted[record.slug].quota) if record.slug in wanted
                     else self.applied(record.slug))
            if quota is not None:
                quotas[record.slug] = quota
        restored = self._restore(records, quotas)
        for slug, quota in quotas.items():
            applied = self.registry.applied_quota(slug)
            changed = changed_fields(applied, quota)
            result = outcome(changed, restored.get(slug, []), applied is not None)
            if slug in report["unchanged"] and result != "unchanged":
                report["unchanged"].remove(slug)
                report[result].append(slug)
            elif slug not in wanted and result == "restored":  # kept agencies (drift) have their limits too
                report["restored"].append(slug)
            if changed:
                self.registry.save_applied_quota(slug, quota_values(quota))
            for lim in restored.get(slug, []):
                self.registry.audit("apply", slug, "limit restored", self.actor, lim.describe())

    def heal(self, service: str) -> list[Limit]:
        """`up` on the hosts target with a storage cluster: one service's limits, read from the servers, made the
        applied quota's again where one differs (a filer back from a crash can hold an older value:
        `brokers.storage.cluster_limits`); each restored limit audited. Returns those."""
        records = [r for r in self.registry.agencies() if r.state == READY and service in r.services]
        quotas = {r.slug: q for r in records if (q := self.applied(r.slug)) is not None}
        restored = self._restore([r for r in records if r.slug in quotas], quotas, only=service)
        for slug, limits in restored.items():
            for lim in limits:
                self.registry.audit("up", slug, "limit restored", self.actor, lim.describe())
        return [lim for limits in restored.values() for lim in limits]

    def _restore(self, records: list[AgencyRecord], quotas: dict[str, Quota],
                 only: str | None = None) -> dict[str, list[Limit]]:
        """Re-provision, service by service (`only` that one), the agencies whose server holds another limit:
        slug -> those."""
        restored: dict[str, list[Limit]] = {}
        by_slug = {r.slug: r for r in records}
        all_brokers = brokers()
        for service, found in self.read(records, quotas, only).items():
            off = drifted(found)
            jobs = []
            for slug in sorted({lim.slug for lim in off}):
                creds = self.registry.binding(slug, service)
                if creds is not None:
                    jobs.append(Provisioning(slug, by_slug[slug].name, quotas[slug], creds))
            if not jobs:
                continue
            self.progress(f"{service}: restoring the limits of {len(jobs)} agencies")
            try:
                all_brokers[service].restore_limits(self.box, jobs)
            except (OSError, ServiceError) as exc:
                raise ServiceError(f"{service}: restoring limits failed: {exc}",
                                   hint="check `govcloud status`, then re-run `govcloud apply`: it converges") from None
            for lim in off:
                restored.setdefault(lim.slug, []).append(lim)
        return restored
