"""The OpenAPI 3.1 document of the console's JSON API (`GET /api/openapi.json`). A test checks that every `/api/`
route of the app is in it and that it names no route the app lacks."""

from __future__ import annotations

from typing import Any

from govcloud_platform.spec import APP_NAMES

_ERROR = {"type": "object", "required": ["error", "message"],
          "properties": {"error": {"type": "string"}, "message": {"type": "string"}}}
_SUMMARY = {
    "type": "object", "required": ["slug", "name", "state", "quota_class", "services"],
    "properties": {
        "slug": {"type": "string"}, "name": {"type": "string"},
        "state": {"type": "string", "enum": ["provisioning", "ready", "removing", "retired"]},
        "quota_class": {"type": "string"},
        "services": {"type": "array", "items": {"type": "string"}},
    },
}
_DETAIL = {"allOf": [{"$ref": "#/components/schemas/AgencySummary"}, {
    "type": "object", "required": ["email", "created_at", "updated_at"],
    "properties": {"email": {"type": "string"}, "created_at": {"type": "string", "format": "date-time"},
                   "updated_at": {"type": "string", "format": "date-time"},
                   "audit": {"type": "string", "description": "the URL of the agency's audit entries, the newest "
                             "first (`GET /api/audit?agency=<slug>`)"}}}]}


_REQUEST_NEW = {
    "type": "object", "required": ["slug", "name", "email"],
    "properties": {
        "slug": {"type": "string", "description": "the agency's id, as `govcloud agency add` takes it (names.py)"},
        "name": {"type": "string", "maxLength": 120}, "email": {"type": "string", "maxLength": 254},
        "quota_class": {"type": "string", "description": "a quota class of the spec (default standard)"},
        "apps": {"type": "array", "items": {"type": "string", "enum": list(APP_NAMES)},
                 "description": "deployed as jobs once the request is approved"},
        "lang": {"type": "string", "enum": ["en", "ur"], "default": "en",
                 "description": "the language the decision is mailed to `email` in"},
    },
}
_REQUEST = {
    "type": "object",
    "required": ["id", "slug", "name", "email", "quota_class", "apps", "state", "filed_by", "filed_at",
                 "decided_by", "decided_at", "reason", "lang", "jobs", "approval_job"],
    "properties": {
        "id": {"type": "integer"}, "slug": {"type": "string"}, "name": {"type": "string"},
        "email": {"type": "string"}, "quota_class": {"type": "string"},
        "apps": {"type": "array", "items": {"type": "string"}},
        "state": {"type": "string", "enum": ["pending", "approving", "approved", "declined"],
                  "description": "`approving` while its approval's onboarding job runs (a decision then is 409); "
                                 "pending again if that job failed"},
        "filed_by": {"type": "string"}, "filed_at": {"type": "string", "format": "date-time"},
        "decided_by": {"type": ["string", "null"]}, "decided_at": {"type": ["string", "null"], "format": "date-time"},
        "reason": {"type": ["string", "null"]},
        "lang": {"type": "string", "enum": ["en", "ur"]},
        "jobs": {"type": "array", "items": {"type": "integer"},
                 "description": "the deploy jobs the approval started for its apps (`/api/jobs/{id}`)"},
        "approval_job": {"type": ["integer", "null"],
                         "description": "its last approval's onboarding job (`/api/jobs/{id}`: its state, steps and "
                                        "error), null before any approval"},
    },
}
_ENTRY = {
    "type": "object", "required": ["id", "at", "actor", "command", "target", "result", "detail"],
    "properties": {"id": {"type": "integer"}, "at": {"type": "string", "format": "date-time"},
                   "actor": {"type": "string"}, "command": {"type": "string"}, "target": {"type": "string"},
                   "result": {"type": "string"}, "detail": {"type": "string"}},
}

