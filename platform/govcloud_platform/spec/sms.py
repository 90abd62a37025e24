"""The agency centre's SMS provider in govcloud.yaml (`agencies[].centre.sms`): where the centre's `http-json`
adapter sends its text messages, and the file that holds its bearer key. The key itself is never in the spec: the
spec names a file beside it that only its owner may read (0600 or 0400), so the spec can be reviewed, kept in git
and shown; the apps layer reads the file at deploy and hands the key to the role only in its private variables
file (0600), from which the role writes it to the instance's 0600 `centre.env` in a `no_log` task.

The shapes follow the role's own preflight (roles/centre/tasks/preflight.yml), so a spec that validates is one the
role takes: an https URL on one line, a key of 16 or more characters without whitespace, a sender of up to 15 of
`A-Za-z0-9 +`, a timeout of 1 to 60 seconds."""

from __future__ import annotations

import re
import stat
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

_URL = re.compile(r"^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^\s\"'\\]*)?$")
_SENDER = re.compile(r"^[A-Za-z0-9 +]{0,15}$")
_KEY = re.compile(r"^[^\s]{16,4096}$")
KEY_MAX_BYTES = 4097  # the key and a final newline


class CentreSms(BaseModel):
    """The agency's SMS provider for its centre (docs/centre.md, "Text messages")."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    url: str = Field(..., description="https://host[:port]/path of the provider's send endpoint")
    key_file: str = Field(..., description="the file holding the provider's bearer key (only its owner may read "
                                           "it: chmod 600), relative to this spec file")
    sender: str = Field("", description="the sender name or number the provider shows (up to 15 of A-Za-z0-9 +)")
    ca_file: str | None = Field(None, description="the CA (PEM) that signs the provider's certificate, relative to "
                                                  "this spec file; default: the box CA")
    timeout_s: int = Field(10, ge=1, le=60, description="seconds to wait for the provider's answer")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if len(value) > 500 or not _URL.fullmatch(value):
            raise ValueError(f"{value[:80]!r} is not an https URL of the provider's send endpoint "
                             "(https://host[:port]/path)")
        return value

    @field_validator("sender")
    @classmethod
    def _sender(cls, value: str) -> str:
        if not _SENDER.fullmatch(value):
            raise ValueError("the sender is up to 15 letters, digits, spaces or '+'")
        return value

    @field_validator("key_file", "ca_file")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or len(value) > 1000 or any(ord(c) < 32 for c in value)):
            raise ValueError("a path must be a non-empty single line")
        return value


def key_file_problem(path: Path) -> str | None:
    """Why the key file cannot be used (never quoting its content), or None: a regular file that only its owner may
    read or write, holding one key of 16 or more characters without whitespace (a final newline allowed)."""
    try:
        info = path.lstat()
    except OSError:
        return f"no key file {str(path)!r} (the path is relative to the spec file)"
    if not stat.S_ISREG(info.st_mode):
        return f"{str(path)!r} is not a regular file (a link or a folder is refused)"
    if info.st_mode & 0o077:
        return f"{str(path)!r} may be read by others (mode {stat.S_IMODE(info.st_mode):04o}): chmod 600 it"
    key = read_key(path)
    if key is None:
        return f"{str(path)!r} does not hold one key of 16 or more characters without spaces"
    return None


def read_key(path: Path) -> str | None:
    """The key in the file (a final newline dropped), or None when it is not one."""
    try:
        with path.open("rb") as f:
            raw = f.read(KEY_MAX_BYTES + 1)
    except OSError:
        return None
    text = raw.decode("utf-8", "replace").removesuffix("\n").removesuffix("\r")
    return text if len(raw) <= KEY_MAX_BYTES and _KEY.fullmatch(text) else None
