"""gunicorn's entry point (`govcloud_platform.console.wsgi:app`): the settings the console service wrote; the usage
sampler and the backup lists' refresher started (one process: `console_conf.WORKERS`)."""

import logging

from govcloud_platform.console.app import create_app
from govcloud_platform.console.members import RedactJoinLinks
from govcloud_platform.console.settings import load

logging.getLogger("gunicorn.access").addFilter(RedactJoinLinks())  # an invitation's token is never logged
app = create_app(load())
app.extensions["govcloud"]["sampler"].start()
app.extensions["govcloud"]["backup_runs"].start()
