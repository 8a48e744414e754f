"""libs' numeric event codes (``PPME_*``) mapped to our event names, and the wire decoding of their parameters.

A scap file stores events by number; every libs release kept old numbers valid and added new ones when a
syscall's parameters changed (``execve`` has eight codes). ``data/event_codes.tsv`` lists, for each code, the
Falco event name, flags (``I`` internal: never shown to users; ``L`` 32-bit parameter lengths), the
parameters as ``name:wire_type`` — the wire layout of that code, old versions included — and how many of those
parameters libs 0.7 (the event table of sysdig 0.29) knew, which the writer honours; the names are the ones of
``syswarden.events.types`` so ``evt.arg.NAME`` means the same thing for every source. Enter events have even
codes, exit events odd ones. ``decode_value`` turns a parameter's bytes into the typed value ``Event.params``
holds; ``encode_value`` is its inverse for the writer.
"""
from __future__ import annotations

import ipaddress
import struct
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from syswarden.events.event import SockAddr, SockTuple

# PPM_AF_* socket families as the drivers encode them
FAMILIES = {0: "AF_UNSPEC", 1: "AF_UNIX", 2: "AF_INET", 10: "AF_INET6", 16: "AF_NETLINK", 17: "AF_PACKET"}
FAMILY_CODES = {v: k for k, v in FAMILIES.items()}
L4_PROTOS = {0: "", 1: "", 2: "tcp", 3: "udp", 4: "icmp", 5: "raw"}   # scap_l4_proto numbers in fd lists

# parameters that are NUL-separated string lists although their wire type is a byte buffer
STRING_LIST_PARAMS = frozenset({"args", "env", "cgroups"})

_SIGNED = {"int8": "<b", "int16": "<h", "int32": "<i", "int64": "<q", "errno": "<q", "fd": "<q", "pid": "<q",
           "reltime": "<q"}
_UNSIGNED = {"uint8": "<B", "uint16": "<H", "uint32": "<I", "uint64": "<Q", "flags8": "<B", "flags16": "<H",
             "flags32": "<I", "enumflags8": "<B", "enumflags16": "<H", "enumflags32": "<I", "uid": "<I",
             "gid": "<I", "mode": "<I", "syscallid": "<H", "sigtype": "<B", "abstime": "<Q", "port": "<H",
             "l4proto": "<B", "sockfamily": "<B", "bool": "<I", "sigset": "<I"}
_STRINGS = frozenset({"charbuf", "fspath", "fsrelpath"})


@dataclass(frozen=True, slots=True)
class EventCode:
    """One libs event code: Falco event name, direction, visibility and wire parameter layout."""

    code: int
    name: str
    dir: str                              # ">" enter, "<" exit
    internal: bool                        # EC_INTERNAL: libs-generated (procinfo, drop ...), hidden from users
    large: bool                           # parameter lengths are u32 (EF_LARGE_PAYLOAD)
    params: tuple[tuple[str, str], ...]   # (name, wire type) in wire order
    compat_nparams: int | None            # parameter count in libs 0.7 (sysdig 0.29); None: code unknown there

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(n for n, _ in self.params)


@cache
def table() -> dict[int, EventCode]:
    """Every known code (the table libs ships: ``PPM_EVENT_MAX`` entries)."""
    text = resources.files("syswarden.sources.scap").joinpath("data/event_codes.tsv").read_text()
    out: dict[int, EventCode] = {}
    for line in text.splitlines():
        code_s, name, flags, spec, compat = (line.split("\t") + ["", ""])[:5]
        code = int(code_s)
        params = tuple((p.split(":")[0], p.split(":")[1]) for p in spec.split())
        out[code] = EventCode(code, name, ">" if code % 2 == 0 else "<", "I" in flags, "L" in flags, params,
                              None if compat in ("", "-") else int(compat))
    return out


@cache
def nparams_by_code() -> dict[int, int]:
    return {c.code: len(c.params) for c in table().values()}


@cache
def large_codes() -> frozenset[int]:
    return frozenset(c.code for c in table().values() if c.large)


def lookup(code: int) -> EventCode | None:
    return table().get(code)


def decode_value(wire: str, raw: bytes, name: str = "") -> Any:
    """The typed value of one parameter (ints, str, bytes, list[str], SockAddr, SockTuple ...)."""
    fmt = _SIGNED.get(wire) or _UNSIGNED.get(wire)
    if fmt is not None:
        return _int(raw, fmt)
    if wire in _STRINGS:
        return raw.split(b"\0", 1)[0].decode("utf-8", "replace")
    if wire == "bytebuf":
        if name in STRING_LIST_PARAMS:
            from syswarden.sources.scap.tables import split_nul
            return split_nul(raw)
        return raw
    if wire == "sockaddr":
        return decode_sockaddr(raw)
    if wire == "socktuple":
        return decode_socktuple(raw)
    if wire == "fdlist":
        return _fdlist(raw)
    if wire == "double" and len(raw) == 8:
        return struct.unpack("<d", raw)[0]
    if wire in ("ipv4addr", "ipv6addr", "ipaddr"):
        return _ip(raw) if len(raw) in (4, 16) else raw
    return raw


Decoder = Callable[[bytes], Any]


def int_format(wire: str) -> str | None:
    """The struct format (``"<q"``...) of a fixed-width integer wire type; None for other types."""
    return _SIGNED.get(wire) or _UNSIGNED.get(wire)


def value_decoder(wire: str, name: str) -> Decoder:
    """A decoding function for one parameter, specialised once per (type, name) for the hot path."""
    fmt = _SIGNED.get(wire) or _UNSIGNED.get(wire)
    if fmt is not None:
        packer = struct.Struct(fmt)
        size, unpack = packer.size, packer.unpack

        def as_int(raw: bytes) -> int:
            return unpack(raw)[0] if len(raw) == size else _int(raw, fmt)
        return as_int
    if wire in _STRINGS:
        return _text
    return lambda raw: decode_value(wire, raw, name)


