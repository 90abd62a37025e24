"""What a new agency may take, decided without servers (`claims.foreign_objects`)."""

from __future__ import annotations

from govcloud_platform.claims import foreign_objects
from govcloud_platform.onboarding import AgencyRequest


def test_only_objects_of_the_services_an_agency_asks_for_refuse_it() -> None:
    found = {"database": {"alpha": ["PostgreSQL role ag_alpha"]}, "storage": {"beta": ["S3 bucket ag-beta"]}}
    alpha = AgencyRequest("alpha", "Alpha agency", "it@a.example")
    beta = AgencyRequest("beta", "Beta agency", "it@b.example", services=["database", "identity"])
    assert foreign_objects([alpha, beta], found) == [("alpha", "PostgreSQL role ag_alpha")]
    assert foreign_objects([beta], found) == []  # beta asks for no storage: its name's bucket is not its business
    assert foreign_objects([alpha, beta], {}) == []
