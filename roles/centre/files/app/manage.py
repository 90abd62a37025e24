#!/usr/bin/env python3
"""Django's command-line utility for this centre instance (CENTRE_ENV_FILE names its env file)."""
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "centre_web.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
