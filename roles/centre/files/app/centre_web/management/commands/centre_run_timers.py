"""Fire the SLA timers that are due (`store.run_timers`): a task past its SLA moves along its timer's path (e.g. to
a supervisor's desk); delete the saved answers past their expiry (`store.purge_drafts`); archive the documents of closed
applications with their retention class, delete the archived ones whose retention has ended, and delete pending
uploads a day old, publish the scheduled open data (e-participation's results hourly, the transparency figures
daily: `publishing`), then erase the answers and contact addresses of closed applications past their retention
(`housekeeping`); send the
notifications' outbox through the agency's mail service (`mailer`) and its SMS provider (`texter`; without one or
the other, mark what was queued for it `off`).
Once, or with `--every SECONDS` for ever (the role's `-timers` program under supervisord); the outbox is looked
at more often, every `--mail-every` seconds (5), so a code asked for arrives within seconds. A round that fails
(the database restarting) is said on stderr and the next round tries again. References and addresses are not
printed: the log says how many applications moved and how many messages went."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from centre_core import outbox, participation_store, payments_store, store
from centre_web import certificates, g2g, housekeeping, mailer, publishing, receipts, runtime, texter
from centre_web.sms_provider import provider_of

BATCH = 100  # applications per transaction batch; a round goes on while a batch comes back full


class Command(BaseCommand):
    help = "Fire the SLA timers that are due (once, or every --every seconds)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--every", type=float, default=0.0, help="run for ever, a round every SECONDS")
        parser.add_argument("--mail-every", type=float, default=5.0,
                            help="with --every: send the outbox every SECONDS (default 5)")

    def mail_round(self) -> None:
        """Send what is due in the outbox (in batches while they come back full); say counts, never addresses."""
        conf = runtime.mail()
        if conf is None:
            off = outbox.switch_off(runtime.connection(), runtime.now())
            if off:
                self.stdout.write(f"mail: notifications are off (no mail service): {off} not sent")
            return
        smtp = mailer.settings_of(conf, settings.AGENCY_SLUG)
        self.drain("mail", lambda: mailer.deliver(runtime.connection(), smtp, runtime.loaded(), settings.AGENCY_NAME,
                                                  settings.PUBLIC_URL, runtime.now()))

    def drain(self, channel: str, deliver: Callable[[], Any]) -> None:
        """Deliver batches while they come back full (50) and nothing failed; say counts, never addresses."""
        while True:
            done = deliver()
            if done.sent or done.retried or done.dead:
                why = f" ({done.failure})" if done.failure else ""
                self.stdout.write(f"{channel}: {done.sent} sent, {done.retried} to retry, {done.dead} dead{why}")
            if done.failure or done.sent + done.retried + done.dead < 50:
                break

    def sms_round(self) -> None:
        """Send what is due to mobile numbers (in batches while they come back full); counts only."""
        conf = runtime.sms()
        if conf is None:
            off = outbox.switch_off(runtime.connection(), runtime.now(), "sms")
            if off:
                self.stdout.write(f"sms: text messages are off (no SMS provider): {off} not sent")
            return
        provider = provider_of(conf)
        self.drain("sms", lambda: texter.deliver(runtime.connection(), provider, runtime.loaded(),
                                                 settings.AGENCY_SLUG, settings.PUBLIC_URL, runtime.now()))

    def g2g_round(self) -> None:
        """The G2G steps waiting: ask the other agency, go on with its answer (g2g.py); as often as the outbox, so a
        step waits seconds, not a timers' round."""
        asked = g2g.run_steps()
        if asked:
            self.stdout.write(f"g2g: {asked} steps done")

    def round(self) -> int:
        moved = 0
        while True:
            batch = store.run_timers(runtime.connection(), runtime.now(), limit=BATCH,
                                     calendar=runtime.calendar())
            moved += len(batch)
            if len(batch) < BATCH:
                break
        if receipts.signer() is not None:  # e-payments: the fees now owed become bills (payments_store)
            billed = payments_store.make_due_bills(runtime.connection(), runtime.loaded(), runtime.now())
            if billed:
                self.stdout.write(f"payments: {billed} bills made")
            payments_store.purge_nonces(runtime.connection(), runtime.now())
        purged = store.purge_drafts(runtime.connection(), runtime.now())  # saved answers past their 28 days
        if purged:
            self.stdout.write(f"drafts: {purged} expired deleted")
        store.purge_clients(runtime.connection(), runtime.now())  # the tracking throttle's ended windows
        outbox.purge_requests(runtime.connection(), runtime.now())  # "send me a code"'s ended windows
        participation_store.purge_clients(runtime.connection(), runtime.now())  # e-participation's throttle
        bucket = runtime.bucket()
        if bucket is not None:
            archived = housekeeping.archive_closed(runtime.connection(), bucket, runtime.loaded(), runtime.now())
            if archived:
                self.stdout.write(f"documents: {archived} archived")
            gone = housekeeping.delete_expired(runtime.connection(), bucket, runtime.now(), runtime.calendar().zone)
            if gone.deleted or gone.failed:
                self.stdout.write(f"documents: {gone.deleted} deleted at the end of their retention"
                                  + (f", {gone.held} held by their tag" if gone.held else "")
                                  + (f", {gone.failed} to retry" if gone.failed else ""))
            pending = housekeeping.purge_pending(bucket, runtime.now())
            if pending:
                self.stdout.write(f"uploads: {pending} pending past a day deleted")
            published = publishing.round(runtime.connection(), bucket, runtime.loaded(), runtime.now(),
                                         runtime.calendar())  # participation hourly, transparency daily
            if published:
                self.stdout.write(f"open data: {len(published)} files published")
        issued = certificates.issue_due()  # certificates not signed when their application closed
        if issued:
            self.stdout.write(f"certificates: {issued} issued")
        erased = housekeeping.erase_expired(runtime.connection(), runtime.loaded(), runtime.now(),
                                            runtime.calendar().zone)  # after the documents: an application goes last
        if erased:
            self.stdout.write(f"applications: {erased} answers and contact addresses erased at the end of their "
                              "retention")
        return moved

    def handle(self, *args: Any, **options: Any) -> None:
        every = float(options.get("every") or 0.0)
        if every <= 0:
            self.stdout.write(f"timers fired: {self.round()} applications moved")
            self.g2g_round()
            self.mail_round()
            self.sms_round()
            return
        mail_every = max(0.5, min(float(options.get("mail_every") or 5.0), every))
        next_round = 0.0
        while True:
            if time.monotonic() >= next_round:
                next_round = time.monotonic() + every
                try:
                    moved = self.round()
                    if moved:
                        self.stdout.write(f"timers fired: {moved} applications moved")
                except Exception as exc:  # noqa: BLE001 - one failed round (database restarting) never stops the job
                    # (a lost connection is opened anew by the next round: runtime.connection)
                    self.stderr.write(f"timers: this round failed ({type(exc).__name__}); the next one tries again")
            try:
                self.g2g_round()
            except Exception as exc:  # noqa: BLE001 - as for mail (a peer's answers wait for the next round)
                self.stderr.write(f"g2g: this round failed ({type(exc).__name__}); the next one tries again")
            try:
                self.mail_round()
            except Exception as exc:  # noqa: BLE001 - the database restarting: the rows wait for the next round
                self.stderr.write(f"mail: this round failed ({type(exc).__name__}); the next one tries again")
            try:
                self.sms_round()
            except Exception as exc:  # noqa: BLE001 - as for mail
                self.stderr.write(f"sms: this round failed ({type(exc).__name__}); the next one tries again")
            self.stdout.flush()
            time.sleep(mail_every)
