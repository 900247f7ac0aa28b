"""Wire constants of TLS 1.0-1.2: versions, record content types, alerts, handshake types, extensions.

Names follow the RFCs (RFC 5246 §6.2.1, §7.2, §7.4; RFC 6066; RFC 7366; RFC 7627; RFC 5746), so the
journal reads like a protocol trace.
"""

from __future__ import annotations

import enum

TLS1_0 = 0x0301
TLS1_1 = 0x0302
TLS1_2 = 0x0303
SUPPORTED_VERSIONS = (TLS1_0, TLS1_1, TLS1_2)

_VERSION_NAMES = {0x0300: "SSL3.0", TLS1_0: "TLS1.0", TLS1_1: "TLS1.1", TLS1_2: "TLS1.2", 0x0304: "TLS1.3"}
# spellings users type: "1.2", "tls1.2", "TLSv1.2", "tls12", "tls1_2", plus "tls1" (Mbed TLS's name)
_VERSION_ALIASES = {
    TLS1_0: ("1.0", "tls1.0", "tlsv1.0", "tlsv1", "tls1", "tls10", "tls1_0"),
    TLS1_1: ("1.1", "tls1.1", "tlsv1.1", "tls11", "tls1_1"),
    TLS1_2: ("1.2", "tls1.2", "tlsv1.2", "tls12", "tls1_2"),
}

MAX_PLAINTEXT = 1 << 14                 # RFC 5246 §6.2.1
MAX_CIPHERTEXT = MAX_PLAINTEXT + 2048   # RFC 5246 §6.2.3
RECORD_HEADER_LEN = 5


def version_name(version: int) -> str:
    return _VERSION_NAMES.get(version, f"{version >> 8}.{version & 0xFF}")


def parse_version(text: str) -> int:
    """'1.2', 'TLSv1.2', 'tls12', ... -> 0x0303; a clear error for anything else."""
    key = text.strip().lower()
    for version, aliases in _VERSION_ALIASES.items():
        if key in aliases:
            return version
    raise ValueError(f"unknown TLS version {text!r}: use one of 1.0, 1.1, 1.2")


class ContentType(enum.IntEnum):
    CHANGE_CIPHER_SPEC = 20
    ALERT = 21
    HANDSHAKE = 22
    APPLICATION_DATA = 23


def content_type_name(value: int) -> str:
    try:
        return ContentType(value).name.lower()
    except ValueError:
        return f"unknown({value})"


class AlertLevel(enum.IntEnum):
    WARNING = 1
    FATAL = 2


class AlertDescription(enum.IntEnum):
    CLOSE_NOTIFY = 0
    UNEXPECTED_MESSAGE = 10
    BAD_RECORD_MAC = 20
    DECRYPTION_FAILED = 21
    RECORD_OVERFLOW = 22
    DECOMPRESSION_FAILURE = 30
    HANDSHAKE_FAILURE = 40
    NO_CERTIFICATE = 41
    BAD_CERTIFICATE = 42
    UNSUPPORTED_CERTIFICATE = 43
    CERTIFICATE_REVOKED = 44
    CERTIFICATE_EXPIRED = 45
    CERTIFICATE_UNKNOWN = 46
    ILLEGAL_PARAMETER = 47
    UNKNOWN_CA = 48
    ACCESS_DENIED = 49
    DECODE_ERROR = 50
    DECRYPT_ERROR = 51
    EXPORT_RESTRICTION = 60
    PROTOCOL_VERSION = 70
    INSUFFICIENT_SECURITY = 71
    INTERNAL_ERROR = 80
    INAPPROPRIATE_FALLBACK = 86
    USER_CANCELED = 90
    NO_RENEGOTIATION = 100
    UNSUPPORTED_EXTENSION = 110
    UNRECOGNIZED_NAME = 112


def alert_name(value: int) -> str:
    try:
        return AlertDescription(value).name.lower()
    except ValueError:
        return f"unknown({value})"


class HandshakeType(enum.IntEnum):
    HELLO_REQUEST = 0
    CLIENT_HELLO = 1
    SERVER_HELLO = 2
    NEW_SESSION_TICKET = 4
    CERTIFICATE = 11
    SERVER_KEY_EXCHANGE = 12
    CERTIFICATE_REQUEST = 13
    SERVER_HELLO_DONE = 14
    CERTIFICATE_VERIFY = 15
    CLIENT_KEY_EXCHANGE = 16
    FINISHED = 20


def handshake_name(value: int) -> str:
    try:
        return "".join(p.capitalize() for p in HandshakeType(value).name.split("_"))
    except ValueError:
        return f"Unknown({value})"


class ExtensionType(enum.IntEnum):
    SERVER_NAME = 0
    MAX_FRAGMENT_LENGTH = 1
    TRUNCATED_HMAC = 4
    STATUS_REQUEST = 5
    SUPPORTED_GROUPS = 10
    EC_POINT_FORMATS = 11
    SIGNATURE_ALGORITHMS = 13
    USE_SRTP = 14
    HEARTBEAT = 15
    ALPN = 16
    SIGNED_CERTIFICATE_TIMESTAMP = 18
    PADDING = 21
    ENCRYPT_THEN_MAC = 22
    EXTENDED_MASTER_SECRET = 23
    RECORD_SIZE_LIMIT = 28
    SESSION_TICKET = 35
    PRE_SHARED_KEY = 41
    SUPPORTED_VERSIONS = 43
    PSK_KEY_EXCHANGE_MODES = 45
    POST_HANDSHAKE_AUTH = 49
    KEY_SHARE = 51
    RENEGOTIATION_INFO = 0xFF01


def extension_name(value: int) -> str:
    try:
        return ExtensionType(value).name.lower()
    except ValueError:
        return f"ext_{value}"


# cipher-suite values that are signals, not suites
TLS_EMPTY_RENEGOTIATION_INFO_SCSV = 0x00FF   # RFC 5746 §3.3
TLS_FALLBACK_SCSV = 0x5600                   # RFC 7507

# RFC 6066 §4: max_fragment_length codes
MAX_FRAGMENT_LENGTHS = {1: 512, 2: 1024, 3: 2048, 4: 4096}
TRUNCATED_MAC_LEN = 10                       # RFC 6066 §7


class TlsAlert(Exception):
    """Raised inside the server to abort the connection with a fatal alert and a reason."""

    def __init__(self, description: AlertDescription, reason: str) -> None:
        super().__init__(f"{alert_name(description)}: {reason}")
        self.description = AlertDescription(description)
        self.reason = reason
