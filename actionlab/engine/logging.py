"""The ``actionlab`` logger (console and log file) and the JSON-lines training log.

Every module logs through ``logging.getLogger(__name__)``; those loggers all sit under
the ``actionlab`` logger that :func:`get_logger` configures, so one call decides the
level and where the lines go for the whole package.
"""
from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from actionlab.engine.distributed import get_dist_info

LOG_FORMAT = '%(asctime)s - %(name)s - %(levelname)s - %(message)s'


def get_logger(name: str = 'actionlab', log_file: str | os.PathLike | None = None,
               log_level: int | str = 'INFO') -> logging.Logger:
    """Configure and return the logger ``name`` (by default the whole package's).

    Messages go to the console (unless the root logger already prints them, e.g.
    after ``logging.basicConfig``) and, when ``log_file`` is given, to that file
    as well. Processes other than rank 0 only log errors and write no file.
    Calling it again is cheap and adds no duplicate handlers.
    """
    logger = logging.getLogger(name)
    rank, _ = get_dist_info()
    level = logging.getLevelName(log_level.upper()) if isinstance(log_level, str) else log_level
    if not isinstance(level, int):
        raise ValueError(f'unknown log_level {log_level!r}; use DEBUG, INFO, WARNING or ERROR')
    logger.setLevel(level if rank == 0 else logging.ERROR)
    if not _prints_to_console(logger):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        logger.addHandler(handler)
    if log_file is not None and rank == 0:
        attach_file_handler(logger, log_file)
    return logger


def _prints_to_console(logger: logging.Logger) -> bool:
    """Whether a console handler on ``logger`` or an ancestor already shows its records."""
    current: logging.Logger | None = logger
    while current is not None:
        if any(isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)
               for h in current.handlers):
            return True
        current = current.parent if current.propagate else None
    return False


def attach_file_handler(logger: logging.Logger, log_file: str | os.PathLike) -> logging.FileHandler:
    """Also write ``logger``'s records to ``log_file``; returns the (possibly existing) handler."""
    path = Path(log_file).resolve()
    for handler in logger.handlers:
        if isinstance(handler, logging.FileHandler) and Path(handler.baseFilename) == path:
            return handler
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, mode='a', encoding='utf-8')
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    logger.addHandler(handler)
    return handler


@contextmanager
def logging_to_file(logger: logging.Logger, log_file: str | os.PathLike) -> Iterator[None]:
    """Within the block, also write ``logger``'s records to ``log_file`` (rank 0 only).

    A handler for that file that was already attached stays; one added here is
    removed and closed at the end.
    """
    if get_dist_info()[0] != 0:
        yield
        return
    before = list(logger.handlers)
    handler = attach_file_handler(logger, log_file)
    try:
        yield
    finally:
        if handler not in before:
            logger.removeHandler(handler)
            handler.close()


def to_jsonable(value: Any, ndigits: int | None = 5) -> Any:
    """``value`` with tensors/NumPy values turned into Python numbers and lists, and
    floats rounded to ``ndigits`` (None: not rounded)."""
    if isinstance(value, torch.Tensor):
        value = value.item() if value.numel() == 1 else value.tolist()
    elif isinstance(value, np.ndarray):
        value = value.tolist()
    elif isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and ndigits is not None:
        return round(value, ndigits)
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v, ndigits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v, ndigits) for v in value]
    return value


class JsonLinesWriter:
    """Appends one JSON object per line to a file (the ``*.log.json`` training log).

    The file is opened for each record, so every line is on disk as soon as it is
    written and a crashed run leaves a readable log.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, record: Mapping[str, Any]) -> None:
        line = json.dumps(to_jsonable(dict(record)))
        with self.path.open('a', encoding='utf-8') as f:
            f.write(line + '\n')


def read_json_log(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The records of a ``*.log.json`` training log (as written by the text logger hook),
    without the leading meta-data line (the one without an ``epoch``).

    A file that is not JSON lines is an error naming the file and the line.
    """
    path = Path(path)
    records = []
    with path.open(encoding='utf-8') as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f'{path}:{number}: not a JSON log line ({e.msg})') from None
            if isinstance(record, dict) and 'epoch' in record:
                records.append(record)
    return records
