"""`govcloud app`: SaaS catalogue (placeholder until the apps layer lands)."""

import typer

app_app = typer.Typer(help="E-government applications deployed per agency.", no_args_is_help=True)
