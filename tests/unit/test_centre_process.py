"""Processes run by SpiffWorkflow under the centre's engine: the sample flows, SLA escalation with time passed
in, state saved and restored on the spec it started with, and hostile BPMN that never runs code."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from centre_core import bpmn, catalogue, engine
from centre_core.errors import ActionError, ExpressionError, NotFound, ProcessError

T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)  # a Tuesday
SAMPLES = catalogue.SAMPLES
PWNED = Path("/tmp/centre-bpmn-pwned")


def sample(name: str) -> bytes:
    return (SAMPLES / f"{name}.bpmn").read_bytes()


def load(name: str = "trade_licence", xml: bytes | None = None) -> bpmn.Process:
    return bpmn.load_process(xml if xml is not None else sample(name), f"{name}.bpmn")


def only(wf: engine.BpmnWorkflow) -> engine.TaskView:
    ready = engine.status(wf).ready
    assert len(ready) == 1, ready
    return ready[0]


def test_trade_licence_returned_for_a_document_then_issued() -> None:
    wf = engine.start(load(), {"sla_review": 3, "business_name": "Ali Traders"}, T0)
    review = only(wf)
    assert (review.step, review.desk, review.actions) == ("review", "clerk", ("return", "reject", "accept"))
    wf = engine.act(wf, review.id, "return", "clerk", {"reason": "premises proof missing"}, T0)
    assert (only(wf).step, only(wf).desk, only(wf).actions) == ("provide_document", "citizen", ("done",))
    wf = engine.act(wf, only(wf).id, "done", "citizen", {}, T0 + timedelta(hours=2))
    wf = engine.act(wf, only(wf).id, "accept", "clerk", {}, T0 + timedelta(hours=3))
    wf = engine.act(wf, only(wf).id, "approve", "licensing_officer", {"comment": "ok"}, T0 + timedelta(hours=4))
    st = engine.status(wf)
    assert st.finished and st.outcome == "issued" and st.ready == ()


def test_forgetting_the_answers_leaves_a_state_that_restores_with_its_status() -> None:
    """The end of a closed application's retention: its answers go from every task's data and the workflow's,
    the process's own data stays, the state still restores with the same status."""
    wf = engine.start(load(), {"sla_review": 3, "business_name": "Ali Secret Traders", "email": "ali@example.pk"},
                      T0)
    wf = engine.act(wf, only(wf).id, "reject", "clerk", {"reason": "no premises"}, T0)
    before = engine.dump(wf)
    assert "Ali Secret Traders" in before and "ali@example.pk" in before
    after = engine.dump(engine.forget(engine.restore(before, T0), ["business_name", "email", "centre"]))
    assert "Ali Secret Traders" not in after and "ali@example.pk" not in after
    again = engine.status(engine.restore(after, T0))
    assert (again.finished, again.outcome) == (True, "rejected") and '"digest"' in after and "no premises" in after


def test_building_permit_runs_its_checks_in_parallel() -> None:
    wf = engine.start(load("building_permit"), {"sla_intake": 5}, T0)
    wf = engine.act(wf, only(wf).id, "accept", "intake", {}, T0)
    ready = {t.step: t for t in engine.status(wf).ready}
    assert {(t.step, t.desk) for t in ready.values()} == {("planning_check", "planning"),
                                                           ("structural_check", "engineering")}
    wf = engine.act(wf, ready["structural_check"].id, "done", "engineering", {}, T0)
    assert only(wf).step == "planning_check"  # the join waits for both
    wf = engine.act(wf, only(wf).id, "done", "planning", {}, T0)
    wf = engine.act(wf, only(wf).id, "reject", "director", {"reason": "exceeds height limit"}, T0)
    assert engine.status(wf).outcome == "rejected"


def test_a_review_past_its_sla_moves_to_the_supervisor_when_time_is_moved() -> None:
    wf = engine.start(load(), {"sla_review": 3}, T0)
    assert engine.status(wf).timers == (("review_sla", "2026-12-04T09:00:00+00:00"),)
    wf = engine.advance(wf, T0 + timedelta(days=2, hours=23))
    assert only(wf).step == "review"
    state = engine.dump(wf)
    wf = engine.advance(engine.restore(state, T0), T0 + timedelta(days=3))
    assert (only(wf).step, only(wf).desk) == ("escalated_review", "supervisor")
    with pytest.raises(ActionError, match="supervisor"):
        engine.act(wf, only(wf).id, "accept", "clerk", {}, T0 + timedelta(days=3))
    wf = engine.act(wf, only(wf).id, "accept", "supervisor", {}, T0 + timedelta(days=3))
    assert only(wf).step == "approve" and engine.status(wf).timers == ()


def test_weekends_do_not_count_towards_the_sla() -> None:
    friday = datetime(2026, 12, 4, 16, tzinfo=UTC)
    wf = engine.start(load(), {"sla_review": 1}, friday)
    wf = engine.advance(wf, friday + timedelta(days=2, hours=23))  # Monday 15:00
    assert only(wf).step == "review"
    wf = engine.advance(wf, friday + timedelta(days=3))
    assert only(wf).step == "escalated_review"


def test_wrong_desk_unknown_action_task_or_field_is_refused() -> None:
    wf = engine.start(load(), {"sla_review": 3}, T0)
    task = only(wf)
    with pytest.raises(ActionError, match="desk 'clerk'"):
        engine.act(wf, task.id, "accept", "citizen", {}, T0)
    with pytest.raises(ActionError, match="not one of"):
        engine.act(wf, task.id, "approve", "clerk", {}, T0)
    with pytest.raises(NotFound):
        engine.act(wf, "00000000-0000-0000-0000-000000000000", "accept", "clerk", {}, T0)
    for fields in ({"decision": "approve"}, {"Bad-Name": "x"}, {"note": "x" * 5000}, {"note": {"a": 1}}):
        with pytest.raises(ActionError):
            engine.act(wf, task.id, "accept", "clerk", fields, T0)
    assert only(wf).id == task.id  # nothing moved


