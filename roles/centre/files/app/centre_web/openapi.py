"""The OpenAPI 3.1 document of the interface for integrations, served at `/api/openapi.json`: the one place that
describes the endpoints of `api.py` (a test checks that every `/api/` route is here and every path here is a
route). Operation ids follow the GovStack Registration building block's where the meaning is the same
(`getServiceList`, `getApplicationFileById`, `getTasks`; its `serviceKey` names the service)."""

from __future__ import annotations

from typing import Any

from .api_rules import ACCESS_CODE_HEADER, MAX_BODY
from .openapi_g2g import G2G_PATHS

VERSION = "1.0.0"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


_TEXT = {"type": "object", "required": ["en", "ur"], "additionalProperties": False,
         "properties": {"en": {"type": "string"}, "ur": {"type": "string"}},
         "description": "A text in English and Urdu."}
_REFERENCE = {"type": "string", "pattern": "^[0-9A-Za-z -]{12,40}$",
              "description": "The reference number: 12 Crockford base32 symbols with a check symbol, shown "
                             "XXXX-XXXX-XXXX; case, spaces and hyphens are ignored."}
_CODE = {"type": "string", "description": "A one-time access code: 8 Crockford base32 symbols; it works once, "
                                          "for 30 minutes, and 5 wrong tries lock it."}
_THROTTLED = {"description": "Too many lookups from this client (20 in 15 minutes, shared with the tracking "
                             "page)", "headers": {"Retry-After": {"schema": {"type": "integer"},
                                                                  "description": "Seconds to wait."}},
              "content": {"application/json": {"schema": _ref("Error")}}}
_BEARER: list[dict[str, list[str]]] = [{"staffBearer": []}]