def _text(raw: bytes) -> str:
    end = raw.find(b"\0")
    return (raw if end < 0 else raw[:end]).decode("utf-8", "replace")


def _int(raw: bytes, fmt: str) -> int:
    size = struct.calcsize(fmt)
    if len(raw) == size:
        return int(struct.unpack(fmt, raw)[0])
    # old drivers sometimes wrote narrower/wider ints: read by the actual length
    return int.from_bytes(raw[:8], "little", signed=fmt[1].islower()) if raw else 0   # never over 64 bits


def _ip(raw: bytes) -> str:
    return str(ipaddress.ip_address(raw))


def decode_sockaddr(raw: bytes) -> SockAddr | None:
    if not raw:
        return None
    family = FAMILIES.get(raw[0], f"AF_{raw[0]}")
    if raw[0] == 2 and len(raw) >= 7:
        return SockAddr(family, _ip(raw[1:5]), struct.unpack_from("<H", raw, 5)[0])
    if raw[0] == 10 and len(raw) >= 19:
        return SockAddr(family, _ip(raw[1:17]), struct.unpack_from("<H", raw, 17)[0])
    if raw[0] == 1:
        return SockAddr(family, raw[1:].split(b"\0", 1)[0].decode("utf-8", "replace"))
    return SockAddr(family)


def decode_socktuple(raw: bytes) -> SockTuple | None:
    if not raw:
        return None
    family = FAMILIES.get(raw[0], f"AF_{raw[0]}")
    if raw[0] == 2 and len(raw) >= 13:
        sport, dport = struct.unpack_from("<H", raw, 5)[0], struct.unpack_from("<H", raw, 11)[0]
        return SockTuple(family, _ip(raw[1:5]), sport, _ip(raw[7:11]), dport)
    if raw[0] == 10 and len(raw) >= 37:
        sport, dport = struct.unpack_from("<H", raw, 17)[0], struct.unpack_from("<H", raw, 35)[0]
        return SockTuple(family, _ip(raw[1:17]), sport, _ip(raw[19:35]), dport)
    if raw[0] == 1 and len(raw) >= 17:
        src, dst = struct.unpack_from("<QQ", raw, 1)
        path = raw[17:].split(b"\0", 1)[0].decode("utf-8", "replace")
        # unix endpoints are kernel socket addresses (hex) and the path, which is what fd.name shows
        return SockTuple(family, f"{src:x}", 0, path, dst, l4proto="")
    return SockTuple(family, "", 0, "", 0, l4proto="")


def _fdlist(raw: bytes) -> list[tuple[int, int]]:
    if len(raw) < 2:
        return []
    (count,) = struct.unpack_from("<H", raw, 0)
    count = min(count, (len(raw) - 2) // 10)
    return [struct.unpack_from("<qH", raw, 2 + 10 * i) for i in range(count)]


def encode_value(wire: str, value: Any) -> bytes:
    """The wire bytes of one parameter value (inverse of ``decode_value`` for what the writer emits)."""
    fmt = _SIGNED.get(wire) or _UNSIGNED.get(wire)
    if fmt is not None:
        return struct.pack(fmt, fit(value if isinstance(value, int) else 0, fmt))
    if wire in _STRINGS:
        return str(value or "").encode("utf-8", "replace") + b"\0"
    if wire == "bytebuf":
        if isinstance(value, (list, tuple)):
            return b"".join(str(v).encode("utf-8", "replace") + b"\0" for v in value)
        return bytes(value or b"")
    if wire == "sockaddr":
        return _encode_sockaddr(value)
    if wire == "socktuple":
        return _encode_socktuple(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return b""


def fit(value: int, fmt: str) -> int:
    """``value`` as a ``struct`` field of format ``fmt`` holds it (wrapped to its width, two's complement for
    signed formats), so whatever integer an event carries packs without error."""
    bits = 8 * struct.calcsize(fmt)
    wrapped = value & ((1 << bits) - 1)
    return wrapped - (1 << bits) if fmt[-1].islower() and wrapped >> (bits - 1) else wrapped


def _packed_ip(text: str) -> bytes | None:
    try:
        return ipaddress.ip_address(text).packed
    except ValueError:
        return None


def _encode_sockaddr(value: SockAddr | None) -> bytes:
    if value is None:
        return b""
    fam = FAMILY_CODES.get(value.family, 0)
    addr = _packed_ip(value.addr) if fam in (2, 10) else None
    if addr is not None and len(addr) == (4 if fam == 2 else 16):
        return bytes([fam]) + addr + struct.pack("<H", value.port & 0xFFFF)
    if fam == 1:
        return b"\x01" + value.addr.encode() + b"\0"
    return bytes([fam])


def _encode_socktuple(value: SockTuple | None) -> bytes:
    if value is None:
        return b""
    fam = FAMILY_CODES.get(value.family, 0)
    size = 4 if fam == 2 else 16
    sip, dip = (_packed_ip(value.sip), _packed_ip(value.dip)) if fam in (2, 10) else (None, None)
    if sip is not None and dip is not None and len(sip) == len(dip) == size:
        return (bytes([fam]) + sip + struct.pack("<H", value.sport & 0xFFFF)
                + dip + struct.pack("<H", value.dport & 0xFFFF))
    if fam == 1:
        try:
            src = int(value.sip or "0", 16)
        except ValueError:
            src = 0
        return b"\x01" + struct.pack("<QQ", src & (2**64 - 1), value.dport & (2**64 - 1)) + value.dip.encode() + b"\0"
    return bytes([fam])
