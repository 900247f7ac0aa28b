"""RenodeMachine over a fake pyrenode3 that records calls: the call sequence without Renode."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_pyrenode3 import documented

from sim.backend import Backend, StopReason
from sim.errors import BackendError
from sim.frame_types import TxFrame
from sim.platform import DEFAULT_REPL
from sim.renode import RenodeMachine
from sim.renode.commands import BootPlan, commands_for_boot, time_string
from sim.renode.frames import fcs, with_fcs

ROOT = Path(__file__).resolve().parents[2]
PLATFORM = DEFAULT_REPL
MHZ = 168
MS = 1000 * MHZ          # cycles in one virtual millisecond at 168 MHz
DEVICE_MAC = bytes.fromhex("020000000f07")
PEER_MAC = bytes.fromhex("020000000001")


def _frame(destination: bytes, payload: bytes = b"\x08\x00" + bytes(46)) -> bytes:
    return destination + PEER_MAC + payload


def _inputs(calls: list[tuple]) -> list[tuple]:
    """What changes the machine: RunFor slices, UART bytes and frames, in order."""
    return [c[:2] for c in calls if (c[0] == "Monitor.execute" and "RunFor" in c[1])
            or c[0] in ("sysbus.usart1.WriteChar", "machine.HandleTimeDomainEvent")]


def _set_station_address(fake, mac: bytes) -> None:
    """What the firmware's writes to MACA0LR (octets a-d) and MACA0HR (e-f) leave there (§2.1)."""
    memory = fake.current.memory
    low, high = mac[:4], mac[4:6] + b"\x00\x00"
    for offset, word in ((0x44, low), (0x40, high)):
        for i, value in enumerate(word):
            memory[0x40028000 + offset + i] = value


@pytest.fixture
def machine(fake_renode, tiny_elf):
    m = RenodeMachine(PLATFORM, seed=5)
    m.load_elf(str(tiny_elf))
    fake_renode.calls.clear()
    fake_renode.commands.clear()
    return m


def test_it_is_a_backend_and_boots_with_the_documented_sequence(fake_renode, tiny_elf):
    m = RenodeMachine(PLATFORM, seed=5)
    assert isinstance(m, Backend)
    assert (m.name, m.frequency) == ("renode", 168_000_000)
    m.load_elf(str(tiny_elf))
    plan = BootPlan(repl=PLATFORM, elf=Path(tiny_elf), seed=5, frequency_hz=168_000_000)
    # the last boot: a fresh emulation, then exactly the translated commands, seed first
    last_clear = max(i for i, c in enumerate(fake_renode.calls) if c == ("Emulation.clear",))
    executed = [c[1] for c in fake_renode.calls[last_clear:] if c[0] == "Monitor.execute"]
    assert executed == commands_for_boot(plan)
    assert executed[0] == "emulation SetSeed 5"
    assert all(documented(c) for c in fake_renode.commands)
    assert fake_renode.seed == 5


def test_run_advances_renode_in_slices_and_carries_sub_microsecond_remainders(machine, fake_renode):
    result = machine.run(3 * MS + 100)
    assert (result.reason, result.cycles, machine.cycles) == (StopReason.LIMIT, 3 * MS + 100, 3 * MS + 100)
    assert fake_renode.commands == [f'emulation RunFor "{time_string(1000)}"'] * 3
    assert fake_renode.elapsed_ticks == 3_000_000                  # ns: exactly 3 ms in Renode
    machine.run(MHZ - 100)                                          # completes the next microsecond
    assert fake_renode.commands[-1] == f'emulation RunFor "{time_string(1)}"'
    assert fake_renode.elapsed_ticks * MHZ // 1000 == machine.cycles


def test_uart_output_reaches_the_transcript_and_callbacks_inside_run(machine, fake_renode):
    seen = []
    machine.uart("usart1").on_output(seen.append)
    fake_renode.on_run = lambda fake, ticks: fake.uart_print("usart1", b"ready\r\n")
    machine.run(MS)
    assert machine.uart("usart1").transcript == b"ready\r\n"
    assert b"".join(seen) == b"ready\r\n"
    assert machine.uart("usart6").transcript == b""


def test_uart_input_is_paced_at_115200_baud_per_slice(machine, fake_renode):
    machine.uart("usart1").write(b"x" * 30)
    machine.run(3 * MS)
    writes = [c for c in fake_renode.calls if c[0] in ("sysbus.usart1.WriteChar", "Monitor.execute")]
    per_slice, count = [], 0
    for call in writes:
        if call[0] == "Monitor.execute":
            per_slice.append(count)
            count = 0
        else:
            count += 1
    # 11.52 characters per millisecond at 115200 8N1; the fraction carries: 11, 23 (+12), 30 (+7)
    assert per_slice == [11, 12, 7]
    with pytest.raises(BackendError, match="usart1, usart2, usart3, usart6"):
        machine.uart("uart9")


