"""Log formats: readable lines by default, JSON lines with LOG_FORMAT=json."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, process, logger, message (and the error)."""

    def __init__(self, process: str) -> None:
        super().__init__()
        self.process = process

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "process": self.process,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def logging_config(*, process: str, json_lines: bool, level: str) -> dict:
    """Return the LOGGING dict for settings."""
    formatter = (
        {"()": JsonFormatter, "process": process}
        if json_lines
        else {"format": f"%(asctime)s %(levelname)s [{process}] %(name)s: %(message)s"}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "default"}},
        "root": {"handlers": ["console"], "level": level},
        # pgserver narrates every start and exit of the embedded database at INFO.
        "loggers": {"pgserver": {"level": "WARNING"}},
    }
