"""Handshake message codecs (RFC 5246 §7.4, RFC 4492/8422 §5, RFC 6066, RFC 7366, RFC 7627, RFC 5746).

Parsing is strict about lengths: every length field must match the bytes that follow, otherwise a
`TlsAlert(decode_error)` says which field. Builders return complete messages (4-byte header +
body), which is also what the Finished hash covers.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from sim.tls.protocol import AlertDescription, ExtensionType, HandshakeType, TlsAlert, extension_name, handshake_name

# The largest ClientHello body RFC 5246 §7.4.1.2 allows: client_version 2 + random 32 +
# session_id 1+32 + cipher_suites 2+(2^16-2) + compression_methods 1+(2^8-1) + extensions 2+(2^16-1).
# A client may send one that large, fragmented over several records (RFC 5246 §6.2.1). No other
# message this server accepts can be longer (it asks for no client certificate), so reassembly
# refuses a larger declared length at once (decode_error) instead of buffering it: a connection
# holds at most this plus one record of handshake bytes. OpenSSL's server uses the same bound
# (CLIENT_HELLO_MAX_LENGTH, ssl/statem/statem_srvr.c).
MAX_CLIENT_HELLO = 2 + 32 + (1 + 32) + (2 + 0xFFFE) + (1 + 0xFF) + (2 + 0xFFFF)     # = 131,396
MAX_HANDSHAKE_MESSAGE = MAX_CLIENT_HELLO


class Reader:
    """Bounds-checked big-endian reader; running out of bytes is decode_error naming the field."""

    def __init__(self, data: bytes, what: str) -> None:
        self.data = data
        self.pos = 0
        self.what = what

    def _need(self, n: int, field_name: str) -> None:
        if self.pos + n > len(self.data):
            raise TlsAlert(AlertDescription.DECODE_ERROR,
                           f"{self.what}: {field_name} needs {n} bytes at offset {self.pos}, "
                           f"only {len(self.data) - self.pos} left")

    def u8(self, name: str) -> int:
        self._need(1, name)
        self.pos += 1
        return self.data[self.pos - 1]

    def u16(self, name: str) -> int:
        self._need(2, name)
        self.pos += 2
        return struct.unpack_from("!H", self.data, self.pos - 2)[0]

    def u24(self, name: str) -> int:
        self._need(3, name)
        self.pos += 3
        return int.from_bytes(self.data[self.pos - 3:self.pos], "big")

    def raw(self, n: int, name: str) -> bytes:
        self._need(n, name)
        self.pos += n
        return self.data[self.pos - n:self.pos]

    def vec8(self, name: str) -> bytes:
        return self.raw(self.u8(f"{name} length"), name)

    def vec16(self, name: str) -> bytes:
        return self.raw(self.u16(f"{name} length"), name)

    @property
    def remaining(self) -> int:
        return len(self.data) - self.pos

    def end(self) -> None:
        if self.remaining:
            raise TlsAlert(AlertDescription.DECODE_ERROR,
                           f"{self.what}: {self.remaining} unexpected trailing bytes at offset {self.pos}")


@dataclass(frozen=True)
class HandshakeMessage:
    msg_type: int
    body: bytes

    @property
    def raw(self) -> bytes:
        return bytes([self.msg_type]) + len(self.body).to_bytes(3, "big") + self.body

    @property
    def name(self) -> str:
        return handshake_name(self.msg_type)


class HandshakeReassembler:
    """Handshake messages may be split across records or several may share one record."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    @property
    def partial(self) -> bool:
        return bool(self._buffer)

    def feed(self, fragment: bytes) -> list[HandshakeMessage]:
        self._buffer += fragment
        out = []
        while len(self._buffer) >= 4:
            length = int.from_bytes(self._buffer[1:4], "big")
            if length > MAX_HANDSHAKE_MESSAGE:
                raise TlsAlert(AlertDescription.DECODE_ERROR,
                               f"{handshake_name(self._buffer[0])} declares {length} bytes, more than "
                               f"the {MAX_HANDSHAKE_MESSAGE} of the largest ClientHello (RFC 5246 §7.4.1.2)")
            if len(self._buffer) < 4 + length:
                break
            out.append(HandshakeMessage(self._buffer[0], bytes(self._buffer[4:4 + length])))
            del self._buffer[:4 + length]
        return out


