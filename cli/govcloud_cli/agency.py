"""`govcloud agency` and `govcloud apply` (placeholder until onboarding lands)."""

import typer

agency_app = typer.Typer(help="Agencies (tenants): onboarding, credentials, usage.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Top-level commands owned by this module (`apply`)."""
