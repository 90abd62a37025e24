"""What isolation tests do with an agency's credentials (`agency credentials --show-secrets --json`) against
services on another address: connect to its database verify-full, seed a private row and object, and read a
target agency's row with another agency's credentials (False when refused)."""

from __future__ import annotations

from typing import Any

import psycopg

from tests.integration.test_agencies import s3_for


def pg(db: dict[str, Any], dbname: str) -> psycopg.Connection[Any]:
    return psycopg.connect(host=db["host"], port=db["port"], dbname=dbname, user=db["user"],
                           password=db["password"], sslmode="verify-full", sslrootcert=db["sslrootcert"],
                           target_session_attrs=db.get("target_session_attrs", "any"),  # several hosts: the leader
                           connect_timeout=5, autocommit=True)


def seed(creds: dict[str, Any], slug: str) -> None:
    """A table with one private row in the agency's database, and an object in its bucket."""
    with pg(creds["database"], creds["database"]["dbname"]) as conn:
        conn.execute("CREATE TABLE secrets (v text)")
        conn.execute("INSERT INTO secrets VALUES (%s)", (f"private data of {slug}",))
    s3_for(creds["storage"]).put_object(Bucket=creds["storage"]["bucket"], Key="own.txt", Body=slug.encode())


def reads_row(actor: dict[str, Any], target: dict[str, Any], target_slug: str) -> bool:
    """Whether `actor`'s database credentials read `target`'s private row."""
    try:
        with pg(actor["database"], target["database"]["dbname"]) as conn:
            return bool(conn.execute("SELECT v FROM secrets").fetchall() == [(f"private data of {target_slug}",)])
    except psycopg.Error:
        return False