SCHEMAS: dict[str, Any] = {
    "Text": _TEXT,
    "Error": {"type": "object", "required": ["error", "message"], "properties": {
        "error": {"type": "string", "description": "A stable code: not_found, invalid, unknown_field, "
                                                   "malformed_json, malformed_reference, too_large, "
                                                   "unsupported_media_type, too_many_requests, unauthorised, "
                                                   "forbidden, conflict, method_not_allowed."},
        "message": {"type": "string"},
        "messages": {"$ref": "#/components/schemas/Text"},
        "field": {"type": "string", "description": "The body's field concerned, e.g. answers.floors."}}},
    "Question": {"type": "object", "required": ["id", "label", "kind", "required"], "properties": {
        "id": {"type": "string"}, "label": _ref("Text"), "hint": {"oneOf": [_ref("Text"), {"type": "null"}]},
        "kind": {"enum": ["text", "long_text", "email", "phone", "mobile", "date", "number", "choice"]},
        "required": {"type": "boolean"}, "maxLength": {"type": "integer"},
        "choices": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "string"}, "label": _ref("Text")}}}}},
    "Document": {"type": "object", "properties": {
        "id": {"type": "string"}, "name": _ref("Text"), "required": {"type": "boolean"},
        "mediaTypes": {"type": "array", "items": {"type": "string"}}, "maxBytes": {"type": "integer"}}},
    "Office": {"type": "object", "required": ["name"], "properties": {
        "name": _ref("Text"), "address": {"oneOf": [_ref("Text"), {"type": "null"}]},
        "email": {"type": ["string", "null"]}, "phone": {"type": ["string", "null"]}}},
    "Step": {"type": "object", "required": ["id", "name"], "properties": {
        "id": {"type": "string", "description": "The BPMN task's id."}, "name": _ref("Text"),
        "escalation": {"type": "boolean", "description": "Reached only when an SLA timer fires."}}},
    "Service": {"type": "object", "required": ["id", "name", "description", "fee", "slaWorkingDays", "office",
                                               "steps"], "properties": {
        "id": {"type": "string", "description": "The serviceKey of POST /api/applications."},
        "name": _ref("Text"), "description": _ref("Text"),
        "eligibility": {"type": "array", "items": _ref("Text")},
        "documents": {"type": "array", "items": _ref("Document")},
        "questions": {"type": "array", "items": _ref("Question")},
        "fee": {"type": "object", "properties": {"amount": {"type": "string", "examples": ["500.00"]},
                                                 "currency": {"const": "PKR"}}},
        "slaWorkingDays": {"type": "integer"}, "office": _ref("Office"),
        "steps": {"type": "array", "items": _ref("Step"), "description": "The process's steps in order."},
        "outcomes": {"type": "array", "items": _ref("Step")}}},
    "ApplicationSubmit": {"type": "object", "required": ["serviceKey"], "additionalProperties": False,
                          "properties": {
        "serviceKey": {"type": "string", "examples": ["trade_licence"]},
        "answers": {"type": "object", "description": "Question id -> answer (text; a number may be an integer), "
                                                      "checked as the citizen pages check them.",
                    "additionalProperties": {"type": ["string", "integer"]}}}},
    "AccessCode": {"type": "object", "required": ["code", "expiresAt"], "properties": {
        "code": _CODE, "expiresAt": {"type": "string", "format": "date-time"}}},
    "ApplicationSubmitted": {"type": "object", "required": ["reference", "display", "serviceKey", "status",
                                                           "accessCode", "links"], "properties": {
        "reference": {"type": "string"}, "display": {"type": "string", "examples": ["ABCD-EFGH-JK12"]},
        "serviceKey": {"type": "string"}, "status": {"enum": ["in_progress", "action_needed", "closed"]},
        "accessCode": _ref("AccessCode"),
        "links": {"type": "object", "properties": {"self": {"type": "string"}}}}},
    "ApplicationFile": {"type": "object", "required": ["reference", "display", "serviceKey", "status", "steps"],
                        "properties": {
        "reference": {"type": "string"}, "display": {"type": "string"}, "serviceKey": {"type": "string"},
        "service": _ref("Text"), "status": {"enum": ["in_progress", "action_needed", "closed"]},
        "statusText": _ref("Text"), "outcome": {"type": ["string", "null"]},
        "outcomeText": {"oneOf": [_ref("Text"), {"type": "null"}]},
        "submittedAt": {"type": "string", "format": "date-time"}, "office": _ref("Office"),
        "slaWorkingDays": {"type": "integer"},
        "certificate": {"description": "The signed certificate of an application closed with an issuing outcome, "
                                       "once issued: its id, the public verification page, and the PDF's path "
                                       "(GET it with ?code=<an access code>).",
                        "oneOf": [{"type": "null"}, {"type": "object", "properties": {
                            "id": {"type": "string"}, "verifyUrl": {"type": "string"}, "path": {"type": "string"},
                            "revoked": {"type": "boolean"}}}]},
        "steps": {"type": "array", "items": {"type": "object", "required": ["id", "name", "state"], "properties": {
            "id": {"type": "string"}, "name": _ref("Text"),
            "state": {"enum": ["here", "done", "pending"], "description": "here: the application is there now "
                                                                         "(the page's \"you are here\")."}}}},
        "documents": {"type": "array", "description": "The citizen's documents, in the order they came (the file "
                                                      "itself is never served by the API).",
                      "items": {"type": "object", "required": ["document", "name", "type", "size", "sha256"],
                                "properties": {
            "document": {"type": "string", "description": "The catalogue's document id."},
            "name": {"type": "string", "description": "The file's name as sent (cleaned)."},
            "type": {"enum": ["application/pdf", "image/jpeg", "image/png"], "description": "By content."},
            "size": {"type": "integer"}, "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            "uploadedAt": {"type": "string", "format": "date-time"},
            "deletedAt": {"type": ["string", "null"], "format": "date-time", "description": (
                "When the document was deleted from the agency's bucket at the end of its service's retention "
                "period (null: it is kept).")}}}},
        "nextAccessCode": {"oneOf": [_ref("AccessCode"), {"type": "null"}], "description": (
            "With an access code: a new one-time code for the next lookup (the one sent is used up). Absent "
            "with a staff token.")}}},
    "Task": {"type": "object", "required": ["id", "reference", "step", "desk", "actions"], "properties": {
        "id": {"type": "string"}, "reference": {"type": "string"}, "step": {"type": "string"},
        "name": {"type": "string"}, "desk": {"type": "string"},
        "actions": {"type": "array", "items": {"type": "string"}}}},
    "TaskAction": {"type": "object", "additionalProperties": False, "properties": {
        "fields": {"type": "object", "maxProperties": 20, "additionalProperties": {"type": "string",
                                                                                  "maxLength": 1000},
                   "description": "Short texts kept with the action, e.g. reason, comment."}}},
    "TaskCompleted": {"type": "object", "required": ["id", "action", "reference", "status"], "properties": {
        "id": {"type": "string"}, "action": {"type": "string"}, "reference": {"type": "string"},
        "status": {"enum": ["in_progress", "action_needed", "closed"]}, "outcome": {"type": ["string", "null"]},
        "next": {"type": "array", "items": _ref("Task")}}},
}

