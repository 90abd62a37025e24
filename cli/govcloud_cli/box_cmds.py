"""`govcloud up|down|status|logs` and `govcloud box destroy` (placeholder)."""

import typer

box_app = typer.Typer(help="The box itself.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    pass
