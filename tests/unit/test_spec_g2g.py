"""The spec's `platform.g2g` (data sharing between agencies): a valid directory and grants, every problem as one line
with file, line and key (unknown agency, agency without the centre, unknown service, self-grant, a service offered
twice, a grant twice, unknown keys, a free query), and each agency's part rendered for its centre."""

from __future__ import annotations

import pytest

from govcloud_platform.errors import SpecError
from govcloud_platform.spec import load_spec_text
from govcloud_platform.spec.g2g import directory

SPEC = """\
version: 1
platform:
  name: g2g-test
  domain: gov.example
  g2g:
    offers:
      trade:
        - id: business_registered
          title: {en: Business registration, ur: کاروبار کی رجسٹریشن}
          query: {service: trade_licence, outcome: issued, match: business_name}
    grants:
      - from: trade
        to: health
        service: business_registered
        purpose: "food shop permit: is the business registered"
        consent: required
        identifier: business_name
agencies:
  - {slug: health, name: Health Department, email: it@health.gov.example, apps: [centre]}
  - {slug: trade, name: Trade Office, email: it@trade.gov.example, apps: [centre]}
  - {slug: police, name: Police, email: it@police.gov.example, apps: [centre]}
  - {slug: archive, name: Archive, email: it@archive.gov.example, apps: []}
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_spec_text(text, "g.yaml")
    return [str(p) for p in info.value.problems]


def test_valid_and_rendered_per_agency() -> None:
    spec = load_spec_text(SPEC, "g.yaml")
    names = {a.slug: a.name for a in spec.agencies}
    url = "https://centre.{}.gov.example:8443/api/g2g/requests".format
    trade = directory(spec.platform.g2g, "trade", names, url)
    health = directory(spec.platform.g2g, "health", names, url)
    assert trade is not None and health is not None
    assert trade["offers"] == [{"service": "business_registered", "query": {
        "service": "trade_licence", "outcome": "issued", "match": "business_name"}, "grants": [
        {"agency": "health", "purpose": "food shop permit: is the business registered", "consent": True}]}]
    assert trade["asks"] == [] and health["offers"] == []
    assert health["asks"] == [{"service": "business_registered", "agency": "trade", "consent": True,
                               "purpose": "food shop permit: is the business registered",
                               "identifier": "business_name", "url": url("trade")}]
    assert health["titles"] == {"business_registered": {"en": "Business registration", "ur": "کاروبار کی رجسٹریشن"}}
    assert directory(spec.platform.g2g, "police", names, url) is None  # takes no part
    # and the centre's own reading of it agrees
    from centre_core import g2g

    read = g2g.directory(health)
    assert read.asks["business_registered"].answerer == "trade" and read.names["trade"] == "Trade Office"
    assert g2g.directory(trade).offers["business_registered"].askers["health"].consent


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("      - from: trade", "      - from: customs",
     "g.yaml:12: platform.g2g.grants[0].from: unknown agency 'customs'"),
    ("        to: health", "        to: nobody", "g.yaml:13: platform.g2g.grants[0].to: unknown agency 'nobody'"),
    ("        to: health", "        to: archive", "platform.g2g.grants[0].to: agency 'archive' has no `centre` app"),
    ("        to: health", "        to: trade", "platform.g2g.grants[0].to: 'trade' cannot be granted its own service"),
    ("        service: business_registered", "        service: land_record",
     "g.yaml:14: platform.g2g.grants[0].service: unknown service 'land_record': 'trade' offers no such service"),
    ("      - from: trade", "      - from: police",
     "platform.g2g.grants[0].service: unknown service 'business_registered': 'police' offers no such service "
     "(offered by 'trade')"),
    ("      trade:", "      customs:", "g.yaml:7: platform.g2g.offers.customs: unknown agency 'customs'"),
    ("        consent: required", "        consent: maybe", "platform.g2g.grants[0].consent:"),
    ("          query: {service: trade_licence, outcome: issued, match: business_name}",
     "          query: {sql: \"SELECT * FROM applications\"}", "platform.g2g.offers.trade[0].query.sql: unknown key"),
    ("match: business_name}", "match: \"answers->>'x'\"}", "platform.g2g.offers.trade[0].query.match:"),
    ("        identifier: business_name", "        identifier: business_name\n        scope: all",
     "platform.g2g.grants[0].scope: unknown key"),
], ids=["from-unknown", "to-unknown", "to-no-centre", "self-grant", "unknown-service", "not-its-service",
        "offers-unknown", "consent-value", "free-sql", "match-not-an-id", "unknown-key"])
def test_each_problem_is_one_line(old: str, new: str, expected: str) -> None:
    assert old in SPEC
    found = problems_of(SPEC.replace(old, new, 1))
    assert any(expected in p for p in found), found


def test_twice_offered_and_twice_granted() -> None:
    text = SPEC.replace("    grants:\n", "      police:\n        - id: business_registered\n"
                        "          query: {service: x_y, outcome: issued, match: name}\n    grants:\n")
    found = problems_of(text)
    assert any("platform.g2g.offers.police[0].id: service 'business_registered' is offered by 'trade' already" in p
               for p in found), found
    grant = SPEC[SPEC.index("      - from: trade"):SPEC.index("agencies:")]
    found = problems_of(SPEC.replace("agencies:", grant + "agencies:"))
    assert any("platform.g2g.grants[1]: 'health' is granted 'business_registered' twice" in p for p in found), found


def test_no_g2g_is_the_default() -> None:
    spec = load_spec_text(SPEC[:SPEC.index("  g2g:")] + SPEC[SPEC.index("agencies:"):], "g.yaml")
    assert spec.platform.g2g.grants == [] and directory(spec.platform.g2g, "trade", {}, str) is None


def test_the_spec_survives_the_consoles_round_trip() -> None:
    """The console hands the platform part of the spec to its process as JSON (`model_dump(mode="json")`, field
    names: `from_`) and validates it back: the grants come through."""
    from govcloud_platform.spec.models import Spec

    spec = load_spec_text(SPEC, "g.yaml")
    again = Spec.model_validate(spec.model_dump(mode="json"))
    assert again.platform.g2g == spec.platform.g2g and again.platform.g2g.grants[0].from_ == "trade"
    assert Spec.model_validate(spec.model_dump(mode="json", by_alias=True)).platform.g2g == spec.platform.g2g
