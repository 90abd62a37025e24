"""Verify the centre's audit trail: every entry's hash, every link to the entry before it, no gap in the sequence
(`centre_core.audit.verify`). Prints the head (last sequence number and hash) for the operator to record
somewhere the agency's database cannot change; given back with `--head SEQ:HASH`, a trail cut short after it
is found too. Exit 0 when intact, 1 when broken (each break named by its sequence number), 2 on a bad --head."""

from __future__ import annotations

import json
import re
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from centre_core import audit, store
from centre_web import runtime

_HEAD = re.compile(r"^([1-9][0-9]{0,18}):([0-9a-f]{64})$")


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain (exit 1 naming each break); prints its head to record elsewhere."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--head", help="SEQ:HASH recorded earlier: the trail must reach it unchanged")
        parser.add_argument("--json", action="store_true", help="one JSON document on stdout")

    def handle(self, *args: Any, **options: Any) -> None:
        head = None
        if options.get("head"):
            match = _HEAD.fullmatch(str(options["head"]).strip())
            if match is None:
                raise CommandError("--head must be SEQ:HASH (a sequence number and a 64-hex SHA-256)", returncode=2)
            head = (int(match.group(1)), match.group(2))
        entries = store.audit_entries(runtime.connection())
        breaks = audit.verify(entries, head=head)
        last = entries[-1] if entries else None
        doc = {"ok": not breaks, "entries": len(entries),
               "head": {"seq": last.seq, "hash": last.hash} if last else None,
               "breaks": [{"seq": b.seq, "reason": b.reason} for b in breaks]}
        if options.get("json"):
            self.stdout.write(json.dumps(doc))
        elif not breaks:
            where = f"head {last.seq}:{last.hash}" if last else "empty"
            self.stdout.write(f"audit trail intact: {len(entries)} entries; {where} (record it elsewhere)")
        if breaks:
            first = breaks[0]
            raise CommandError(f"audit trail broken at entry {first.seq}: {first.reason}"
                               + (f" (and {len(breaks) - 1} more)" if len(breaks) > 1 else ""), returncode=1)
