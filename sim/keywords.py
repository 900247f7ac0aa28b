"""Robot Framework keywords for the scenarios.

Where Renode has a keyword with the same meaning, this library uses its name and arguments
(`Create Terminal Tester`, `Wait For Line On Uart`, `Write Line To Uart`, `Start Emulation`,
`Reset Emulation`, `Wait For Gdb Connection`), so a suite reads the same on both backends. The
domain keywords drive the peer, the HTTPS steps and the journal.

    Library    sim.keywords.SimKeywords    backend=${BACKEND}    seed=${SEED}

Every test starts from the booted firmware's snapshot (`Start Emulation`); the boot itself happens
once per firmware image (per process: under pabot each process boots the images its tests use).
UART timeouts are virtual seconds, as in Renode's terminal tester. Artifacts go to
`<output dir>/artifacts/<suite>/<test>/`, under pabot to the same place in pabot's output directory.

Two kinds of scenario: the reference images are driven through their shell (`HTTPS GET`,
`HTTPS POST`); an image that acts by itself is run with `Use Firmware    ELF    device_initiated=True`
and followed with `Wait For Connection`, `Wait For Request` and the assertions on its requests and
on the DHCP, DNS and SNTP answers it was given. `Set Network Date`, `Map Dns Name`, `Make Dns Name
Absent` and `Set Tls Ports` shape the virtual network for the next `Start Emulation`; `Set Server
Identity` chooses the chain the peer presents (the test PKI, your own chain and key, or look-alikes
of the image's own CA certificates substituted in emulated flash), and `Served Identity Should Be`
checks what a connection or step was presented.

The defect gallery's keywords (`Diagnose HTTPS POST`, `Cause Should Be`, `Smallest Failing Size
Should Be`, ...) come from `sim.gallery_keywords.GalleryKeywords`, which this library includes.
"""

from __future__ import annotations

import re
from pathlib import Path

from robot.api import logger
from robot.api.deco import keyword, library
from robot.libraries.BuiltIn import BuiltIn, RobotNotRunningError

from sim.errors import SimError
from sim.gallery_keywords import GalleryKeywords
from sim.platform import DEFAULT_REPL
from sim.scenario import (CONSOLE_AUTO, PEER_PORT, DeviceInitiated, DeviceRunner, LinkFault, RequestResult, Scenario,
                          ScenarioError, ScenarioRunner, ServerIdentitySpec, Step, StepResult, boot_scenario,
                          scenario_identity, shell)
from sim.scenario.model import default_on_unmapped

_DEFAULT_TIMEOUT = 8.0            # Renode's DEFAULT_UART_TIMEOUT
_STOPPED_BY_SIGNAL = "Execution terminated by signal"   # Robot's message for a test Ctrl-C stopped


