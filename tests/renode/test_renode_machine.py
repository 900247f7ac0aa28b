"""RenodeMachine over a fake pyrenode3 that records calls: the call sequence without Renode."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_pyrenode3 import documented

from sim.backend import Backend, StopReason
from sim.errors import BackendError
from sim.frame_types import DmaSegment, TxFrame
from sim.platform import DEFAULT_REPL
from sim.renode import RenodeMachine
from sim.renode.commands import BootPlan, commands_for_boot
from sim.renode.frames import fcs, with_fcs

ROOT = Path(__file__).resolve().parents[2]
PLATFORM = DEFAULT_REPL
MHZ = 168
MS = 1000 * MHZ          # cycles in one virtual millisecond at 168 MHz
DEVICE_MAC = bytes.fromhex("020000000f07")
PEER_MAC = bytes.fromhex("020000000001")


def _frame(destination: bytes, payload: bytes = b"\x08\x00" + bytes(46)) -> bytes:
    return destination + PEER_MAC + payload


def _run_fors(calls: list[tuple]) -> list[int]:
    """The RunFor durations Renode was asked for, in ns ticks."""
    return [c[1] for c in calls if c[0] == "Emulation.RunFor"]


def _set_station_address(fake, mac: bytes) -> None:
    """What the firmware's writes to MACA0LR (octets a-d) and MACA0HR (e-f) leave there
    (RM0090, ETH_MACA0HR and ETH_MACA0LR)."""
    memory = fake.current.memory
    low, high = mac[:4], mac[4:6] + b"\x00\x00"
    for offset, word in ((0x44, low), (0x40, high)):
        for i, value in enumerate(word):
            memory[0x40028000 + offset + i] = value


@pytest.fixture
def machine(fake_renode, tiny_elf):
    m = RenodeMachine(PLATFORM, seed=5)
    m.load_elf(str(tiny_elf))
    m.reset()
    fake_renode.calls.clear()
    fake_renode.commands.clear()
    return m


def test_it_is_a_backend_and_load_elf_then_reset_boots_once_seed_first(fake_renode, tiny_elf):
    m = RenodeMachine(PLATFORM, seed=5)
    assert isinstance(m, Backend)
    assert (m.name, m.frequency) == ("renode", 168_000_000)
    assert fake_renode.calls == []                 # nothing is built before it is needed
    m.load_elf(str(tiny_elf))
    m.reset()
    plan = BootPlan(repl=PLATFORM, elf=Path(tiny_elf), seed=5, frequency_hz=168_000_000)
    assert fake_renode.calls.count(("Emulation.clear",)) == 1
    executed = [c[1] for c in fake_renode.calls if c[0] == "Monitor.execute"]
    boot = [c for c in executed if not c.startswith(("logFile", "logLevel"))]
    assert boot == commands_for_boot(plan)
    assert boot[0] == "emulation SetSeed 5"
    assert all(documented(c) for c in fake_renode.commands)
    assert fake_renode.seed == 5
    m.run(MS)                                      # already booted: no second boot
    assert fake_renode.calls.count(("Emulation.clear",)) == 1


def test_run_advances_renode_in_slices_and_carries_sub_microsecond_remainders(machine, fake_renode):
    result = machine.run(3 * MS + 100)
    assert (result.reason, result.cycles, machine.cycles) == (StopReason.LIMIT, 3 * MS + 100, 3 * MS + 100)
    assert _run_fors(fake_renode.calls) == [1_000_000] * 3         # ns: exactly 3 x 1 ms in Renode
    machine.run(MHZ - 100)                                          # completes the next microsecond
    assert _run_fors(fake_renode.calls)[-1] == 1000
    assert fake_renode.elapsed_ticks * MHZ // 1000 == machine.cycles
    assert machine.stats["slices"] == 4


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
    writes = [c for c in fake_renode.calls if c[0] in ("sysbus.usart1.WriteChar", "Emulation.RunFor")]
    per_slice, count = [], 0
    for call in writes:
        if call[0] == "Emulation.RunFor":
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
    assert machine.stats["tx_gather_unknown"] == 1          # the firmware never set DMATDLAR here


TX_LIST = 0x2000_BE00        # a chained TX descriptor ring of three, as the reference driver builds
TCH, FS, LS, CIC_FULL = 1 << 20, 1 << 28, 1 << 29, 3 << 22


def _descriptors(fake, frames: list[list[tuple[int, int]]]) -> None:
    """Lay out chained descriptors (RM0090, Ethernet chapter, "TxDMA descriptors") for `frames`,
    each a list of (buffer, length), and leave them as the DMA leaves them after sending: OWN
    clear, FS/LS/buffers in place."""
    address = TX_LIST
    ring = [d for frame in frames for d in range(len(frame))]
    count = len(ring)
    n = 0
    for frame in frames:
        for i, (buffer, length) in enumerate(frame):
            control = TCH | CIC_FULL | (FS if i == 0 else 0) | (LS if i == len(frame) - 1 else 0)
            following = TX_LIST + 16 * ((n + 1) % count)
            fake.write_words(address, [control, length, buffer, following])
            address = following
            n += 1


def test_each_frame_carries_the_dma_segments_read_back_from_its_descriptors(machine, fake_renode):
    frames: list[TxFrame] = []
    machine.ethernet.on_transmit(frames.append)
    first, second = _frame(b"\xff" * 6, b"\x08\x00" + bytes(100)), _frame(b"\xff" * 6, b"\x08\x00" + bytes(30))
    _descriptors(fake_renode, [[(0x2000_A000, 60), (0x2000_A400, len(first) - 60)],
                               [(0x2000_A800, len(second))]])

    def firmware(fake, ticks):
        if fake.elapsed_ticks == 0:
            fake.mac_write(0x1010, TX_LIST | 0x3)       # DMATDLAR (bits 1:0 ignored)
            fake.transmit(with_fcs(first))
        else:
            fake.transmit(with_fcs(second))
    fake_renode.on_run = firmware
    machine.run(5 * MS)
    machine.run(5 * MS)
    assert [f.segments for f in frames] == [
        (DmaSegment(TX_LIST, 0x2000_A000, 0, 60), DmaSegment(TX_LIST + 16, 0x2000_A400, 60, len(first) - 60)),
        (DmaSegment(TX_LIST + 32, 0x2000_A800, 0, len(second)),)]
    assert [f.checksum_insertion for f in frames] == [3, 3]
    assert "tx_gather_unknown" not in machine.stats


def test_a_frame_the_descriptors_do_not_account_for_has_no_segments(machine, fake_renode):
    frames: list[TxFrame] = []
    machine.ethernet.on_transmit(frames.append)
    sent = _frame(b"\xff" * 6)
    _descriptors(fake_renode, [[(0x2000_A000, len(sent) + 4)]])       # 4 bytes more than was sent

    def firmware(fake, ticks):
        fake.mac_write(0x1010, TX_LIST)
        fake.transmit(with_fcs(sent))
    fake_renode.on_run = firmware
    machine.run(5 * MS)
    assert frames[0].segments == () and machine.stats["tx_gather_unknown"] == 1


def test_the_tx_fifo_flush_completes_at_once(machine, fake_renode):
    # RM0090 ETH_DMAOMR: FTF is cleared by hardware when the flush is done; Renode's model keeps it
    seen = []
    fake_renode.on_run = lambda fake, ticks: seen.append(fake.mac_write(0x1018, (1 << 20) | (1 << 13) | 1))
    machine.run(MS)
    assert seen == [(1 << 13) | 1] and machine.stats["ftf_cleared"] == 1
    fake_renode.on_run = lambda fake, ticks: seen.append(fake.mac_write(0x1000, 1 << 20))
    machine.run(MS)
    assert seen[-1] == 1 << 20                               # other registers pass unchanged


def test_received_frames_get_an_fcs_and_are_delivered_while_renode_runs(machine, fake_renode):
    _set_station_address(fake_renode, DEVICE_MAC)
    assert machine.ethernet.mac_address == DEVICE_MAC
    unicast, broadcast, multicast = _frame(DEVICE_MAC), _frame(b"\xff" * 6), _frame(bytes.fromhex("01005e000001"))
    assert machine.ethernet.receive(unicast) is True
    assert machine.ethernet.receive(broadcast) is True
    assert machine.ethernet.receive(multicast) is False        # the 1.16.1 model drops it
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
    assert len(_run_fors(fake_renode.calls)) == 1


def test_registers_and_memory_go_through_renode(machine, fake_renode):
    cpu = fake_renode.peripheral("cpu").internal
    # a task on the process stack: r13 is PSP, 22 holds MSP, 21 is tlib's "process stack" flag
    cpu.registers.update({13: 0x2000_8000, 18: 0x0, 21: 1, 22: 0x2001_F000, 25: 0x0100_0000, 28: 1})
    assert machine.read_register("psp") == 0x2000_8000
    assert machine.read_register("msp") == 0x2001_F000
    assert machine.read_register("control") == 0x2          # SPSEL shown while on PSP
    assert machine.read_register("primask") == 1
    machine.write_register("msp", 0x2001_FF00)
    assert ("sysbus.cpu.SetRegister", 22, 0x2001_FF00) in fake_renode.calls
    machine.write_register("r0", 0x1234)
    assert ("sysbus.cpu.SetRegister", 0, 0x1234) in fake_renode.calls
    with pytest.raises(BackendError, match="would not switch stacks"):
        machine.write_register("control", 0x0)
    machine.write_memory(0x2000_0000, b"\x01\x02\x03")
    assert machine.read_memory(0x2000_0000, 4) == b"\x01\x02\x03\x00"
    with pytest.raises(BackendError, match="start_gdb_server"):
        machine.read_register("s0")


def test_debugging_goes_through_renodes_gdb_server(machine, fake_renode):
    assert machine.start_gdb_server(3333) == 3333
    assert fake_renode.commands == ["machine StartGdbServer 3333 false"]
    for call in (machine.step, lambda: machine.add_breakpoint(0x0800_0000),
                 lambda: machine.add_watchpoint(0x2000_0000, 4, "write")):
        with pytest.raises(BackendError, match="start_gdb_server"):
            call()


def test_snapshot_is_renodes_saved_emulation_and_restore_loads_it_without_replay(machine, fake_renode):
    frames = []
    machine.ethernet.on_transmit(frames.append)
    machine.hook("fw_tls_send", lambda ctx: None)
    fake_renode.on_run = lambda fake, ticks: fake.uart_print("usart1", b".")
    machine.run(2 * MS)
    machine.write_memory(0x2000_0100, b"\xaa")
    snap = machine.snapshot()                      # the fake refuses Save while Python is attached
    assert snap.emulation_file.is_file()
    assert machine.uart("usart1").transcript == b".."

    fake_renode.on_run = lambda fake, ticks: (fake.uart_print("usart1", b"!"),
                                              fake.transmit(with_fcs(_frame(b"\xff" * 6))))
    machine.write_memory(0x2000_0100, b"\xbb")
    machine.run(5 * MS)
    frames.clear()
    fake_renode.calls.clear()
    machine.restore(snap)
    assert _run_fors(fake_renode.calls) == []                        # nothing replayed
    assert [c[1] for c in fake_renode.calls if c[0] == "Monitor.execute"] == [
        f"Load @{snap.emulation_file}", 'mach set "stm32f407"']
    assert ("machine.Start",) in fake_renode.calls                    # ready for RunFor again
    assert machine.read_memory(0x2000_0100, 1) == b"\xaa"            # the saved memory
    assert machine.uart("usart1").transcript == b".."
    assert machine.cycles == 2 * MS
    machine.run(MS)
    assert len(frames) == 1                                  # callbacks attached to the loaded machine
    assert fake_renode.peripheral("cpu").internal.hooks      # and the hooks
    assert machine.stats["restores"] == 1


def test_reset_boots_a_fresh_machine_and_clears_the_transcript(machine, fake_renode):
    fake_renode.on_run = lambda fake, ticks: fake.uart_print("usart1", b"x")
    machine.run(MS)
    machine.reset()
    assert machine.cycles == 0 and machine.uart("usart1").transcript == b""
    assert fake_renode.commands[-1].startswith("sysbus LoadELF @")


def test_one_emulation_per_process_a_newer_machine_retires_the_older_until_it_restores(fake_renode, tiny_elf):
    first = RenodeMachine(PLATFORM, seed=1)
    first.load_elf(str(tiny_elf))
    snap = first.snapshot()
    second = RenodeMachine(PLATFORM, seed=2)
    second.reset()
    with pytest.raises(BackendError, match="one emulation per process"):
        first.run(MS)
    first.restore(snap)                  # takes the emulation back; now the second one is retired
    first.run(MS)
    with pytest.raises(BackendError, match="restore\\(\\) a snapshot or reset\\(\\)"):
        second.run(MS)


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
