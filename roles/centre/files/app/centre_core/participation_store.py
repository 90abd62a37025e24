"""E-participation's tables in the agency's database (schema_participation.sql): plain SQL, each public function
one transaction; the decisions are `participation`'s. A moderation is also an audit entry (hash-chained, subject
`participation`), as the staff's other acts are."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import psycopg

from . import participation, throttle
from .errors import ActionError, NotFound

SUBJECT = "participation"  # the audit trail's subject of moderations and of what staff set up


@dataclass(frozen=True)
class Consultation:
    id: int
    slug: str
    title_en: str
    title_ur: str
    opens_on: date
    closes_on: date


@dataclass(frozen=True)
class Paragraph:
    n: int
    text_en: str
    text_ur: str
    approved: int  # comments approved (shown)
    comments: tuple[tuple[str, str, datetime], ...] = ()  # approved: (text, language, when)


@dataclass(frozen=True)
class Poll:
    id: int
    slug: str
    question_en: str
    question_ur: str
    opens_on: date
    closes_on: date
    options: tuple[tuple[int, str, str], ...]  # (n, en, ur)


@dataclass(frozen=True)
class Pending:
    kind: str  # comment | proposal
    id: int
    where: str  # the consultation's slug and paragraph, or the proposal's title
    text: str
    language: str
    created_at: datetime


def _append(conn: psycopg.Connection[Any], now: datetime, actor: str, action: str, details: dict[str, Any]) -> None:
    from .store import _audit

    _audit(conn, now, actor, action, SUBJECT, details)


def create_consultation(conn: psycopg.Connection[Any], draft: participation.Draft, actor: str,
                        now: datetime) -> int:
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO consultations (slug, title_en, title_ur, opens_on, closes_on, created_at, created_by) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (slug) DO NOTHING RETURNING id",
            (draft.slug, draft.title_en, draft.title_ur, draft.opens_on, draft.closes_on, now, actor)).fetchone()
        if row is None:
            raise ActionError("p_err_slug_taken")
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO consultation_paragraphs (consultation_id, n, text_en, text_ur) "
                            "VALUES (%s, %s, %s, %s)",
                            [(row[0], i + 1, en, ur) for i, (en, ur) in enumerate(draft.paragraphs)])
        _append(conn, now, actor, "consultation", {"slug": draft.slug, "paragraphs": len(draft.paragraphs)})
    return int(row[0])


def create_poll(conn: psycopg.Connection[Any], poll: participation.PollDraft, actor: str, now: datetime) -> int:
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO polls (slug, question_en, question_ur, opens_on, closes_on, created_at, created_by) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (slug) DO NOTHING RETURNING id",
            (poll.slug, poll.question_en, poll.question_ur, poll.opens_on, poll.closes_on, now, actor)).fetchone()
        if row is None:
            raise ActionError("p_err_slug_taken")
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO poll_options (poll_id, n, label_en, label_ur) VALUES (%s, %s, %s, %s)",
                            [(row[0], i + 1, en, ur) for i, (en, ur) in enumerate(poll.options)])
        _append(conn, now, actor, "poll", {"slug": poll.slug, "options": len(poll.options)})
    return int(row[0])


def consultations(conn: psycopg.Connection[Any]) -> list[Consultation]:
    rows = conn.execute("SELECT id, slug, title_en, title_ur, opens_on, closes_on FROM consultations "
                        "ORDER BY closes_on DESC, id DESC LIMIT 200").fetchall()
    return [Consultation(*r) for r in rows]


def consultation(conn: psycopg.Connection[Any], slug: str, comments: bool = True) -> tuple[Consultation,
                                                                                            list[Paragraph]]:
    """A consultation and its paragraphs with their approved comments (oldest first, at most 50 a paragraph)."""
    row = conn.execute("SELECT id, slug, title_en, title_ur, opens_on, closes_on FROM consultations WHERE slug = %s",
                       (slug,)).fetchone()
    if row is None:
        raise NotFound(slug)
    found = Consultation(*row)
    counts = dict(conn.execute("SELECT paragraph, count(*) FROM consultation_comments WHERE consultation_id = %s "
                               "AND state = 'approved' GROUP BY paragraph", (found.id,)).fetchall())
    shown: dict[int, list[tuple[str, str, datetime]]] = {}
    if comments:
        for n, text, language, at in conn.execute(
                "SELECT paragraph, text, language, created_at FROM (SELECT *, row_number() OVER (PARTITION BY "
                "paragraph ORDER BY id) AS k FROM consultation_comments WHERE consultation_id = %s AND state = "
                "'approved') c WHERE k <= 50 ORDER BY paragraph, id", (found.id,)):
            shown.setdefault(n, []).append((text, language, at))
    paragraphs = [Paragraph(n, en, ur, int(counts.get(n, 0)), tuple(shown.get(n, ())))
                  for n, en, ur in conn.execute("SELECT n, text_en, text_ur FROM consultation_paragraphs WHERE "
                                                "consultation_id = %s ORDER BY n", (found.id,))]
    return found, paragraphs


def paragraph_comments(conn: psycopg.Connection[Any], consultation_id: int, paragraph: int, page: int,
                       per_page: int = participation.COMMENTS_PER_PAGE) -> list[tuple[str, str, datetime]]:
    """A page (from 1) of a paragraph's approved comments, oldest first: (text, language, when)."""
    return [(str(t), str(lang), at) for t, lang, at in conn.execute(
        "SELECT text, language, created_at FROM consultation_comments WHERE consultation_id = %s AND paragraph = %s "
        "AND state = 'approved' ORDER BY id LIMIT %s OFFSET %s",
        (consultation_id, paragraph, per_page, (max(page, 1) - 1) * per_page))]


