"""E-participation (issue 16, item 4): consultations on a draft text with comments per paragraph, polls, and
proposals that citizens support; every citizen's text is moderated by the agency's staff before anyone else reads
it; the results are published as open data. Pure decisions and shapes here; `participation_store` does the I/O.

"Once" without accounts: a browser gets a random voter token in a signed cookie at its first vote or support;
only an HMAC of it under the centre's tracking key is stored, unique per poll (per proposal for supports). So a
browser votes once in a poll and supports a proposal once. It is not one person, one vote: someone who clears the
cookie, or uses another browser, can vote again; the per-client throttle (the tracking page's `throttle`, in a
table of its own) bounds how fast one connection can do it. That fits sounding opinion, not binding decisions,
which need citizens identified (see docs/centre.md, "E-participation")."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import re
import secrets
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,48}[a-z0-9]$")
MAX_TITLE = 200
MAX_DRAFT = 30_000  # characters of a draft text (each language): ~60 KB of Urdu, under the pages' 100 KB
COMMENTS_PER_PAGE = 10  # a paragraph's page shows this many comments (at most ~40 KB of Urdu)
MAX_PARAGRAPHS = 200
MAX_COMMENT = 2000
MAX_PROPOSAL_TITLE = 150
MAX_PROPOSAL = 4000
MAX_OPTIONS = 10
STATES = ("pending", "approved", "rejected")
# Unicode's explicit direction controls: a comment could reorder how the next one reads. Control characters go too.
_BIDI = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"))


@dataclass(frozen=True)
class Refusal:
    """Why a staff form or a citizen's text is refused: a key of the pages' words (`texts_participation`)."""

    key: str
    values: tuple[tuple[str, object], ...] = ()


def clean_text(value: str, limit: int) -> str | Refusal:
    """A citizen's or staff member's text as kept: NFC, no control or direction-override characters (new lines
    kept, at most two in a row), trimmed; refused when empty or over `limit` characters."""
    text = unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n")).translate(_BIDI)
    text = "".join(c for c in text if c == "\n" or unicodedata.category(c) != "Cc")
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(line.rstrip() for line in text.split("\n"))).strip()
    if not text:
        return Refusal("p_err_empty")
    if len(text) > limit:
        return Refusal("p_err_too_long", (("n", limit),))
    return text


def paragraphs(draft: str) -> list[str]:
    """A draft text split into paragraphs at blank lines (lines within a paragraph joined by a space)."""
    parts = re.split(r"\n\s*\n", draft.replace("\r\n", "\n").strip())
    return [" ".join(line.strip() for line in p.split("\n") if line.strip()) for p in parts if p.strip()]


@dataclass(frozen=True)
class Draft:
    """A consultation as staff set it up: its title and text in English and/or Urdu (a missing language shows
    the other one, marked with its `lang`), paragraph by paragraph in the same order in both."""

    slug: str
    title_en: str
    title_ur: str
    paragraphs: tuple[tuple[str, str], ...]  # (en, ur) each
    opens_on: date
    closes_on: date


def check_dates(opens: str, closes: str) -> tuple[date, date] | Refusal:
    try:
        start, end = date.fromisoformat(opens.strip()), date.fromisoformat(closes.strip())
    except ValueError:
        return Refusal("p_err_dates")
    if end < start:
        return Refusal("p_err_dates_order")
    return start, end


def check_slug(value: str) -> str | Refusal:
    slug = value.strip().lower()
    return slug if SLUG.match(slug) else Refusal("p_err_slug")


def titles(title_en: str, title_ur: str) -> tuple[str, str] | Refusal:
    """The two titles, cleaned; at least one must be given."""
    out = []
    for value in (title_en, title_ur):
        if not value.strip():
            out.append("")
            continue
        cleaned = clean_text(value, MAX_TITLE)
        if isinstance(cleaned, Refusal):
            return cleaned
        out.append(cleaned.replace("\n", " "))
    if not any(out):
        return Refusal("p_err_title")
    return out[0], out[1]


def check_draft(slug: str, title_en: str, title_ur: str, text_en: str, text_ur: str, opens: str,
                closes: str) -> Draft | Refusal:
    """The staff's consultation form: a slug, a title and a draft text in one language or both (the same number
    of paragraphs when both), open and close dates (inclusive, in the agency's time zone)."""
    checked = check_slug(slug)
    if isinstance(checked, Refusal):
        return checked
    named = titles(title_en, title_ur)
    if isinstance(named, Refusal):
        return named
    split = []
    for text in (text_en, text_ur):
        if len(text) > MAX_DRAFT:
            return Refusal("p_err_too_long", (("n", MAX_DRAFT),))
        cleaned = clean_text(text, MAX_DRAFT) if text.strip() else ""
        split.append(paragraphs(cleaned) if isinstance(cleaned, str) else [])
    en, ur = split
    if not en and not ur:
        return Refusal("p_err_draft")
    if en and ur and len(en) != len(ur):
        return Refusal("p_err_paragraphs", (("en", len(en)), ("ur", len(ur))))
    count = max(len(en), len(ur))
    if count > MAX_PARAGRAPHS:
        return Refusal("p_err_too_many", (("n", MAX_PARAGRAPHS),))
    pairs = tuple((en[i] if en else "", ur[i] if ur else "") for i in range(count))
    dates = check_dates(opens, closes)
    if isinstance(dates, Refusal):
        return dates
    return Draft(checked, named[0], named[1], pairs, dates[0], dates[1])


@dataclass(frozen=True)
class PollDraft:
    slug: str
    question_en: str
    question_ur: str
    options: tuple[tuple[str, str], ...]  # (en, ur) labels
    opens_on: date
    closes_on: date


def check_poll(slug: str, question_en: str, question_ur: str, options_en: str, options_ur: str, opens: str,
               closes: str) -> PollDraft | Refusal:
    """The staff's poll form: a question in one language or both, 2-10 options one per line (the same number in
    both languages when both are given), dates."""
    checked = check_slug(slug)
    if isinstance(checked, Refusal):
        return checked
    named = titles(question_en, question_ur)
    if isinstance(named, Refusal):
        return named
    lists = []
    for text in (options_en, options_ur):
        lines = [line.strip() for line in text.replace("\r", "").split("\n") if line.strip()]
        cleaned = [clean_text(line, MAX_TITLE) for line in lines]
        if any(isinstance(c, Refusal) for c in cleaned):
            return Refusal("p_err_options")
        lists.append([str(c) for c in cleaned])
    en, ur = lists
    if en and ur and len(en) != len(ur):
        return Refusal("p_err_options")
    count = max(len(en), len(ur))
    if not 2 <= count <= MAX_OPTIONS or len(set(en)) != len(en) or len(set(ur)) != len(ur):
        return Refusal("p_err_options")
    dates = check_dates(opens, closes)
    if isinstance(dates, Refusal):
        return dates
    return PollDraft(checked, named[0], named[1],
                     tuple((en[i] if en else "", ur[i] if ur else "") for i in range(count)), dates[0], dates[1])


def is_open(opens_on: date, closes_on: date, today: date) -> bool:
    """Open from its first day to its last, both included, in the agency's time zone (`today` is taken there)."""
    return opens_on <= today <= closes_on


def in_language(en: str, ur: str, lang: str) -> tuple[str, str]:
    """(the text, its language) for a page in `lang`: its own when there is one, else the other's."""
    if lang == "ur":
        return (ur, "ur") if ur else (en, "en")
    return (en, "en") if en else (ur, "ur")


def new_voter() -> str:
    """A browser's voter token (kept in its signed cookie; 128 random bits)."""
    return secrets.token_urlsafe(16)


def voter_key(key: bytes, token: str) -> str:
    """What is stored of a voter token: its HMAC under the centre's key (the token itself never is)."""
    return hmac.new(key, f"voter:{token}".encode(), hashlib.sha256).hexdigest()


def valid_voter(token: object) -> bool:
    return isinstance(token, str) and re.fullmatch(r"[A-Za-z0-9_-]{22}", token) is not None


def moderation(action: str) -> str | None:
    """The state a moderator's button sets (None: not a moderation action)."""
    return {"approve": "approved", "reject": "rejected"}.get(action)


# --- open data -----------------------------------------------------------------------------------------------
OPENDATA_CONSULTATIONS = "opendata/centre-consultations.csv"
OPENDATA_COMMENTS = "opendata/centre-consultation-comments.csv"
OPENDATA_POLLS = "opendata/centre-polls.csv"
OPENDATA_PROPOSALS = "opendata/centre-proposals.csv"
OPENDATA_JSON = "opendata/centre-participation.json"

PARAGRAPH_COLUMNS = ("consultation", "title_en", "title_ur", "opens_on", "closes_on", "paragraph", "text_en",
                     "text_ur", "comments_approved", "comments_pending", "comments_rejected")
COMMENT_COLUMNS = ("consultation", "paragraph", "comment", "language", "text", "received_on")
POLL_COLUMNS = ("poll", "question_en", "question_ur", "opens_on", "closes_on", "option", "label_en", "label_ur",
                "votes", "share_pct")
PROPOSAL_COLUMNS = ("proposal", "title", "text", "language", "received_on", "supports")


def share(part: int, whole: int) -> str:
    """A percentage with one decimal ('' when there is nothing to share)."""
    return f"{100 * part / whole:.1f}" if whole else ""


def poll_rows(polls: Iterable[dict[str, object]], votes: dict[tuple[int, int], int]) -> list[dict[str, str]]:
    """One row per poll option with its votes and share; `polls` carry `id`, `slug`, questions, dates and
    `options` [(n, en, ur)]; `votes` maps (poll id, option n) to a count."""
    rows = []
    for poll in polls:
        pid = int(poll["id"])  # type: ignore[call-overload]
        options: Sequence[tuple[int, str, str]] = poll["options"]  # type: ignore[assignment]
        total = sum(votes.get((pid, n), 0) for n, _, _ in options)
        for n, en, ur in options:
            count = votes.get((pid, n), 0)
            rows.append({"poll": str(poll["slug"]), "question_en": str(poll["question_en"]),
                         "question_ur": str(poll["question_ur"]), "opens_on": str(poll["opens_on"]),
                         "closes_on": str(poll["closes_on"]), "option": str(n), "label_en": en, "label_ur": ur,
                         "votes": str(count), "share_pct": share(count, total)})
    return rows


def to_csv(columns: Sequence[str], rows: Iterable[dict[str, str]]) -> bytes:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue().encode("utf-8")


def opendata_files(paragraph_rows: list[dict[str, str]], comment_rows: list[dict[str, str]],
                   poll_rows_: list[dict[str, str]], proposal_rows: list[dict[str, str]]) -> dict[str, bytes]:
    """{object key: body}: a CSV per table (the opendata app makes each a table) and one JSON with them all.
    Only approved comments and proposals are published, with no name or address (none is asked)."""
    body = json.dumps({"consultations": paragraph_rows, "comments": comment_rows, "polls": poll_rows_,
                       "proposals": proposal_rows}, ensure_ascii=False, indent=1) + "\n"
    return {OPENDATA_CONSULTATIONS: to_csv(PARAGRAPH_COLUMNS, paragraph_rows),
            OPENDATA_COMMENTS: to_csv(COMMENT_COLUMNS, comment_rows),
            OPENDATA_POLLS: to_csv(POLL_COLUMNS, poll_rows_),
            OPENDATA_PROPOSALS: to_csv(PROPOSAL_COLUMNS, proposal_rows),
            OPENDATA_JSON: body.encode("utf-8")}