_REFERENCE_PARAM = {"name": "reference", "in": "path", "required": True, "schema": _REFERENCE}

PATHS: dict[str, Any] = {
    "/api/services": {"get": {
        "operationId": "getServiceList", "tags": ["Available services"], "security": [],
        "summary": "The services of the catalogue: texts, eligibility, documents, questions, fee, SLA, office, "
                   "and the steps of each one's process.",
        "responses": {"200": _json({"type": "array", "items": _ref("Service")}, "The catalogue")}}},
    "/api/applications": {"post": {
        "operationId": "submitApplication", "tags": ["Applicant"], "security": [],
        "summary": "Send an application: the answers are checked as on the citizen pages; the reference and a "
                   "one-time access code to track it come back.",
        "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("ApplicationSubmit")}}},
        "responses": {
            "201": {**_json(_ref("ApplicationSubmitted"), "Started"),
                    "headers": {"Location": {"schema": {"type": "string"}}}},
            "400": _error("Not JSON, an unknown field, an unknown service or question, or an answer that does not "
                          "pass (field names it, e.g. answers.floors)"),
            "413": _error(f"Body over {MAX_BODY} bytes (refused before it is read when Content-Length says so)"),
            "415": _error("Content-Type is not application/json")}}},
    "/api/applications/{reference}": {"get": {
        "operationId": "getApplicationFileById", "tags": ["Applicant", "Operator"],
        "security": [{"accessCode": []}, {"staffBearer": []}],
        "summary": "Status and steps of one application (what the tracking page shows), with its one-time "
                   f"access code in the {ACCESS_CODE_HEADER} header, or a staff bearer token.",
        "parameters": [_REFERENCE_PARAM],
        "responses": {
            "200": _json(_ref("ApplicationFile"), "The application"),
            "400": _error("Not a reference number at all (length or check symbol): told apart without a lookup"),
            "401": _error("A bearer token was sent and is not valid (WWW-Authenticate: Bearer)"),
            "403": _error("A valid staff token that gives no desk of this centre"),
            "404": _error("Unknown reference, or a wrong, missing, used, expired or locked code: one answer for "
                          "all"),
            "429": _THROTTLED}}},
    "/api/applications/{reference}/certificate/revoke": {"post": {
        "operationId": "revokeCertificate", "tags": ["Operator"], "security": _BEARER,
        "summary": "Revoke the application's signed certificate (a supervisor of the caller's desks): the reason's "
                   "category is shown on the public verification page, the note goes to the audit trail only.",
        "parameters": [_REFERENCE_PARAM],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["reason", "note"], "additionalProperties": False, "properties": {
                "reason": {"enum": ["issued_in_error", "superseded", "obtained_by_fraud", "withdrawn"]},
                "note": {"type": "string", "minLength": 1, "maxLength": 500}}}}}},
        "responses": {
            "200": _json({"type": "object", "properties": {
                "certificate": {"type": "string"}, "reference": {"type": "string"},
                "revokedAt": {"type": "string", "format": "date-time"}, "reason": {"type": "string"},
                "verifyUrl": {"type": "string"}}}, "Revoked"),
            "400": _error("No such reason, or no note"),
            "401": _error("No valid staff bearer token (WWW-Authenticate: Bearer)"),
            "403": _error("Not a supervisor, or a token that gives no desk of this centre"),
            "404": _error("No such application at the caller's desks, or it has no certificate"),
            "409": _error("Already revoked"),
            "415": _error("A body that is not application/json")}}},
    "/api/tasks": {"get": {
        "operationId": "getTasks", "tags": ["Operator"], "security": _BEARER,
        "summary": "The tasks waiting at the caller's desks (the token's groups), oldest first.",
        "responses": {"200": _json({"type": "array", "items": _ref("Task")}, "Tasks"),
                      "401": _error("No valid staff bearer token (WWW-Authenticate: Bearer)"),
                      "403": _error("A valid staff token that gives no desk of this centre")}}},
    "/api/tasks/{taskId}/{action}": {"post": {
        "operationId": "completeTaskById", "tags": ["Operator"], "security": _BEARER,
        "summary": "Act on a task at one of the caller's desks with one of its actions (e.g. accept, return, "
                   "reject, done); the body is optional.",
        "parameters": [{"name": "taskId", "in": "path", "required": True, "schema": {"type": "string"}},
                       {"name": "action", "in": "path", "required": True, "schema": {"type": "string"}}],
        "requestBody": {"required": False, "content": {"application/json": {"schema": _ref("TaskAction")}}},
        "responses": {
            "200": _json(_ref("TaskCompleted"), "Done: the application moved on"),
            "400": _error("A malformed body"),
            "401": _error("No valid staff bearer token (WWW-Authenticate: Bearer)"),
            "403": _error("A valid staff token that gives no desk of this centre"),
            "404": _error("No such task waiting at the caller's desks"),
            "409": _error("The task does not offer this action now"),
            "413": _error(f"Body over {MAX_BODY} bytes"),
            "415": _error("A body that is not application/json")}}},
    "/api/openapi.json": {"get": {
        "operationId": "getOpenApi", "tags": ["Meta"], "security": [],
        "summary": "This document.",
        "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {}}}}}},
}
PATHS.update(G2G_PATHS)  # data sharing between agencies (openapi_g2g.py)

from .openapi_payments import PAYMENT_PATHS  # noqa: E402 - the e-payment endpoints, kept apart

PATHS.update(PAYMENT_PATHS)


def document(agency: str, public_url: str) -> dict[str, Any]:
    """The whole document for one agency's centre."""
    return {
        "openapi": "3.1.0",
        "info": {"title": f"{agency}: Citizen's Centre, interface for integrations", "version": VERSION,
                 "description": "JSON over HTTPS. Errors are {error, message, field?}. No cookies are used or "
                                "honoured here: an application is read with its one-time access code or a "
                                "staff token."},
        "servers": [{"url": public_url.rstrip("/")}],
        "paths": PATHS,
        "components": {"schemas": SCHEMAS, "securitySchemes": {
            "accessCode": {"type": "apiKey", "in": "header", "name": ACCESS_CODE_HEADER,
                           "description": "The one-time code of the application (from POST /api/applications, "
                                          "the last lookup's nextAccessCode, or sent to the citizen)."},
            "staffBearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                            "description": "An access token of the agency's OIDC provider for the centre's "
                                           "client (audience); its groups claim gives the desks."}}},
    }
