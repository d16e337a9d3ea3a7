"""The advisory lock that keeps two live runs off one ledger."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from .errors import LedgerBusyError, LedgerError

__all__ = ["FileLock"]


class FileLock:
    """An advisory lock on `<ledger>.lock`, released by the OS when the process dies (even kill -9)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no advisory lock, run unguarded
            return
        try:
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise LedgerError(f"cannot create the lock file {self._path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise LedgerBusyError(
                f"the ledger {self._path.with_suffix('')} is in use by another running bulkassoc; "
                "wait for it to finish, or pass --ledger PATH for a separate ledger"
            ) from None
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(self._path))
        except OSError:
            same = False
        if not same:  # the holder removed the file as we locked it: lock the new one
            os.close(fd)
            self.acquire()
            return
        self._fd = fd

    def release(self) -> None:
        """Remove the lock file while still holding it (a clean exit leaves no `.lock` behind), then unlock."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._path)
            os.close(self._fd)
            self._fd = None
