"""Secrets the platform must use again later (a webhook subscriber's or a work-chat robot's signing secret) sealed
at rest.

A password or a token is kept as its hash: the platform only compares. A signing secret cannot be: every
delivery signs with it, so it is kept encrypted (Fernet: AES-128-CBC with an HMAC-SHA256, from
``cryptography``, the well-kept library), under keys that live in the settings, never in the database
(``LIANDONG_ENCRYPTION_KEYS``). A copy of the database (a backup, a restore drill, a support dump) then
holds no usable secret, and reading one needs the running configuration too.

Key rotation is ``MultiFernet``'s: the first key seals, every key opens. To rotate, put a new key first
(``flask webhooks keys new`` prints one), restart, run ``flask webhooks keys reseal`` (every sealed value
re-encrypted under the first key), then drop the old key. docs/api.md, "Secrets at rest".

Without keys set, one key is derived from the secret key (HKDF-SHA256), so a new installation works at
once; a production one sets its own keys, so that changing the secret key (which signs sessions) does not
make its sealed secrets unreadable.

``cryptography`` is imported where it is used (deferred): the shared environment gains it with this change
(pyproject.toml), and the application must start without it until it is installed.
"""

from __future__ import annotations

import base64
from typing import Any

from flask import current_app

__all__ = ["SealError", "new_key", "reseal", "seal", "unseal"]

EXTENSION = "liandong_sealing"
DERIVATION_INFO = b"liandong sealed secrets v1"


class SealError(Exception):
    """A sealed value no configured key opens (a key dropped too early, or a value from another installation)."""


def _derived_key(secret_key: str) -> bytes:
    """HKDF-SHA256 (RFC 5869) of the secret key: one 32-byte Fernet key, stable for the installation."""
    from cryptography.hazmat.primitives import hashes  # deferred: installed with this change (module doc)
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF  # deferred: installed with this change

    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=DERIVATION_INFO)
    return base64.urlsafe_b64encode(derived.derive(secret_key.encode()))


def _keys() -> list[bytes]:
    settings = current_app.config["LIANDONG"]
    listed = [k.strip() for k in settings.encryption_keys.get_secret_value().split(",") if k.strip()]
    return [k.encode() for k in listed] or [_derived_key(settings.secret_key.get_secret_value())]


def _ring() -> Any:
    """The app's ``MultiFernet``, built once per app from its settings."""
    ring = current_app.extensions.get(EXTENSION)
    if ring is None:
        from cryptography.fernet import Fernet, MultiFernet  # deferred: installed with this change (doc)

        ring = current_app.extensions[EXTENSION] = MultiFernet([Fernet(key) for key in _keys()])
    return ring


def seal(secret: str) -> str:
    """The secret encrypted under the first key (a Fernet token: ASCII, about 100 characters more)."""
    return str(_ring().encrypt(secret.encode()).decode("ascii"))


def unseal(sealed: str) -> str:
    """The secret back; :class:`SealError` when no configured key opens it."""
    from cryptography.fernet import InvalidToken  # deferred: installed with this change (module doc)

    try:
        return str(_ring().decrypt(sealed.encode("ascii")).decode())
    except (InvalidToken, UnicodeEncodeError) as exc:
        raise SealError("no configured encryption key opens this secret (LIANDONG_ENCRYPTION_KEYS)") from exc


def reseal(sealed: str) -> str:
    """The same secret sealed under the first key (key rotation); :class:`SealError` as ``unseal``."""
    from cryptography.fernet import InvalidToken  # deferred: installed with this change (module doc)

    try:
        return str(_ring().rotate(sealed.encode("ascii")).decode("ascii"))
    except (InvalidToken, UnicodeEncodeError) as exc:
        raise SealError("no configured encryption key opens this secret (LIANDONG_ENCRYPTION_KEYS)") from exc


def new_key() -> str:
    """A fresh key for ``LIANDONG_ENCRYPTION_KEYS``."""
    from cryptography.fernet import Fernet  # deferred: installed with this change (module doc)

    return str(Fernet.generate_key().decode("ascii"))