_JOB = {
    "type": "object",
    "required": ["id", "kind", "agency", "target", "state", "actor", "created_at", "started_at", "ended_at", "result",
                 "error", "steps"],
    "properties": {
        "id": {"type": "integer"},
        "kind": {"type": "string", "enum": ["deploy", "remove", "backup", "drill", "restore", "apply", "onboard"]},
        "agency": {"type": "string"},
        "target": {"type": "string", "description": "the app's name, `backups`, `apply`, or `request-<id>` for an "
                                                    "onboarding request's approval (`onboard`)"},
        "state": {"type": "string", "enum": ["queued", "running", "succeeded", "failed"]},
        "actor": {"type": "string"}, "created_at": {"type": "string", "format": "date-time"},
        "started_at": {"type": ["string", "null"], "format": "date-time"},
        "ended_at": {"type": ["string", "null"], "format": "date-time"},
        "result": {"description": "what the platform's function returned (`app deploy --json`, `backup run --json` "
                                  "...), once succeeded"},
        "error": {"type": ["string", "null"]},
        "steps": {"type": "array", "items": {"type": "object", "required": ["at", "message"], "properties": {
            "at": {"type": "string", "format": "date-time"}, "message": {"type": "string"}}}},
    },
}
_STARTED = {"type": "object", "required": ["job", "url"],
            "properties": {"job": {"$ref": "#/components/schemas/Job"}, "url": {"type": "string"}}}
_SLUG = [{"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}}]
_SLUG_APP = [*_SLUG, {"name": "name", "in": "path", "required": True,
                      "schema": {"type": "string", "enum": list(APP_NAMES)}}]


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


_ID = [{"name": "request_id", "in": "path", "required": True, "schema": {"type": "integer"}}]
_AUDIT_FILTERS = [
    {"name": "agency", "in": "query", "schema": {"type": "string"},
     "description": "an agency's slug: entries about it and its apps (another agency's answers 404 to a member)"},
    {"name": "actor", "in": "query", "schema": {"type": "string"}},
    {"name": "command", "in": "query", "schema": {"type": "string"}, "description": "e.g. `agency add`"},
    {"name": "since", "in": "query", "schema": {"type": "string"},
     "description": "ISO 8601 date or time (UTC unless it says); a date means its first second"},
    {"name": "until", "in": "query", "schema": {"type": "string"},
     "description": "ISO 8601 date or time (UTC unless it says); a date means its last second"},
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 200}},
    {"name": "before", "in": "query", "schema": {"type": "integer", "minimum": 1},
     "description": "only entries older than this id: the `next_before` of the previous page (keyset paging)"},
]


