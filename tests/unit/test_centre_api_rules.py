"""Pure decisions of the centre's interface for integrations (`centre_web.api_rules`), the flow of steps it
shares with the tracking page (`flow.progress`), and the OpenAPI document's own consistency."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from centre_core.catalogue import Localised
from centre_core.engine import TaskView
from centre_web import api_rules, flow, openapi
from centre_web.api_rules import MAX_BODY, Problem

SERVICES = {"trade_licence", "building_permit"}
QUESTIONS = {"trade_licence": {"business_name", "email"}, "building_permit": {"floors"}}


@pytest.mark.parametrize(("content_type", "length", "status"), [
    ("application/json", 10, None), ("application/json; charset=utf-8", None, None), ("Application/JSON", 0, None),
    ("text/plain", 10, 415), (None, 10, 415), ("application/json-seq", 1, 415), ("multipart/form-data", 1, 415),
    ("application/json", MAX_BODY, None), ("application/json", MAX_BODY + 1, 413),
])
def test_json_requests_are_json_and_small(content_type: str | None, length: int | None, status: int | None) -> None:
    if status is None:
        api_rules.check_json_request(content_type, length)
    else:
        with pytest.raises(Problem) as refused:
            api_rules.check_json_request(content_type, length)
        assert refused.value.status == status


@pytest.mark.parametrize(("header", "expected"), [("12", 12), (" 7 ", 7), (None, None), ("", None), ("-1", None),
                                                  ("1e3", None)])
def test_content_length(header: str | None, expected: int | None) -> None:
    assert api_rules.content_length(header) == expected


@pytest.mark.parametrize(("raw", "status"), [
    (b'{"a": 1}', None), (b"[]", 400), (b"nope", 400), (b"\xff", 400), (b'"text"', 400),
    (b" " * (MAX_BODY + 1), 413),
])
def test_json_object(raw: bytes, status: int | None) -> None:
    if status is None:
        assert api_rules.json_object(raw) == {"a": 1}
    else:
        with pytest.raises(Problem) as refused:
            api_rules.json_object(raw)
        assert refused.value.status == status and refused.value.error in ("malformed_json", "too_large")


@pytest.mark.parametrize(("body", "field"), [
    ({"serviceKey": "trade_licence", "answers": {}, "x": 1}, "x"),
    ({}, "serviceKey"), ({"serviceKey": 3}, "serviceKey"), ({"serviceKey": "nope"}, "serviceKey"),
    ({"serviceKey": "trade_licence", "answers": "x"}, "answers"),
    ({"serviceKey": "trade_licence", "answers": {"floors": "1"}}, "answers.floors"),
    ({"serviceKey": "trade_licence", "answers": {"business_name": None}}, "answers.business_name"),
    ({"serviceKey": "trade_licence", "answers": {"business_name": False}}, "answers.business_name"),
    ({"serviceKey": "trade_licence", "answers": {"business_name": ["a"]}}, "answers.business_name"),
    ({"serviceKey": "trade_licence", "answers": {"business_name": 1.5}}, "answers.business_name"),
])
def test_application_shape_names_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(Problem) as refused:
        api_rules.application_request(body, SERVICES, QUESTIONS)
    assert refused.value.status == 400 and refused.value.field == field
    assert refused.value.body()["field"] == field


def test_application_answers_become_text() -> None:
    assert api_rules.application_request({"serviceKey": "building_permit", "answers": {"floors": 3}}, SERVICES,
                                         QUESTIONS) == ("building_permit", {"floors": "3"})
    assert api_rules.application_request({"serviceKey": "trade_licence"}, SERVICES, QUESTIONS) == \
        ("trade_licence", {})


@pytest.mark.parametrize(("body", "ok"), [
    ({}, True), ({"fields": {"reason": "lease"}}, True), ({"fields": {"decision": "accept"}}, False),
    ({"fields": {"a b": "x"}}, False), ({"fields": {"reason": 3}}, False), ({"fields": []}, False),
    ({"fields": {f"f{i}": "x" for i in range(21)}}, False), ({"fields": {"reason": "x" * 1001}}, False),
    ({"other": 1}, False),
])
def test_task_fields(body: dict[str, Any], ok: bool) -> None:
    if ok:
        assert api_rules.task_fields(body) == body.get("fields", {})
    else:
        with pytest.raises(Problem):
            api_rules.task_fields(body)


@pytest.mark.parametrize(("header", "token"), [
    ("Bearer abc.def.ghi", "abc.def.ghi"), ("bearer  abc", "abc"), ("Basic dXNlcg==", None), ("Bearer ", None),
    (None, None), ("", None), ("Bearer " + "a" * 9000, None),
])
def test_bearer_token(header: str | None, token: str | None) -> None:
    assert api_rules.bearer_token(header) == token


def test_desks_come_from_the_groups_claim() -> None:
    known = {"clerk", "supervisor"}
    assert api_rules.desks_of(["centre-clerk", "centre-nowhere", "clerk", 3], "centre-", known) == {"clerk"}
    assert api_rules.desks_of(["clerk", "supervisor"], "", known) == {"clerk", "supervisor"}
    assert api_rules.desks_of("centre-clerk", "centre-", known) == frozenset()
    assert api_rules.desks_of(None, "", known) == frozenset()


def _task(step: str) -> TaskView:
    return TaskView(f"id-{step}", step, step.title(), "clerk", ("done",))


def test_progress_shows_escalations_only_when_reached_and_extra_tasks_last() -> None:
    order = (("review", False), ("escalated", True), ("approve", False))
    names = {"review": "Review", "escalated": "Escalated", "approve": "Approve"}
    localised = {"review": Localised(en="Review of the application", ur="درخواست کا جائزہ")}
    shown = flow.progress(order, (_task("review"),), frozenset(), names, localised)
    assert [(s.id, s.here, s.done) for s in shown] == [("review", True, False), ("approve", False, False)]
    assert shown[0].names == {"en": "Review of the application", "ur": "درخواست کا جائزہ"}
    assert shown[1].names == {"en": "Approve", "ur": "Approve"}  # the BPMN's one name in both
    shown = flow.progress(order, (_task("escalated"), _task("counter")), frozenset({"review"}), names, {})
    assert [(s.id, s.here, s.done) for s in shown] == [
        ("review", False, True), ("escalated", True, False), ("approve", False, False), ("counter", True, False)]
    assert shown[-1].names["en"] == "Counter"  # not in the version's order: the task's own name


def test_the_openapi_document_is_whole() -> None:
    doc = openapi.document("Health Department", "https://centre.health.test:8443/")
    assert doc["openapi"] == "3.1.0" and doc["servers"] == [{"url": "https://centre.health.test:8443"}]
    text = json.dumps(doc)
    refs = set(re.findall(r'"\$ref": "#/components/schemas/(\w+)"', text))
    assert refs <= set(doc["components"]["schemas"]) and refs
    ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids)) and {"getServiceList", "getApplicationFileById", "getTasks",
                                          "completeTaskById"} <= set(ids)
    for path, ops in doc["paths"].items():
        params = set(re.findall(r"\{(\w+)\}", path))
        for op in ops.values():
            assert {p["name"] for p in op.get("parameters", []) if p["in"] == "path"} == params, path
            assert all(re.fullmatch(r"[1-5]\d\d", code) for code in op["responses"]), path
