"""Fixtures for the peripheral-model tests (helpers live in periphkit.py)."""

from __future__ import annotations

import pytest

from periphkit import FakeMachine


@pytest.fixture
def machine() -> FakeMachine:
    return FakeMachine()
