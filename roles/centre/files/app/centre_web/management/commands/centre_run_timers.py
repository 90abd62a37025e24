"""Fire the SLA timers that are due (`store.run_timers`): a task past its SLA moves along its timer's path (e.g. to
a supervisor's desk); delete the saved answers past their expiry (`store.purge_drafts`); archive the documents of closed
applications with their retention class and delete pending uploads a day old (`housekeeping`). Once, or with
`--every SECONDS` for ever (the role's `-timers` program under supervisord). A round that fails (the database
restarting) is said on stderr and the next round tries again. References are not printed: the log says how many
applications moved."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from centre_core import store
from centre_web import housekeeping, runtime

BATCH = 100  # applications per transaction batch; a round goes on while a batch comes back full


class Command(BaseCommand):
    help = "Fire the SLA timers that are due (once, or every --every seconds)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--every", type=float, default=0.0, help="run for ever, a round every SECONDS")

    def round(self) -> int:
        moved = 0
        while True:
            batch = store.run_timers(runtime.connection(), runtime.now(), limit=BATCH,
                                     calendar=runtime.calendar())
            moved += len(batch)
            if len(batch) < BATCH:
                break
        purged = store.purge_drafts(runtime.connection(), runtime.now())  # saved answers past their 28 days
        if purged:
            self.stdout.write(f"drafts: {purged} expired deleted")
        store.purge_clients(runtime.connection(), runtime.now())  # the tracking throttle's ended windows
        bucket = runtime.bucket()
        if bucket is not None:
            archived = housekeeping.archive_closed(runtime.connection(), bucket, runtime.loaded(), runtime.now())
            if archived:
                self.stdout.write(f"documents: {archived} archived")
            pending = housekeeping.purge_pending(bucket, runtime.now())
            if pending:
                self.stdout.write(f"uploads: {pending} pending past a day deleted")
        return moved

    def handle(self, *args: Any, **options: Any) -> None:
        every = float(options.get("every") or 0.0)
        if every <= 0:
            self.stdout.write(f"timers fired: {self.round()} applications moved")
            return
        while True:
            try:
                moved = self.round()
                if moved:
                    self.stdout.write(f"timers fired: {moved} applications moved")
            except Exception as exc:  # noqa: BLE001 - one failed round (database restarting) never stops the job
                # (a lost connection is opened anew by the next round: runtime.connection)
                self.stderr.write(f"timers: this round failed ({type(exc).__name__}); the next one tries again")
            self.stdout.flush()
            time.sleep(every)
