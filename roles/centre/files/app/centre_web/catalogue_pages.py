"""The catalogue's pages among the staff pages (`/<lang>/staff/catalogue/`), for its managers only: the members of
the IdP group `<desk prefix>catalogue` (`agency-<slug>--desk-catalogue`); anyone else signed in gets 403.

They show the catalogue in use, hand it out as the very .tar.gz that `centre_catalogue_export` writes
(`catalogue_ops.export_bytes`), and take one back through the import command's own path in its two halves:
`catalogue_ops.prepare` (read and checked whole, written beside the running version), a preview of what it
changes service by service, and on the manager's confirmation `catalogue_ops.switch_to` (processes recorded,
switched with one rename, the switch recorded in the audit trail with the manager's subject). A refused file
changes nothing and the page lists every problem found (file, key, what to do). A form changes one service's
plain-language texts through the same path (`install_edited`). Applications under way keep the
process version they started on: the engine restores each from the BPMN recorded by digest (store.py)."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from centre_core import catalogue
from centre_core.errors import CatalogueError, CentreError

from . import catalogue_ops, catalogue_rules, runtime
from .desk import Me, _message, _render, page
from .texts import lang, t

log = logging.getLogger(__name__)


def _manager(view: Any) -> Any:
    """A page of the catalogue's managers: anyone else signed in gets the same 403 page."""
    def run(request: HttpRequest, me: Me, *args: Any, **kwargs: Any) -> HttpResponse:
        if not me.manager:
            return _message(request, "staff_forbidden", "cat_not_manager", 403, here=reverse("staff-inbox"))
        return view(request, me, *args, **kwargs)
    run.__name__ = view.__name__
    return run


@page("GET")
@_manager
def overview(request: HttpRequest, me: Me) -> HttpResponse:
    return _page(request)


@page("GET")
@_manager
def download(request: HttpRequest, me: Me) -> HttpResponse:
    """The catalogue in use as a .tar.gz (catalogue.yaml and its BPMN files, flat)."""
    body = catalogue_ops.export_bytes()
    response = HttpResponse(body, content_type="application/gzip")
    response["Content-Disposition"] = f'attachment; filename="{catalogue_rules.download_name(_version())}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response


@page("POST")
@_manager
def upload(request: HttpRequest, me: Me) -> HttpResponse:
    """A catalogue file: refused before reading it when not a .tar.gz within the size limit; then the import
    command's first half. Every problem goes back on the page, nothing changed; a valid file gets its preview."""
    sent = request.FILES.get("catalogue")
    refusal = catalogue_rules.check_upload(
        sent.name if sent is not None else None, sent.size if sent is not None else None,
        next(sent.chunks(16), b"")[:2] if sent is not None else b"")
    if refusal is not None:
        return _page(request, [t(refusal.key, **refusal.values)], status=400)
    assert sent is not None
    shown = _shown(sent.name)
    with tempfile.TemporaryDirectory(prefix="centre-upload-") as tmp:
        path = Path(tmp) / "upload.tar.gz"
        with path.open("wb") as out:
            for chunk in sent.chunks():
                out.write(chunk)
        try:
            version = catalogue_ops.prepare(path)
        except CentreError as error:
            problems = error.problems if isinstance(error, CatalogueError) else (error.message,)
            where = catalogue_rules.where_shown(error.where, str(path), shown)
            log.info("catalogue upload refused: %s", error)
            return _page(request, [f"{where}: {p}" if where else p for p in problems], status=400)
        except catalogue_ops.NoRoot:
            return _message(request, "staff_not_done", "cat_no_root", 503, here=reverse("staff-catalogue"))
    if version.name == _version():
        return HttpResponseRedirect(reverse("staff-catalogue") + "?done=unchanged")
    return _preview(request, version, shown)


@page("POST")
@_manager
def confirm(request: HttpRequest, me: Me) -> HttpResponse:
    """Switch to a version an upload prepared and the manager saw (the preview's form: its name, the version in use
    when the preview was shown, and the file's name for the audit trail). Gone meanwhile (removed by other
    switches): the manager uploads it again. Stale (another catalogue was installed since the preview: what it
    listed is no longer what installing would change): nothing is installed, and the preview is shown again
    against the catalogue in use now (409), the prepared version kept, so a second confirmation installs it."""
    try:
        version = catalogue_ops.staged(request.POST.get("version", ""))
        if version is None:
            return _page(request, [t("cat_preview_gone")], status=409)
        if catalogue_rules.stale(request.POST.get("base", ""), _version()):
            if version.name == _version():  # the same catalogue was installed meanwhile: nothing left to do
                return HttpResponseRedirect(reverse("staff-catalogue") + "?done=unchanged")
            log.info("a stale catalogue confirmation was refused: %s seen, %s in use",
                     catalogue_rules.plain_name(request.POST.get("base", ""))[:40], _version())
            return _preview(request, version, _shown(request.POST.get("file", "")), stale=True)
        changed = catalogue_ops.switch_to(version, me.actor, f"upload:{_shown(request.POST.get('file', ''))}")
    except CentreError as error:  # checked when uploaded; not expected unless the folder was altered since
        log.error("a prepared catalogue was refused at its switch: %s", error)
        return _page(request, [t("cat_preview_gone")], status=409)
    except catalogue_ops.NoRoot:
        return _message(request, "staff_not_done", "cat_no_root", 503, here=reverse("staff-catalogue"))
    return HttpResponseRedirect(reverse("staff-catalogue") + f"?done={'installed' if changed else 'unchanged'}")


