"""What a browser tracks and how a tracked application is described: the session's tracked reference (set by a
right code on the tracking page or a certificate's `?code=`, readable for 30 minutes) and the names of an
application's steps and outcome. The status page (`track`), the certificates (`certificates`), e-payments (`pay`)
and the API (`api`) read them here, so none of them imports another's views."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.http import HttpRequest

from centre_core import store
from centre_core.catalogue import Service

from . import flow, runtime

VIEW_FOR = timedelta(minutes=30)


def remember(request: HttpRequest, reference: str) -> None:
    """This browser may read the application's status (and its certificate) for `VIEW_FOR` from now."""
    request.session["tracked"] = {"reference": reference, "until": (runtime.now() + VIEW_FOR).isoformat()}


def reference(request: HttpRequest) -> str | None:
    """The reference this browser tracked with a right code, while it may still be read."""
    tracked = request.session.get("tracked")
    found = tracked.get("reference") if isinstance(tracked, dict) else None
    until = tracked.get("until") if isinstance(tracked, dict) else None
    if not isinstance(found, str) or not isinstance(until, str) or \
            datetime.fromisoformat(until) <= runtime.now():
        return None
    return found


def described(seen: store.Tracked) -> tuple[Service | None, list[flow.Shown], dict[str, str] | None]:
    """(the service, the steps shown, the outcome's names) of a tracked application: what the status page and
    the API's `GET /api/applications/<ref>` show. The flow is the one of the version the application started on
    (the catalogue's BPMN may have changed since), its BPMN read from the database once per version."""
    loaded = runtime.loaded()
    service = loaded.catalogue.service(seen.service_id)
    process = loaded.processes.get(seen.service_id)
    (order, ends), version_names = flow.steps_of_version(
        seen.process_digest, lambda: store.process_bpmn(runtime.connection(), seen.process_version))
    names = dict(version_names)
    names.update({s.id: s.name for s in process.steps.values()} if process else {})
    names.update(ends)
    localised = service.steps if service else {}
    steps = flow.progress(order, seen.ready, seen.done_steps, names, localised)
    outcome = flow.name_of(seen.outcome, names, localised, seen.outcome) if seen.outcome else None
    return service, steps, outcome
