"""One parser for the text of a Linux audit record: header (type, timestamp, serial) and ``key=value`` fields.

Every reader of audit text uses it: the seccomp kill explanations (``sandbox/denials.py``), the Landlock denial
explanations (``sandbox/landlock_denials.py``) and the Linux audit source. The format, as the kernel writes it
(``kernel/audit.c``, ``kernel/auditsc.c``) and auditd stores it::

    type=SECCOMP msg=audit(1700000000.123:4567): pid=42 comm="nc" exe=2F746D702F6120622F6E63 sig=31 ...
    audit: type=1326 audit(1700000000.123:4567): pid=42 ...          (the same record in /dev/kmsg)
    audit(1700000000.123:4567): pid=42 ...                           (a netlink payload: type in the header)
    node=host1 type=USER_CMD msg=audit(...): pid=3 uid=0 msg='cwd="/" cmd=6C73 res=success'
    ... res=success'<0x1d>AUID="root" UID="root"                     (auditd's ENRICHED log format)

- The header ``audit(SECONDS.MILLIS:SERIAL):`` (the colon is missing in some daemon records) is the first one in
  the text; the body is what follows it.
- Fields are ``key=value`` separated by spaces; keys are letters, digits, ``_`` and ``-`` (``old-auid``). A
  word without ``=`` (``user pid=3``) is skipped.
- A value is one of: ``"a quoted string"`` (no ``"`` inside: the kernel never quotes a string holding one),
  ``'a single-quoted string'`` (the free text of user-space messages, ``msg='...'``; parse it again with
  ``parse_fields`` to read the fields inside), or a bare token up to the next space (numbers, ``0x...``,
  ``(null)``, ``?``, or the hex form below). An unterminated quote is taken as a bare token.
- Strings the kernel does not trust (``comm``, ``exe``, ``path``, ``name``, ``cwd``, ``proctitle``, ``key``,
  execve arguments...) are written quoted when they hold only characters 0x21-0x7e other than ``"``, and
  otherwise as their bytes in *upper-case* hex (``audit_log_n_untrustedstring``). Only the reader knows which
  fields are such strings: ``AuditRecord.text(name)`` decodes one (hex -> bytes -> str with surrogate escapes
  for bytes that are not UTF-8; escape before printing), ``AuditRecord.raw(name)`` returns the token as written
  (``pid=1234`` must not be read as the hex of two bytes).
- Everything after the ENRICHED separator (0x1d) is auditd's interpretation, not the kernel's: it is kept apart
  in ``AuditRecord.enriched`` and never mixed into ``fields``.

Hostile input: a watched process chooses its comm, exe, file names and arguments, and a process with
CAP_AUDIT_WRITE writes the whole of ``msg='...'``, quotes included. So: the *first* occurrence of a key wins (the
kernel writes its own fields before the text it was handed, so a forged ``pid=1`` later in the record cannot
replace the real one); text is capped at ``MAX_RECORD_CHARS`` and ``MAX_FIELDS``; parsing is one linear regex
pass and never raises on any input (malformed parts are skipped, not guessed).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

# The kernel's MAX_AUDIT_MESSAGE_LENGTH is 8970; auditd lines with ENRICHED text are longer. Past this, the
# rest of a record is ignored.
MAX_RECORD_CHARS = 1 << 16
MAX_FIELDS = 1024
ENRICHED_SEPARATOR = "\x1d"

_HEADER = re.compile(r"audit\((\d{1,20})\.(\d{1,9}):(\d{1,20})\):?")
_TYPE = re.compile(r"(?:^|\s)type=(\w{1,40})")
_FIELD = re.compile(r"""(?:^|(?<=\s))([A-Za-z0-9_][A-Za-z0-9_-]{0,63})=("[^"]*"|'[^']*'|\S*)""")
_UPPER_HEX = re.compile(r"(?:[0-9A-F]{2})+")
_DEC_DIGITS = frozenset("0123456789")
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One record: ``type`` (number, or None when the text names it by name or not at all: see ``type_name``),
    ``timestamp`` (``"SECONDS.MILLIS"``) and ``serial`` from the header, the kernel's ``fields`` (key -> value
    token as written, first occurrence) and auditd's ``enriched`` fields."""

    type: int | None = None
    type_name: str = ""
    timestamp: str = ""
    serial: int | None = None
    fields: dict[str, str] = field(default_factory=dict)
    enriched: dict[str, str] = field(default_factory=dict)

    def raw(self, name: str) -> str | None:
        """The value token of ``name`` as written (quotes included), or None."""
        return self.fields.get(name)

    def text(self, name: str) -> str | None:
        """The value of ``name`` read as a string the kernel may have hex-encoded (``decode_untrusted``)."""
        value = self.fields.get(name)
        return None if value is None else decode_untrusted(value)

    def integer(self, name: str, base: int = 10) -> int | None:
        """The value of ``name`` as an integer in ``base`` (16 also takes a ``0x`` prefix), or None when it is
        missing or not a number."""
        return parse_int(self.fields.get(name), base)