def test_a_transmitted_frame_loses_its_fcs_and_ends_the_run_at_the_slice(machine, fake_renode):
    frames: list[TxFrame] = []
    machine.ethernet.on_transmit(frames.append)
    sent = _frame(b"\xff" * 6)
    fake_renode.on_run = lambda fake, ticks: fake.transmit(with_fcs(sent)) if fake.elapsed_ticks == 1_000_000 else None
    result = machine.run(10 * MS)
    assert result.reason is StopReason.REQUESTED and result.cycles == 2 * MS
    assert frames == [TxFrame(data=sent, cycles=2 * MS)]
    assert machine.stats["frames_tx"] == 1 and "tx_bad_fcs" not in machine.stats


def test_received_frames_get_an_fcs_and_are_delivered_while_renode_runs(machine, fake_renode):
    _set_station_address(fake_renode, DEVICE_MAC)
    assert machine.ethernet.mac_address == DEVICE_MAC
    unicast, broadcast, multicast = _frame(DEVICE_MAC), _frame(b"\xff" * 6), _frame(bytes.fromhex("01005e000001"))
    assert machine.ethernet.receive(unicast) is True
    assert machine.ethernet.receive(broadcast) is True
    assert machine.ethernet.receive(multicast) is False        # the 1.16.1 model drops it (§2.2)
    mac = fake_renode.peripheral("ethernet").internal
    assert mac.received == []                                  # nothing handed over while paused
    created = [c for c in fake_renode.calls if c[0] == "EthernetFrame.TryCreateEthernetFrame"]
    assert [(data, add_crc) for _, data, add_crc in created] == [
        (unicast + fcs(unicast), False), (broadcast + fcs(broadcast), False), (multicast + fcs(multicast), False)]
    stamps = [c for c in fake_renode.calls if c[0] == "machine.HandleTimeDomainEvent"]
    assert all(c[1] == "EthernetFrame" and c[2].domain == "ExternalWorld" for c in stamps)
    machine.run(MS)
    assert mac.received == [with_fcs(unicast), with_fcs(broadcast), with_fcs(multicast)]
    assert machine.ethernet.receive(b"\x00" * 10) is False      # a runt never reaches Renode


def test_hooks_fire_at_the_symbol_with_registers_readable(machine, fake_renode):
    address = machine.symbol_address("fw_tls_send")
    assert address % 2 == 0 and machine.symbolize(address + 2) == "fw_tls_send+0x2"
    cpu = fake_renode.peripheral("cpu").internal
    cpu.registers.update({1: 0x20001000, 2: 903})
    captured = []
    handle = machine.hook("fw_tls_send", lambda ctx: captured.append(
        (ctx.address, ctx.symbol, ctx.backend.read_register("r1"), ctx.backend.read_register("r2"))))
    assert ("sysbus.cpu.AddHook", address) in fake_renode.calls
    fake_renode.on_run = lambda fake, ticks: fake.hit(address)
    machine.run(MS)
    assert captured == [(address, "fw_tls_send", 0x20001000, 903)]
    machine.unhook(handle)
    assert ("sysbus.cpu.RemoveHook", address) in fake_renode.calls
    machine.run(MS)
    assert len(captured) == 1


def test_an_exception_in_a_callback_does_not_unwind_into_renode_and_is_raised_after_the_slice(machine, fake_renode):
    def broken(frame):
        raise RuntimeError("runner bug")
    machine.ethernet.on_transmit(broken)
    fake_renode.on_run = lambda fake, ticks: fake.transmit(with_fcs(_frame(b"\xff" * 6)))
    with pytest.raises(RuntimeError, match="runner bug"):
        machine.run(5 * MS)
    assert len([c for c in fake_renode.commands if "RunFor" in c]) == 1


def test_registers_and_memory_go_through_renode(machine, fake_renode):
    cpu = fake_renode.peripheral("cpu").internal
    cpu.registers.update({18: 0x2, 25: 0x0100_0000, 21: 0x2000_8000, 22: 0x2001_F000})
    assert machine.read_register("psp") == 0x2000_8000      # thread mode with SPSEL: current = PSP
    assert machine.read_register("msp") == 0x2001_F000
    machine.write_register("r0", 0x1234)
    assert ("sysbus.cpu.SetRegisterUnsafe", 0, 0x1234) in fake_renode.calls
    machine.write_memory(0x2000_0000, b"\x01\x02\x03")
    assert machine.read_memory(0x2000_0000, 4) == b"\x01\x02\x03\x00"
    with pytest.raises(BackendError, match="start_gdb_server"):
        machine.read_register("primask")


