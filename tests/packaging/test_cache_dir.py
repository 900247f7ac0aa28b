"""Caches live in the user's cache directory (XDG Base Directory Specification), with an override,
and never in the package or the checkout."""

from __future__ import annotations

import pytest

from sim.cachedir import user_cache_dir


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("TLS_FW_SIM_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    return tmp_path / "home"


def test_default_is_dot_cache_in_home(home):
    assert user_cache_dir() == home / ".cache" / "tls-fw-sim"


def test_xdg_cache_home_when_absolute(home, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert user_cache_dir() == tmp_path / "xdg" / "tls-fw-sim"


@pytest.mark.parametrize("value", ["", "relative/cache"])
def test_empty_or_relative_xdg_cache_home_is_ignored(home, monkeypatch, value):
    monkeypatch.setenv("XDG_CACHE_HOME", value)           # the specification: treat as unset
    assert user_cache_dir() == home / ".cache" / "tls-fw-sim"


def test_override_wins(home, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("TLS_FW_SIM_CACHE", str(tmp_path / "mine"))
    assert user_cache_dir() == tmp_path / "mine"


def test_the_pki_cache_lives_under_the_user_cache_directory(home, tmp_path, monkeypatch):
    from sim.tls import certs

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert certs._cache_path(certs.DEFAULT_PKI_SEED).parent == tmp_path / "xdg" / "tls-fw-sim" / "pki"