def comment(conn: psycopg.Connection[Any], consultation_id: int, paragraph: int, text: str, language: str,
            now: datetime) -> int:
    """A citizen's comment on a paragraph, pending moderation."""
    row = conn.execute("INSERT INTO consultation_comments (consultation_id, paragraph, text, language, created_at) "
                       "VALUES (%s, %s, %s, %s, %s) RETURNING id",
                       (consultation_id, paragraph, text, language, now)).fetchone()
    assert row is not None
    return int(row[0])


def polls(conn: psycopg.Connection[Any]) -> list[Poll]:
    rows = conn.execute("SELECT id, slug, question_en, question_ur, opens_on, closes_on FROM polls "
                        "ORDER BY closes_on DESC, id DESC LIMIT 200").fetchall()
    options: dict[int, list[tuple[int, str, str]]] = {}
    for pid, n, en, ur in conn.execute("SELECT poll_id, n, label_en, label_ur FROM poll_options ORDER BY poll_id, n"):
        options.setdefault(pid, []).append((n, en, ur))
    return [Poll(r[0], r[1], r[2], r[3], r[4], r[5], tuple(options.get(r[0], ()))) for r in rows]


def poll(conn: psycopg.Connection[Any], slug: str) -> Poll:
    found = next((p for p in polls(conn) if p.slug == slug), None)
    if found is None:
        raise NotFound(slug)
    return found


def votes(conn: psycopg.Connection[Any], poll_id: int | None = None) -> dict[tuple[int, int], int]:
    """{(poll id, option): votes}, of one poll or all."""
    sql = "SELECT poll_id, option, count(*) FROM poll_votes"
    rows = conn.execute(sql + (" WHERE poll_id = %s" if poll_id else "") + " GROUP BY poll_id, option",
                        (poll_id,) if poll_id else ()).fetchall()
    return {(int(p), int(o)): int(c) for p, o, c in rows}


def has_voted(conn: psycopg.Connection[Any], poll_id: int, voter: str) -> bool:
    return conn.execute("SELECT 1 FROM poll_votes WHERE poll_id = %s AND voter = %s", (poll_id, voter)).fetchone() \
        is not None