def message(msg_type: int, body: bytes) -> bytes:
    return bytes([msg_type]) + len(body).to_bytes(3, "big") + body


@dataclass
class ClientHello:
    client_version: int
    random: bytes
    session_id: bytes
    cipher_suites: list[int]
    compression_methods: bytes
    extensions: list[tuple[int, bytes]] = field(default_factory=list)

    def extension(self, ext_type: int) -> bytes | None:
        for t, data in self.extensions:
            if t == ext_type:
                return data
        return None

    def has(self, ext_type: int) -> bool:
        return any(t == ext_type for t, _ in self.extensions)

    # --- decoded extensions (each raises decode_error on a malformed body) --------------------
    def server_name(self) -> str | None:
        data = self.extension(ExtensionType.SERVER_NAME)
        if data is None:
            return None
        r = Reader(data, "server_name extension")
        names = Reader(r.vec16("server_name_list"), "server_name_list")
        r.end()
        host = None
        while names.remaining:
            name_type = names.u8("name_type")
            name = names.vec16("host_name")
            if name_type == 0 and host is None:
                host = name.decode("ascii", errors="replace")
        return host

    def supported_groups(self) -> list[int] | None:
        data = self.extension(ExtensionType.SUPPORTED_GROUPS)
        if data is None:
            return None
        r = Reader(data, "supported_groups extension")
        body = r.vec16("named_group_list")
        r.end()
        if len(body) % 2:
            raise TlsAlert(AlertDescription.DECODE_ERROR, "supported_groups list has an odd length")
        return [int.from_bytes(body[i:i + 2], "big") for i in range(0, len(body), 2)]

    def point_formats(self) -> bytes | None:
        data = self.extension(ExtensionType.EC_POINT_FORMATS)
        if data is None:
            return None
        r = Reader(data, "ec_point_formats extension")
        body = r.vec8("ec_point_format_list")
        r.end()
        if not body:
            raise TlsAlert(AlertDescription.DECODE_ERROR, "ec_point_formats list is empty")
        return body

    def signature_algorithms(self) -> list[tuple[int, int]] | None:
        data = self.extension(ExtensionType.SIGNATURE_ALGORITHMS)
        if data is None:
            return None
        r = Reader(data, "signature_algorithms extension")
        body = r.vec16("supported_signature_algorithms")
        r.end()
        if len(body) % 2 or not body:
            raise TlsAlert(AlertDescription.DECODE_ERROR, "signature_algorithms list is empty or odd")
        return [(body[i], body[i + 1]) for i in range(0, len(body), 2)]

    def max_fragment_length(self) -> int | None:
        data = self.extension(ExtensionType.MAX_FRAGMENT_LENGTH)
        if data is None:
            return None
        if len(data) != 1:
            raise TlsAlert(AlertDescription.DECODE_ERROR, "max_fragment_length extension must be 1 byte")
        return data[0]

    def renegotiation_info(self) -> bytes | None:
        data = self.extension(ExtensionType.RENEGOTIATION_INFO)
        if data is None:
            return None
        r = Reader(data, "renegotiation_info extension")
        value = r.vec8("renegotiated_connection")
        r.end()
        return value


