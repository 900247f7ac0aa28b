"""Host side of the emulated link: frame codecs, the host TCP/IP endpoint, the virtual internet the
device sees through it (router, DHCP, DNS, SNTP, any destination reachable), the link with fault
injection, and the pcapng capture with TLS secrets."""

from sim.net.calendar_clock import CalendarClock, parse_date
from sim.net.dhcp import DhcpConfig, DhcpEvent, DhcpServer
from sim.net.dns import DnsAnswer, DnsConfig, DnsResolver
from sim.net.errors import NetworkConfigError
from sim.net.faults import FaultRecord, FaultRule, corrupt, corrupt_stream_byte, drop, duplicate, reorder, truncate
from sim.net.hoststack import HostStack, Ping, UdpDatagram
from sim.net.internet import ROUTER_IP, ROUTER_MAC, ConnectionRecord, InternetConfig, VirtualInternet
from sim.net.link import DEVICE_TO_HOST, HOST_TO_DEVICE, FrameInfo, Link
from sim.net.pcapng import Direction, PcapngWriter
from sim.net.sink import TcpSink
from sim.net.sntp import SntpConfig, SntpServer, TimeAnswer
from sim.net.tcp import RxSegment, StreamHandler, TcpConfig, TcpConnection

__all__ = [
    "DEVICE_TO_HOST", "HOST_TO_DEVICE", "ROUTER_IP", "ROUTER_MAC", "CalendarClock", "ConnectionRecord",
    "DhcpConfig", "DhcpEvent", "DhcpServer", "Direction", "DnsAnswer", "DnsConfig", "DnsResolver", "FaultRecord",
    "FaultRule", "FrameInfo", "HostStack", "InternetConfig", "Link", "NetworkConfigError", "PcapngWriter", "Ping",
    "RxSegment", "SntpConfig", "SntpServer", "StreamHandler", "TcpConfig", "TcpConnection", "TcpSink",
    "TimeAnswer", "UdpDatagram", "VirtualInternet", "corrupt", "corrupt_stream_byte", "drop", "duplicate",
    "parse_date", "reorder", "truncate",
]
