"""Host side of the emulated Ethernet link: frame codecs, the host TCP/IP endpoint, the link with
fault injection, and the pcapng capture with TLS secrets."""

from sim.net.faults import FaultRecord, FaultRule, corrupt, corrupt_stream_byte, drop, duplicate, reorder, truncate
from sim.net.hoststack import HostStack, Ping
from sim.net.link import DEVICE_TO_HOST, HOST_TO_DEVICE, FrameInfo, Link
from sim.net.pcapng import Direction, PcapngWriter
from sim.net.tcp import RxSegment, StreamHandler, TcpConfig, TcpConnection

__all__ = [
    "DEVICE_TO_HOST", "HOST_TO_DEVICE", "Direction", "FaultRecord", "FaultRule", "FrameInfo", "HostStack",
    "Link", "PcapngWriter", "Ping", "RxSegment", "StreamHandler", "TcpConfig", "TcpConnection", "corrupt",
    "corrupt_stream_byte", "drop", "duplicate", "reorder", "truncate",
]
