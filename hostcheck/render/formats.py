"""The report formats as an enum (hostcheck.render.Format, made on first use)."""

from enum import StrEnum


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"
    JUNIT = "junit"
    MARKDOWN = "markdown"
    NPD = "npd"
