"""NSS key log lines (the format Wireshark reads, and what a pcapng Decryption Secrets Block holds)."""

from __future__ import annotations


def keylog_line(client_random: bytes, master_secret: bytes) -> str:
    """`CLIENT_RANDOM <64 hex> <96 hex>` for TLS <= 1.2 (also for EMS and resumed sessions)."""
    if len(client_random) != 32 or len(master_secret) != 48:
        raise ValueError("a key log line needs a 32-byte client random and a 48-byte master secret")
    return f"CLIENT_RANDOM {client_random.hex()} {master_secret.hex()}"


def parse_keylog(text: str) -> dict[bytes, bytes]:
    """client_random -> master_secret from NSS key log text (other line types are skipped)."""
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "CLIENT_RANDOM":
            out[bytes.fromhex(parts[1])] = bytes.fromhex(parts[2])
    return out
