"""What the transparency figures read from the agency's database (`transparency` computes them): the
applications that matter to the window (sent before its end, and not closed before its start), the category
answer of the complaint services, and the ratings given in it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from . import transparency
from .catalogue import Catalogue


def records(conn: psycopg.Connection[Any], catalogue: Catalogue, start: datetime,
            end: datetime) -> list[transparency.Record]:
    """Applications sent before `end` and open at or after `start` (the window's bounds, aware)."""
    questions = {s.id: q for s in catalogue.services if (q := transparency.category_question(s)) is not None}
    out = []
    with conn.cursor() as cur:  # only the category's answer is read (service -> question id, as jsonb)
        cur.execute(
            "SELECT service_id, submitted_at, CASE WHEN status = 'closed' THEN updated_at END, "
            "answers ->> (%s::jsonb ->> service_id) FROM applications "
            "WHERE submitted_at < %s AND (status <> 'closed' OR updated_at >= %s)",
            (Jsonb(questions), end, start))
        for service_id, submitted_at, closed_at, category in cur:
            out.append(transparency.Record(service_id, submitted_at, closed_at,
                                           str(category) if category is not None else None))
    return out


def ratings(conn: psycopg.Connection[Any], start: datetime, end: datetime) -> list[transparency.Rating]:
    rows = conn.execute("SELECT a.service_id, r.rating, r.rated_at FROM ratings r JOIN applications a ON "
                        "a.id = r.application_id WHERE r.rated_at >= %s AND r.rated_at < %s", (start, end))
    return [transparency.Rating(s, int(r), at) for s, r, at in rows]
