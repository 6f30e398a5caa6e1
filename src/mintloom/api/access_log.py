"""uvicorn's access log without query strings. A signed render URL's query holds the live
variables (audience data of an ad) and its signature (a capability until it expires); neither
may reach a log file, so a logged request line names its path only."""

from __future__ import annotations

import logging

ACCESS_LOGGER = "uvicorn.access"


class QuerylessAccessLog(logging.Filter):
    """Cuts the query off the path argument of uvicorn's access-log records."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (*args[:2], args[2].split("?", 1)[0], *args[3:])
        return True


def install() -> None:
    """Filter the access logger (once; uvicorn's logging config keeps a logger's filters)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, QuerylessAccessLog) for f in logger.filters):
        logger.addFilter(QuerylessAccessLog())
