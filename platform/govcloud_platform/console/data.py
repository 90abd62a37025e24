"""What the console shows, read through the platform's own functions (never a copy of their logic or data): the
agencies from the registry (`state.registry.Registry`), the services' health from `box.runtime.status` (what
`govcloud status` prints), the CA certificate from the box."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from flask import abort

from govcloud_platform.box.context import Box
from govcloud_platform.console import intake
from govcloud_platform.console.auditlog import AuditQuery, older_than
from govcloud_platform.console.authz import Principal, may_see
from govcloud_platform.progress import Progress
from govcloud_platform.state import console_clients
from govcloud_platform.state import onboarding_requests as store
from govcloud_platform.state.console_clients import ScriptClient
from govcloud_platform.state.onboarding_requests import OnboardingRequest
from govcloud_platform.state.registry import AgencyRecord, Registry, registry_path

STATUS_TTL_S = 10.0  # probing every service takes up to a second: a page shows an answer at most this old


def agency_summary(record: AgencyRecord) -> dict[str, Any]:
    """An agency as the API's list gives it (`GET /api/agencies`)."""
    return {"slug": record.slug, "name": record.name, "state": record.state, "quota_class": record.quota,
            "services": list(record.services)}


def agency_detail(record: AgencyRecord) -> dict[str, Any]:
    """One agency (`GET /api/agencies/<slug>`): the summary, its contact, its dates and the URL of its audit entries
    (the audit log's `agency` filter: the agency's page shows the newest of them)."""
    return {**agency_summary(record), "email": record.email, "created_at": record.created_at,
            "updated_at": record.updated_at, "audit": f"/api/audit?{urlencode({'agency': record.slug})}"}


def human_bytes(n: int) -> str:
    """Bytes for people: 1023 B, 1.5 KB, 20.0 MB ... (binary multiples, one decimal)."""
    value, unit = float(n), "B"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            break
        value /= 1024
    return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"


