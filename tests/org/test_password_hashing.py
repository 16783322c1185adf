"""Passwords are hashed with argon2's strong parameters in every app a county runs; only an app created
with ``testing`` uses argon2-cffi's cheapest profile (the suite signs in hundreds of times)."""

from __future__ import annotations

from pathlib import Path

from argon2 import extract_parameters
from flask import Flask

from app import create_app
from app.org.models import User
from app.org.operations import STRONG_HASHER, TEST_HASHER, check_password, hash_password, password_hasher


def test_a_county_app_hashes_with_the_strong_parameters(tmp_path: Path) -> None:
    county = create_app({"database_url": f"sqlite:///{tmp_path}/x.db", "instance_dir": tmp_path,
                         "secret_key": "k"})
    assert county.config["TESTING"] is False
    with county.app_context():
        assert password_hasher() is STRONG_HASHER
        made = hash_password("correct horse battery")
    params = extract_parameters(made)
    assert (params.time_cost, params.memory_cost, params.parallelism, params.hash_len) == (3, 65536, 4, 32)
    assert (params.type.name, params.salt_len) == ("ID", 16)
    # outside any app (a script importing the operations) the strong one too
    assert password_hasher() is STRONG_HASHER


def test_the_test_app_hashes_cheaply_and_both_kinds_verify_anywhere(app: Flask, tmp_path: Path) -> None:
    with app.app_context():
        assert password_hasher() is TEST_HASHER
        cheap = hash_password("correct horse battery")
    assert extract_parameters(cheap).memory_cost < 65536
    strong = STRONG_HASHER.hash("correct horse battery")
    with app.app_context():  # the parameters travel inside the hash: a strong one verifies here too
        assert check_password(User(password_hash=strong), "correct horse battery")
        assert not check_password(User(password_hash=strong), "wrong horse battery")
        assert check_password(User(password_hash=cheap), "correct horse battery")
