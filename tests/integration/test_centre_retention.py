"""Archived documents deleted when their retention ends, on a real PostgreSQL 15 and a real S3 server (SeaweedFS,
real boto3), the centre in process: one round of `centre_run_timers` archives the documents of closed applications
and deletes, from the agency's bucket, the archived copy and the original of those whose class's years since
closing are over (standard: 7), each deletion audited with the document's hash; a document not yet due, one of a
`permanent` service and one re-tagged `permanent` stay; another agency's bucket is untouched; the status page (in
English and Urdu) and the API say the documents were deleted; the log says counts, never a reference."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from centre_core import documents, references, store
from centre_core.documents import Upload
from tests.integration._centre import centre_database, setup_django
from tests.integration._s3 import client, running_s3
from tests.integration.test_centre_documents import PDF, Browser

pytestmark = [pytest.mark.integration]
YEAR = timedelta(days=365)


@pytest.fixture(scope="module")
def site() -> Iterator[dict[str, Any]]:
    with centre_database("centreretention") as (box, root), running_s3(root) as s3:
        own, other = s3["health"], s3["revenue"]
        setup_django(box, root, {"S3_ENDPOINT": s3["endpoint"], "S3_BUCKET": own["bucket"],
                                 "S3_ACCESS_KEY": own["access_key"], "S3_SECRET_KEY": own["secret_key"]})
        yield {**s3, "own": client(s3["endpoint"], own["access_key"], own["secret_key"]),
               "other": client(s3["endpoint"], other["access_key"], other["secret_key"])}
        from centre_web import runtime
        runtime.connection().close()


def closed_application(service: str, document: str | None, closed_at: datetime,
                       answers: dict[str, Any] | None = None, mobile: str | None = None) -> str:
    """An application of `service` with one document (or none), sent and rejected (closed) at `closed_at`."""
    from centre_web import runtime
    conn, bucket = runtime.connection(), runtime.bucket()
    assert bucket is not None
    reference = references.new_reference()
    uploads = []
    if document is not None:
        body = PDF + reference.encode()
        upload = Upload(document, f"{document}.pdf", "application/pdf", len(body), documents.digest(body))
        key = documents.application_key(reference, upload)
        bucket.put(key, body, "application/pdf", upload.sha256)
        uploads = [(upload, key)]
    store.submit(conn, runtime.loaded(), service, answers or {}, "someone@example.pk", closed_at,
                 reference=reference, uploads=uploads, mobile=mobile)
    while store.view(conn, reference).status != "closed":
        task = next(t for t in store.view(conn, reference).ready if "reject" in t.actions)
        store.act(conn, reference, task.id, "reject", task.desk, "staff:clerk1", {"reason": "test"}, closed_at)
    return reference


def objects(c: Any, bucket: str, prefix: str = "centre/") -> set[str]:
    return {o["Key"] for o in c.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])}


def run_timers() -> str:
    from django.core.management import call_command
    out = io.StringIO()
    call_command("centre_run_timers", stdout=out)
    return out.getvalue()


def test_archived_documents_past_their_retention_are_deleted_and_the_others_kept(site: dict[str, Any]) -> None:
    from django.test import Client

    from centre_web import housekeeping, runtime
    conn, now = runtime.connection(), datetime.now(UTC)
    # due, but archived already and then re-tagged `permanent` by hand (a hold): kept
    held = closed_application("trade_licence", "premises_proof", now - 9 * YEAR)
    bucket = runtime.bucket()
    assert bucket is not None and housekeeping.archive_closed(conn, bucket, runtime.loaded(), now) == 1
    held_doc = store.documents(conn, held)[0]
    assert held_doc.archived_key is not None
    site["own"].put_object_tagging(Bucket="ag-health", Key=held_doc.archived_key,
                                   Tagging={"TagSet": [{"Key": "retention", "Value": "permanent"}]})
    past = closed_application("trade_licence", "owner_cnic", now - 8 * YEAR)  # standard (7 years): due
    young = closed_application("trade_licence", "owner_cnic", now - 6 * YEAR)  # standard: not yet
    kept = closed_application("birth_certificate", "parent_cnic", now - 30 * YEAR)  # permanent
    # another agency keeps an object under the same key as ours, with the same tag
    first = store.documents(conn, past)[0]
    theirs = documents.archive_key("standard", first.object_key)
    site["other"].put_object(Bucket="ag-revenue", Key=theirs, Body=b"revenue's own", Tagging="retention=standard")

    # one round archives (as before) and deletes what is due
    out = run_timers()
    assert "documents: 3 archived" in out, out
    assert "documents: 1 deleted at the end of their retention, 1 held by their tag" in out, out
    for reference in (past, young, held, kept):
        assert reference not in out  # counts only

    gone = store.documents(conn, past)[0]
    assert gone.deleted_at is not None and gone.archived_key == theirs
    left = objects(site["own"], "ag-health")
    assert gone.archived_key not in left and gone.object_key not in left  # the archived copy and the original
    for reference in (young, kept, held):
        d = store.documents(conn, reference)[0]
        assert d.deleted_at is None and {d.archived_key, d.object_key} <= left, reference
    assert store.documents(conn, kept)[0].archived_key.startswith("centre/archive/permanent/")
    # the other agency's bucket: untouched
    assert site["other"].get_object(Bucket="ag-revenue", Key=theirs)["Body"].read() == b"revenue's own"

    # audited in the application's history, with the document's hash; the chain still verifies
    trail = [e for e in store.audit_entries(conn) if e.subject == past]
    assert (trail[-2].action, trail[-2].actor, trail[-2].document_sha256) == (
        "deleted:owner_cnic", "system", gone.sha256)
    assert trail[-2].details == {"retention": "standard", "why": "retention ended"}
    assert trail[-1].action == "erased"  # then its answers and e-mail (the last test)
    from django.core.management import call_command
    verified = io.StringIO()
    call_command("centre_audit_verify", stdout=verified)
    assert "intact" in verified.getvalue()

    # the next round: the held one stays (its tag says permanent), nothing else is due
    out = run_timers()
    assert "deleted at the end of their retention" not in out, out
    assert store.documents(conn, held)[0].deleted_at is None
    assert held_doc.archived_key in objects(site["own"], "ag-health")

    # the citizen's status page and the API say it
    for lang, words in (("en", "deleted on"), ("ur", "حذف کر دی گئی")):
        b = Browser(lang)
        code = store.issue_code(conn, runtime.tracking_key(), past, now)
        b.get(f"/{lang}/track/")
        r = b.post(f"/{lang}/track/", {"reference": past, "code": code})
        page = b.get(r["Location"])
        day = gone.deleted_at.astimezone(runtime.calendar().zone).date().isoformat()
        assert words in page and day in page and "owner_cnic.pdf" in page
    code = store.issue_code(conn, runtime.tracking_key(), past, now)
    doc = Client(HTTP_HOST="centre.test").get(f"/api/applications/{past}", HTTP_X_ACCESS_CODE=code).json()
    assert doc["documents"][0]["deletedAt"] == gone.deleted_at.isoformat().replace("+00:00", "Z")
    code = store.issue_code(conn, runtime.tracking_key(), young, now)
    doc = Client(HTTP_HOST="centre.test").get(f"/api/applications/{young}", HTTP_X_ACCESS_CODE=code).json()
    assert doc["documents"][0]["deletedAt"] is None


def test_staff_see_a_deleted_document_without_a_link_and_its_download_is_gone(site: dict[str, Any]) -> None:
    """The staff pages list a document deleted at the end of its retention without a download link, and its
    address answers 410 Gone (the bucket is not asked), no download recorded."""
    from django.conf import settings

    from centre_web import runtime
    from tests.integration._oidc_issuer import ISSUER, Issuer
    from tests.integration.test_centre_staff_pages import CLERK, CLIENT, SECRET, sign_in

    conn = runtime.connection()
    reference = closed_application("trade_licence", "owner_cnic", datetime.now(UTC) - 8 * YEAR)
    assert "1 deleted at the end of their retention" in run_timers()
    assert store.documents(conn, reference)[0].deleted_at is not None
    provider, before = Issuer(ISSUER, CLIENT, SECRET), settings.CENTRE_OIDC
    settings.CENTRE_OIDC = {**before, **provider.settings("agency-health--desk-")}
    try:
        clerk, _ = sign_in(provider, "ayesha", CLERK)
        page = clerk.get(f"/en/staff/applications/{reference}/")
        text = page.content.decode()
        assert page.status_code == 200 and "owner_cnic.pdf" in text
        assert "at the end of the period the office keeps its records" in text
        assert f"/en/staff/applications/{reference}/documents/1/" not in text
        trail = len(store.audit_entries(conn))
        gone = clerk.get(f"/en/staff/applications/{reference}/documents/1/")
        assert gone.status_code == 410 and "deleted at the end of its retention period" in gone.content.decode()
        assert len(store.audit_entries(conn)) == trail
    finally:
        settings.CENTRE_OIDC = before
        provider.close()


def test_batches_of_one_delete_every_due_document_and_stop_at_the_first_not_due(site: dict[str, Any]) -> None:
    from centre_web import housekeeping, runtime
    conn, now, bucket = runtime.connection(), datetime.now(UTC), runtime.bucket()
    assert bucket is not None
    due = [closed_application("trade_licence", "owner_cnic", now - years * YEAR) for years in (12, 10, 8)]
    young = closed_application("trade_licence", "owner_cnic", now - 7 * YEAR + timedelta(days=3))
    housekeeping.archive_closed(conn, bucket, runtime.loaded(), now)
    done = housekeeping.delete_expired(conn, bucket, now, runtime.calendar().zone, limit=1)
    # (the first test's held document, when it ran, is the oldest: stepped over, batch after batch)
    assert (done.deleted, done.failed) == (3, 0) and done.held in (0, 1)
    assert all(store.documents(conn, r)[0].deleted_at is not None for r in due)
    assert store.documents(conn, young)[0].deleted_at is None
    assert housekeeping.delete_expired(conn, bucket, now, runtime.calendar().zone, limit=1).deleted == 0


def personal(reference: str) -> tuple[Any, ...]:
    """(answers, e-mail, mobile, erased_at, the workflow's stored state, the messages' parameters) of an application."""
    from centre_web import runtime
    row = runtime.connection().execute(
        "SELECT a.answers, a.email, a.mobile, a.erased_at, w.state, "
        "(SELECT coalesce(jsonb_agg(o.params), '[]'::jsonb) FROM outbox o WHERE o.application_id = a.id) "
        "FROM applications a JOIN workflow_states w ON w.application_id = a.id WHERE a.reference = %s",
        (reference,)).fetchone()
    assert row is not None
    return tuple(row)


def test_answers_and_contact_addresses_are_erased_after_the_documents_and_the_chain_still_verifies(
        site: dict[str, Any]) -> None:
    """A closed application past its retention loses its answers (row and workflow state), e-mail and mobile number,
    in the round that deletes its documents (or with none); its reference, status, outcome, steps and history stay,
    audited `erased` with names only; one not yet due, one whose document is held by its tag, and a `permanent` one
    keep theirs; the status page still shows it; the audit chain verifies."""
    from django.core.management import call_command

    from centre_core import audit
    from centre_web import housekeeping, runtime
    conn, now = runtime.connection(), datetime.now(UTC)
    secret = {"business_name": "Qureshi Secret Traders", "business_kind": "shop", "email": "qureshi@example.pk"}
    with_doc = closed_application("trade_licence", "owner_cnic", now - 8 * YEAR, secret, "+923001234567")
    without = closed_application("trade_licence", None, now - 8 * YEAR, secret)
    young = closed_application("trade_licence", None, now - 6 * YEAR, secret)
    permanent = closed_application("birth_certificate", None, now - 30 * YEAR, {"child_name": "Zainab Secret"})
    held = closed_application("trade_licence", "owner_cnic", now - 9 * YEAR, secret)
    bucket = runtime.bucket()
    assert bucket is not None and housekeeping.archive_closed(conn, bucket, runtime.loaded(), now) >= 2
    held_doc = store.documents(conn, held)[0]
    site["own"].put_object_tagging(Bucket="ag-health", Key=held_doc.archived_key,
                                   Tagging={"TagSet": [{"Key": "retention", "Value": "permanent"}]})

    out = run_timers()  # documents first, then the applications whose documents are all gone
    assert "answers and contact addresses erased at the end of their retention" in out, out
    for reference in (with_doc, without, young, permanent, held):
        assert reference not in out
    for reference in (with_doc, without):
        answers, email, mobile, erased_at, state, params = personal(reference)
        assert (answers, email, mobile) == ({}, None, None) and erased_at is not None, reference
        for value in ("Qureshi Secret Traders", "qureshi@example.pk", "someone@example.pk", "+923001234567"):
            assert value not in state and value not in json.dumps(params), (reference, value)
        seen = store.view(conn, reference)  # the stored state still restores: status, outcome, steps
        assert (seen.status, seen.outcome) == ("closed", "rejected") and seen.done_steps
        entry = [e for e in store.audit_entries(conn) if e.subject == reference][-1]
        assert (entry.action, entry.actor) == ("erased", "system")
        assert entry.details["answers"] == sorted(secret) and entry.details["retention"] == "standard"
    assert [e for e in store.audit_entries(conn) if e.subject == with_doc][-1].details["contacts"] == \
        ["email", "mobile"]
    assert store.documents(conn, with_doc)[0].deleted_at is not None
    for reference, name in ((young, "Qureshi Secret Traders"), (held, "Qureshi Secret Traders"),
                            (permanent, "Zainab Secret")):
        answers, email, _, erased_at, state, _ = personal(reference)
        assert erased_at is None and name in json.dumps(answers, ensure_ascii=False) and name in state, reference
        assert email == "someone@example.pk"
    assert audit.verify(store.audit_entries(conn)) == []
    verified = io.StringIO()
    call_command("centre_audit_verify", stdout=verified)
    assert "intact" in verified.getvalue()

    # the next round erases nothing more; the citizen still follows the erased one by reference and code
    assert "erased" not in run_timers()
    b = Browser("en")
    code = store.issue_code(conn, runtime.tracking_key(), without, now)
    b.get("/en/track/")
    page = b.get(b.post("/en/track/", {"reference": without, "code": code})["Location"])
    assert "Closed" in page and "Qureshi" not in page


def test_a_legal_hold_keeps_everything_until_released_and_is_audited(site: dict[str, Any]) -> None:
    """Held by the operator's command: past its retention, neither its document nor its answers go, round after
    round; `--show` says so; released: the next round deletes and erases. Held from the staff pages by a supervisor
    (a clerk gets 403, an empty reason 400 in the page's language); every hold and release in the chain, which
    verifies."""
    from django.conf import settings
    from django.core.management import CommandError, call_command

    from centre_core import audit
    from centre_web import housekeeping, runtime
    from tests.integration._oidc_issuer import ISSUER, Issuer
    from tests.integration.test_centre_staff_pages import CLERK, CLIENT, SECRET, post, sign_in

    conn, now = runtime.connection(), datetime.now(UTC)
    secret = {"business_name": "Held Secret Traders", "business_kind": "shop"}
    by_operator = closed_application("trade_licence", "owner_cnic", now - 10 * YEAR, secret)
    by_staff = closed_application("trade_licence", None, now - 10 * YEAR, secret)
    bucket = runtime.bucket()
    assert bucket is not None
    housekeeping.archive_closed(conn, bucket, runtime.loaded(), now)

    def say(*args: str) -> str:
        out = io.StringIO()
        call_command("centre_legal_hold", *args, stdout=out)
        return out.getvalue().strip()

    with pytest.raises(CommandError, match="--reason"):
        say(by_operator)
    assert say(by_operator, "--reason", "court order 2031/17") == f"held: {references.display(by_operator)}"
    assert "is held already" in say(by_operator, "--reason", "again")
    assert "on legal hold since" in say(by_operator, "--show")

    provider, before = Issuer(ISSUER, CLIENT, SECRET), settings.CENTRE_OIDC
    settings.CENTRE_OIDC = {**before, **provider.settings("agency-health--desk-")}
    try:
        clerk, _ = sign_in(provider, "ayesha", CLERK)
        page = clerk.get(f"/en/staff/applications/{by_staff}/").content.decode()
        assert "Not on hold" in page and "Put on legal hold" not in page  # a clerk has no form
        assert post(clerk, f"/en/staff/applications/{by_staff}/hold/", {"reason": "x"}).status_code == 403
        boss, _ = sign_in(provider, "imran", [*CLERK, "agency-health--desk-supervisor"], lang="ur")
        refused = post(boss, f"/ur/staff/applications/{by_staff}/hold/", {"reason": " "})
        assert refused.status_code == 400 and "وجہ لکھیں" in refused.content.decode()
        placed = post(boss, f"/ur/staff/applications/{by_staff}/hold/", {"do": "place", "reason": "inquiry 12"})
        assert placed.status_code == 302 and placed["Location"].endswith("#legal-hold")
        page = boss.get(f"/ur/staff/applications/{by_staff}/").content.decode()
        assert "روک پر" in page and "قانونی روک لگائی گئی: inquiry 12" in page and "روک ختم کریں" in page
    finally:
        settings.CENTRE_OIDC = before
        provider.close()

    for _ in range(2):  # held: nothing of either goes, round after round
        out = run_timers()
        assert "erased" not in out or all(personal(r)[3] is None for r in (by_operator, by_staff)), out
    assert store.documents(conn, by_operator)[0].deleted_at is None
    assert store.documents(conn, by_operator)[0].archived_key in objects(site["own"], "ag-health")
    for reference in (by_operator, by_staff):
        answers, email, _, erased_at, _, _ = personal(reference)
        assert erased_at is None and answers["business_name"] == "Held Secret Traders" and email, reference
    trail = [e for e in store.audit_entries(conn) if e.subject == by_operator]
    assert (trail[-1].action, trail[-1].actor, trail[-1].details) == (
        "hold:placed", "operator", {"reason": "court order 2031/17"})
    assert [e for e in store.audit_entries(conn) if e.subject == by_staff][-1].actor == "staff:imran"

    # released: the next round deletes the document and erases both
    assert say(by_operator, "--release", "--reason", "case closed") == f"released: {references.display(by_operator)}"
    assert "was not held" in say(by_operator, "--release", "--reason", "again")
    assert "released" in say(by_staff, "--release", "--reason", "inquiry over")
    assert "not held" in say(by_staff, "--show")
    out = run_timers()
    assert "1 deleted at the end of their retention" in out and "erased" in out, out
    assert store.documents(conn, by_operator)[0].deleted_at is not None
    assert all(personal(r)[3] is not None for r in (by_operator, by_staff))
    actions = [e.action for e in store.audit_entries(conn) if e.subject == by_operator]
    assert actions[-4:] == ["hold:placed", "hold:released", "deleted:owner_cnic", "erased"], actions
    assert audit.verify(store.audit_entries(conn)) == []
    with pytest.raises(CommandError, match="no application"):
        say(references.new_reference(), "--reason", "x")
