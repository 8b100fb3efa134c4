"""Passwords are hashed with argon2id (pwdlib) and verified safely."""

from __future__ import annotations

from grid.accounts import hash_password, verify_password


def test_hash_is_argon2id_and_verifies():
    hashed = hash_password("s3cret-password")
    assert hashed.startswith("$argon2id$")
    assert verify_password("s3cret-password", hashed)


def test_wrong_password_does_not_verify():
    assert not verify_password("wrong-password", hash_password("s3cret-password"))


def test_same_password_hashes_differently_each_time():
    assert hash_password("same-password") != hash_password("same-password")


def test_malformed_hash_reads_as_wrong_password():
    assert not verify_password("anything", "not-a-hash")
    assert not verify_password("anything", "")
