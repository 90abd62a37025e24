"""Data sharing between agencies (G2G) in govcloud.yaml (`platform.g2g`): the directorate's directory of what each
agency's centre offers to others, and its grants (who may ask what, for which purpose, with or without the citizen's
consent). One source of truth: each agency's centre gets, at deploy, its part of it (`directory`), rendered here.

```yaml
platform:
  g2g:
    offers:
      trade:                              # an agency with the centre app
        - id: business_registered         # unique across agencies
          title: {en: Business registration, ur: کاروبار کی رجسٹریشن}
          query: {service: trade_licence, outcome: issued, match: business_name}
    grants:
      - {from: trade, to: health, service: business_registered, purpose: "food shop permit", consent: required,
         identifier: business_name}
```
A query is declared, never free SQL: "is there a closed application of `service` with `outcome` whose answer
`match` equals the identifier asked about". A grant's `from` is the agency that offers (answers), `to` the agency
that may ask; `identifier` is the asking application's answer sent as the identifier."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ID_PATTERN = r"^[a-z][a-z0-9_]{1,39}$"
Path_ = tuple[str | int, ...]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class G2GText(_Strict):
    en: str = Field(..., min_length=1, max_length=200)
    ur: str = Field(..., min_length=1, max_length=200)


class G2GQuery(_Strict):
    """The declared query an offered service answers (no free SQL)."""

    service: str = Field(..., pattern=ID_PATTERN, description="a service of the offering agency's catalogue")
    outcome: str = Field(..., pattern=ID_PATTERN, description="the end event its application closed with")
    match: str = Field(..., pattern=ID_PATTERN, description="the answer compared with the identifier asked about")


class G2GOffer(_Strict):
    id: str = Field(..., pattern=ID_PATTERN, description="the service offered to other agencies (unique)")
    title: G2GText | None = Field(None, description="what citizens read on their tracking page (default: the id)")
    query: G2GQuery


class G2GGrant(_Strict):
    from_: str = Field(..., alias="from", description="the agency that offers the service and answers")
    to: str = Field(..., description="the agency that may ask")
    service: str = Field(..., pattern=ID_PATTERN)
    purpose: str = Field(..., min_length=3, max_length=300, description="why: on every request, and shown to the "
                                                                        "citizen")
    consent: Literal["required", "not_required"] = Field(..., description="whether the citizen must consent on the "
                                                                          "form (answer g2g_consent = yes)")
    identifier: str = Field(..., pattern=ID_PATTERN, description="the asking application's answer sent as the "
                                                                 "identifier looked up")


class G2GSettings(_Strict):
    offers: dict[str, list[G2GOffer]] = Field(default_factory=dict, description="agency -> services it offers")
    grants: list[G2GGrant] = Field(default_factory=list, max_length=10_000)


def problems(g2g: G2GSettings, centres: Sequence[str], agencies: Sequence[str]) -> list[tuple[Path_, str]]:
    """Each problem with its key path: an unknown agency, an agency without the centre app, a service offered twice,
    a grant of a service its `from` does not offer, a grant to itself, the same grant twice. Pure."""
    out: list[tuple[Path_, str]] = []
    known, with_centre = set(agencies), set(centres)

    def agency_problem(slug: str) -> str | None:
        if slug not in known:
            return f"unknown agency {slug!r}"
        if slug not in with_centre:
            return f"agency {slug!r} has no `centre` app"
        return None

    offered: dict[str, str] = {}
    for slug, offers in g2g.offers.items():
        if why := agency_problem(slug):
            out.append((("platform", "g2g", "offers", slug), why))
        for i, offer in enumerate(offers):
            if offer.id in offered:
                out.append((("platform", "g2g", "offers", slug, i, "id"),
                            f"service {offer.id!r} is offered by {offered[offer.id]!r} already (ids are unique)"))
            offered.setdefault(offer.id, slug)
    seen: set[tuple[str, str]] = set()
    for i, grant in enumerate(g2g.grants):
        where: Path_ = ("platform", "g2g", "grants", i)
        for key, slug in (("from", grant.from_), ("to", grant.to)):
            if why := agency_problem(slug):
                out.append(((*where, key), why))
        if grant.from_ == grant.to:
            out.append(((*where, "to"), f"{grant.to!r} cannot be granted its own service (a self-grant)"))
        if offered.get(grant.service) != grant.from_:
            by = f" (offered by {offered[grant.service]!r})" if grant.service in offered else ""
            out.append(((*where, "service"), f"unknown service {grant.service!r}: {grant.from_!r} offers no such "
                                             f"service{by}"))
        if (grant.to, grant.service) in seen:
            out.append((where, f"{grant.to!r} is granted {grant.service!r} twice"))
        seen.add((grant.to, grant.service))
    return out


def directory(g2g: G2GSettings, slug: str, names: dict[str, str],
              request_url: Callable[[str], str]) -> dict[str, Any] | None:
    """The part of the directory agency `slug`'s centre needs (the role writes it as `g2g.json`): what it offers and
    to whom, what it may ask and at which URL (`request_url(agency)`), the names and titles its citizens' page shows.
    None when the agency takes no part in data sharing. Pure."""
    offers = g2g.offers.get(slug, [])
    asks = [g for g in g2g.grants if g.to == slug]
    if not offers and not asks:
        return None
    titles = {o.id: o.title.model_dump() for found in g2g.offers.values() for o in found if o.title}
    return {
        "agency": slug,
        "offers": [{"service": o.id, "query": o.query.model_dump(), "grants": [
            {"agency": g.to, "purpose": g.purpose, "consent": g.consent == "required"}
            for g in g2g.grants if g.from_ == slug and g.service == o.id]} for o in offers],
        "asks": [{"service": g.service, "agency": g.from_, "purpose": g.purpose, "consent": g.consent == "required",
                  "identifier": g.identifier, "url": request_url(g.from_)} for g in asks],
        "names": dict(sorted(names.items())),
        "titles": titles,
    }