def usage_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The usage page's rows from `Onboarding.usage`'s document (what `agency usage --json` prints): each measure
    (a key of `texts`), what is used and, where the server enforces one, the limit (the page draws a bar)."""
    rows: list[dict[str, Any]] = []
    db, storage = doc.get("database"), doc.get("storage")
    if isinstance(db, dict):
        rows.append({"measure": "db_bytes", "used": human_bytes(int(db.get("bytes") or 0)), "value": None})
        limit = db.get("connection_limit")
        rows.append({"measure": "db_connections", "used": str(db.get("connections", 0)),
                     "value": int(db.get("connections") or 0), "max": limit if isinstance(limit, int) and limit > 0
                     else None, "limit": str(limit) if isinstance(limit, int) and limit > 0 else None})
    if isinstance(storage, dict):
        used, limit = int(storage.get("bytes") or 0), storage.get("limit_bytes")
        if not isinstance(limit, int) or limit <= 0:
            limit = None
        rows.append({"measure": "storage_bytes", "used": human_bytes(used), "value": used, "max": limit,
                     "limit": human_bytes(limit) if limit is not None else None})
        rows.append({"measure": "storage_objects", "used": str(storage.get("objects", 0)), "value": None})
    if isinstance(doc.get("backups"), dict):
        rows.append({"measure": "backup_bytes", "used": human_bytes(int(doc["backups"].get("bytes") or 0)),
                     "value": None})
    if isinstance(doc.get("identity"), dict):
        rows.append({"measure": "idp_users", "used": str(doc["identity"].get("users", 0)), "value": None})
    for row in rows:
        row.setdefault("max", None)
        row.setdefault("limit", None)
    return rows


@dataclass
class Platform:
    box: Box
    _status: tuple[float, list[dict[str, Any]]] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @contextmanager
    def _registry(self) -> Iterator[Registry]:
        """The box's registry for one call, closed after it (each request or job thread opens its own)."""
        registry = Registry(self.box.home)
        try:
            yield registry
        finally:
            registry.close()

    def agencies(self) -> list[AgencyRecord]:
        with self._registry() as registry:
            return registry.agencies()

    def agency(self, slug: str) -> AgencyRecord | None:
        with self._registry() as registry:
            return registry.agency(slug)

    def visible_agency(self, who: Principal, slug: str) -> AgencyRecord:
        """The agency `slug` when the principal may see it; otherwise the 404 an unknown slug gets, exactly (a 403
        would confirm that another agency exists: `authz`). Every view of an agency's URL starts with this."""
        record = self.agency(slug) if may_see(who, slug) else None
        if record is None:
            abort(404)
        return record

    def script_client(self, client_id: str) -> ScriptClient | None:
        """The script client of a token's `client_id` (`console_scripts`), None when it is none (or removed)."""
        with self._registry() as registry:
            return console_clients.by_client_id(registry, client_id)

    def credentials(self, slug: str) -> dict[str, dict[str, Any]] | None:
        """What `govcloud agency credentials SLUG --show-secrets` gives (`Onboarding.credentials`: each service's
        credential document), or None when the agency is not ready. The caller masks or audits."""
        from govcloud_platform.errors import ConflictError
        from govcloud_platform.onboarding import Onboarding

        onboarding = Onboarding(self.box, actor="console")
        try:
            return onboarding.credentials(slug)
        except ConflictError:
            return None
        finally:
            onboarding.registry.close()

    def audit_event(self, command: str, target: str, result: str, actor: str, detail: str) -> None:
        with self._registry() as registry:
            registry.audit(command, target, result, actor, detail)

    # --- onboarding requests (console.intake decides; the registry stores; Onboarding.add onboards) -------------
    def onboarding_requests(self) -> list[OnboardingRequest]:
        with self._registry() as registry:
            return store.every(registry)

    def onboarding_request(self, request_id: int) -> OnboardingRequest | None:
        with self._registry() as registry:
            return store.get(registry, request_id)

    def file_request(self, fields: intake.Fields, subject: str, actor: str) -> OnboardingRequest:
        """Validate with `agency add`'s own validator (InputError: nothing stored), refuse a slug that exists or
        waits (ConflictError), store it pending and audit it."""
        from govcloud_platform.errors import ConflictError
        from govcloud_platform.onboarding import AgencyRequest, validate_request

        validate_request(self.box, AgencyRequest(fields.slug, fields.name, fields.email, fields.quota))
        with self._registry() as registry:
            conflict = intake.filing_conflict(fields.slug, [r.slug for r in registry.agencies()],
                                              [r.slug for r in store.every(registry)
                                               if r.state in (store.PENDING, store.APPROVING)])
            if conflict:
                raise ConflictError(conflict)
            filed = store.file(registry, fields.slug, fields.name.strip(), fields.email, fields.quota,
                               list(fields.apps), subject, fields.lang)
            registry.audit("request file", fields.slug, "filed", actor, f"request {filed.id}")
            return filed

    def decline(self, request_id: int, actor: str, reason: str) -> bool:
        """False when it was decided meanwhile (409)."""
        with self._registry() as registry:
            if not store.decide(registry, request_id, store.DECLINED, actor, reason):
                return False
            found = store.get(registry, request_id)
            registry.audit("request decline", found.slug if found else "", "declined", actor,
                           f"request {request_id}: {reason}")
            return True

    def claim_approval(self, request_id: int, actor: str) -> OnboardingRequest | None:
        """An approval's first step, in the operator's request: the request becomes `approving` (audited `request
        approve`, as an approval always was); None when it was decided or is being approved meanwhile (409). Its
        job (`onboard_approved`) then onboards it."""
        with self._registry() as registry:
            if not store.claim(registry, request_id, actor):
                return None
            found = store.get(registry, request_id)
            assert found is not None
            registry.audit("request approve", found.slug, "approved", actor, f"request {request_id}")
            return found

    def set_approval_job(self, request_id: int, job_id: int) -> None:
        with self._registry() as registry:
            store.set_approval_job(registry, request_id, job_id)

    def onboard_approved(self, req: OnboardingRequest, actor: str, progress: Progress) -> AgencyRecord:
        """The approval job's onboarding: exactly what `agency add` does (`Onboarding.add`, audited `agency add` with
        the operator as actor; `LockHeld` while another command holds the box's lock, which the job waits out), the
        registry copied into the platform's backups as the CLI does after a change, then the request approved.
        Raises what `agency add` raises (the job fails; its hook puts the request back to pending)."""
        from govcloud_platform.onboarding import AgencyRequest, Onboarding

        onboarding = Onboarding(self.box, actor=actor, progress=progress)
        try:
            record, _ = onboarding.add(AgencyRequest(req.slug, req.name, req.email, req.quota))
        finally:
            onboarding.registry.close()
        self.copy_registry()
        with self._registry() as registry:
            store.finish(registry, req.id)
        return record

    def reopen_approval(self, request_id: int, actor: str) -> bool:
        """A failed (or interrupted) approval's request back to pending, audited as a failed onboarding always was;
        False when it was not being approved (an approved one stays approved)."""
        with self._registry() as registry:
            if not store.reopen(registry, request_id):
                return False
            found = store.get(registry, request_id)
            registry.audit("request approve", found.slug if found else "", "failed, pending again", actor,
                           f"request {request_id}")
            return True

    def reopen_interrupted(self) -> list[int]:
        """At the console's start: the requests left approving (their jobs died with the previous process, and the
        runner marked them failed) back to pending; their ids."""
        if not registry_path(self.box.home).exists():
            return []
        with self._registry() as registry:
            left = store.approving(registry)
        return [r.id for r in left if self.reopen_approval(r.id, r.decided_by or "console")]

    def mail_decision(self, request_id: int, link: str, actor: str) -> bool:
        """Mail the decided request's contact (`intake.decision_mail`, in the request's language) through the
        console's mailer (`staff.send_mail`, as invitations). The decision stands whatever the mail does: a mail
        Postfix does not take is audited (`request mail`, `mail failed`) and False."""
        import smtplib
        import ssl

        from govcloud_platform.console.staff import send_mail
        from govcloud_platform.errors import ServiceError

        found = self.onboarding_request(request_id)
        if found is None or found.state == store.PENDING:
            return False
        subject, body = intake.decision_mail(found.state, found.lang, found.name, found.slug, found.reason, link)
        try:
            send_mail(self.box, found.email, subject, body)
            result = "mailed"
        except (OSError, smtplib.SMTPException, ssl.SSLError, ServiceError) as exc:
            result = "mail failed"
            logging.getLogger(__name__).warning("request %s: the decision was not mailed (%s)", request_id,
                                                type(exc).__name__)
        self.audit_event("request mail", found.slug, result, actor, f"request {request_id} {found.state} to "
                                                                    f"{found.email}")
        return result == "mailed"

    def set_request_jobs(self, request_id: int, job_ids: list[int]) -> None:
        with self._registry() as registry:
            store.set_jobs(registry, request_id, job_ids)

    def copy_registry(self) -> None:
        """What `govcloud_cli.boxes.copy_registry` does after a change: best effort (the change is made)."""
        from govcloud_platform.backups.registry import take_backup

        try:
            take_backup(self.box)
        except Exception as exc:  # noqa: BLE001 - never turn a done change into a failure
            logging.getLogger(__name__).warning(
                "the registry was not copied into the platform's backups (%s); `govcloud backup run` copies it",
                type(exc).__name__)

    # --- the audit log --------------------------------------------------------------------------
    def audit(self, q: AuditQuery, agencies: list[str] | None) -> tuple[list[dict[str, Any]], int | None]:
        """The registry's entries (`Registry.audit_log`, what `agency show` lists) under the filters, a page of
        `q.limit` older than `q.before`, and the id the next (older) page starts before, None at the last."""
        with self._registry() as registry:
            found = registry.audit_log(limit=q.limit + 1, agencies=agencies, actor=q.actor, command=q.command,
                                       since=q.since, until=q.until, before=q.before)
        return older_than(found, q.limit)

    def services(self) -> list[dict[str, Any]]:
        """Every service's health as `status` gives it (cached for STATUS_TTL_S)."""
        from govcloud_platform.box import runtime

        with self._lock:
            if self._status is not None and time.monotonic() - self._status[0] < STATUS_TTL_S:
                return self._status[1]
            try:
                if self.box.placement is not None:  # the hosts target: the console runs on the control
                    from govcloud_platform.hosts.console import platform_status

                    found = [{"name": s["name"], "healthy": s["healthy"], "endpoint": s["endpoint"],
                              "detail": f"{s['host']}: {s['detail']}" if s.get("detail") else s["host"]}
                             for s in platform_status(self.box)]
                else:
                    found = [{"name": h.name, "healthy": h.healthy, "endpoint": h.endpoint, "detail": h.detail}
                             for h in runtime.status(self.box)]
            except Exception as exc:  # noqa: BLE001 - the page says the probe failed, it does not fail itself
                found = [{"name": "supervisord", "healthy": False, "endpoint": "", "detail": type(exc).__name__}]
            self._status = (time.monotonic(), found)
            return found

    def ca_pem(self) -> bytes:
        return self.box.ca_file.read_bytes()
