"""Writing files that other processes read while they change, and reading them tolerantly.

Every file that is replaced is written to a temporary name, fsynced and renamed,
so a kill at any moment leaves either the old or the new version, never half.
Append-only logs (JSON lines) may end in one torn line after a kill; readers
skip it. Nothing here imports torch: collecting results and querying run states
stay cheap.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Iterable, Optional

from attnxfer_core.errors import UserError

TMP_MARK = ".tmp-"
# Fault injection for the kill-anywhere harness: writes pause half-way for this many seconds,
# so that a kill can be aimed at the moment a checkpoint or summary is being written.
SLOW_WRITES_ENV = "ATTNXFER_SLOW_WRITES"


def atomic_write_bytes(path: Path, data: bytes, durable: bool = True) -> None:
    """Write to a temporary name, fsync, rename over ``path``, fsync the directory.

    Readers always see the old or the new file whole. ``durable=False`` skips the fsyncs
    (the file survives a process kill but maybe not a power cut): for caches and throwaway
    files written by the thousand.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}{TMP_MARK}{os.getpid()}")
    pause = float(os.environ.get(SLOW_WRITES_ENV, 0) or 0)
    with open(tmp, "wb") as handle:
        if pause:
            handle.write(data[: len(data) // 2])
            handle.flush()
            time.sleep(pause)
            handle.write(data[len(data) // 2:])
        else:
            handle.write(data)
        handle.flush()
        if durable:
            os.fsync(handle.fileno())
    os.replace(tmp, path)
    if durable:
        _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_json(path: Path, data: Any, durable: bool = True) -> None:
    atomic_write_bytes(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode(), durable)


def jsonl_text(records: Iterable[dict]) -> str:
    return "".join(json.dumps(r, sort_keys=True) + "\n" for r in records)


def append_jsonl(path: Path, records: Iterable[dict], durable: bool = True) -> None:
    """Append records as JSON lines (flushed, and fsynced when ``durable``)."""
    lines = jsonl_text(records)
    if not lines:
        return
    with open(path, "a") as handle:
        handle.write(lines)
        handle.flush()
        if durable:
            os.fsync(handle.fileno())


def read_json_record(path: Path) -> Optional[dict]:
    """A JSON record another process may be replacing or removing right now: None when it
    is absent or unreadable, never an exception (readers scan while jobs write)."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):  # JSONDecodeError, and UnicodeDecodeError for bytes that are no text
        return None


def read_jsonl(path: Path) -> list[dict]:
    """Records of a JSON-lines file; a torn (half-written) last line is ignored."""
    path = Path(path)
    if not path.exists():
        return []
    records = []
    lines = path.read_bytes().split(b"\n")
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if i >= len(lines) - 2:  # only the last line may be torn
                break
            raise UserError(f"{path}: line {i + 1} is not JSON") from None
    return records