def test_debugging_goes_through_renodes_gdb_server(machine, fake_renode):
    assert machine.start_gdb_server(3333) == 3333
    assert fake_renode.commands == ["machine StartGdbServer 3333 false"]
    for call in (machine.step, lambda: machine.add_breakpoint(0x0800_0000),
                 lambda: machine.add_watchpoint(0x2000_0000, 4, "write")):
        with pytest.raises(BackendError, match="start_gdb_server"):
            call()


def test_restore_boots_again_and_replays_the_record_with_callbacks_muted(machine, fake_renode):
    frames = []
    machine.ethernet.on_transmit(frames.append)
    fake_renode.on_run = lambda fake, ticks: fake.uart_print("usart1", b".")
    machine.uart("usart1").write(b"get /\n")
    machine.run(2 * MS)
    machine.ethernet.receive(_frame(b"\xff" * 6))
    machine.write_memory(0x2000_0100, b"\xaa")
    machine.run(MS)
    snap = machine.snapshot()
    history = [c for c in fake_renode.calls if not c[0].startswith("sysbus.WriteBytes")]
    assert machine.uart("usart1").transcript == b"..."

    fake_renode.on_run = lambda fake, ticks: (fake.uart_print("usart1", b"!"), fake.transmit(with_fcs(_frame(b"\xff" * 6))))
    machine.run(5 * MS)
    frames.clear()
    fake_renode.calls.clear()
    machine.restore(snap)

    replay = fake_renode.calls
    assert replay[0] == ("Emulation.clear",)
    # after the boot, the same inputs and RunFor slices in the same order as the first time
    assert _inputs(replay) == _inputs(history) != []
    assert ("sysbus.WriteBytes", 0x2000_0100, b"\xaa") in replay
    assert frames == []                                    # muted during the replay
    assert machine.uart("usart1").transcript == b"..."     # the snapshot's transcript, not the replay's
    assert machine.cycles == 3 * MS
    machine.run(MS)
    assert len(frames) == 1                                 # live again after the restore


def test_reset_boots_a_fresh_machine_and_clears_the_transcript(machine, fake_renode):
    fake_renode.on_run = lambda fake, ticks: fake.uart_print("usart1", b"x")
    machine.run(MS)
    machine.reset()
    assert machine.cycles == 0 and machine.uart("usart1").transcript == b""
    assert fake_renode.commands[-1].startswith("sysbus LoadELF @")


def test_one_emulation_per_process_a_newer_machine_retires_the_older(fake_renode, tiny_elf):
    first = RenodeMachine(PLATFORM, seed=1)
    RenodeMachine(PLATFORM, seed=2)
    with pytest.raises(BackendError, match="one emulation per process"):
        first.run(MS)


def test_a_platform_renode_cannot_use_is_refused_before_renode_is_touched(fake_renode, tmp_path):
    bad = tmp_path / "bad.repl"
    bad.write_text(PLATFORM.read_text().replace("Miscellaneous.STM32F4_RNG", "Miscellaneous.STM32_RNG"))
    with pytest.raises(BackendError, match=r"bad.repl:\d+: error: rng: type Miscellaneous.STM32_RNG"):
        RenodeMachine(bad, seed=1)
    assert fake_renode.calls == []


def test_an_elf_for_another_architecture_is_refused_clearly(machine, tmp_path):
    import sys
    with pytest.raises(BackendError, match="needs a 32-bit ARM ELF"):
        machine.load_elf(sys.executable)
    with pytest.raises(BackendError, match="does not exist"):
        machine.load_elf(str(tmp_path / "missing.elf"))


def test_a_malformed_or_missing_platform_file_is_a_clear_error(fake_renode, tmp_path):
    broken = tmp_path / "broken.repl"
    broken.write_text("nvic: IRQControllers.NVIC @ sysbus 0xE000E000\n\tpriorityMask: 0xF0\n")
    with pytest.raises(BackendError, match=r"broken.repl:2"):
        RenodeMachine(broken, seed=1)
    with pytest.raises(BackendError, match="does not exist"):
        RenodeMachine(tmp_path / "missing.repl", seed=1)
    assert fake_renode.calls == []