def vote(conn: psycopg.Connection[Any], poll_id: int, voter: str, option: int, now: datetime) -> bool:
    """Record the vote; False when this voter had voted in this poll already (the first vote stays)."""
    row = conn.execute("INSERT INTO poll_votes (poll_id, voter, option, voted_at) VALUES (%s, %s, %s, %s) "
                       "ON CONFLICT (poll_id, voter) DO NOTHING RETURNING 1", (poll_id, voter, option, now)).fetchone()
    return row is not None


def propose(conn: psycopg.Connection[Any], title: str, text: str, language: str, now: datetime) -> int:
    row = conn.execute("INSERT INTO proposals (title, text, language, created_at) VALUES (%s, %s, %s, %s) "
                       "RETURNING id", (title, text, language, now)).fetchone()
    assert row is not None
    return int(row[0])


def proposals(conn: psycopg.Connection[Any], limit: int = 100_000, offset: int = 0,
              only: int | None = None) -> list[tuple[int, str, str, str, datetime, int]]:
    """The approved proposals (or the one `only`), most supported first: (id, title, text, language, received,
    supports)."""
    return [(int(r[0]), str(r[1]), str(r[2]), str(r[3]), r[4], int(r[5])) for r in conn.execute(
        "SELECT p.id, p.title, p.text, p.language, p.created_at, count(s.voter) FROM proposals p LEFT JOIN "
        "proposal_supports s ON s.proposal_id = p.id WHERE p.state = 'approved' AND (%s::bigint IS NULL OR "
        "p.id = %s) GROUP BY p.id ORDER BY count(s.voter) DESC, p.id LIMIT %s OFFSET %s",
        (only, only, limit, offset))]