def parse_client_hello(body: bytes) -> ClientHello:
    r = Reader(body, "ClientHello")
    version = r.u16("client_version")
    random = r.raw(32, "random")
    session_id = r.vec8("session_id")
    if len(session_id) > 32:      # SessionID<0..32> (RFC 5246 §7.4.1.2): a length out of range is a decoding error
        raise TlsAlert(AlertDescription.DECODE_ERROR, f"ClientHello session_id is {len(session_id)} bytes (max 32)")
    suites_raw = r.vec16("cipher_suites")
    if len(suites_raw) < 2 or len(suites_raw) % 2:
        raise TlsAlert(AlertDescription.DECODE_ERROR, f"ClientHello cipher_suites length {len(suites_raw)} is not a positive even number")
    compression = r.vec8("compression_methods")
    if not compression:
        raise TlsAlert(AlertDescription.DECODE_ERROR, "ClientHello has no compression methods")
    extensions: list[tuple[int, bytes]] = []
    if r.remaining:
        block = Reader(r.vec16("extensions"), "ClientHello extensions")
        seen = set()
        while block.remaining:
            ext_type = block.u16("extension_type")
            data = block.vec16(f"extension {ext_type} data")
            if ext_type in seen:
                raise TlsAlert(AlertDescription.ILLEGAL_PARAMETER, f"ClientHello repeats extension {ext_type}")
            seen.add(ext_type)
            extensions.append((ext_type, data))
    r.end()
    for ext_type, data in extensions:
        if ext_type in _EMPTY_EXTENSIONS and data:
            raise TlsAlert(AlertDescription.DECODE_ERROR,
                           f"ClientHello {extension_name(ext_type)} extension with {len(data)}-byte "
                           f"extension_data, which must be empty ({_EMPTY_EXTENSIONS[ext_type]})")
    suites = [int.from_bytes(suites_raw[i:i + 2], "big") for i in range(0, len(suites_raw), 2)]
    return ClientHello(version, random, session_id, suites, compression, extensions)


# extensions whose extension_data is empty by definition; anything in it is a decoding error, as
# Mbed TLS answers it (mbedtls/library/ssl_srv.c `ssl_parse_encrypt_then_mac_ext()`,
# `ssl_parse_extended_ms_ext()`)
_EMPTY_EXTENSIONS = {ExtensionType.ENCRYPT_THEN_MAC: "RFC 7366 §2",
                     ExtensionType.EXTENDED_MASTER_SECRET: "RFC 7627 §5.1"}


def extension(ext_type: int, data: bytes = b"") -> bytes:
    return struct.pack("!HH", ext_type, len(data)) + data


def server_hello(version: int, random: bytes, session_id: bytes, suite: int, extensions: list[bytes]) -> bytes:
    body = struct.pack("!H", version) + random + bytes([len(session_id)]) + session_id + struct.pack("!HB", suite, 0)
    if extensions:
        ext = b"".join(extensions)
        body += struct.pack("!H", len(ext)) + ext
    return message(HandshakeType.SERVER_HELLO, body)


def certificate(chain_der: list[bytes]) -> bytes:
    certs = b"".join(len(c).to_bytes(3, "big") + c for c in chain_der)
    return message(HandshakeType.CERTIFICATE, len(certs).to_bytes(3, "big") + certs)


def ecdhe_params(group: int, public: bytes) -> bytes:
    return struct.pack("!BHB", 3, group, len(public)) + public     # curve_type 3 = named_curve


def server_key_exchange(params: bytes, signature: bytes, sig_alg: tuple[int, int] | None) -> bytes:
    body = params
    if sig_alg is not None:                                           # TLS 1.2 only
        body += bytes(sig_alg)
    body += struct.pack("!H", len(signature)) + signature
    return message(HandshakeType.SERVER_KEY_EXCHANGE, body)


def server_hello_done() -> bytes:
    return message(HandshakeType.SERVER_HELLO_DONE, b"")


def finished(verify_data: bytes) -> bytes:
    return message(HandshakeType.FINISHED, verify_data)


def parse_rsa_client_key_exchange(body: bytes, modulus_len: int) -> bytes:
    r = Reader(body, "ClientKeyExchange (RSA)")
    encrypted = r.vec16("EncryptedPreMasterSecret")
    r.end()
    if len(encrypted) != modulus_len:
        raise TlsAlert(AlertDescription.DECODE_ERROR,
                       f"ClientKeyExchange: encrypted premaster is {len(encrypted)} bytes, the RSA modulus is {modulus_len}")
    return encrypted


def parse_ecdhe_client_key_exchange(body: bytes) -> bytes:
    r = Reader(body, "ClientKeyExchange (ECDHE)")
    point = r.vec8("ecdh_Yc")
    r.end()
    if not point:
        raise TlsAlert(AlertDescription.DECODE_ERROR, "ClientKeyExchange: empty ECDHE public value")
    return point
