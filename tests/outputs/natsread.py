"""Read a JetStream stream back with nats-py directly (the oracle for the bus tests)."""
from __future__ import annotations

import asyncio
import json
from typing import Any


async def _read(url: str, stream: str) -> list[tuple[str, dict[str, Any], str]]:
    import nats

    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(stream)
        out = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await js.get_msg(stream, seq)
            out.append((msg.subject, json.loads(msg.data), (msg.headers or {}).get("Nats-Msg-Id", "")))
        return out
    finally:
        await nc.close()


def read_stream(url: str, stream: str = "SYSWARDEN_ALERTS") -> list[tuple[str, dict[str, Any], str]]:
    """(subject, document, message id) of every message in the stream, in stream order."""
    return asyncio.run(_read(url, stream))
