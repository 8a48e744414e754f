"""The ``container.*`` and ``k8s.*`` field classes.

A host process has ``container.id`` and ``container.name`` ``host`` (Falco's convention). The runtime comes
from ``ThreadInfo.container_runtime`` (state parses cgroup paths). Everything else comes from a container metadata
object the state layer may attach as ``ThreadInfo.container`` (attributes ``name``, ``image``, ``image_repository``,
``image_tag``, ``privileged``, ``start_ts``, ``mounts`` as a list of (source, dest) pairs, ``type``); without it those
fields are ``<NA>``. syswarden has no Kubernetes source, so ``k8s.*`` fields are always ``<NA>``.
"""
from __future__ import annotations

import fnmatch
from typing import Any

from syswarden.events.event import Event
from syswarden.rules.fields.model import ArgKind, Extractor, FieldSpec, FieldType

HOST = "host"


def _container_id(event: Event) -> str | None:
    thread = event.thread
    if thread is None:
        return None
    return thread.container_id[:12] if thread.container_id else HOST


def _meta(attr: str, host_value: Any = None) -> Any:
    """A metadata attribute; ``host_value`` for host processes."""
    def make(_arg: str | None) -> Extractor:
        def extract(event: Event) -> Any:
            thread = event.thread
            if thread is None:
                return None
            if not thread.container_id:
                return host_value
            meta = getattr(thread, "container", None)
            return getattr(meta, attr, None) if meta is not None else None
        return extract
    return make


def _runtime(_arg: str | None) -> Extractor:
    """container.type: the runtime state found in the cgroup path, else the metadata's ``type``."""
    meta_type = _meta("type")(None)

    def extract(event: Event) -> Any:
        thread = event.thread
        if thread is None or not thread.container_id:
            return None
        return thread.container_runtime or meta_type(event)
    return extract


def _full_id(event: Event) -> str | None:
    thread = event.thread
    if thread is None:
        return None
    if not thread.container_id:
        return HOST
    meta = getattr(thread, "container", None)
    return getattr(meta, "full_id", None) or thread.container_id


def _mount_dest(arg: str | None) -> Extractor:
    """``container.mount.dest[PATTERN]``: the destination of the first mount whose source matches PATTERN."""
    assert arg is not None

    def extract(event: Event) -> Any:
        meta = getattr(event.thread, "container", None) if event.thread is not None else None
        for source, dest in getattr(meta, "mounts", None) or ():
            if fnmatch.fnmatchcase(source, arg):
                return dest
        return None
    return extract


def _mounts(_arg: str | None) -> Extractor:
    def extract(event: Event) -> Any:
        meta = getattr(event.thread, "container", None) if event.thread is not None else None
        mounts = getattr(meta, "mounts", None)
        if mounts is None:
            return None
        return ",".join(f"{source}:{dest}" for source, dest in mounts)
    return extract


def _na(_arg: str | None) -> Extractor:
    return lambda _event: None


S = FieldType.CHARBUF

FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("container.id", S, "Container id (12 hex digits), or 'host'.", lambda _a: _container_id,
              inline="(None if (t := e.thread) is None else (t.container_id[:12] if t.container_id else 'host'))"),
    FieldSpec("container.name", S, "Container name, or 'host'.", _meta("name", HOST)),
    FieldSpec("container.image", S, "Image name with tag.", _meta("image")),
    FieldSpec("container.image.repository", S, "Image repository.", _meta("image_repository")),
    FieldSpec("container.image.tag", S, "Image tag.", _meta("image_tag")),
    FieldSpec("container.full_id", S, "Full container id (64 hex digits when known), or 'host'.",
              lambda _a: _full_id),
    FieldSpec("container.type", S, "Container runtime (docker, containerd, cri-o, podman ...) from the cgroup path.",
              _runtime),
    FieldSpec("container.privileged", FieldType.BOOL, "true for a privileged container.", _meta("privileged")),
    FieldSpec("container.start_ts", FieldType.ABSTIME, "Container start time, ns since the epoch.",
              _meta("start_ts")),
    FieldSpec("container.mounts", S, "Mounts as source:dest, comma separated.", _mounts),
    FieldSpec("container.mount.dest", S, "Destination of the mount whose source matches the glob argument.",
              _mount_dest, ArgKind.KEY_REQUIRED),
    FieldSpec("k8s.ns.name", S, "Kubernetes namespace (no Kubernetes source: always <NA>).", _na),
    FieldSpec("k8s.pod.name", S, "Kubernetes pod name (always <NA>).", _na),
    FieldSpec("k8s.pod.uid", S, "Kubernetes pod uid (always <NA>).", _na),
)