def approved_proposals(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT count(*) FROM proposals WHERE state = 'approved'").fetchone()
    return int(row[0]) if row else 0


def support(conn: psycopg.Connection[Any], proposal_id: int, voter: str, now: datetime) -> bool:
    """Support an approved proposal; False when this voter supported it already. NotFound for any other id."""
    with conn.transaction():
        if conn.execute("SELECT 1 FROM proposals WHERE id = %s AND state = 'approved'", (proposal_id,)).fetchone() \
                is None:
            raise NotFound(str(proposal_id))
        row = conn.execute("INSERT INTO proposal_supports (proposal_id, voter, supported_at) VALUES (%s, %s, %s) "
                           "ON CONFLICT DO NOTHING RETURNING 1", (proposal_id, voter, now)).fetchone()
    return row is not None


def pending(conn: psycopg.Connection[Any], limit: int = 100) -> list[Pending]:
    """What waits for moderation, oldest first."""
    rows = conn.execute(
        "(SELECT 'comment', c.id, k.slug || ' ¶' || c.paragraph, c.text, c.language, c.created_at FROM "
        "consultation_comments c JOIN consultations k ON k.id = c.consultation_id WHERE c.state = 'pending' "
        "ORDER BY c.created_at LIMIT %s) UNION ALL (SELECT 'proposal', id, title, text, language, created_at FROM "
        "proposals WHERE state = 'pending' ORDER BY created_at LIMIT %s) ORDER BY 6 LIMIT %s",
        (limit, limit, limit)).fetchall()
    return [Pending(*r) for r in rows]


def moderate(conn: psycopg.Connection[Any], kind: str, item: int, state: str, actor: str, now: datetime) -> None:
    """Approve or reject a pending comment or proposal (audited); NotFound when it is not pending."""
    table = {"comment": "consultation_comments", "proposal": "proposals"}.get(kind)
    if table is None or state not in ("approved", "rejected"):
        raise NotFound(kind)
    with conn.transaction():
        row = conn.execute(f"UPDATE {table} SET state = %s, moderated_at = %s, moderated_by = %s "  # noqa: S608
                           "WHERE id = %s AND state = 'pending' RETURNING id", (state, now, actor, item)).fetchone()
        if row is None:
            raise NotFound(str(item))
        _append(conn, now, actor, f"{kind}:{state}", {"id": item})


def client_attempt(conn: psycopg.Connection[Any], client: str, now: datetime) -> tuple[bool, int]:
    """Count one citizen's action (a comment, a vote, a proposal, a support) of `client` under a row lock, with
    the tracking page's throttle rules (`throttle`): (allowed, seconds until its window ends)."""
    with conn.transaction():
        conn.execute("INSERT INTO participation_clients (client, window_start, attempts) VALUES (%s, %s, 0) "
                     "ON CONFLICT (client) DO NOTHING", (client, now))
        row = conn.execute("SELECT window_start, attempts FROM participation_clients WHERE client = %s FOR UPDATE",
                           (client,)).fetchone()
        assert row is not None
        start, attempts = throttle.counted(row[0] if row[1] else None, int(row[1]), now)
        conn.execute("UPDATE participation_clients SET window_start = %s, attempts = %s WHERE client = %s",
                     (start, attempts, client))
    return throttle.allowed(attempts), throttle.retry_after(start, now)


def purge_clients(conn: psycopg.Connection[Any], now: datetime) -> int:
    return conn.execute("DELETE FROM participation_clients WHERE window_start <= %s",
                        (now - throttle.WINDOW,)).rowcount


# --- open data -----------------------------------------------------------------------------------------------
def paragraph_rows(conn: psycopg.Connection[Any]) -> list[dict[str, str]]:
    """One row per paragraph of every consultation with its comments counted by state."""
    rows = conn.execute(
        "SELECT k.slug, k.title_en, k.title_ur, k.opens_on, k.closes_on, p.n, p.text_en, p.text_ur, "
        "count(c.id) FILTER (WHERE c.state = 'approved'), count(c.id) FILTER (WHERE c.state = 'pending'), "
        "count(c.id) FILTER (WHERE c.state = 'rejected') FROM consultations k JOIN consultation_paragraphs p ON "
        "p.consultation_id = k.id LEFT JOIN consultation_comments c ON c.consultation_id = k.id AND c.paragraph = "
        "p.n GROUP BY k.id, p.consultation_id, p.n ORDER BY k.id, p.n").fetchall()
    return [dict(zip(participation.PARAGRAPH_COLUMNS, map(str, r), strict=True)) for r in rows]


def comment_rows(conn: psycopg.Connection[Any]) -> Iterator[dict[str, str]]:
    """The approved comments (no name or address: none is asked), oldest first."""
    with conn.cursor(name="approved_comments") if not conn.autocommit else conn.cursor() as cur:
        cur.execute("SELECT k.slug, c.paragraph, c.id, c.language, c.text, c.created_at::date FROM "
                    "consultation_comments c JOIN consultations k ON k.id = c.consultation_id WHERE c.state = "
                    "'approved' ORDER BY c.id")
        for r in cur:
            yield dict(zip(participation.COMMENT_COLUMNS, map(str, r), strict=True))


def proposal_rows(conn: psycopg.Connection[Any]) -> list[dict[str, str]]:
    return [dict(zip(participation.PROPOSAL_COLUMNS, (str(i), title, text, language, str(at.date()), str(n)),
                     strict=True))
            for i, title, text, language, at, n in proposals(conn)]


def opendata_files(conn: psycopg.Connection[Any]) -> dict[str, bytes]:
    all_polls = polls(conn)
    shaped = [{"id": p.id, "slug": p.slug, "question_en": p.question_en, "question_ur": p.question_ur,
               "opens_on": p.opens_on, "closes_on": p.closes_on, "options": p.options} for p in all_polls]
    return participation.opendata_files(paragraph_rows(conn), list(comment_rows(conn)),
                                        participation.poll_rows(shaped, votes(conn)), proposal_rows(conn))
