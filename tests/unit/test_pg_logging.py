"""What PostgreSQL logs (box/services/database.py): no statement text, parameters or failing rows by default."""

from __future__ import annotations

from govcloud_platform.box.services.database import logging_settings


def test_private_by_default() -> None:
    s = logging_settings(False)
    assert s["log_statement"] == "'none'" and s["log_min_error_statement"] == "panic"
    assert s["log_error_verbosity"] == "terse" and s["log_min_duration_statement"] == "-1"
    assert s["log_parameter_max_length"] == s["log_parameter_max_length_on_error"] == "0"
    assert "%a" not in s["log_line_prefix"]  # application_name: whatever the client sends


def test_an_operator_may_log_failing_statements() -> None:
    s = logging_settings(True)
    assert s["log_min_error_statement"] == "error" and s["log_error_verbosity"] == "default"
    assert s["log_parameter_max_length_on_error"] == "-1"
    assert s["log_statement"] == "'none'" and s["log_parameter_max_length"] == "0"  # still not every statement
