"""Where events come from: eBPF probe, ptrace, scap captures, JSONL replay, Linux audit (live or logs).

``REGISTRY`` maps a source name to the dotted path of its factory; explicit, no entry points.
"""
from __future__ import annotations

REGISTRY: dict[str, str] = {
    "replay": "syswarden.sources.replay:ReplaySource",
    "scap": "syswarden.sources.scap.reader:ScapSource",
    "ebpf": "syswarden.sources.ebpf.source:EbpfSource",
    "ptrace": "syswarden.sources.ptrace.source:PtraceSource",
    "audit": "syswarden.sources.audit.source:AuditSource",
}
