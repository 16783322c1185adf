"""The installation's own session-signing key, kept in ``instance/secret_key`` when none is set in the environment.

Apart from the settings (``app.config``) because it is not reading a value but making one, once, safely while
several processes start together."""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from pathlib import Path


def installation_secret_key(instance: Path) -> str:
    """A per-installation key kept in ``instance/`` (never in the repo) unless set in the env.

    Several processes start at once on a fresh instance (gunicorn's workers, the worker, the cron): each
    writes a candidate to a private temporary file and hard-links it to ``secret_key``, which only the
    first link succeeds in; everyone then reads that one file. (Checking for the file and then writing it
    gave two keys to four processes starting together, and users were signed out at random.)"""
    path = instance / "secret_key"
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        fd, candidate = tempfile.mkstemp(prefix=".secret_key.", dir=instance)  # mode 0600
        try:
            os.write(fd, secrets.token_urlsafe(48).encode())
            os.fsync(fd)
            os.close(fd)
            with contextlib.suppress(FileExistsError):
                os.link(candidate, path)  # atomic: the file appears whole, and only once
        finally:
            os.unlink(candidate)
    return path.read_text().strip()
