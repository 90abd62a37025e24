"""gunicorn's entry point: `govcloud_platform.signing.wsgi:app`, its box from GOVCLOUD_SIGNING_HOME and
GOVCLOUD_SIGNING_CA (box/services/signing.py sets them)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from govcloud_platform.signing.app import create_app

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
app = create_app(Path(os.environ["GOVCLOUD_SIGNING_HOME"]), Path(os.environ["GOVCLOUD_SIGNING_CA"]))
