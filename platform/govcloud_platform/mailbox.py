"""Reading the mail the box delivered: its Postfix's Maildir, `<home>/mail/maildir/all/`, where every recipient's
copy lands (one file each, marked `Delivered-To: <recipient>` by Postfix's virtual agent) unless a relay is set
(docs/mail.md).

For tests and operators. The Citizen's Centre's and the console's tests read the notifications they caused:

    from govcloud_platform.mailbox import delivered, wait_for
    msg = wait_for(box_home, "citizen@example.org", lambda m: "ref" in m["Subject"])
"""

from __future__ import annotations

import time
from collections.abc import Callable
from email import policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser, BytesParser
from pathlib import Path

MAILDIR = ("mail", "maildir", "all")  # below the box home (box.services.mail_conf.MAILDIR)


def maildir(home: Path) -> Path:
    return home.joinpath(*MAILDIR)


def is_for(delivered_to: list[str], address: str) -> bool:
    """Pure: whether a copy whose Delivered-To headers are these was delivered to `address` (case-insensitive:
    Postfix keeps the case the sender wrote). The topmost header is the last delivery's: the box's."""
    return bool(delivered_to) and delivered_to[0].strip().strip("<>").lower() == address.strip().lower()


def delivered(home: Path, address: str) -> list[EmailMessage]:
    """Every message delivered to `address`, oldest first (read, not moved: the Maildir stays as it is)."""
    base = maildir(home)
    files = [f for sub in ("new", "cur") for f in (base / sub).glob("*") if f.is_file()]
    files.sort(key=lambda f: (f.stat().st_mtime, f.name))
    heads, whole = BytesHeaderParser(policy=policy.default), BytesParser(policy=policy.default)
    out = []
    for path in files:
        try:
            raw = path.read_bytes()
        except FileNotFoundError:  # moved from new/ to cur/ by a reader meanwhile
            continue
        if is_for([str(v) for v in heads.parsebytes(raw).get_all("Delivered-To", [])], address):
            msg = whole.parsebytes(raw)
            assert isinstance(msg, EmailMessage)
            out.append(msg)
    return out


def wait_for(home: Path, address: str, match: Callable[[EmailMessage], bool] = lambda _m: True,
             timeout: float = 15.0) -> EmailMessage:
    """The first delivered message to `address` that `match` accepts, waiting up to `timeout` seconds (Postfix
    delivers a moment after it accepted). TimeoutError names the address and how many messages it holds."""
    deadline = time.monotonic() + timeout
    while True:
        messages = delivered(home, address)
        for msg in messages:
            if match(msg):
                return msg
        if time.monotonic() >= deadline:
            raise TimeoutError(f"no matching mail to {address} after {timeout:.0f}s ({len(messages)} delivered)")
        time.sleep(0.1)
