"""A fresh instance folder started by several processes at once ends with ONE secret key, which all of them use
(issue 13: four processes starting together made two keys, and users were signed out at random)."""

from __future__ import annotations

import secrets
import threading
from pathlib import Path

import pytest

from app.config import Settings

STARTERS = 6


def test_starters_racing_on_a_fresh_instance_share_one_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The worst interleaving, every time: each starter has found no key file and made its own candidate
    # before any of them stores one (as gunicorn's workers, the worker and the cron may at a first start).
    everyone_checked = threading.Barrier(STARTERS, timeout=30)
    token_urlsafe = secrets.token_urlsafe

    def candidate(nbytes: int) -> str:
        everyone_checked.wait()
        return token_urlsafe(nbytes)

    monkeypatch.setattr(secrets, "token_urlsafe", candidate)
    keys: list[str] = []

    def start() -> None:
        keys.append(Settings.from_env({"LIANDONG_INSTANCE_DIR": str(tmp_path)}).secret_key.get_secret_value())

    starters = [threading.Thread(target=start) for _ in range(STARTERS)]
    for starter in starters:
        starter.start()
    for starter in starters:
        starter.join(60)
    assert len(keys) == STARTERS and len(set(keys)) == 1
    assert (tmp_path / "secret_key").read_text() == keys[0]
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]  # no candidate left behind
