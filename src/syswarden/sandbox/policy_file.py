"""Reading a ``--policy FILE`` for ``syswarden run``: the seccomp part through ``policy.load`` and the optional
``landlock:`` section (documented in ``sandbox/landlock.py``) with positions, from the same parsed document.

The seccomp formats do not know ``landlock:``; we take it off the parsed tree before handing the rest to the
format's loader, so every error still points at ``file:line:col`` of the user's file.
"""
from __future__ import annotations

import os
from pathlib import Path

from syswarden.policy import load as policy_load
from syswarden.policy.formats import docker, go_seccomp, native_yaml
from syswarden.policy.formats.tree import Doc, Node, Reader
from syswarden.policy.model import Policy
from syswarden.sandbox.landlock import SCOPE_NAMES, FsRight, LandlockSpec, PathRule, _check_port

LANDLOCK_KEYS = ("paths", "net", "scope")
PATH_KEYS = ("path", "allow")
NET_KEYS = ("bind", "connect")


def load_run_policy(path: str, text: str | None = None) -> tuple[Policy, LandlockSpec | None]:
    """The seccomp policy in ``path`` (any format) and its Landlock section, if it has one; ``text``, when
    given, is the file's content as already read (the filter cache keys on exactly these bytes)."""
    text, filename = policy_load.read_source(path) if text is None else (text, str(Path(path)))
    doc = policy_load.parse(text, filename)
    spec = None
    root = doc.root
    if isinstance(root.value, dict) and "landlock" in root.value:
        spec = parse_landlock(Reader(doc), root.value["landlock"])
        rest = {k: v for k, v in root.value.items() if k != "landlock"}
        doc = Doc(Node(rest, root.span, {k: s for k, s in root.key_spans.items() if k != "landlock"}), doc.source)
    fmt = policy_load.detect(doc)
    if fmt == "docker":
        policy = docker.load_doc(doc, host=docker.make_host())
    elif fmt == "go-seccomp":
        policy = go_seccomp.load_doc(doc)
    else:
        policy = native_yaml.load_doc(doc)
    return policy, spec


def parse_landlock(reader: Reader, node: Node) -> LandlockSpec:
    """The ``landlock:`` mapping -> ``LandlockSpec``; relative paths are relative to the current directory."""
    reader.check_keys(node, LANDLOCK_KEYS, "'landlock'")
    top = reader.mapping(node, "'landlock'")
    rules = tuple(_path_rule(reader, item) for item in reader.seq(top["paths"], "'landlock.paths'")) \
        if "paths" in top else ()
    bind = connect = None
    if "net" in top:
        reader.check_keys(top["net"], NET_KEYS, "'landlock.net'")
        net = reader.mapping(top["net"], "'landlock.net'")
        bind = _ports(reader, net["bind"], "bind") if "bind" in net else None
        connect = _ports(reader, net["connect"], "connect") if "connect" in net else None
    scopes = _scopes(reader, top["scope"]) if "scope" in top else ()
    return LandlockSpec(rules, bind, connect, reader.doc.source.name, scopes)


def _scopes(reader: Reader, node: Node) -> tuple[str, ...]:
    names = set()
    for word, span in reader.strings(node, "'landlock.scope'"):
        if word not in SCOPE_NAMES:
            raise reader.error(f"unknown landlock scope {word!r} (expected one of: {', '.join(SCOPE_NAMES)})", span)
        names.add(word)
    return tuple(sorted(names))


def _path_rule(reader: Reader, node: Node) -> PathRule:
    reader.check_keys(node, PATH_KEYS, "a landlock path rule")
    path = reader.string(reader.require(node, "path", "a landlock path rule"), "'path'")
    rights = []
    for word, span in reader.strings(reader.require(node, "allow", "a landlock path rule"), "'allow'"):
        try:
            rights.append(FsRight(word))
        except ValueError:
            expected = ", ".join(r.value for r in FsRight)
            raise reader.error(f"unknown landlock right {word!r} (expected one of: {expected})", span) from None
    if not rights:
        raise reader.error("expected at least one right in 'allow'", node.span)
    return PathRule(os.path.abspath(path), frozenset(rights), node.span)


def _ports(reader: Reader, node: Node, what: str) -> tuple[int, ...]:
    items = [node] if isinstance(node.value, int) else reader.seq(node, f"'landlock.net.{what}'")
    return tuple(_check_port(reader.integer(item, f"a {what} port", 0, 65535), item.span) for item in items)