@library(scope="SUITE", auto_keywords=False)
class SimKeywords(GalleryKeywords):
    def __init__(self, backend: str = "builtin", seed: int | str = 1, repl: str | None = None) -> None:
        self.backend = backend or "builtin"
        self.seed = int(seed)
        self.repl = Path(repl) if repl else DEFAULT_REPL
        self.firmware = "fixed"
        self.device_initiated = False
        self.console = CONSOLE_AUTO
        self.on_unmapped = "fault"
        self.policy_args: dict = {}
        self.network_args: dict = {}
        self.identity = ServerIdentitySpec()
        self.faults: list[LinkFault] = []
        self.runner: ScenarioRunner | DeviceRunner | None = None
        self.steps: list[StepResult] = []
        self.default_timeout = _DEFAULT_TIMEOUT
        self.gdb_port: int | None = None
        self.debugger = None

    # --- Renode-compatible keywords ---------------------------------------------------------------
    @keyword("Reset Emulation")
    def reset_emulation(self) -> None:
        """Forget the running scenario; the next `Start Emulation` starts from the boot snapshot."""
        self.runner = None
        self.steps = []
        self.faults = []
        self.policy_args = {}
        self.network_args = {}
        self.identity = ServerIdentitySpec()

    @keyword("Start Emulation")
    def start_emulation(self) -> None:
        """Boot the firmware (once per image and seed) and start a scenario from its snapshot."""
        from sim.net import InternetConfig
        from sim.tls.policy import ServerPolicy

        device = DeviceInitiated(console=self.console, expect="any") if self.device_initiated else None
        scenario = Scenario(firmware=self.firmware, seed=self.seed, repl=self.repl, backend=self.backend,
                            policy=ServerPolicy(**self.policy_args), faults=tuple(self.faults),
                            network=InternetConfig(**self.network_args), device=device,
                            on_unmapped=self.on_unmapped, identity=self.identity)
        try:
            identity = scenario_identity(scenario)
        except SimError as exc:
            raise AssertionError(f"Set Server Identity: {exc}") from None
        logger.info(f"server identity: {identity.text}")
        if self.backend == "renode":
            self._refuse_output_dir_renode_deletes()
        booted = boot_scenario(scenario, identity)
        self._serve_gdb_if_asked(booted)
        runner_class = DeviceRunner if device is not None else ScenarioRunner
        try:
            self.runner = runner_class(scenario, None, booted=booted, debugger=self.debugger)
        except ScenarioError as exc:
            raise AssertionError(str(exc)) from None
        self.steps = []
        where = "reset" if booted.at_reset else "the boot snapshot"
        logger.info(f"started {Path(str(scenario.firmware_path())).name} on {self.backend} from {where} "
                    f"(boot took {booted.boot_wall_s:.2f} s wall once)")

    def _refuse_output_dir_renode_deletes(self) -> None:
        from sim.renode.temp_sweep import refuse_swept

        try:
            output_dir = BuiltIn().get_variable_value("${OUTPUT DIR}")
        except RobotNotRunningError:
            return
        try:
            refuse_swept(output_dir, "the output directory")
        except SimError as exc:
            raise AssertionError(str(exc)) from None

    @keyword("Create Terminal Tester")
    def create_terminal_tester(self, uart: str = "sysbus.usart1", timeout: float | str = _DEFAULT_TIMEOUT,
                               machine: str | None = None) -> int:
        """Renode-style tester on a UART; returns the tester id. In a shell-driven scenario only
        `usart1` carries the shell; in a device-initiated one the tester's UART is the console."""
        name = uart.split(".")[-1]
        if self.device_initiated:
            if self.runner is not None and self.runner.console not in (None, name):
                raise AssertionError(f"the console is already {self.runner.console}; create the tester before "
                                     f"Start Emulation")
            self.console = name
        elif name != "usart1":
            raise AssertionError(f"only sysbus.usart1 carries the firmware's shell, not {uart}")
        self.default_timeout = float(timeout)
        return 0

    @keyword("Wait For Line On Uart")
    def wait_for_line_on_uart(self, content: str, timeout: float | str | None = None, testerId: int | None = None,
                              treatAsRegex: bool = False, includeUnfinishedLine: bool = False) -> str:
        """Run the emulation until a UART line contains `content` (or matches it as a regex);
        with `includeUnfinishedLine` the line being printed counts before its end of line."""
        runner = self._runner()
        pattern = content if _truthy(treatAsRegex) else re.escape(content)
        try:
            match = runner.wait_for_line(pattern, timeout_s=float(timeout or self.default_timeout),
                                         awaited=f"'{content}' on {getattr(runner, 'console', None) or 'usart1'}",
                                         partial_line=_truthy(includeUnfinishedLine))
        except ScenarioError as exc:
            raise AssertionError(str(exc)) from None
        return match.string

    @keyword("Write Line To Uart")
    def write_line_to_uart(self, content: str, testerId: int | None = None) -> None:
        self._runner().write_line(content)

    @keyword("Wait For Gdb Connection")
    def wait_for_gdb_connection(self, port: int | str | None = None, timeout: float | str = 300) -> None:
        """Serve GDB on `port` (or ${GDB_PORT}, else 3333) and halt the firmware until a debugger
        attaches and continues. `timeout`: wall seconds to wait for the connection; the time GDB
        then holds the firmware halted counts against no limit (virtual time stands still)."""
        booted = boot_scenario(self._scenario_shape())
        self._attach_gdb(booted, int(port or self._gdb_port_variable() or 3333), wait=True, timeout=float(timeout))

    def _gdb_port_variable(self) -> int | None:
        try:
            value = BuiltIn().get_variable_value("${GDB_PORT}", None)
        except RobotNotRunningError:
            return None
        return int(value) if value not in (None, "") else None

    def _serve_gdb_if_asked(self, booted) -> None:
        """With `--variable GDB_PORT:N` every test runs under a GDB server on N: attach any time."""
        port = self._gdb_port_variable()
        if port is not None and (self.debugger is None or self.debugger.machine is not booted.backend):
            self._attach_gdb(booted, port, wait=False, timeout=300.0)

    def _attach_gdb(self, booted, port: int, *, wait: bool, timeout: float | None = None) -> None:
        from sim.gdb import attach_debugger

        if self.debugger is not None:
            self.debugger.close("the Robot suite moved on to another GDB server")
        self.debugger = attach_debugger(booted.backend, port, wait=wait, log=logger.console,
                                        connect_timeout_s=timeout)
        if self.runner is not None and self.runner.machine is booted.backend:
            self.runner.debugger = self.debugger
            self.debugger.bind(self.runner)

    # --- setting up a scenario --------------------------------------------------------------------
    @keyword("Use Firmware")
    def use_firmware(self, firmware: str, device_initiated: bool | str = False, console: str = CONSOLE_AUTO,
                     on_unmapped: str | None = None) -> None:
        """A reference variant built into build/firmware (`fixed`, `seedbug`, `autopost-fixed`,
        `autopost-prod-seedbug`, ...), or the path of your own ELF.

        With `device_initiated=True` nothing is typed: the image starts from reset and acts by
        itself; `console` names its log UART (`usart2`, ...), `auto` (the first one it writes to,
        the default) or `none`. `on_unmapped`: `fault` or `warn` (unmodelled hardware reads 0 and
        is listed in result.json); by default `fault` for the reference images, `warn` for yours."""
        self.firmware = firmware
        self.device_initiated = _truthy(device_initiated)
        self.console = console
        self.on_unmapped = on_unmapped or default_on_unmapped(firmware)
        self.runner = None

    def _scenario_shape(self) -> Scenario:
        from sim.net import InternetConfig

        device = DeviceInitiated(console=self.console, expect="any") if self.device_initiated else None
        return Scenario(firmware=self.firmware, seed=self.seed, repl=self.repl, backend=self.backend, device=device,
                        on_unmapped=self.on_unmapped, identity=self.identity,
                        network=InternetConfig(**self.network_args))

    # --- the virtual network (for the next Start Emulation) ---------------------------------------
    @keyword("Set Network Date")
    def set_network_date(self, date: str) -> None:
        """The calendar at the start of the scenario (SNTP answers, the RTC), e.g. `2024-05-01T12:00:00Z`."""
        from sim.net.calendar_clock import parse_date

        parse_date(date, option="the network date")
        self.network_args["date"] = date

    @keyword("Map Dns Name")
    def map_dns_name(self, name: str, *addresses: str) -> None:
        """Resolve `name` to `addresses` (every other name resolves to the peer)."""
        if not addresses:
            raise AssertionError(f"Map Dns Name needs at least one address for {name}")
        self.network_args.setdefault("names", {})[name] = list(addresses)

    @keyword("Make Dns Name Absent")
    def make_dns_name_absent(self, name: str) -> None:
        """Answer `name` with NXDOMAIN."""
        self.network_args["absent_names"] = tuple(self.network_args.get("absent_names", ())) + (name,)

    @keyword("Set Tls Ports")
    def set_tls_ports(self, *ports: int | str) -> None:
        """The TCP ports where the TLS peer answers (default 443 and 8443); others get a recording sink."""
        self.network_args["tls_ports"] = tuple(int(p) for p in ports)

    # --- the server's identity (for the next Start Emulation) ---------------------------------------
    @keyword("Set Server Identity")
    def set_server_identity(self, mode: str = "test-pki", cert: str | None = None, key: str | None = None,
                            password: str | None = None) -> None:
        """Which chain the peer presents:

        - `test-pki` (the default): a leaf per SNI name under the test roots - what an image built to
          trust the test CA accepts, and an image that does not verify the server at all;
        - `user    cert=chain.pem    key=key.pem    [password=...]`: your chain (PEM, leaf first) and
          its key (RSA or ECDSA), checked at `Start Emulation` against the network date;
        - `substitute-trust`: every CA certificate the image embeds is replaced by a same-length
          look-alike in emulated flash (the ELF file is not changed), and the peer presents leaves
          per SNI name under the look-alikes.

        Like `python -m sim run --server-cert/--server-key` and `--substitute-trust`."""
        self.identity = ServerIdentitySpec(mode, cert=cert or None, key=key or None, password=password)

    @keyword("Served Identity Should Be")
    def served_identity_should_be(self, exchange, mode: str, issuer: str | None = None) -> dict:
        """What the peer presented on a connection, request or step: `mode` is `test-pki`, `user`
        or `substituted` (`substitute-trust`), `issuer` a text the issuing CA's name contains.
        Returns the choice (host, leaf, issuer, why) as the journal holds it."""
        if isinstance(exchange, RequestResult):
            exchange = self._device_runner().connection_result(exchange.connection - 1)
        sessions = getattr(exchange, "sessions", None)
        if not sessions:
            raise AssertionError(f"{exchange!r} carried no TLS session")
        want = "substituted" if mode == "substitute-trust" else mode
        chosen = sessions[0].journal.info.get("identity")
        if chosen is None:
            raise AssertionError(f"{exchange.describe()}: the peer presented no certificate (resumed, or the "
                                 f"handshake ended before the ClientHello was read)")
        if chosen.get("source") != want:
            raise AssertionError(f"{exchange.describe()} was presented a {chosen.get('source')} chain, not {want}: "
                                 f"{chosen.get('why')}")
        if issuer and issuer not in chosen.get("issuer_label", "") and issuer not in chosen.get("issuer", ""):
            raise AssertionError(f"{exchange.describe()} was presented a leaf under {chosen.get('issuer_label')!r} "
                                 f"({chosen.get('issuer')}), not under {issuer!r}")
        logger.info(f"{exchange.describe()}: {chosen.get('why')}")
        return chosen

    @keyword("Set Peer Policy")
    def set_peer_policy(self, **options) -> None:
        """Narrow what the peer accepts, e.g. `versions=1.2    suites=TLS-RSA-WITH-AES-128-GCM-SHA256`.

        Comma-separated values become lists; true/false become booleans."""
        parsed = {}
        for key, value in options.items():
            if isinstance(value, str) and value.lower() in ("true", "false"):
                parsed[key] = value.lower() == "true"
            elif key in ("versions", "suites", "groups"):
                parsed[key] = tuple(v.strip() for v in str(value).split(",") if v.strip())
            elif isinstance(value, str) and value.isdigit():
                parsed[key] = int(value)
            else:
                parsed[key] = value
        from sim.tls.policy import ServerPolicy

        ServerPolicy(**parsed)          # validate now, with the policy's own error messages
        self.policy_args = parsed

    @keyword("Inject Link Fault")
    def inject_link_fault(self, direction: str, kind: str, **params) -> None:
        """Add a fault rule for the next `Start Emulation`, e.g. `device->host    drop    probability=1.0`."""
        converted = tuple((k, _number(v)) for k, v in params.items())
        self.faults.append(LinkFault(direction, kind, converted))

    @keyword("Set Link")
    def set_link(self, state: str = "up", speed: int | str | None = None, duplex: str | None = None) -> None:
        """Plug the Ethernet cable in (`up`) or pull it out (`down`) now, in the running scenario's
        virtual time. While it is out the MAC neither sends nor receives; plugged in, the PHY
        auto-negotiates again (about 1.8 s virtual on the default LAN8742A) with a partner that
        advertises `speed` (10 or 100 Mb/s) and `duplex` (full or half), everything when not given."""
        if state.lower() not in ("up", "down"):
            raise AssertionError(f"Set Link {state!r}: say up or down")
        runner = self._runner()
        try:
            runner.machine.ethernet.set_link(state.lower() == "up", None if speed in (None, "") else int(speed),
                                             duplex or None)
        except (SimError, ValueError) as exc:
            raise AssertionError(str(exc)) from None
        logger.info(f"link {state.lower()} at {runner.now_ns / 1e6:.1f} ms virtual")

    @keyword("Configure Firmware TLS")
    def configure_firmware_tls(self, version: str = "any", suite: str = "any") -> None:
        """Shell commands `tls version` and `tls suite` on the firmware."""
        runner = self._runner()
        try:
            match = runner.configure_tls(version, suite)
        except ScenarioError as exc:
            raise AssertionError(str(exc)) from None
        if shell.refused(match):
            raise AssertionError(f"the firmware refused the suite: {match.group(0)}")

    # --- HTTPS steps ------------------------------------------------------------------------------
    @keyword("HTTPS GET")
    def https_get(self, path: str) -> StepResult:
        return self._step(Step("get", path, expect="any"))

    @keyword("HTTPS POST")
    def https_post(self, path: str, size: int | str) -> StepResult:
        return self._step(Step("post", path, int(size), expect="any"))

    def _step(self, step: Step) -> StepResult:
        runner = self._runner()
        try:
            result = runner.run_step(step)
        except ScenarioError as exc:
            raise AssertionError(str(exc)) from None
        self.steps.append(result)
        logger.info(f"{step.describe()}: {result.outcome} (status {result.status}, "
                    f"{result.virtual_ns / 1e6:.1f} ms virtual)")
        if result.diagnosis is not None:
            logger.info("diagnosis:\n" + result.diagnosis.text)
        return result

    # --- assertions -------------------------------------------------------------------------------
    @keyword("Response Should Be OK")
    def response_should_be_ok(self, result: StepResult) -> None:
        """HTTP 200, and for a POST the server's SHA-256 and length equal the firmware's body."""
        if not result.ok or result.status != 200:
            raise AssertionError(f"{result.step.describe()} failed: {result.outcome} "
                                 f"({result.error_where} {result.error_code}); last lines:\n"
                                 + "\n".join(result.uart_lines[-8:]))
        if result.step.kind == "post":
            if result.server_length != result.step.size or result.body_length != result.step.size:
                raise AssertionError(f"lengths differ: asked {result.step.size}, firmware sent {result.body_length}, "
                                     f"server got {result.server_length}")
            if not result.body_sha256 or result.body_sha256 != result.server_sha256:
                raise AssertionError(f"digest mismatch: firmware {result.body_sha256}, server {result.server_sha256}")
            expected = _expected_body_sha256(result.step.size)
            if result.body_sha256 != expected:
                raise AssertionError(f"the firmware's body digest {result.body_sha256} is not the digest of the "
                                     f"documented pattern ({expected})")
        else:
            import hashlib

            from sim.http import get_body

            expected = hashlib.sha256(get_body(result.step.path) or b"").hexdigest()
            if result.body_sha256 != expected:
                raise AssertionError(f"GET body digest {result.body_sha256} != the peer's body digest {expected}")

    @keyword("Request Should Fail As Reported")
    def request_should_fail_as_reported(self, result: StepResult) -> None:
        """The user's report: the firmware logs the fatal alert (msg 20) and -0x7780, the peer's
        journal shows the bad_record_mac it sent and on which record, and the diagnosis names the
        first corrupted byte and where it sits (record, TCP segment, frame, DMA buffer)."""
        text = "\n".join(result.uart_lines)
        problems = []
        if "is a fatal alert message (msg 20)" not in text:
            problems.append("the UART does not show 'is a fatal alert message (msg 20)'")
        if "returned -30592 (-0x7780)" not in text:
            problems.append("the UART does not show 'returned -30592 (-0x7780)'")
        if result.ok or result.error_code != "-0x7780":
            problems.append(f"the firmware did not end with error -0x7780 (outcome {result.outcome}, "
                            f"code {result.error_code})")
        sent = [a for a in result.alerts_sent_by_peer if a.get("description") == "bad_record_mac"]
        if not sent:
            problems.append("the peer's journal shows no bad_record_mac alert sent")
        failed = [r for s in result.sessions for r in s.journal.records if not r.ok]
        if not failed:
            problems.append("no record failed its checks in the journal")
        diagnosis = result.diagnosis
        if diagnosis is None:
            problems.append("there is no diagnosis")
        else:
            where = (diagnosis.to_dict().get("difference") or {})
            needed = ("first_offset", "record", "segment", "frame", "dma_buffer")
            flat = _flatten(where)
            missing = [k for k in needed if not any(k in key for key in flat)]
            if missing:
                problems.append(f"the diagnosis does not locate the first corrupted byte by {', '.join(missing)}: "
                                f"{diagnosis.summary}")
        if problems:
            raise AssertionError("not the reported failure:\n- " + "\n- ".join(problems)
                                 + "\nUART:\n" + "\n".join(result.uart_lines[-12:]))
        record = failed[0]
        logger.info(f"reproduced: record #{record.index} failed "
                    f"{', '.join(c.name for c in record.failed_checks())}; peer sent bad_record_mac; "
                    f"{diagnosis.summary}")

    # --- device-initiated scenarios ---------------------------------------------------------------
    @keyword("Wait For Connection")
    def wait_for_connection(self, port: int | str | None = None, timeout: float | str = 30):
        """Run until the device opens a TCP connection not waited for before (to `port`, if given);
        `timeout` in virtual seconds. Returns it (name, address, port, SNI, TLS version, suite)."""
        runner = self._device_runner()
        try:
            connection = runner.wait_for_connection(float(timeout), port=int(port) if port not in (None, "") else None)
        except ScenarioError as exc:
            raise AssertionError(str(exc)) from None
        logger.info(f"{connection.describe()} at {connection.time_ns / 1e6:.1f} ms virtual")
        return connection

    @keyword("Wait For Request")
    def wait_for_request(self, method: str | None = None, path: str | None = None,
                         timeout: float | str = 30) -> RequestResult:
        """Run until a request of the device not waited for before has been answered or has failed,
        matching `method` and `path` when given; `timeout` in virtual seconds. A request whose first
        record failed its check has no readable method or path: wait for it without them."""
        runner = self._device_runner()
        try:
            request = runner.wait_for_request(float(timeout), method=method or None, path=path or None)
        except ScenarioError as exc:
            raise AssertionError(str(exc)) from None
        logger.info(f"{request.describe()}: {request.outcome} "
                    + (f"(status {request.status})" if request.status is not None else f"({request.reason})"))
        connection = runner.connection_result(request.connection - 1)
        diagnosis = runner.diagnose_connection(connection)
        if diagnosis is not None:
            logger.info("diagnosis:\n" + diagnosis.text)
        return request

    @keyword("Request Should Be OK")
    def request_should_be_ok(self, request: RequestResult) -> None:
        """Answered with a 2xx status; a POST to /upload with the SHA-256 of the documented body
        pattern (byte i = i % 251) over the size the device announced."""
        if request.outcome != "ok":
            raise AssertionError(f"{request.describe()} was not answered with success: {request.outcome} "
                                 f"({request.reason or request.status})")
        if request.method == "POST" and request.path == "/upload":
            expected = _expected_body_sha256(request.size or 0)
            if request.server_sha256 != expected:
                raise AssertionError(f"the peer's digest of the body {request.server_sha256} is not the digest of "
                                     f"the documented pattern of {request.size} bytes ({expected})")

    @keyword("Request Should Have Failed With Alert")
    def request_should_have_failed_with_alert(self, request: RequestResult, alert: str = "bad_record_mac") -> None:
        """The request failed with the fatal alert `alert`; for a record the peer could not
        verify, the diagnosis names the first corrupted byte and where it travelled (record, TCP
        segment, Ethernet frame, DMA buffer) when the image has fw_tls_send."""
        if request.alert != alert:
            raise AssertionError(f"{request.describe()} ended {request.outcome} "
                                 f"(alert {request.alert}, {request.reason or request.status}), not with {alert}")
        runner = self._device_runner()
        connection = runner.connection_result(request.connection - 1)
        diagnosis = runner.diagnose_connection(connection)
        if diagnosis is None:
            raise AssertionError(f"{connection.describe()} failed but there is no diagnosis")
        if request.failed_record is not None and runner.has_send_hook:
            flat = _flatten(diagnosis.to_dict().get("difference") or {})
            missing = [k for k in ("first_offset", "record", "segment", "frame", "dma_buffer")
                       if not any(k in key for key in flat)]
            if missing:
                raise AssertionError(f"the diagnosis does not locate the first corrupted byte by {', '.join(missing)}: "
                                     f"{diagnosis.summary}")
        logger.info(f"{connection.describe()}: {diagnosis.summary}")

    @keyword("Diagnosis Should Contain")
    def diagnosis_should_contain(self, request: RequestResult, text: str) -> None:
        """The diagnosis of the request's connection contains `text`."""
        runner = self._device_runner()
        diagnosis = runner.diagnose_connection(runner.connection_result(request.connection - 1))
        if diagnosis is None or text not in diagnosis.text:
            raise AssertionError(f"'{text}' is not in the diagnosis:\n{diagnosis.text if diagnosis else '(none)'}")

    @keyword("Dhcp Lease Should Have Been Given")
    def dhcp_lease_should_have_been_given(self, address: str | None = None, mac: str | None = None) -> str:
        """The DHCP server acknowledged a lease (of `address`, to `mac`, when given); returns the address."""
        lease = self._device_runner().net.lease_given(mac=mac or None, address=address or None)
        if lease is None:
            given = [f"{e.event} {e.address} to {e.mac}" for e in self._device_runner().net.leases]
            raise AssertionError(f"no DHCP lease was given{f' of {address}' if address else ''}"
                                 f"{f' to {mac}' if mac else ''}; DHCP events: {', '.join(given) or 'none'}")
        return lease.address

    @keyword("Dns Query Should Have Been Answered")
    def dns_query_should_have_been_answered(self, name: str, type: str = "A", address: str | None = None) -> None:
        """The resolver answered a `type` query for `name` (with `address` among the answers, when given)."""
        net = self._device_runner().net
        answers = net.dns_answered(name, type)
        if not answers:
            asked = [f"{a.name} {a.qtype}" for a in net.dns_answers]
            raise AssertionError(f"no {type} query for {name} was answered; queries: {', '.join(asked) or 'none'}")
        if address and not any(address in a.addresses for a in answers):
            raise AssertionError(f"{name} was answered with {[list(a.addresses) for a in answers]}, not {address}")

    @keyword("Sntp Time Should Have Been Given")
    def sntp_time_should_have_been_given(self) -> str:
        """The SNTP server answered at least once; returns the calendar time it told first."""
        answers = self._device_runner().net.time_answers
        if not answers:
            raise AssertionError("the device asked no SNTP server for the time (or got no answer)")
        return answers[0].told

    def _device_runner(self) -> DeviceRunner:
        runner = self._runner()
        if not isinstance(runner, DeviceRunner):
            raise AssertionError("this keyword follows a device-initiated scenario: "
                                 "Use Firmware    IMAGE    device_initiated=True")
        return runner

    @keyword("Uart Should Contain")
    def uart_should_contain(self, text: str) -> None:
        transcript = self._runner().uart_text()
        if text not in transcript:
            raise AssertionError(f"'{text}' is not on the UART")

    # --- artifacts ------------------------------------------------------------------------------
    @keyword("Save Scenario Artifacts")
    def save_scenario_artifacts(self, name: str | None = None) -> str | None:
        """Write uart.log, capture.pcapng, journal, diagnosis and ladder.svg for this test and link
        them from log.html. Meant for the test teardown: result.json's verdict follows the test's
        status (a failed test is `fail`, one stopped by Ctrl-C `interrupted`, never `pass`)."""
        if self.runner is None:
            return None
        folder = self._test_folder(name)
        output_dir = folder.parents[2]                  # where the log that links them is
        interrupted, failure = self._test_outcome()
        self.runner.out_dir = folder
        result = self.runner.finish(self.steps, interrupted=interrupted, failure=failure)
        self.runner = None
        links = " | ".join(f'<a href="{p.relative_to(output_dir).as_posix()}">{p.name}</a>'
                           for p in result.artifacts.values())
        logger.info(f"artifacts: {links}", html=True)
        ladder = result.artifacts.get("ladder")
        if ladder is not None and any(not s.ok for s in result.steps):
            logger.info(f'<img src="{ladder.relative_to(output_dir).as_posix()}" width="900">', html=True)
        logger.info(f"virtual {result.virtual_ns / 1e6:.1f} ms in {result.wall_s:.2f} s wall "
                    f"({result.speedup:.1f}x real time)")
        return str(folder)

    # --- helpers ----------------------------------------------------------------------------------
    def _test_outcome(self) -> tuple[bool, str | None]:
        """In a test teardown: (stopped by Ctrl-C, the failure message of a failed test or None)."""
        builtin = BuiltIn()
        status = builtin.get_variable_value("${TEST STATUS}", None)       # set in a test teardown only
        message = builtin.get_variable_value("${TEST MESSAGE}", "") or ""
        interrupted = status == "FAIL" and message.startswith(_STOPPED_BY_SIGNAL)
        failure = (message or "the test failed") if status == "FAIL" and not interrupted else None
        return interrupted, failure

    def _test_folder(self, name: str | None = None) -> Path:
        """<report dir>/artifacts/SUITE/TEST, where this test's artifacts go (`_report_dir`: the
        output directory, or under pabot the one its merged log will be in); RobotNotRunningError
        outside a Robot run."""
        builtin = BuiltIn()
        output_dir = _report_dir(Path(builtin.get_variable_value("${OUTPUT DIR}", ".")),
                                 builtin.get_variable_value("${PABOTQUEUEINDEX}", None) is not None)
        test = name or builtin.get_variable_value("${TEST NAME}", "scenario")
        return output_dir / "artifacts" / _slug(builtin.get_variable_value("${SUITE NAME}", "suite")) / _slug(test)

    def _runner(self) -> ScenarioRunner | DeviceRunner:
        if self.runner is None:
            self.start_emulation()
        assert self.runner is not None
        return self.runner


