"""The manifest stored with every agency backup: row checksums of every table (taken in the same snapshot
as the dump) and sha256 of every object. A drill recomputes both on the restored copy and compares."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from psycopg import sql

VERSION = 1
CHUNK = 1 << 20

# Order-independent: count and the sum of a 64-bit hash of each row. Cheap enough to run on every backup
# (one sequential scan per table) yet any changed, missing or extra row changes it. hash_record_extended
# hashes typed values (2x faster than hashing the row's text) but some types (json, point, xml) have no
# hash function: those tables fall back to the text form.
_CHECKSUM = "SELECT count(*), 'r' || coalesce(sum(hash_record_extended(t, 0)), 0)::text FROM {}.{} AS t"
_CHECKSUM_TEXT = "SELECT count(*), 't' || coalesce(sum(hashtextextended(t::text, 0)), 0)::text FROM {}.{} AS t"


def table_checksums(conn: Any) -> dict[str, dict[str, Any]]:
    """{"schema.table": {"rows": n, "checksum": "..."}} for every user table of the connected database."""
    tables = conn.execute(
        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
        "AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%' ORDER BY 1, 2").fetchall()
    out: dict[str, dict[str, Any]] = {}
    import psycopg

    for schema, table in tables:
        name = (sql.Identifier(schema), sql.Identifier(table))
        try:
            with conn.transaction():  # a savepoint: the snapshot's transaction survives a fallback
                rows, checksum = conn.execute(sql.SQL(_CHECKSUM).format(*name)).fetchone()
        except psycopg.errors.UndefinedFunction:
            rows, checksum = conn.execute(sql.SQL(_CHECKSUM_TEXT).format(*name)).fetchone()
        out[f"{schema}.{table}"] = {"rows": int(rows), "checksum": str(checksum)}
    return out


def sha256_stream(chunks: Iterator[bytes] | BinaryIO, sink: BinaryIO | None = None) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    source = iter(lambda: chunks.read(CHUNK), b"") if hasattr(chunks, "read") else chunks
    for chunk in source:
        digest.update(chunk)
        size += len(chunk)
        if sink is not None:
            sink.write(chunk)
    return digest.hexdigest(), size


def sha256_file(path: Path) -> tuple[str, int]:
    with path.open("rb") as fh:
        return sha256_stream(fh)


@dataclass
class Comparison:
    """Differences between what the manifest promised and what a restored copy holds."""

    tables_checked: int = 0
    objects_checked: int = 0
    mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "tables_checked": self.tables_checked, "objects_checked": self.objects_checked,
                "mismatches": self.mismatches}


def compare_tables(database: str, expected: dict[str, dict[str, Any]], actual: dict[str, dict[str, Any]],
                   into: Comparison) -> None:
    for name in sorted(set(expected) | set(actual)):
        into.tables_checked += 1
        want, got = expected.get(name), actual.get(name)
        if want is None:
            into.mismatches.append(f"{database}: table {name} is in the restore but not in the manifest")
        elif got is None:
            into.mismatches.append(f"{database}: table {name} is missing from the restore")
        elif want != got:
            into.mismatches.append(
                f"{database}: table {name}: {got['rows']} rows, checksum {got['checksum']} "
                f"(manifest: {want['rows']} rows, checksum {want['checksum']})")


def compare_objects(expected: dict[str, dict[str, Any]], actual: dict[str, str], into: Comparison) -> None:
    """`expected` is the manifest's objects, `actual` maps key -> sha256 read back from the restored bucket."""
    for key in sorted(set(expected) | set(actual)):
        into.objects_checked += 1
        if key not in expected:
            into.mismatches.append(f"object {key!r} is in the restore but not in the manifest")
        elif key not in actual:
            into.mismatches.append(f"object {key!r} is missing from the restore")
        elif expected[key]["sha256"] != actual[key]:
            want = expected[key]["sha256"]
            into.mismatches.append(f"object {key!r}: sha256 {actual[key][:12]}… (manifest {want[:12]}…)")
