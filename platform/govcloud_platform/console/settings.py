"""The console process's settings: the document the console service writes (`console_conf.settings_document`) and
the secrets it keeps in the box (client secret, session key), read once at start."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from govcloud_platform.box.context import Box

ENV = "GOVCLOUD_CONSOLE_SETTINGS"


@dataclass(frozen=True)
class Settings:
    box: Box
    public_url: str
    issuer: str
    client_id: str
    client_secret: str
    session_key: str
    ca_file: str

    @property
    def redirect_uri(self) -> str:
        from govcloud_platform.box.services.console_conf import CALLBACK

        return self.public_url + CALLBACK


def load(path: str | None = None) -> Settings:
    from govcloud_platform.box.context import Box
    from govcloud_platform.box.services.console_conf import CLIENT_SECRET, SESSION_KEY
    from govcloud_platform.spec.models import Spec

    doc = json.loads(Path(path or os.environ[ENV]).read_text())
    box = Box(home=Path(doc["home"]), spec=Spec.model_validate(doc["spec"]), create=False)
    secret, key = box.secrets.get(CLIENT_SECRET), box.secrets.get(SESSION_KEY)
    if not secret or not key:
        raise RuntimeError("the console's secrets are missing from the box: run `govcloud up`")
    return Settings(box, doc["public_url"], doc["issuer"], doc["client_id"], secret, key, doc["ca_file"])