def _preview(request: HttpRequest, version: Path, shown: str, stale: bool = False) -> HttpResponse:
    """What the prepared catalogue changes, service by service, with the form that installs it (carrying the
    version in use now: its `base`). `stale`: shown again after a confirmation came too late (409)."""
    current, new = runtime.loaded(), catalogue.load(version / "catalogue.yaml")
    found = catalogue_rules.changes(current.catalogue, {k: p.digest for k, p in current.processes.items()},
                                    new.catalogue, {k: p.digest for k, p in new.processes.items()})
    here = lang()
    rows = []
    for change in found:
        service = new.catalogue.service(change.service_id) or current.catalogue.service(change.service_id)
        assert service is not None
        rows.append({"name": getattr(service.name, here), "id": change.service_id,
                     "what": t(f"cat_change_{change.kind}"), "keys": ", ".join(change.keys)})
    return _render(request, "centre_web/staff/catalogue_preview.html", {
        "title": t("cat_preview_title"), "rows": rows, "version": version.name, "file": shown,
        "current": _version(), "stale": stale, "errors": [("#install", t("cat_preview_stale"))] if stale else []},
        409 if stale else 200, here=reverse("staff-catalogue"))


@page("GET", "POST")
@_manager
def edit(request: HttpRequest, me: Me, service_id: str) -> HttpResponse:
    """One service's plain-language texts (English and Urdu description, fee, SLA): the form, and on POST a new
    catalogue version built from it and installed through the import's path. A form shown before another change
    was installed is refused (its `version`), not applied over that change."""
    loaded = runtime.loaded()
    service = loaded.catalogue.service(service_id)
    if service is None:
        return _message(request, "staff_not_found", "staff_nothing_here", 404, here=reverse("staff-catalogue"))
    values = {"description_en": service.description.en, "description_ur": service.description.ur,
              "fee": str(service.fee.amount), "sla": str(service.sla_working_days)}
    if request.method == "GET":
        return _edit_page(request, service, values)
    sent = {name: request.POST.get(name, "")[:4000] for name in catalogue_rules.EDIT_FIELDS}
    if request.POST.get("version", "") != _version():
        return _edit_page(request, service, values, stale=True, status=409)
    edited, wrong = catalogue_rules.edit(loaded.catalogue, service.id, sent)
    if edited is None:
        return _edit_page(request, service, sent, wrong, status=400)
    try:
        changed = catalogue_ops.install_edited(edited, me.actor, f"edit:{service.id}")
    except CentreError as error:  # not expected: the same rules were checked above
        log.error("an edited catalogue was refused: %s", error)
        return _edit_page(request, service, sent, list(catalogue_rules.EDIT_FIELDS), status=400)
    except catalogue_ops.NoRoot:
        return _message(request, "staff_not_done", "cat_no_root", 503, here=reverse("staff-catalogue"))
    return HttpResponseRedirect(reverse("staff-catalogue") + f"?done={'installed' if changed else 'unchanged'}")


def _edit_page(request: HttpRequest, service: Any, values: dict[str, str], wrong: list[str] | None = None,
               stale: bool = False, status: int = 200) -> HttpResponse:
    errors = {name: t(f"cat_edit_err_{name.split('_')[0]}") for name in wrong or []}
    return _render(request, "centre_web/staff/catalogue_edit.html", {
        "title": t("cat_edit_title", service=getattr(service.name, lang())), "service": service,
        "values": values, "field_errors": errors, "errors": [(f"#{k}", v) for k, v in errors.items()],
        "stale": stale, "version": _version()}, status, here=reverse("staff-catalogue-edit", args=[service.id]))


def _shown(name: str) -> str:
    return catalogue_rules.plain_name(name)


def _version() -> str:
    return runtime.loaded().folder.name


def _page(request: HttpRequest, problems: list[str] | None = None, status: int = 200) -> HttpResponse:
    loaded = runtime.loaded()
    here = lang()
    rows = [{"service": s, "name": getattr(s.name, here), "office": getattr(s.office.name, here),
             "process_version": loaded.processes[s.id].digest[:12], "process": s.process,
             "retention": t(f"cat_retention_{s.retention.value}")}
            for s in loaded.catalogue.services]
    done = request.GET.get("done", "") if request.method == "GET" else ""
    return _render(request, "centre_web/staff/catalogue.html", {
        "title": t("cat_title"), "rows": rows, "version": _version(),
        "errors": [("#catalogue-file", p) for p in problems or []], "problems": problems or [],
        "done": t(f"cat_done_{done}") if done in ("installed", "unchanged") else "",
        "limit_mib": catalogue_rules.MAX_UPLOAD // (1024 * 1024)}, status, here=reverse("staff-catalogue"))

