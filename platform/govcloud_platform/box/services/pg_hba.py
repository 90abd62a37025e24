"""pg_hba.conf of the box, decided apart from writing it (`database.render_hba` writes, the database broker
writes the parts). Every TCP line is `hostssl` with SCRAM, one per client network (`network.client_networks`:
the box's own address, then `--allow-from`); anything else is rejected.

A part (`<box>/pg/hba.d/<key>.conf`, one per agency and per app database) names which roles may reach which
database. Its lines are re-expanded for the networks of the day whenever pg_hba.conf is rendered, so a box
whose address or networks change (`govcloud up --address A --allow-from NET`) needs no part rewritten, and
the parts an older govcloud wrote for 127.0.0.1 follow the box to its address."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

HEADER = "# written by govcloud; agency lines come from <box>/pg/hba.d/*.conf"
# `hostssl "db" "role" <network> scram-sha-256`, as `part_text` writes it (names are validated: no quotes)
_PART_LINE = re.compile(r'^hostssl\s+("[^"\s]+"|[^"\s]+)\s+("[^"\s]+"|[^"\s]+)\s+\S+\s+scram-sha-256$')


def part_text(dbname: str, roles: Sequence[str], networks: Sequence[str]) -> str:
    """The part that lets `roles` reach `dbname` from each of `networks`."""
    return "".join(f'hostssl "{dbname}" "{role}" {net} scram-sha-256\n' for role in roles for net in networks)


def part_entries(text: str) -> tuple[list[tuple[str, str]], list[str]]:
    """((database, role) tokens as written, in order and once each; lines that are not a part's, kept as they
    are). Blank lines and comments are dropped."""
    entries: list[tuple[str, str]] = []
    other: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _PART_LINE.fullmatch(line)
        if match is None:
            other.append(line)
        elif (match[1], match[2]) not in entries:
            entries.append((match[1], match[2]))
    return entries, other


def _column(net: str) -> str:
    return f"{net:<14} "


def hba_text(networks: Sequence[str], parts: Iterable[str], replication: Sequence[str] = ()) -> str:
    """pg_hba.conf: the superuser over the local socket (peer) and over TLS, the IdP's role on its database,
    every part's roles on their databases, each from every client network; then reject everything else.
    `replication`: the database hosts' addresses under Patroni, whose replicas stream from the leader and whose
    pg_rewind reads it (their own roles, from those hosts only)."""
    lines = [HEADER, "local   all  postgres                 peer"]
    for address in replication:
        net = f"{address}/{128 if ':' in address else 32}"
        lines += [f"hostssl replication replicator {net} scram-sha-256",
                  f"hostssl postgres    rewinder   {net} scram-sha-256"]
    lines += [f"hostssl all  postgres  {_column(net)}scram-sha-256" for net in networks]
    # the IdP's role, on its own database (its user store; with a database cluster its configuration and sessions)
    lines += [f"hostssl idp  idp       {_column(net)}scram-sha-256" for net in networks]
    for part in parts:
        entries, other = part_entries(part)
        lines += [f"hostssl {db} {role} {net} scram-sha-256" for db, role in entries for net in networks]
        lines += other
    lines += [f"hostssl all  all       {_column(net)}reject" for net in networks]
    lines.append("host    all  all       0.0.0.0/0      reject")
    return "\n".join(lines) + "\n"
