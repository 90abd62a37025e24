"""Backups and restore drills.

Two levels: the platform (pgBackRest: the whole PostgreSQL cluster, WAL archived continuously, so any moment
can be restored) and each agency (a logical dump of its databases plus a copy of its bucket, in its own
encrypted restic repository, restorable in place or into a new agency without touching any other).
Every agency backup carries a manifest (row checksums of every table, sha256 of every object) taken from
the same snapshot as the dump, so a restore drill can prove that what comes back is what was there."""
