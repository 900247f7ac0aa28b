"""The server identity of a scenario: which chain the peer presents, what has to be written into
the emulated flash before the image starts, and what the run reports about it.

`scenario_identity(scenario)` turns the scenario's `ServerIdentitySpec` into a
`ScenarioIdentity`, reading and checking everything before anything boots (a bad chain or key, a
key the shell's suite cannot use, an image with no CA to substitute: a `SimError` naming the
problem):

- `test-pki`: per-name leaves under the test roots (`sim.tls.sni_leaves`), valid at the scenario
  date;
- `user`: the user's chain and key (`sim.tls.user_chain`), presented to every client;
- `substitute-trust`: the image's embedded CA certificates found and replaced by same-length
  look-alikes (`sim.tls.trust_substitution`); the patches go into the emulated flash only
  (sim/scenario/boot.py: after the image is loaded, before its first instruction), and the peer
  presents per-name leaves under the look-alikes.

The TLS server itself chooses the chain for each ClientHello among the source's candidates (its
SNI, or the address the client connected to) and journals the choice and why; `report()` gathers
those choices per connection or step for result.json and the console.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sim.tls.identity import FixedIdentities, IdentitySource
from sim.tls.sni_leaves import DEFAULT_DATE, SniLeaves, shared_default_identities
from sim.tls.trust_substitution import FlashPatch, TrustSubstitution, substitute_trust
from sim.tls.user_chain import read_user_identity

from .model import InvalidScenario, Scenario

SUBSTITUTION_CACHE_SIZE = 8          # substitutions kept per process (a look-alike RSA key is seconds of work)
# alerts a client sends when it rejects the server's chain (RFC 5246 §7.2.2)
CERTIFICATE_ALERTS = ("bad_certificate", "unsupported_certificate", "certificate_revoked", "certificate_expired",
                      "certificate_unknown", "unknown_ca")
# what to try next when the device rejects the chain, by mode
REJECTED_HINTS = {
    "test-pki": "the image does not trust the test PKI's chain: if it trusts its own CA, run with --substitute-trust; "
                "with its server's chain and key, give --server-cert/--server-key",
    "user": "the image does not accept your chain: check that it ends at the root the image trusts, names the host "
            "the device asked for (its SNI) and is valid at --date",
    "substituted": "the image rejects even the look-alikes: it may pin the server's key or certificate, or check "
                   "its trust store's bytes (docs/server-identity.md, Limits)",
}


@dataclass(frozen=True)
class ScenarioIdentity:
    mode: str                               # "test-pki" | "user" | "substituted"
    source: IdentitySource                  # what the TLS server chooses from, per ClientHello
    text: str                               # one line: what the peer presents
    at: datetime                            # the scenario date the chains are judged at
    patches: tuple[FlashPatch, ...] = ()    # written into the emulated flash before the first instruction
    substitution: TrustSubstitution | None = None
    details: dict = field(default_factory=dict)      # mode-specific facts for result.json

    @property
    def patch_key(self) -> str:
        return patch_key(self.patches)

    def date_notes(self) -> list[str]:
        """A scenario date outside a root's validity: an image that checks dates rejects every leaf."""
        issuers = self.source.issuers if isinstance(self.source, SniLeaves) else []
        outside = [f"'{i.label}' ({i.cert.not_valid_before_utc:%Y-%m-%d} to {i.cert.not_valid_after_utc:%Y-%m-%d})"
                   for i in issuers if not i.cert.not_valid_before_utc <= self.at <= i.cert.not_valid_after_utc]
        if not outside:
            return []
        return [(f"the scenario's date {self.at:%Y-%m-%dT%H:%M:%SZ} lies outside the validity of "
                 f"{' and '.join(outside)}: an image that checks certificate dates rejects every leaf under "
                 f"{'them' if len(outside) > 1 else 'it'} (choose --date inside it)")]

    def report(self, exchanges=()) -> dict:
        """For result.json (`server_identity`): the mode, the source, for a substitution every
        certificate found and replaced, and what was presented on each TLS session and why."""
        out = {"mode": self.mode, "text": self.text, **self.details}
        if self.substitution is not None:
            described = self.substitution.describe()
            out["replaced"] = described["replaced"]
            out["skipped"] = described["skipped"]
        out["source"] = self.source.describe()
        out["served"] = [served(_exchange_name(x), s) for x in exchanges for s in x.sessions]
        rejected = sorted({s["rejected_with"] for s in out["served"] if s.get("rejected_with")})
        if rejected:
            out["hint"] = f"the device rejected the chain ({', '.join(rejected)}): {REJECTED_HINTS[self.mode]}"
        return out


def _exchange_name(exchange) -> str:
    """'connection 2' for a device's connection, the step ('POST /upload 903 bytes') for a shell step."""
    index = getattr(exchange, "index", None)
    return f"connection {index}" if index is not None else exchange.describe()


def patch_key(patches) -> str:
    """Identifies a set of flash patches: part of the boot cache key ('' for none)."""
    if not patches:
        return ""
    digest = hashlib.sha256()
    for patch in patches:
        digest.update(patch.load_address.to_bytes(4, "little") + len(patch.data).to_bytes(4, "little"))
        digest.update(patch.data)
    return digest.hexdigest()


