"""The transparent TLS 1.0-1.2 server peer (sans-IO, on `cryptography`).

protocol    wire constants (versions, content types, alerts, handshake and extension types)
suites      cipher suites with Mbed TLS / IANA / OpenSSL names
groups      ECDHE groups: deterministic ephemeral keys, key agreement
prf         TLS PRF, master secret (incl. RFC 7627), key block, Finished
records     record framing and protection (CBC MtE/EtM, TLS 1.0 implicit IV, truncated HMAC, GCM)
messages    handshake message codecs
policy      ServerPolicy: what a scenario's server accepts
negotiation what the server picks from a ClientHello (version, suite, group, signature, resumption)
sessions    session-ID cache for resumption
states      the server's states and its transition table
trace       the events the server emits for observers (records, checks, alerts, transitions)
server      TlsServer: the state machine (bytes in, bytes and events out); presents the chain
            chosen per ClientHello from an identity source
journal     the record journal (JSON and text), an observer of the trace, with bounded memory
mistakes    known client record-protection mistakes, tried when a MAC or tag fails (an observer)
diagnosis   diagnose(journal, device_sent=..., locate=...): what went wrong and where
keylog      NSS key log lines
certs       the deterministic test PKI (an RSA and a P-256 root, server keys)
identity    ServerIdentity, HelloFacts, choose_identity: which chain to present per ClientHello
sni_leaves  leaves issued per host name under the test roots or look-alike roots
user_chain  the user's own chain and key, checked when loaded
trust_scan  the CA certificates an ELF image embeds (DER, PEM as Mbed TLS reads it)
lookalike   a same-length look-alike of a CA certificate, with a key the peer holds
trust_substitution  look-alikes for an image's trust store as flash patches and leaf issuers

`sim.peer` puts TlsServer and the HTTP app (`sim.http`) on a TCP connection.
"""
