"""gunicorn's entry point (`govcloud_platform.console.wsgi:app`): the settings the console service wrote."""

from govcloud_platform.console.app import create_app
from govcloud_platform.console.settings import load

app = create_app(load())
