"""Errors that several layers raise, and the base every expected error shares.

An expected error is one a user can cause and fix (a bad file, a bad option, a firmware that never
prints what a scenario waits for). Its message names the thing and the fix; the command line turns
every `SimError` into one line and exit status 2. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class SimError(Exception):
    """An error the user can act on; `str(err)` is the whole message."""


class BackendError(SimError, RuntimeError):
    """A backend could not do what was asked; the message says what to fix."""


class ScenarioError(SimError, RuntimeError):
    """The scenario could not run to its end; the message names the cause and shows the UART."""