def test_a_running_application_keeps_the_process_it_started_with() -> None:
    v1 = load()
    state = engine.dump(engine.start(v1, {"sla_review": 3}, T0))
    # v2 sends accepted applications straight to "issued", without the licensing officer's decision.
    v2_xml = sample("trade_licence").replace(b'targetRef="approve">', b'targetRef="issued">')
    v2 = load(xml=v2_xml)
    assert v2.digest != v1.digest
    old = engine.restore(state, T0)
    old = engine.act(old, only(old).id, "accept", "clerk", {}, T0)
    assert only(old).step == "approve"  # v1's flow
    new = engine.start(v2, {"sla_review": 3}, T0)
    new = engine.act(new, only(new).id, "accept", "clerk", {}, T0)
    assert engine.status(new).outcome == "issued"
    assert json.loads(state)["data"]["centre"]["digest"] == v1.digest


def _with(xml: bytes, old: bytes, new: bytes) -> bytes:
    assert old in xml
    return xml.replace(old, new)


SCRIPT = f"__import__('os').system('touch {PWNED}')"
TL = sample("trade_licence")
HOSTILE = {
    "script_task": _with(TL, b'<bpmn:userTask id="approve" name="Decide on the licence"/>',
                         f'<bpmn:scriptTask id="approve"><bpmn:script>{SCRIPT}</bpmn:script></bpmn:scriptTask>'
                         .encode()),
    "condition_call": _with(TL, b'decision == "accept"', SCRIPT.replace("'", "&apos;").encode()),
    "condition_dunder": _with(TL, b'decision == "accept"', b"().__class__.__bases__[0].__subclasses__()"),
    "timer_call": _with(TL, b"<bpmn:timeDuration>sla_review", f"<bpmn:timeDuration>{SCRIPT}".encode()),
    "service_task": _with(TL, b'<bpmn:userTask id="approve"', b'<bpmn:serviceTask id="approve"')
    .replace(b'name="Decide on the licence"/>', b'name="x"/>'),
    "extension_script": _with(TL, b'<bpmn:userTask id="approve" name="Decide on the licence"/>',
                              b'<bpmn:userTask id="approve"><bpmn:extensionElements><spiff:preScript '
                              b'xmlns:spiff="http://spiffworkflow.org/bpmn/schema/1.0/core">'
                              + SCRIPT.encode() + b'</spiff:preScript></bpmn:extensionElements></bpmn:userTask>'),
    "entities": b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
                b'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">&b;</bpmn:definitions>',
    "external_entity": b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><d>&x;</d>',
    "time_date": _with(TL, b"<bpmn:timeDuration>sla_review</bpmn:timeDuration>",
                       b"<bpmn:timeDate>'2026-01-01'</bpmn:timeDate>"),
    "no_lane": _with(TL, b"<bpmn:flowNodeRef>approve</bpmn:flowNodeRef>", b""),
    "not_xml": b"<bpmn:definitions",
    "two_processes": _with(TL, b"</bpmn:definitions>", b'<bpmn:process id="other"/></bpmn:definitions>'),
    "huge": TL + b"<!--" + b"x" * bpmn.MAX_BYTES + b"-->",
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_bpmn_is_refused_at_load(name: str) -> None:
    with pytest.raises(ProcessError) as err:
        load(xml=HOSTILE[name])
    assert "trade_licence.bpmn" in str(err.value)
    assert not PWNED.exists()


def test_a_tampered_state_still_cannot_run_a_script() -> None:
    """A state rewritten in the database (here: built with SpiffWorkflow's own parser, which accepts scripts)
    is restored with the centre's engine: the script raises instead of running."""
    from lxml import etree
    from SpiffWorkflow.bpmn import BpmnWorkflow
    from SpiffWorkflow.bpmn.parser import BpmnParser

    xml = _with(TL, b'<bpmn:userTask id="review" name="Review application"/>',
                f'<bpmn:scriptTask id="review"><bpmn:script>{SCRIPT}</bpmn:script></bpmn:scriptTask>'.encode())
    xml = xml.replace(b"<bpmn:timeDuration>sla_review", b'<bpmn:timeDuration>"P3D"')
    parser = BpmnParser()
    parser.add_bpmn_xml(etree.ElementTree(etree.fromstring(xml)), "tampered.bpmn")
    state = engine.serializer().serialize_json(BpmnWorkflow(parser.get_spec("trade_licence")))
    wf = engine.restore(state, T0)
    with pytest.raises(ProcessError, match="never run"):
        engine.advance(wf, T0)
    assert not PWNED.exists()


def test_a_tampered_condition_in_the_state_is_refused_when_evaluated() -> None:
    wf = engine.start(load(), {"sla_review": 3}, T0)
    state = engine.dump(wf).replace('decision == \\"accept\\"', "__import__('os').getcwd()")
    assert "__import__" in state
    wf = engine.restore(state, T0)
    with pytest.raises(ExpressionError, match="Call is not allowed"):
        engine.act(wf, only(wf).id, "accept", "clerk", {}, T0)


def test_time_must_be_passed_in_and_aware() -> None:
    with pytest.raises(ProcessError):
        engine.start(load(), {"sla_review": 3}, datetime(2026, 12, 1))