def parse_int(value: str | None, base: int = 10) -> int | None:
    """An unsigned integer token in base 10 (``1234``) or 16 (``c000003e``, ``0x80000000``), or None."""
    if value is None or not 0 < len(value) <= 40:
        return None
    digits = value[2:] if base == 16 and value[:2].lower() == "0x" else value
    allowed = _HEX_DIGITS if base == 16 else _DEC_DIGITS
    if base not in (10, 16) or not digits or not all(c in allowed for c in digits):
        return None  # int() would also take "+", "_" and spaces
    return int(digits, base)


def decode_untrusted(value: str) -> str:
    """A string field as the kernel wrote it: ``"text"`` -> ``text``; ``'text'`` -> ``text``; upper-case hex
    of whole bytes -> those bytes as UTF-8 (surrogate escapes for invalid bytes); anything else (``(null)``,
    ``?``) as it is."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    if _UPPER_HEX.fullmatch(value):
        return bytes.fromhex(value).decode("utf-8", "surrogateescape")
    return value


def parse_fields(body: str, limit: int = MAX_FIELDS) -> dict[str, str]:
    """``key=value`` pairs of ``body`` (value tokens as written, quotes kept), first occurrence of each key;
    at most ``limit`` keys and ``MAX_RECORD_CHARS`` characters are read."""
    out: dict[str, str] = {}
    for match in _FIELD.finditer(body[:MAX_RECORD_CHARS]):
        key = match.group(1)
        if key not in out:
            if len(out) >= limit:
                break
            out[key] = match.group(2)
    return out


def split_header(text: str) -> tuple[tuple[str, int] | None, str, str]:
    """(``(timestamp, serial)`` or None, the text before the header, the body after it). Without a header the
    whole text is the body."""
    text = text[:MAX_RECORD_CHARS]
    match = _HEADER.search(text)
    if match is None:
        return None, "", text
    stamp = f"{int(match.group(1))}.{match.group(2)}"
    return (stamp, int(match.group(3))), text[:match.start()], text[match.end():]


def serial_of(text: str) -> int | None:
    """The serial number in a record's header (records of one event share it), or None."""
    header, _, _ = split_header(text)
    return header[1] if header else None


def parse_record(text: str, record_type: int | None = None) -> AuditRecord:
    """Parse one record's text (a log line, a kmsg line or a netlink payload). ``record_type`` is the type
    known from elsewhere (the netlink message header); otherwise it comes from a ``type=`` before the header,
    as a number (``type=1326``) or a name (``type=SECCOMP``, kept in ``type_name``)."""
    header, prefix, body = split_header(text)
    kernel_part, _, enriched = body.partition(ENRICHED_SEPARATOR)
    type_name = ""
    if record_type is None and header is not None and (named := _TYPE.search(prefix)):
        word = named.group(1)
        if word.isdigit():
            record_type = int(word)
        else:
            type_name = word
    return AuditRecord(record_type, type_name, header[0] if header else "", header[1] if header else None,
                       parse_fields(kernel_part), parse_fields(enriched) if enriched else {})