def _error(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


_REFUSALS = {"401": _error("no bearer token, or one the IdP did not sign for the console or for a script client "
                           "the registry holds (WWW-Authenticate says which)"),
             "403": _error("a valid token of someone who is neither an operator nor an agency member")}


_NOT_YOURS = _error("no such agency, or not the principal's")
_SAMPLE = {
    "type": "object",
    "required": ["at", "samples", "storage_bytes", "database_bytes", "backup_bytes", "connections", "objects",
                 "storage_peak", "database_peak", "backup_peak"],
    "description": "one measurement, or (older than 2 days) the means of an hour's or (older than 31) a day's "
                   "`samples` with the peaks of the bytes",
    "properties": {"at": {"type": "string", "format": "date-time"}, "samples": {"type": "integer"},
                   **{k: {"type": "integer"} for k in ("storage_bytes", "database_bytes", "backup_bytes",
                                                       "connections", "objects", "storage_peak", "database_peak",
                                                       "backup_peak")}},
}
_CREDENTIALS = {"type": "object", "required": ["slug", "credentials"], "properties": {
    "slug": {"type": "string"},
    "credentials": {"type": "object", "additionalProperties": {"type": "object"},
                    "description": "service -> its credential document, as `govcloud agency credentials` gives it"}}}


def _usage_paths() -> dict[str, Any]:
    """Usage over time, the chargeback report and an agency's credentials (console/usage.py, credentials.py)."""
    window = [{"name": key, "in": "query", "schema": {"type": "string"},
               "description": f"ISO 8601 date or time (UTC unless it says); default {default}"}
              for key, default in (("since", "30 days ago"), ("until", "now"))]
    return {
        "/api/agencies/{slug}/usage/history": {"get": {
            "operationId": "getAgencyUsageHistory", "summary": "The agency's usage samples, oldest first",
            "parameters": _SLUG + window,
            "responses": {"200": _json("samples", {"type": "object", "required": ["slug", "since", "until", "samples"],
                                                   "properties": {"slug": {"type": "string"},
                                                                  "since": {"type": "string"},
                                                                  "until": {"type": "string"},
                                                                  "samples": {"type": "array", "items": _SAMPLE}}}),
                          "400": _error("since or until is not a date or time"), **_REFUSALS, "404": _NOT_YOURS}}},
        "/api/chargeback.csv": {"get": {
            "operationId": "exportChargeback",
            "summary": "The month's chargeback report as CSV (operators only): per agency the average and peak "
                       "bucket, database and backup bytes, and a cost where the spec sets rates",
            "parameters": [{"name": "month", "in": "query", "schema": {"type": "string", "pattern": r"^\d{4}-\d{2}$"},
                            "description": "YYYY-MM (UTC); default last month"}],
            "responses": {"200": {"description": "CSV with a header row (RFC 4180; formula cells start with ')",
                                  "content": {"text/csv": {"schema": {"type": "string"}}}},
                          "400": _error("month is not YYYY-MM"), **_REFUSALS,
                          "403": _error("not a directorate operator")}}},
        "/api/agencies/{slug}/credentials": {"get": {
            "operationId": "getAgencyCredentials",
            "summary": "The agency's services' credentials with every secret masked (********)",
            "parameters": _SLUG,
            "responses": {"200": _json("masked credentials", _CREDENTIALS), **_REFUSALS, "404": _NOT_YOURS,
                          "409": _error("the agency is not ready")}}},
        "/api/agencies/{slug}/credentials/reveal": {"post": {
            "operationId": "revealAgencyCredentials",
            "summary": "The credentials with their secrets (the agency's administrators and operators; audited, "
                       "answered Cache-Control: no-store)",
            "parameters": _SLUG,
            "responses": {"200": _json("the credentials", _CREDENTIALS), **_REFUSALS,
                          "403": _error("a member who is not one of the agency's administrators"),
                          "404": _NOT_YOURS, "409": _error("the agency is not ready")}}},
    }


def _start(operation: str, summary: str, parameters: list[dict[str, Any]]) -> dict[str, Any]:
    return {"operationId": operation, "summary": summary, "parameters": parameters,
            "responses": {"202": _json("queued: follow the job at `url` (also the Location header)", _ref("Started")),
                          **_REFUSALS, "403": _error("a member of the agency who is not one of its administrators"),
                          "404": _error("no such agency or app, or not the principal's"),
                          "409": _error("a job for the same app (or the agency's backups) is queued or running; or "
                                        "the agency has no backups service")}}


_MEMBER_SLUG = {"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}}
_LOGIN = {"name": "login", "in": "path", "required": True, "schema": {"type": "string"},
          "description": "a member's IdP login, e.g. `jane@health`"}
_MEMBER = {"type": "object", "required": ["login", "email", "name", "role"],
           "properties": {"login": {"type": "string"}, "email": {"type": "string"}, "name": {"type": "string"},
                          "role": {"type": "string", "enum": ["member", "admin"]}}}
_INVITATION = {
    "type": "object",
    "required": ["id", "agency", "email", "role", "state", "invited_by", "created_at", "expires_at", "login",
                 "closed_by", "closed_at"],
    "properties": {"id": {"type": "integer"}, "agency": {"type": "string"}, "email": {"type": "string"},
                   "role": {"type": "string", "enum": ["member", "admin"]},
                   "state": {"type": "string", "enum": ["pending", "accepted", "revoked"],
                             "description": "pending after expires_at means expired"},
                   "invited_by": {"type": "string"}, "created_at": {"type": "string", "format": "date-time"},
                   "expires_at": {"type": "string", "format": "date-time"},
                   "login": {"type": ["string", "null"], "description": "the login the invitee chose"},
                   "closed_by": {"type": ["string", "null"]},
                   "closed_at": {"type": ["string", "null"], "format": "date-time"}},
}
_MEMBER_NOT_YOURS = "no such agency (or member, invitation), or not the principal's"
_NOT_ADMIN = "a member who is not one of the agency's administrators (nor an operator)"
_MEMBER_PATHS: dict[str, Any] = {
    "/api/agencies/{slug}/members": {"get": {
        "operationId": "listMembers", "summary": "The agency's members (its IdP group), with their role",
        "parameters": [_MEMBER_SLUG],
        "responses": {"200": _json("by login", {"type": "object", "required": ["members"], "properties": {
            "members": {"type": "array", "items": _ref("Member")}}}),
            **_REFUSALS, "404": _error(_MEMBER_NOT_YOURS)}}},
    "/api/agencies/{slug}/members/{login}/role": {"post": {
        "operationId": "setMemberRole",
        "summary": "Make a member an administrator (`agency-<slug>--admins`) or a plain member",
        "parameters": [_MEMBER_SLUG, _LOGIN],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["role"],
            "properties": {"role": {"type": "string", "enum": ["member", "admin"]}}}}}},
        "responses": {"200": _json("the member with the role", _ref("Member")), "400": _error("no such role"),
                      **_REFUSALS, "403": _error(_NOT_ADMIN), "404": _error(_MEMBER_NOT_YOURS),
                      "409": _error("the agency's own administrator, or its last one")}}},
    "/api/agencies/{slug}/members/{login}": {"delete": {
        "operationId": "removeMember",
        "summary": "Remove a member (the agency's own users are deleted from the IdP: their sign-in fails)",
        "parameters": [_MEMBER_SLUG, _LOGIN],
        "responses": {"204": {"description": "removed"}, **_REFUSALS, "403": _error(_NOT_ADMIN),
                      "404": _error(_MEMBER_NOT_YOURS),
                      "409": _error("the agency's own administrator, or its last one")}}},
    "/api/agencies/{slug}/invitations": {
        "get": {"operationId": "listInvitations", "summary": "The agency's invitations, the newest first",
                "parameters": [_MEMBER_SLUG],
                "responses": {"200": _json("invitations", {"type": "object", "required": ["invitations"],
                                                           "properties": {"invitations": {
                                                               "type": "array", "items": _ref("Invitation")}}}),
                              **_REFUSALS, "403": _error(_NOT_ADMIN), "404": _error(_MEMBER_NOT_YOURS)}},
        "post": {"operationId": "invite",
                 "summary": "Invite someone by e-mail: a link valid once for 7 days creates their IdP user in the "
                            "agency's group",
                 "parameters": [_MEMBER_SLUG],
                 "requestBody": {"required": True, "content": {"application/json": {"schema": {
                     "type": "object", "required": ["email"],
                     "properties": {"email": {"type": "string", "maxLength": 254},
                                    "role": {"type": "string", "enum": ["member", "admin"], "default": "member"},
                                    "lang": {"type": "string", "enum": ["en", "ur"], "default": "en",
                                             "description": "the language of the link's page"}}}}}},
                 "responses": {"201": _json("stored and mailed", _ref("Invitation")),
                               "400": _error("no valid e-mail address or role"), **_REFUSALS,
                               "403": _error(_NOT_ADMIN), "404": _error(_MEMBER_NOT_YOURS),
                               "409": _error("an invitation for this address is waiting"),
                               "502": _error("the mail server did not take it (the invitation is withdrawn)")}}},
    "/api/agencies/{slug}/invitations/{invitation_id}": {"delete": {
        "operationId": "revokeInvitation", "summary": "Withdraw a waiting invitation (its link stops working)",
        "parameters": [_MEMBER_SLUG, {"name": "invitation_id", "in": "path", "required": True,
                               "schema": {"type": "integer"}}],
        "responses": {"204": {"description": "withdrawn"}, **_REFUSALS, "403": _error(_NOT_ADMIN),
                      "404": _error(_MEMBER_NOT_YOURS), "409": _error("used or withdrawn already")}}},
    "/api/agencies/{slug}/invitations/{invitation_id}/resend": {"post": {
        "operationId": "resendInvitation",
        "summary": "Mail a waiting invitation again with a new link, valid 7 days from now (the earlier link stops "
                   "working)",
        "parameters": [_MEMBER_SLUG, {"name": "invitation_id", "in": "path", "required": True,
                               "schema": {"type": "integer"}}],
        "requestBody": {"required": False, "content": {"application/json": {"schema": {
            "type": "object", "properties": {"lang": {"type": "string", "enum": ["en", "ur"], "default": "en",
                                                      "description": "the language of the link's page"}}}}}},
        "responses": {"200": _json("mailed again", _ref("Invitation")), **_REFUSALS, "403": _error(_NOT_ADMIN),
                      "404": _error(_MEMBER_NOT_YOURS),
                      "409": _error("used, withdrawn or expired (invite again)"),
                      "502": _error("the mail server did not take it (the earlier link still works)")}}},
}


