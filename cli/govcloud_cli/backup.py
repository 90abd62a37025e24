"""`govcloud backup`: backups and restore drills (placeholder until the backups layer lands)."""

import typer

backup_app = typer.Typer(help="Backups and restore drills.", no_args_is_help=True)
