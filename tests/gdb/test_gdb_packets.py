"""The GDB server at the packet level, with a raw socket client: what GDB 13 sends on connect,
registers and memory, breakpoints and watchpoints, run control, Ctrl-C, monitor commands, and
what it must survive - bad checksums, malformed and unknown packets, clients that vanish."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET

import capstone
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gdbkit import le32, stop_fields
from sim.gdb import TargetKilled
from sim.gdb.rsp import checksum
from sim.gdb.target import G_SIZE


def read_xml(client) -> bytes:
    """target.xml in small chunks, as a GDB with a tiny PacketSize would read it."""
    data, offset = b"", 0
    while True:
        reply = client.request(f"qXfer:features:read:target.xml:{offset:x},100")
        assert reply[:1] in (b"m", b"l"), reply
        data += reply[1:]
        offset += len(reply) - 1
        if reply[:1] == b"l":
            return data


def symbol(served, name: str) -> int:
    return served.machine.symbol_address(name)


def test_connect_sequence_of_gdb_13(served):
    c = served.connect()
    c.send_raw(b"+")
    features = c.request("qSupported:multiprocess+;swbreak+;hwbreak+;qRelocInsn+;fork-events+;"
                         "vContSupported+;QThreadEvents+;no-resumed+;xmlRegisters=i386").decode().split(";")
    assert "PacketSize=1000" in features and "qXfer:features:read+" in features
    assert {"vContSupported+", "swbreak+", "hwbreak+"} <= set(features)
    assert "multiprocess+" not in features
    assert c.request("vMustReplyEmpty") == b""
    assert c.request("Hg0") == b"OK"
    xml = read_xml(c)
    root = ET.fromstring(xml)
    assert root.findtext("architecture") == "arm" and root.findtext("osabi") == "none"
    names = {f.get("name"): [r.get("name") for r in f.findall("reg")] for f in root.findall("feature")}
    assert names["org.gnu.gdb.arm.m-profile"][-4:] == ["sp", "lr", "pc", "xpsr"]
    assert names["org.gnu.gdb.arm.vfp"] == [f"d{i}" for i in range(16)] + ["fpscr"]
    assert names["org.gnu.gdb.arm.m-system"] == ["msp", "psp", "primask", "basepri", "faultmask", "control"]
    assert c.request("qTStatus") == b""
    stop = stop_fields(c.request("?"))
    assert stop["signal"] == "05" and stop["thread"] == "1"
    assert le32(stop["0f"]) == served.machine.read_register("pc")
    assert c.request("qfThreadInfo") == b"m1" and c.request("qsThreadInfo") == b"l"
    assert c.request("qAttached") == b"1"
    assert c.request("qOffsets") == b""
    regs = bytes.fromhex(c.request("g").decode())
    assert len(regs) == G_SIZE == 224
    assert int.from_bytes(regs[60:64], "little") == served.machine.read_register("pc")
    assert int.from_bytes(regs[64:68], "little") & (1 << 24)            # xpsr: Thumb
    assert c.request("vCont?") == b"vCont;c;C;s;S"


def test_registers_by_number_fp_and_system(served):
    c = served.connect()
    assert c.request("P0=78563412") == b"OK"
    assert c.request("p0") == b"78563412"
    assert served.machine.read_register("r0") == 0x12345678
    assert c.request("P1a=000000000000f03f") == b"OK"            # d0 = 1.0 (s1 = 0x3ff00000)
    assert c.request("p1a") == b"000000000000f03f"
    assert served.machine.read_register("s1") == 0x3FF00000
    msp = le32(c.request("p2b").decode())
    assert msp == served.machine.read_register("msp") and msp != 0
    assert c.request("p2a") == b"00000000"                       # fpscr
    assert c.request("p99") == b"E01"                            # no such register
    assert c.request("P0=1234") == b"E01"                        # wrong size
    g = bytearray(bytes.fromhex(c.request("g").decode()))
    g[4:8] = (0xCAFEF00D).to_bytes(4, "little")                  # r1 through a whole block
    assert c.request("G" + g.hex()) == b"OK"
    assert served.machine.read_register("r1") == 0xCAFEF00D
    assert c.request("G0011") == b"E01"


def test_memory_reads_writes_binary_and_faults(served):
    c = served.connect()
    base = 0x2001F000
    assert c.request(f"M{base:x},4:efbeadde") == b"OK"
    assert c.request(f"m{base:x},4") == b"efbeadde"
    special = bytes([0x2A, 0x23, 0x24, 0x7D, 0x00, 0x03])
    escaped = b"".join(bytes([0x7D, b ^ 0x20]) if b in b"#$}*" else bytes([b]) for b in special)
    assert c.request(f"X{base:x},0:".encode()) == b"OK"          # GDB's probe for binary writes
    assert c.request(f"X{base:x},{len(special):x}:".encode() + escaped) == b"OK"
    assert served.machine.read_memory(base, len(special)) == special
    assert c.request("me000ef34,4") == served.machine.read_memory(0xE000EF34, 4).hex().encode()   # FPCCR
    assert c.request("mffffffe9,4") == b"E14"                    # EXC_RETURN values are not memory
    assert c.request("m0801ffff,4")                              # flash reads
    # a read that runs off the end of SRAM returns the readable part
    assert c.request("m2001fffe,4") == served.machine.read_memory(0x2001FFFE, 2).hex().encode()


def test_malformed_unknown_and_bad_checksum(served):
    c = served.connect()
    for bad in ("mzz,4", "m20000000", "m20000000,", "M20000000,4:zz", "M20000000,4:00",
                "Z0,xyz,2", "Z0,8000000", "P0", "X20000000,4:ab"):
        assert c.request(bad) == b"E01", bad
    for unknown in ("qFooBar", "vFooBar", "!", "QNonStop:1", "bc", "Z9,0,1", "qXfer:memory-map:read::0,ffb"):
        assert c.request(unknown) == b"", unknown
    assert c.request("") == b""
    # a corrupted checksum is refused with '-'; the retransmission is answered
    c.send_raw(b"$qAttached#00")
    assert c.read_byte() == ord("-")
    assert c.request("qAttached") == b"1"
    # line noise between packets is skipped
    c.send_raw(b"garbage\r\n")
    assert c.request("qC") == b"QC1"
    # we retransmit our last reply when GDB says '-'
    c.send("qAttached")
    first = c.read_packet()
    c.send_raw(b"-")
    assert c.read_packet() == first == b"1"


def test_no_ack_mode(served):
    c = served.connect()
    assert c.request("QStartNoAckMode") == b"OK"
    c.send_raw(b"+")                                             # GDB's last ack
    c.no_ack = True
    assert c.request("qAttached") == b"1"
    assert c.request("p0")


def test_breakpoints_stop_before_the_instruction_and_step_moves_one(served):
    c = served.connect()
    c.request("qSupported:swbreak+;hwbreak+")
    systick, main = symbol(served, "SysTick_Handler"), symbol(served, "main")
    assert c.request(f"Z0,{main:x},3") == b"OK"                  # kind 3: Debian's default OS ABI
    c.send("vCont;c:1")
    stop = stop_fields(c.read_packet())
    assert stop["signal"] == "05" and "swbreak" in stop
    assert le32(stop["0f"]) == main == served.machine.read_register("pc")
    assert le32(stop["0d"]) == served.machine.read_register("sp")
    # stepping from the breakpoint executes exactly one instruction
    before = served.machine.stats["instructions"]
    c.send("vCont;s:1;c")
    stop = stop_fields(c.read_packet())
    assert stop["signal"] == "05" and "swbreak" not in stop
    assert le32(stop["0f"]) in (main + 2, main + 4)
    assert served.machine.stats["instructions"] == before + 1
    assert c.request(f"z0,{main:x},3") == b"OK"
    assert c.request(f"Z1,{systick:x},2") == b"OK"               # hardware breakpoint
    c.send("c")
    stop = stop_fields(c.read_packet())
    assert le32(stop["0f"]) == systick and "hwbreak" in stop
    assert int(stop["19"][:2], 16) == 15                        # IPSR = SysTick
    assert c.request(f"z1,{systick:x},2") == b"OK"
    assert c.request("D") == b"OK"


def test_write_watchpoint_stops_at_the_storing_instruction(served):
    c = served.connect()
    tick = symbol(served, "tick_count")
    assert c.request(f"Z2,{tick:x},4") == b"OK"
    c.send("vCont;c")
    stop = stop_fields(c.read_packet())
    assert stop["signal"] == "05" and int(stop["watch"], 16) == tick
    pc = le32(stop["0f"])
    md = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB | capstone.CS_MODE_MCLASS)
    insn = next(md.disasm(served.machine.read_memory(pc, 4), pc))
    assert insn.mnemonic.startswith("str"), f"{insn.mnemonic} {insn.op_str} at 0x{pc:x}"
    source = insn.op_str.split(",")[0]                          # str rN, [...]: rN is stored
    number = {"sb": 9, "sl": 10, "fp": 11, "ip": 12}.get(source) or int(source[1:])
    stored = le32(c.request(f"p{number:x}").decode())
    # what GDB does next: remove the watchpoint, step over the store, read the new value
    assert c.request(f"z2,{tick:x},4") == b"OK"
    c.send("vCont;s:1")
    stop = stop_fields(c.read_packet())
    assert le32(stop["0f"]) == pc + insn.size
    assert le32(c.request(f"m{tick:x},4").decode()) == stored
    assert c.request(f"Z3,{tick:x},4") == b"OK"                  # read watchpoint: a reader of the tick
    c.send("vCont;c")
    stop = stop_fields(c.read_packet())
    assert int(stop["rwatch"], 16) == tick
    assert c.request(f"z3,{tick:x},4") == b"OK"
    assert c.request("D") == b"OK"


def test_interrupt_while_running(served):
    c = served.connect()
    c.send("vCont;c")
    assert served.running_cycles()
    c.send_raw(b"\x03")
    stop = stop_fields(c.read_packet())
    assert stop["signal"] == "02"
    halted_at = served.machine.cycles
    time.sleep(0.3)
    assert served.machine.cycles == halted_at                    # halted: virtual time stands still
    assert c.request("?") == c.request("?")                      # the last stop, repeated
    assert c.request("D") == b"OK"
    assert served.running_cycles()


def test_ctrl_c_right_behind_continue_is_not_lost(served):
    """GDB sends `vCont;c`, the user presses Ctrl-C at once: both can arrive in one read while
    the target is halted. The interrupt came after the continue, so it must stop the run (it
    used to be dropped as 'Ctrl-C while halted', and GDB waited forever)."""
    c = served.connect()
    payload = b"vCont;c"
    c.send_raw(b"$" + payload + b"#%02x" % checksum(payload) + b"\x03")
    assert c.read_byte() == ord("+")
    stop = stop_fields(c.read_packet())
    assert stop["signal"] == "02"
    halted_at = served.machine.cycles
    assert c.request("?") == c.request("?") and served.machine.cycles == halted_at


def test_ctrl_c_while_halted_is_ignored(served):
    c = served.connect()
    c.send_raw(b"\x03")                         # nothing to interrupt: no stop reply for it
    assert c.request("qAttached") == b"1"
    c.send("vCont;c")
    assert served.running_cycles()


def test_connections_in_turn_and_a_client_that_vanishes(served):
    first = served.connect()
    systick = symbol(served, "SysTick_Handler")
    assert first.request(f"Z0,{systick:x},2") == b"OK"
    first.send("vCont;c")
    assert stop_fields(first.read_packet())["signal"] == "05"
    first.send("vCont;c")                                       # running again ...
    first.read_packet()
    first.send("vCont;c")
    first.close()                                               # ... and gone without a word
    assert served.running_cycles()                              # the machine runs on
    second = served.connect()                                   # a new client halts it
    stop = stop_fields(second.request("?"))
    assert stop["signal"] == "05"
    intruder = served.connect()                                 # one client at a time
    with pytest.raises((ConnectionError, OSError)):
        intruder.request("qAttached")
    second.send("vCont;c")
    assert served.running_cycles()                              # 10 ms on: past ten SysTick entries
    second.send_raw(b"\x03")
    assert stop_fields(second.read_packet())["signal"] == "02"  # the first client's breakpoint is gone
    assert second.request("D") == b"OK"
    assert served.running_cycles()
    assert served.debugger.connections == 2
    assert not served.errors


def test_monitor_commands(served):
    c = served.connect()
    text, reply = c.monitor("help")
    assert reply == b"OK" and "reset" in text and "journal" in text
    text, reply = c.monitor("time")
    assert reply == b"OK" and "virtual time" in text and "instructions" in text
    c.send("vCont;c")
    assert served.running_cycles()
    c.send_raw(b"\x03")
    c.read_packet()
    text, _ = c.monitor("uart 50")
    assert text.startswith("boot: tls-client fixed"), text
    text, _ = c.monitor("uart 1")
    assert text.count("\n") == 1 and not text.startswith("boot: tls-client"), text
    text, _ = c.monitor("journal")
    assert "no scenario" in text
    text, reply = c.monitor("frobnicate")
    assert reply == b"OK" and "unknown monitor command 'frobnicate'" in text
    before = served.machine.stats["resets"]
    text, _ = c.monitor("reset")
    assert served.machine.stats["resets"] == before + 1
    assert f"pc 0x{served.machine.read_register('pc'):08x}" in text


def test_the_end_of_the_scenario_reaches_a_gdb_waiting_in_continue(served):
    c = served.connect()
    c.send("vCont;c")
    assert served.running_cycles()
    served.stop()                                               # the runner is done: close()
    assert c.read_packet() == b"W00"                            # "exited normally"
    with pytest.raises((ConnectionError, OSError)):
        c.read_packet()


def test_kill_ends_the_run_with_a_clear_error(served):
    c = served.connect()
    assert c.request("vKill;1") == b"OK"
    served.thread.join(timeout=10)
    assert len(served.errors) == 1 and isinstance(served.errors[0], TargetKilled)
    assert "GDB killed the target" in str(served.errors[0])


_COMMANDS = [b"g", b"G", b"p", b"P", b"m", b"M", b"X", b"Z0,", b"z0,", b"Z1,", b"Z2,", b"z3,", b"Z4,", b"Z7,",
             b"qXfer:features:read:", b"qXfer:", b"qRcmd,", b"qSupported:", b"vCont;", b"vCont?", b"vKill;",
             b"H", b"T", b"?", b"c", b"s", b"C", b"S", b"D", b"k", b"Q", b"q", b"v", b"!", b"\x00"]


@pytest.fixture(scope="module")
def bare_session():
    from gdbkit import FIXED_ELF
    if not FIXED_ELF.exists():
        pytest.fail(f"{FIXED_ELF} is not built: run scripts/setup")
    from sim.gdb.commands import Session
    from sim.gdb.monitor import Monitor
    from sim.machine import Machine

    machine = Machine()
    machine.load_elf(FIXED_ELF)
    machine.run(max_cycles=1_000_000)
    return Session(machine, Monitor(machine), log=lambda text: None), machine


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(_COMMANDS), st.binary(max_size=24) | st.text("0123456789abcdefxyz,:;=-", max_size=24).map(str.encode))
def test_random_packets_get_a_reply_and_never_break_the_machine(bare_session, command, args):
    session, machine = bare_session
    snapshot = machine.snapshot()
    action = session.handle(command + args)
    if isinstance(action, list):
        assert all(isinstance(reply, str) for reply in action)
    session.clear()
    machine.restore(snapshot)
    assert machine.run(max_cycles=10_000).reason.value in ("limit", "requested")


def test_read_watchpoint_set_mid_run_sees_code_that_already_ran(served):
    """unicorn decides when it translates a block whether its loads call memory hooks, so a read
    watchpoint inserted mid-run must retranslate code that already ran. Where Ctrl-C lands
    depends on wall-clock time, so the test then goes to a place that does not: the entry of
    the next SysTick handler, whose first reader of tick_count is xTaskIncrementTick - code that
    ran at every one of the ticks before."""
    c = served.connect()
    c.send("vCont;c")
    assert served.running_cycles()                   # 10 ms: ten ticks have run the tick code
    c.send_raw(b"\x03")
    assert stop_fields(c.read_packet())["signal"] == "02"
    systick = symbol(served, "SysTick_Handler")
    assert c.request(f"Z1,{systick:x},2") == b"OK"
    c.send("vCont;c")
    assert le32(stop_fields(c.read_packet())["0f"]) == systick
    assert c.request(f"z1,{systick:x},2") == b"OK"
    tick = symbol(served, "tick_count")
    assert c.request(f"Z3,{tick:x},4") == b"OK"
    c.send("vCont;c")
    stop = stop_fields(c.read_packet())
    assert int(stop["rwatch"], 16) == tick
    assert served.machine.symbolize(le32(stop["0f"])).startswith("xTaskIncrementTick")