def _truthy(value) -> bool:
    return value if isinstance(value, bool) else str(value).lower() in ("true", "yes", "1")


def _number(value):
    try:
        return int(value, 0) if isinstance(value, str) else value
    except ValueError:
        try:
            return float(value)
        except ValueError:
            return value


def _report_dir(output_dir: Path, under_pabot: bool) -> Path:
    """Where the log that links the artifacts will be: the output directory, or under pabot the
    run's own one. pabot runs each process with `<out>/pabot_results/<n>/` (`.../<argfile>/<n>/`
    with --argumentfileN) as its output directory and merges their outputs into `<out>/log.html`,
    so artifacts and links go to `<out>/artifacts/...`, the same place as in a serial run."""
    if under_pabot:
        for parent in output_dir.resolve().parents:
            if parent.name == "pabot_results":
                return parent.parent
    return output_dir


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "test"


def _flatten(d, prefix="") -> set[str]:
    keys = set()
    if isinstance(d, dict):
        for k, v in d.items():
            if v is None:
                continue
            keys.add(prefix + str(k))
            keys |= _flatten(v, prefix + str(k) + ".")
    return keys


def _expected_body_sha256(size: int) -> str:
    import hashlib

    from sim.http import pattern_bytes

    return hashlib.sha256(pattern_bytes(size)).hexdigest()


__all__ = ["SimKeywords", "PEER_PORT"]
