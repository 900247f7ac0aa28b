"""What a device-initiated run reports: `ConnectionResult` for each TCP connection the device
opened by itself - where it went (the name DNS gave for the address, the address, the port), what
TLS it spoke (SNI, version, suite), the requests it carried and how each ended, the diagnosis of a
failure (a connection to a port without TLS went to the recording sink) - and `DeviceReport` for
the rest: the console, what ended the run, and the DHCP, DNS and SNTP answers it was given.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sim.vtime import NS_PER_MS

from .requests import RequestResult


@dataclass
class ConnectionResult:
    index: int                                   # 1-based, in the order the device connected
    time_ns: int                                 # when the TCP handshake completed
    device: str                                  # "ip:port" of the device's end
    address: str                                 # the destination address the device used
    port: int
    name: str | None                             # the name DNS last answered with that address
    application: str                             # "tls" | "tcp-sink"
    requests: list[RequestResult] = field(default_factory=list)
    unfinished: RequestResult | None = None      # a request under way when the run stopped
    sessions: list = field(default_factory=list)  # the PeerSession (TLS ports), for the journal
    sink: dict | None = None                     # what the sink received (other ports)
    device_sent: bytes = b""                     # what the firmware's TLS layer handed to TCP for it
    diagnosis: object | None = None
    state: str = ""

    @property
    def info(self) -> dict:
        return self.sessions[0].journal.info if self.sessions else {}

    @property
    def sni(self) -> str | None:
        return self.info.get("sni")

    @property
    def tls_version(self) -> str | None:
        return self.info.get("version") if "suite" in self.info else None

    @property
    def suite(self) -> str | None:
        return self.info.get("suite")

    def describe(self) -> str:
        where = f"{self.address}:{self.port}"
        return f"connection {self.index} to " + (f"{self.name} ({where})" if self.name else where)

    @property
    def outcome(self) -> str:
        """The first request outcome that is not `ok`; `ok` when all were; otherwise what is left."""
        for request in self.requests:
            if request.outcome != "ok":
                return request.outcome
        if self.requests:
            return "ok"
        if self.unfinished is not None:
            return "unfinished"
        return "no request" if self.application == "tls" else "plain TCP"

    @property
    def ok(self) -> bool:
        return self.outcome in ("ok", "no request", "plain TCP")

    def meets_expectation(self) -> bool:
        return all(r.meets_expectation() for r in self.requests)

    def to_dict(self) -> dict:
        out = {"index": self.index, "name": self.name, "address": self.address, "port": self.port,
               "device": self.device, "application": self.application, "time_ms": self.time_ns / NS_PER_MS,
               "sni": self.sni, "tls_version": self.tls_version, "suite": self.suite, "outcome": self.outcome,
               "state": self.state,
               "requests": [r.to_dict() for r in self.requests],
               "unfinished_request": self.unfinished.to_dict() if self.unfinished is not None else None,
               "device_sent_bytes": len(self.device_sent),
               "diagnosis": self.diagnosis.summary if self.diagnosis is not None else None}
        if self.sink is not None:
            out["sink"] = self.sink
        return out


@dataclass
class StopCondition:
    name: str                                    # "requests" | "until-uart" | "until-symbol"
    awaited: str                                 # in words
    reached_ns: int | None = None                # virtual time it was met (None: it was not)

    def to_dict(self) -> dict:
        return {"condition": self.name, "awaited": self.awaited, "reached": self.reached_ns is not None,
                "at_ms": None if self.reached_ns is None else self.reached_ns / NS_PER_MS}


@dataclass
class DeviceReport:
    console: str | None                          # the UART whose output is uart.log (None: no console)
    console_how: str                             # "named" | "auto: the first USART the image wrote to" | ...
    conditions: list[StopCondition] = field(default_factory=list)
    leases: list[dict] = field(default_factory=list)
    dns_answers: list[dict] = field(default_factory=list)
    time_answers: list[dict] = field(default_factory=list)
    date: str = ""                               # the scenario's calendar at its start
    other_uarts: dict[str, int] = field(default_factory=dict)   # bytes printed on UARTs other than the console
    notes: list[str] = field(default_factory=list)

    @property
    def stopped_by(self) -> StopCondition | None:
        """The condition met first (ties: in the order given)."""
        met = [c for c in self.conditions if c.reached_ns is not None]
        return min(met, key=lambda c: c.reached_ns) if met else None

    def to_dict(self) -> dict:
        first = self.stopped_by
        return {"console": self.console, "console_chosen": self.console_how,
                "stopped_by": first.name if first is not None else None,
                "stop_conditions": [c.to_dict() for c in self.conditions],
                "date": self.date, "dhcp": self.leases, "dns": self.dns_answers, "sntp": self.time_answers,
                "other_uarts": self.other_uarts, "notes": self.notes}

    def summary_lines(self) -> list[str]:
        lines = []
        for lease in self.leases:
            if lease.get("event") == "ack":
                lines.append(f"dhcp: {lease.get('address')} leased to {lease.get('mac')} "
                             f"at {lease['time_ns'] / NS_PER_MS:.1f} ms")
        for answer in self.dns_answers:
            got = ", ".join(answer.get("addresses") or []) or answer.get("rcode")
            lines.append(f"dns: {answer.get('name')} {answer.get('type')} -> {got} "
                         f"at {answer['time_ns'] / NS_PER_MS:.1f} ms")
        for answer in self.time_answers:
            lines.append(f"sntp: told {answer.get('told')} "
                         f"at {answer['time_ns'] / NS_PER_MS:.1f} ms")
        first = self.stopped_by
        for c in self.conditions:
            mark = "first" if c is first else ("met" if c.reached_ns is not None else "not met")
            at = f" at {c.reached_ns / NS_PER_MS:.1f} ms" if c.reached_ns is not None else ""
            lines.append(f"stop: {c.awaited}: {mark}{at}")
        lines.append(f"console: {self.console or 'none'} ({self.console_how})")
        lines += [f"note: {n}" for n in self.notes]
        return lines


__all__ = ["ConnectionResult", "DeviceReport", "StopCondition"]
