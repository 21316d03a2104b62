"""Log formats: readable lines by default, JSON lines with LOG_FORMAT=json."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from analyzer_project.request_id import RequestIdFilter


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, process, logger, message (request_id, error)."""

    def __init__(self, process: str) -> None:
        super().__init__()
        self.process = process

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, str] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "process": self.process,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if getattr(record, "request_id", None):
            entry["request_id"] = record.request_id
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class PlainFormatter(logging.Formatter):
    """A readable line: time, level, [process], logger, message, then request_id=… in a request."""

    def __init__(self, process: str) -> None:
        super().__init__(f"%(asctime)s %(levelname)s [{process}] %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        line = super().formatMessage(record)
        request_id = getattr(record, "request_id", None)
        return f"{line} request_id={request_id}" if request_id else line


def logging_config(*, process: str, json_lines: bool, level: str) -> dict:
    """Return the LOGGING dict for settings."""
    formatter = (
        {"()": JsonFormatter, "process": process}
        if json_lines
        else {"()": PlainFormatter, "process": process}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "filters": {"request_id": {"()": RequestIdFilter}},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "filters": ["request_id"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        # pgserver narrates every start and exit of the embedded database at INFO, axes its
        # version at every start; their warnings (failed and locked-out logins) stay.
        "loggers": {"pgserver": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
    }