def served(exchange: str, session) -> dict:
    """What one TLS session presented (the server's own choice, journalled as `identity`)."""
    chosen = session.journal.info.get("identity")
    base = {"exchange": exchange, "session": session.journal.name, "sni": session.journal.info.get("sni")}
    if chosen is None:
        resumed = session.journal.info.get("resumed")
        return {**base, "label": "no certificate (resumed session)" if resumed else
                "no certificate (the handshake ended before one was chosen)", "presented": False}
    leaf = chosen["chain"][0]
    rejected = next((a.get("description") for a in session.journal.alerts() if a.get("direction") == "client->server"
                     and a.get("description") in CERTIFICATE_ALERTS), None)
    return {**base, "presented": True, "rejected_with": rejected,
            "label": f"{chosen['leaf_key']} leaf for {chosen['host']} under {chosen['issuer_label']!r}",
            "source": chosen["source"], "host": chosen["host"], "subject_alt_names": chosen["subject_alt_names"],
            "leaf_subject": chosen["leaf_subject"], "leaf_sha256": leaf["sha256"], "issuer": chosen["issuer"],
            "issuer_label": chosen["issuer_label"], "chain_length": len(chosen["chain"]), "fits": chosen["fits"],
            "why": chosen["why"]}


def scenario_date(scenario: Scenario) -> datetime:
    """The calendar at the scenario's start (what SNTP tells and the RTC holds)."""
    from sim.net.calendar_clock import parse_date

    network = scenario.network
    return parse_date(network.date) if network is not None else DEFAULT_DATE


def scenario_identity(scenario: Scenario) -> ScenarioIdentity:
    """The scenario's server identity, every input checked (a SimError names the first problem)."""
    spec = scenario.identity
    at = scenario_date(scenario)
    if spec.mode == "user":
        return _user(scenario, at)
    if spec.mode == "substitute-trust":
        return _substituted(scenario, at)
    source = shared_default_identities(at)
    roots = " and ".join(repr(root["label"]) for root in source.describe()["roots"])
    return ScenarioIdentity("test-pki", source, f"test PKI: a leaf per SNI name (or for the address without SNI) "
                                                f"under {roots}", at)


def _user(scenario: Scenario, at: datetime) -> ScenarioIdentity:
    spec = scenario.identity
    identity = read_user_identity(spec.cert, spec.key, password=spec.password, at=at)
    needed = _needed_kind(scenario)
    if needed is not None and needed[0] != identity.kind:
        kind, why = needed
        raise InvalidScenario(f"{why} needs an {kind.upper()} certificate but {spec.key} is an "
                              f"{identity.kind.upper()} key: choose an {identity.kind.upper()} suite or leave it out")
    text = (f"your chain from {spec.cert}: {identity.label()}, {len(identity.chain)} certificate(s), "
            f"checked at {at:%Y-%m-%dT%H:%M:%SZ}, presented to every client")
    return ScenarioIdentity("user", FixedIdentities((identity,)), text, at,
                            details={"cert": str(spec.cert), "key": str(spec.key)})


def _needed_kind(scenario: Scenario) -> tuple[str, str] | None:
    """The leaf key type the scenario's TLS settings require, and which setting says so."""
    from sim.tls.suites import UnknownSuiteError, suite_by_name

    policy = scenario.policy
    if policy is not None and getattr(policy, "cert", "any") != "any":
        return policy.cert, "the peer policy"
    if scenario.device is None and scenario.suite != "any":
        try:
            return suite_by_name(scenario.suite).cert_kind, f"--suite {scenario.suite}"
        except UnknownSuiteError:
            return None             # the firmware's shell refuses it, with its own message
    return None


def _substituted(scenario: Scenario, at: datetime) -> ScenarioIdentity:
    elf = scenario.firmware_path()
    seed = substitution_seed(scenario.seed)
    substitution = _substitution(elf, str(scenario.firmware), seed)
    source = substitution.identities(at, seed)
    count = len(substitution.replacements)
    text = (f"trust substitution: {count} CA certificate(s) embedded in {scenario.firmware} replaced by "
            f"same-length look-alikes in emulated flash (the ELF file is not changed); a leaf per SNI name "
            f"under {' and '.join(repr(i.label) for i in substitution.issuers)}")
    return ScenarioIdentity("substituted", source, text, at, patches=tuple(substitution.patches),
                            substitution=substitution)


def substitution_seed(seed: int) -> str:
    """The look-alike keys, serials and leaves follow the scenario seed."""
    return f"scenario seed {seed}"


_SUBSTITUTIONS: dict[tuple, TrustSubstitution] = {}


def _substitution(elf: Path, name: str, seed: str) -> TrustSubstitution:
    data = elf.read_bytes()
    key = (hashlib.sha256(data).hexdigest(), name, seed)
    if key not in _SUBSTITUTIONS:
        if len(_SUBSTITUTIONS) >= SUBSTITUTION_CACHE_SIZE:
            _SUBSTITUTIONS.pop(next(iter(_SUBSTITUTIONS)))
        _SUBSTITUTIONS[key] = substitute_trust(data, seed=seed, image=name)
    return _SUBSTITUTIONS[key]


__all__ = ["ScenarioIdentity", "patch_key", "scenario_date", "scenario_identity", "served", "substitution_seed"]
