"""Seeded sessions, one per connection: `PeerFactory(policy, seed)()` -> a new PeerSession.

Session n draws its randomness from `SeededRandom(seed, "peer").child("session-<n>")`, so the same
seed and the same client bytes give the same server bytes. A scenario keeps every session for its
artifacts (`keep_sessions=True`, the default: `sessions`, `keylog()`); a long-running server does
not (`keep_sessions=False`), and its sessions are freed once their connection is over.

Every session presents a chain from the factory's one identity source (`identities`; by default
per-name leaves under the test roots valid at `date`, see sim.tls.sni_leaves), so a leaf is issued
once per name, not once per connection.
"""

from __future__ import annotations

from datetime import datetime

from sim.http import DEFAULT_UPLOAD_LIMIT
from sim.peer.session import PeerSession
from sim.seed import SeededRandom
from sim.tls.identity import IdentitySource, PkiChains
from sim.tls.policy import ServerPolicy
from sim.tls.sessions import SessionCache
from sim.tls.sni_leaves import DEFAULT_DATE, shared_default_identities


class PeerFactory:
    """Callable with no args -> a new PeerSession."""

    def __init__(self, policy: ServerPolicy | None = None, seed: int | str | bytes = 1, *,
                 identities: IdentitySource | None = None, date: datetime | None = None, pki=None,
                 upload_limit: int = DEFAULT_UPLOAD_LIMIT, keep_sessions: bool = True) -> None:
        """`identities` or, without it, `date` (the scenario date the default leaves are valid at;
        default the virtual calendar's default); `pki`: the older fixed-chain surface (see TlsServer)."""
        self.policy = policy or ServerPolicy()
        self.seed = seed
        if identities is None:
            identities = PkiChains(pki) if pki is not None else shared_default_identities(date or DEFAULT_DATE)
        self.identities = identities
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
        session = PeerSession(self.policy, self._root.child(f"session-{n}"), identities=self.identities,
                              sessions=self.session_cache, name=f"session-{n}", upload_limit=self.upload_limit,
                              output_limit=output_limit)
        if self.keep_sessions:
            self.sessions.append(session)
        return session

    def keylog(self) -> str:
        """NSS key log text for every kept session (one CLIENT_RANDOM line each)."""
        return "".join(line + "\n" for s in self.sessions for line in s.keylog_lines)