def document(server_url: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "govcloud console API", "version": "1",
                 "description": "Read (and, for onboarding requests, apps and backups, change) what the signed-in "
                                "principal may see: a directorate operator every agency, an agency member their own "
                                "agency. Another agency's slug answers 404, as an unknown one does (docs/console.md)."},
        "servers": [{"url": server_url}],
        "security": [{"bearer": []}],
        "paths": {
            "/api/agencies": {"get": {
                "operationId": "listAgencies", "summary": "The agencies the principal may see",
                "responses": {"200": {"description": "agencies, by slug", "content": {"application/json": {
                    "schema": {"type": "object", "required": ["agencies"], "properties": {"agencies": {
                        "type": "array", "items": {"$ref": "#/components/schemas/AgencySummary"}}}}}}},
                    **_REFUSALS}}},
            "/api/agencies/{slug}": {"get": {
                "operationId": "getAgency", "summary": "One agency",
                "parameters": [{"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "the agency", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Agency"}}}},
                    **_REFUSALS, "404": _error("no such agency, or not the principal's")}}},
            "/api/agencies/{slug}/usage": {"get": {
                "operationId": "getAgencyUsage",
                "summary": "What `govcloud agency usage` measures: per service, from the servers, with the limits "
                           "they enforce; the console's last background measurement (`measured_at`, `age_s`)",
                "parameters": [{"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "usage by service", "content": {"application/json": {
                    "schema": {"type": "object", "required": ["slug", "quota"], "properties": {
                        "slug": {"type": "string"}, "quota": {"type": "string"},
                        "database": {"type": "object"}, "storage": {"type": "object"},
                        "identity": {"type": "object"}, "backups": {"type": "object"},
                        "measured_at": {"type": "string", "format": "date-time"}, "age_s": {"type": "integer"}}}}}},
                    **_REFUSALS, "404": _error("no such agency, or not the principal's")}}},
            **_usage_paths(),
            "/api/requests": {
                "get": {"operationId": "listRequests",
                        "summary": "Onboarding requests: an operator's every one, anyone else's their own and their "
                                   "agencies'",
                        "responses": {"200": _json("the newest first", {
                            "type": "object", "required": ["requests"],
                            "properties": {"requests": {"type": "array", "items": _ref("OnboardingRequest")}}}),
                            **_REFUSALS}},
                "post": {"operationId": "fileRequest",
                         "summary": "Ask for an agency's onboarding (validated as `govcloud agency add` validates)",
                         "requestBody": {"required": True, "content": {"application/json": {
                             "schema": _ref("NewOnboardingRequest")}}},
                         "responses": {"201": _json("filed, pending", _ref("OnboardingRequest")),
                                       "400": _error("a field is not valid (nothing is stored)"), **_REFUSALS,
                                       "409": _error("the agency exists, or a request for it is pending")}}},
            "/api/requests/{request_id}": {"get": {
                "operationId": "getRequest", "summary": "One onboarding request", "parameters": _ID,
                "responses": {"200": _json("the request", _ref("OnboardingRequest")), **_REFUSALS,
                              "404": _error("no such request, or not the principal's")}}},
            "/api/requests/{request_id}/approve": {"post": {
                "operationId": "approveRequest",
                "summary": "Approve: a job onboards the agency as `govcloud agency add` does, then deploys the "
                           "requested apps and mails the contact (operators only)",
                "description": "Answers at once: the request is `approving` while its job (`onboard`) runs, waiting "
                               "while another command holds the box's lock. The job, once it succeeded, has "
                               "approved the request, started a deploy job per requested app (the request's `jobs`) "
                               "and mailed the contact; its result is `{request, agency, jobs}`. If it failed, the "
                               "request is pending again and the job's `error` says why.",
                "parameters": _ID,
                "responses": {"202": _json("claimed; its onboarding job started (`Location`: the job's URL)", {
                    "type": "object", "required": ["request", "agency", "jobs", "job", "url"],
                    "properties": {"request": _ref("OnboardingRequest"),
                                   "agency": {"oneOf": [_ref("Agency"), {"type": "null"}],
                                              "description": "null until the job has onboarded it (its result "
                                                             "gives it then); the registry's record when one "
                                                             "exists already (an approval again after a failure)"},
                                   "jobs": {"type": "array", "items": {"type": "string"},
                                            "description": "the deploy jobs' URLs (empty: the job starts them)"},
                                   "job": _ref("Job"), "url": {"type": "string",
                                                               "description": "the onboarding job's URL"}}}),
                    **_REFUSALS, "403": _error("not a directorate operator"),
                    "404": _error("no such request, or not the principal's"),
                    "409": _error("decided already, or being approved (its job runs)")}}},
            "/api/requests/{request_id}/decline": {"post": {
                "operationId": "declineRequest", "summary": "Decline with a reason (operators only)",
                "parameters": _ID,
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["reason"],
                    "properties": {"reason": {"type": "string", "maxLength": 500}}}}}},
                "responses": {"200": _json("declined", {
                    "type": "object", "required": ["request"], "properties": {"request": _ref("OnboardingRequest")}}),
                    "400": _error("no reason, or not plain text"), **_REFUSALS,
                    "403": _error("not a directorate operator"),
                    "404": _error("no such request, or not the principal's"),
                    "409": _error("decided already, or being approved")}}},
            "/api/audit": {"get": {
                "operationId": "listAudit",
                "summary": "The audit log (what `agency show` lists): an operator's every entry, a member's their "
                           "agencies'",
                "parameters": _AUDIT_FILTERS,
                "responses": {"200": _json("the newest first", {
                    "type": "object", "required": ["entries", "next_before"],
                    "properties": {"entries": {"type": "array", "items": _ref("AuditEntry")},
                                   "next_before": {"type": ["integer", "null"],
                                                   "description": "pass as `before` for the older entries; null "
                                                                  "when these are the oldest"}}}),
                    "400": _error("a filter is not valid"), **_REFUSALS,
                    "404": _error("an agency filter that is not the principal's")}}},
            "/api/audit.csv": {"get": {
                "operationId": "exportAudit",
                "summary": "The same entries as CSV (RFC 4180; a cell a spreadsheet would read as a formula starts "
                           "with ')",
                "parameters": _AUDIT_FILTERS,
                "responses": {"200": {"description": "CSV with a header row",
                                      "content": {"text/csv": {"schema": {"type": "string"}}}},
                              "400": _error("a filter is not valid"), **_REFUSALS,
                              "404": _error("an agency filter that is not the principal's")}}},
            "/api/agencies/{slug}/apps": {"get": {
                "operationId": "listApps",
                "summary": "The catalogue (`app catalogue`) and the agency's deployed apps with URL and health "
                           "(`app list --agency`)",
                "parameters": _SLUG,
                "responses": {"200": _json("catalogue and deployed apps", {
                    "type": "object", "required": ["catalogue", "apps", "may_act"],
                    "properties": {"catalogue": {"type": "array", "items": {"type": "object"}},
                                   "apps": {"type": "array", "items": {"type": "object"}},
                                   "may_act": {"type": "boolean"}}}),
                    **_REFUSALS, "404": _error("no such agency, or not the principal's")}}},
            "/api/agencies/{slug}/apps/{name}/deploy": {"post": _start(
                "deployApp", "Deploy (or converge) the app as `govcloud app deploy` does, as a job", _SLUG_APP)},
            "/api/agencies/{slug}/apps/{name}/remove": {"post": _start(
                "removeApp", "Remove the app, its data kept, as `govcloud app remove` does, as a job", _SLUG_APP)},
            "/api/agencies/{slug}/backups": {
                "get": {"operationId": "getBackups",
                        "summary": "The last successful backup and its age against the plan (`backup status`), the "
                                   "runs in the repository (`backup list --agency`), the last restore drill",
                        "parameters": _SLUG,
                        "responses": {"200": _json("the agency's backups", {"type": "object", "required": [
                            "service", "status", "backups", "error", "last_drill", "may_act"], "properties": {
                            "backups_read_at": {"type": ["string", "null"], "format": "date-time",
                                                "description": "when `backups` was read from the repository (the "
                                                               "console keeps it: docs/console.md)"},
                            "backups_age_s": {"type": ["integer", "null"]}}}),
                            **_REFUSALS, "404": _error("no such agency, or not the principal's")}},
                "post": _start("runBackup", "Take a backup now, as `govcloud backup run --agency` does, as a job",
                               _SLUG)},
            "/api/agencies/{slug}/backups/drill": {"post": _start(
                "runDrill", "A restore drill of the latest backup, as `govcloud backup verify --agency` does, as a "
                            "job", _SLUG)},
            "/api/agencies/{slug}/backups/restore": {"post": {
                **_start("restoreBackup", "Restore a backup of the agency in place (its databases and bucket replaced "
                                          "by the backup's), as `govcloud backup restore --agency SLUG [--snapshot "
                                          "ID] --yes` does, as a job; operators and the agency's administrators",
                         _SLUG),
                "responses": {**_start("", "", [])["responses"],
                              "400": _error("`confirm` is not true, or `backup` is not a backup's id"),
                              "403": _error("neither an operator nor one of the agency's administrators")},
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["confirm"],
                    "properties": {"backup": {"type": ["string", "null"],
                                              "description": "a backup's id (`backups[].id`); null: the latest"},
                                   "confirm": {"const": True, "description": "the data is replaced: say so"}}}}}}}},
            "/api/apply": {
                "get": {"operationId": "listApplyJobs", "summary": "The newest `apply` jobs (operators only)",
                        "responses": {"200": _json("the newest first", {
                            "type": "object", "required": ["jobs"],
                            "properties": {"jobs": {"type": "array", "items": _ref("Job")}}}),
                            **_REFUSALS, "403": _error("not a directorate operator")}},
                "post": {"operationId": "apply",
                         "summary": "Converge the platform as `govcloud apply` does (never --prune), as a job: the "
                                    "console's spec is the platform's part, so every ready agency's limits are "
                                    "restored and drift reported (operators only)",
                         "responses": {"202": _json("queued: follow the job at `url`", _ref("Started")),
                                       **_REFUSALS, "403": _error("not a directorate operator"),
                                       "409": _error("an apply is queued or running")}}},
            "/api/agencies/{slug}/jobs": {"get": {
                "operationId": "listJobs", "summary": "The agency's newest jobs (without their steps)",
                "parameters": _SLUG,
                "responses": {"200": _json("the newest first", {
                    "type": "object", "required": ["jobs"],
                    "properties": {"jobs": {"type": "array", "items": _ref("Job")}}}),
                    **_REFUSALS, "404": _error("no such agency, or not the principal's")}}},
            "/api/jobs/{job_id}": {"get": {
                "operationId": "getJob", "summary": "A job: its state and its progress steps",
                "parameters": [{"name": "job_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                "responses": {"200": _json("the job", _ref("Job")), **_REFUSALS,
                              "404": _error("no such job, or not the principal's agency's")}}},
            **_MEMBER_PATHS,
            "/api/openapi.json": {"get": {
                "operationId": "openapi", "summary": "This document", "security": [],
                "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {}}}}}},
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                                           "description": "an RS256 access token of the box's IdP issued to the "
                                                          "console's client (platform-console), or one a "
                                                          "script client (`govcloud console client add`) got by "
                                                          "the client-credentials grant"}},
            "schemas": {"Error": _ERROR, "AgencySummary": _SUMMARY, "Agency": _DETAIL,
                        "NewOnboardingRequest": _REQUEST_NEW, "OnboardingRequest": _REQUEST, "AuditEntry": _ENTRY,
                        "Job": _JOB, "Started": _STARTED, "Member": _MEMBER, "Invitation": _INVITATION},
        },
    }
