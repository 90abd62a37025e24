"""The OpenAPI 3.1 document of the console's JSON API (`GET /api/openapi.json`). A test checks that every `/api/`
route of the app is in it and that it names no route the app lacks."""

from __future__ import annotations

from typing import Any

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
                   "updated_at": {"type": "string", "format": "date-time"}}}]}


def _error(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


_REFUSALS = {"401": _error("no bearer token, or one the IdP did not sign for the console (WWW-Authenticate says "
                           "which)"),
             "403": _error("a valid token of someone who is neither an operator nor an agency member")}


def document(server_url: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "govcloud console API", "version": "1",
                 "description": "Read what the signed-in principal may see: a directorate operator every agency, an "
                                "agency member their own agency. Another agency's slug answers 404, as an unknown "
                                "one does (docs/console.md)."},
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
                           "they enforce",
                "parameters": [{"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "usage by service", "content": {"application/json": {
                    "schema": {"type": "object", "required": ["slug", "quota"], "properties": {
                        "slug": {"type": "string"}, "quota": {"type": "string"},
                        "database": {"type": "object"}, "storage": {"type": "object"},
                        "identity": {"type": "object"}, "backups": {"type": "object"}}}}}},
                    **_REFUSALS, "404": _error("no such agency, or not the principal's")}}},
            "/api/openapi.json": {"get": {
                "operationId": "openapi", "summary": "This document", "security": [],
                "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {}}}}}},
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                                           "description": "an RS256 access token of the box's IdP issued to the "
                                                          "console's client (platform-console)"}},
            "schemas": {"Error": _ERROR, "AgencySummary": _SUMMARY, "Agency": _DETAIL},
        },
    }
