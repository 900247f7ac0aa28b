"""Seeded sessions, one per connection: `PeerFactory(policy, seed)()` -> a new PeerSession.

Session n draws its randomness from `SeededRandom(seed, "peer").child("session-<n>")`, so the same
seed and the same client bytes give the same server bytes. A scenario keeps every session for its
artifacts (`keep_sessions=True`, the default: `sessions`, `keylog()`); a long-running server does
not (`keep_sessions=False`), and its sessions are freed once their connection is over.
"""

from __future__ import annotations

from sim.http import DEFAULT_UPLOAD_LIMIT
from sim.peer.session import PeerSession
from sim.seed import SeededRandom
from sim.tls.certs import TestPki, generate_test_pki
from sim.tls.policy import ServerPolicy
from sim.tls.sessions import SessionCache


class PeerFactory:
    """Callable with no args -> a new PeerSession."""

    def __init__(self, policy: ServerPolicy | None = None, seed: int | str | bytes = 1, *,
                 pki: TestPki | None = None, upload_limit: int = DEFAULT_UPLOAD_LIMIT,
                 keep_sessions: bool = True) -> None:
        self.policy = policy or ServerPolicy()
        self.seed = seed
        self.pki = pki or generate_test_pki()
        self.upload_limit = upload_limit
        self.keep_sessions = keep_sessions
        self.session_cache = SessionCache()        # bounded (oldest entries evicted)
        self.sessions: list[PeerSession] = []      # empty unless keep_sessions
        self.created = 0
        self._root = SeededRandom(seed, "peer")

    def __call__(self, *, output_limit: int | None = None) -> PeerSession:
        """A new session; `output_limit` paces it (see PeerSession)."""
        n = self.created
        self.created += 1
        session = PeerSession(self.policy, self._root.child(f"session-{n}"), pki=self.pki,
                              sessions=self.session_cache, name=f"session-{n}", upload_limit=self.upload_limit,
                              output_limit=output_limit)
        if self.keep_sessions:
            self.sessions.append(session)
        return session

    def keylog(self) -> str:
        """NSS key log text for every kept session (one CLIENT_RANDOM line each)."""
        return "".join(line + "\n" for s in self.sessions for line in s.keylog_lines)
