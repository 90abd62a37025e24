"""govcloud's extension of Mayan EDMS, installed as an extra Django app (MAYAN_COMMON_EXTRA_APPS) so that Mayan's
backend loader imports its `authentication_backends` module."""
