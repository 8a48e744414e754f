"""Docker/OCI seccomp profiles (JSON), read the way moby resolves them and runc applies them.

moby turns a Docker profile into an OCI profile for one container: ``archMap`` picks the native arch and its
sub-arches, and ``includes``/``excludes`` keep or drop each rule by native arch, capability set and kernel
version. runc then applies it: a rule whose action equals the default is dropped, unknown syscall names are
ignored, and when two conditions of one rule compare the same argument, every condition becomes a rule of
its own (ORed). Podman's ``defaultErrno``/``errno`` (errno names) are read too. Each of these semantics is
documented in docs/docker-semantics.md. ``dump`` writes a resolved OCI profile with ``architectures``.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from syswarden.errors import PolicyError
from syswarden.policy import vocab
from syswarden.policy.formats import tree
from syswarden.policy.formats.docker_host import DEFAULT_CAPS, Host, make_host, normalize_cap, parse_kernel
from syswarden.policy.formats.tree import Node, Reader
from syswarden.policy.model import Action, ActionKind, ArgCondition, Op, Policy, SyscallRule
from syswarden.policy.resolve import NameResolver, condition
from syswarden.spans import Span
from syswarden.syscalls.arch import Arch

ACTIONS: dict[str, ActionKind] = {
    "SCMP_ACT_KILL": ActionKind.KILL_THREAD,        # libseccomp's SCMP_ACT_KILL is the thread kill
    "SCMP_ACT_KILL_THREAD": ActionKind.KILL_THREAD,
    "SCMP_ACT_KILL_PROCESS": ActionKind.KILL_PROCESS,
    "SCMP_ACT_TRAP": ActionKind.TRAP,
    "SCMP_ACT_ERRNO": ActionKind.ERRNO,
    "SCMP_ACT_TRACE": ActionKind.TRACE,
    "SCMP_ACT_ALLOW": ActionKind.ALLOW,
    "SCMP_ACT_LOG": ActionKind.LOG,
    "SCMP_ACT_NOTIFY": ActionKind.NOTIFY,
}
ACTION_NAME: dict[ActionKind, str] = {kind: name for name, kind in ACTIONS.items() if name != "SCMP_ACT_KILL"}
OPS: dict[str, Op] = {f"SCMP_CMP_{op.name}": op for op in Op}
__all__ = ["DEFAULT_CAPS", "Host", "dump", "load", "load_doc", "make_host", "normalize_cap", "parse_kernel"]

# runc does not set libseccomp's bad-arch action, so it stays libseccomp's default, SCMP_ACT_KILL (thread).
BAD_ARCH_ACTION = Action(ActionKind.KILL_THREAD)
EPERM = 1

TOP_KEYS = ("defaultAction", "defaultErrnoRet", "defaultErrno", "architectures", "archMap", "syscalls",
            "flags", "listenerPath", "listenerMetadata")
RULE_KEYS = ("names", "name", "action", "errnoRet", "errno", "args", "includes", "excludes", "comment")
ARG_KEYS = ("index", "value", "valueTwo", "op")
FILTER_KEYS = ("caps", "arches", "minKernel")

def load(text: str, *, filename: str = "<profile>", native_arch: Arch | None = None,
         caps: Iterable[str] | None = None, kernel: tuple[int, int] | str | None = None) -> Policy:
    """Parse and resolve a Docker/OCI profile for one host (defaults: this host, Docker's default caps).

    Raises:
        PolicySyntaxError: malformed JSON, wrong types, unknown actions or operators.
        PolicyError: contradictory keys (``name`` and ``names``, ``architectures`` and ``archMap``), bad
            argument index.
    """
    return load_doc(tree.parse_json(text, filename), host=make_host(native_arch, caps, kernel))


def load_doc(doc: tree.Doc, *, host: Host) -> Policy:
    doc = tree.Doc(_without_nulls(doc.root), doc.source)
    return _Loader(Reader(doc), host).policy()


def _without_nulls(node: Node) -> Node:
    """Go's encoding/json reads ``null`` as the zero value, so a null key is the same as a missing one."""
    if isinstance(node.value, dict):
        kept = {k: _without_nulls(v) for k, v in node.value.items() if v.value is not None}
        return Node(kept, node.span, {k: s for k, s in node.key_spans.items() if k in kept})
    if isinstance(node.value, list):
        return Node([_without_nulls(v) for v in node.value], node.span)
    return node


class _Loader:
    def __init__(self, reader: Reader, host: Host) -> None:
        self.r = reader
        self.host = host
        self.source = reader.doc.source

    def policy(self) -> Policy:
        root = self.r.doc.root
        self.r.check_keys(root, TOP_KEYS, "the profile", strict=False)
        top = root.value
        default = self.default_action(root)
        arches = self.arches(root)
        names = NameResolver(arches, self.source, ignore_unknown=True)
        rules: list[SyscallRule] = []
        for i, node in enumerate(self.r.seq(top["syscalls"], "'syscalls'") if "syscalls" in top else ()):
            try:
                rules.extend(self.rules(node, default, names))
            except PolicyError as err:
                err.with_context(f"in syscalls[{i}] ({node.span})")
                raise
        for key in ("listenerPath", "listenerMetadata"):
            if key in top:
                self.r.warn(f"{key!r} is not used: syswarden handles SCMP_ACT_NOTIFY itself", root.key_spans[key])
        return Policy(
            default_action=default, rules=tuple(rules), arches=arches, bad_arch_action=BAD_ARCH_ACTION,
            flags=self.flags(top["flags"]) if "flags" in top else frozenset(), source=self.source.name,
            warnings=(*self.r.warnings, *names.warnings),
        )

    # ------------------------------------------------------------------------------------- actions

    def default_action(self, root: Node) -> Action:
        kind_node = self.r.require(root, "defaultAction", "the profile")
        action = self.action(kind_node, root.value.get("defaultErrnoRet"), root.value.get("defaultErrno"))
        if action.kind is ActionKind.NOTIFY:
            raise self.r.error("SCMP_ACT_NOTIFY cannot be the default action (runc refuses it)", kind_node.span)
        return action

    def action(self, node: Node, ret: Node | None, name: Node | None) -> Action:
        text = self.r.string(node, "the action")
        kind = ACTIONS.get(text)
        if kind is None:
            raise self.r.error(f"unknown action {text!r} (expected one of: {', '.join(ACTIONS)})", node.span)
        data = self.errno(ret, name)
        if kind not in vocab.WITH_DATA:
            if data is not None:
                where = (ret or name or node).span
                raise self.r.error(f"an errno is given but {text} takes none (the OCI spec makes this an "
                                   "error)", where)
            return Action(kind)
        return Action(kind, EPERM if data is None else data)

    def errno(self, ret: Node | None, name: Node | None) -> int | None:
        """``errnoRet`` (number) wins; Podman's ``errno`` (name) is used when it is alone."""
        number = self.r.integer(ret, "'errnoRet'", 0, 0xFFFF) if ret is not None else None
        if name is None:
            return number
        text = self.r.string(name, "'errno'")
        by_name = vocab.errno_number(text)
        if by_name is None or not text.upper().startswith("E"):
            raise self.r.error(f"unknown errno name {text!r} (expected a name such as EPERM or ENOSYS)",
                               name.span)
        if number is not None and number != by_name:
            self.r.warn(f"errno {text} ({by_name}) disagrees with errnoRet {number}; using errnoRet", name.span)
            return number
        return by_name

    # ------------------------------------------------------------------------------------- arches

    def arches(self, root: Node) -> tuple[Arch, ...]:
        top = root.value
        if "architectures" in top and "archMap" in top:
            raise self.r.error("both 'architectures' and 'archMap' are given; use one of them (moby refuses "
                               "both)", root.key_spans["archMap"])
        found: list[Arch] = []
        if "architectures" in top:
            found = self.arch_names(self.r.strings(top["architectures"], "'architectures'"))
        elif "archMap" in top:
            found = self.arch_map(top["archMap"])
        out = tuple(dict.fromkeys(found))
        return out or (self.host.arch,)        # none listed: libseccomp filters the native arch only

    def arch_map(self, node: Node) -> list[Arch]:
        for entry in self.r.seq(node, "'archMap'"):
            self.r.check_keys(entry, ("architecture", "subArchitectures"), "an archMap entry", strict=False)
            main = self.r.require(entry, "architecture", "an archMap entry")
            arches = self.arch_names([(self.r.string(main, "'architecture'"), main.span)])
            if arches != [self.host.arch]:
                continue
            subs = entry.value.get("subArchitectures")
            return arches + (self.arch_names(self.r.strings(subs, "'subArchitectures'")) if subs else [])
        return []

    def arch_names(self, names: list[tuple[str, Span]]) -> list[Arch]:
        out = []
        for text, span in names:
            try:
                out.append(Arch.parse(text))
            except ValueError:
                if not text.startswith("SCMP_ARCH_"):
                    raise self.r.error(f"unknown architecture {text!r} (expected SCMP_ARCH_X86_64, ...)",
                                       span) from None
                self.r.warn(f"architecture {text} is not supported by syswarden; skipped", span)
        return out

    def flags(self, node: Node) -> frozenset[str]:
        out = set()
        for text, span in self.r.strings(node, "'flags'"):
            if text not in vocab.FLAG_OF_OCI:
                raise self.r.error(f"unknown flag {text!r} (expected one of: {', '.join(vocab.FLAG_OF_OCI)})", span)
            out.add(vocab.FLAG_OF_OCI[text])
        return frozenset(out)

    # -------------------------------------------------------------------------------------- rules

    def rules(self, node: Node, default: Action, names: NameResolver) -> list[SyscallRule]:
        self.r.check_keys(node, RULE_KEYS, "a syscalls entry", strict=False)
        items = node.value
        tokens = self.names(node)
        action = self.action(self.r.require(node, "action", "a syscalls entry"), items.get("errnoRet"),
                             items.get("errno"))
        conds = [self.condition(a) for a in self.r.seq(items["args"], "'args'")] if "args" in items else []
        if not self.applies(items):
            return []
        if action == default:
            return []                   # runc: "the action is the same as the default", skipped silently
        resolved = names.names(tokens)
        if not resolved:
            return []
        comment = self.r.string(items["comment"], "'comment'") if "comment" in items else ""
        groups = _runc_condition_groups(conds)
        return [SyscallRule(resolved, action, tuple(g), None, comment, node.span) for g in groups]

    def names(self, node: Node) -> list[tuple[str, Span]]:
        items = node.value
        if "name" in items and "names" in items:
            raise self.r.error("both 'name' and 'names' are given; use one of them (moby refuses both)",
                               node.key_spans["name"])
        if "name" in items:
            return [(self.r.string(items["name"], "'name'"), items["name"].span)]
        tokens = self.r.strings(self.r.require(node, "names", "a syscalls entry"), "'names'")
        if not tokens:
            raise self.r.error("expected at least one syscall in 'names'", items["names"].span)
        return tokens

    def condition(self, node: Node) -> ArgCondition:
        self.r.check_keys(node, ARG_KEYS, "an args entry", strict=False)
        index = self.r.integer(self.r.require(node, "index", "an args entry"), "'index'", 0, 5)
        op_node = self.r.require(node, "op", "an args entry")
        op = OPS.get(self.r.string(op_node, "'op'"))
        if op is None:
            raise self.r.error(f"unknown op {op_node.value!r} (expected one of: {', '.join(OPS)})", op_node.span)
        value = self.r.integer(self.r.require(node, "value", "an args entry"), "'value'")
        two_node = node.value.get("valueTwo")
        two = self.r.integer(two_node, "'valueTwo'") if two_node is not None else 0
        if op is Op.MASKED_EQ:          # runc: value is the mask (datum_a), valueTwo the value (datum_b)
            return condition(index, op, two, mask=value, span=node.span, source=self.source)
        return condition(index, op, value, span=node.span, source=self.source)

    def applies(self, items: dict[str, Node]) -> bool:
        """moby's includes/excludes: arch, capabilities and kernel version of the host."""
        inc = self.filter(items.get("includes"), "'includes'")
        exc = self.filter(items.get("excludes"), "'excludes'")
        if exc.arches and self.host.arch in exc.arches:
            return False
        if inc.arches and self.host.arch not in inc.arches:
            return False
        if exc.caps and exc.caps & self.host.caps:
            return False
        if exc.min_kernel and self.host.kernel >= exc.min_kernel:
            return False
        if inc.caps and not inc.caps <= self.host.caps:
            return False
        return not (inc.min_kernel and self.host.kernel < inc.min_kernel)

    def filter(self, node: Node | None, what: str) -> _Filter:
        if node is None:
            return _Filter(frozenset(), frozenset(), None)
        self.r.check_keys(node, FILTER_KEYS, what, strict=False)
        items = self.r.mapping(node, what)
        arches = frozenset(a for a in (_go_arch(t) for t, _ in self.r.strings(items["arches"], "'arches'"))
                           if a is not None) if "arches" in items else frozenset()
        caps = frozenset(normalize_cap(c) for c, _ in self.r.strings(items["caps"], "'caps'")) \
            if "caps" in items else frozenset()
        min_kernel = None
        if "minKernel" in items:
            text = self.r.string(items["minKernel"], "'minKernel'")
            if not re.fullmatch(r"\d+\.\d+", text):
                raise self.r.error(f"bad minKernel {text!r} (expected MAJOR.MINOR, e.g. \"4.8\")",
                                   items["minKernel"].span)
            min_kernel = parse_kernel(text)
        return _Filter(arches, caps, min_kernel)


@dataclass(frozen=True, slots=True)
class _Filter:
    arches: frozenset[Arch]
    caps: frozenset[str]
    min_kernel: tuple[int, int] | None


def _go_arch(text: str) -> Arch | None:
    """moby's includes/excludes use Go arch names (amd64, arm64, x86, s390); ones we lack never match."""
    try:
        return Arch.parse(text)
    except ValueError:
        return None


def _runc_condition_groups(conds: list[ArgCondition]) -> list[list[ArgCondition]]:
    """runc: conditions are ANDed, unless one argument index repeats; then each is a rule of its own."""
    indexes = [c.index for c in conds]
    if len(indexes) == len(set(indexes)):
        return [conds]
    return [[c] for c in conds]


# ------------------------------------------------------------------------------------------------ dump


def dump(policy: Policy) -> str:
    """A resolved OCI profile (``architectures``, no includes/excludes) that loads back to ``policy``.

    Raises:
        PolicyError: the policy uses what the format cannot say (per-rule arches, 32-bit comparisons,
            two conditions on one argument, a rule with the default action that later rules depend on).
    """
    if policy.default_action.kind is ActionKind.NOTIFY:
        raise PolicyError("a Docker profile cannot have SCMP_ACT_NOTIFY as its default action (runc refuses it)")
    out: dict[str, Any] = {"defaultAction": ACTION_NAME[policy.default_action.kind]}
    if policy.default_action.kind in vocab.WITH_DATA:
        out["defaultErrnoRet"] = policy.default_action.data
    out["architectures"] = [a.docker_name for a in policy.arches]
    if policy.flags:
        out["flags"] = [vocab.FLAGS[f] for f in sorted(policy.flags)]
    out["syscalls"] = [_dump_rule(r) for r in _dumpable_rules(policy)]
    return json.dumps(out, indent=2) + "\n"


def _dumpable_rules(policy: Policy) -> list[SyscallRule]:
    kept = []
    for i, rule in enumerate(policy.rules):
        _check_expressible(policy, rule)
        if rule.action != policy.default_action:
            kept.append(rule)
            continue
        later = {n for r in policy.rules[i + 1:] for n in r.names}
        if later & set(rule.names):
            raise PolicyError(f"rule for {', '.join(rule.names)} has the default action and shadows later "
                              "rules; Docker/runc would drop it", span=rule.span)
    return kept


def _check_expressible(policy: Policy, rule: SyscallRule) -> None:
    what = ", ".join(rule.names)
    if rule.arches is not None and not set(policy.arches) <= rule.arches:
        raise PolicyError(f"rule for {what} applies only to some arches; Docker profiles cannot say that",
                          span=rule.span)
    if any(c.width != 64 for c in rule.args):
        raise PolicyError(f"rule for {what} compares 32-bit arguments; Docker profiles compare 64 bits",
                          span=rule.span)
    indexes = [c.index for c in rule.args]
    if len(indexes) != len(set(indexes)):
        raise PolicyError(f"rule for {what} has two conditions on one argument; runc would OR them",
                          span=rule.span)


def _dump_rule(rule: SyscallRule) -> dict[str, Any]:
    out: dict[str, Any] = {"names": list(rule.names), "action": ACTION_NAME[rule.action.kind]}
    if rule.action.kind in vocab.WITH_DATA:
        out["errnoRet"] = rule.action.data
    if rule.args:
        out["args"] = [_dump_condition(c) for c in rule.args]
    if rule.comment:
        out["comment"] = rule.comment
    return out


def _dump_condition(cond: ArgCondition) -> dict[str, Any]:
    if cond.op is Op.MASKED_EQ:
        return {"index": cond.index, "value": cond.mask, "valueTwo": cond.value, "op": "SCMP_CMP_MASKED_EQ"}
    return {"index": cond.index, "value": cond.value, "op": f"SCMP_CMP_{cond.op.name}"}
