"""syswarden's own policy format (YAML), documented in docs/policy-format.md::

    name: web                       # optional
    default: errno(EPERM)           # required: the action when no rule matches
    bad_arch: kill_process          # optional (default kill_process)
    arches: [x86_64, i386, x32]     # optional (default: the native arch and its sub-arches)
    flags: [tsync, log]             # optional
    rules:
      - syscalls: [read, write, "@network-io"]
        action: allow
      - syscalls: [ioctl]
        action: {errno: EPERM}      # or errno(EPERM), errno(1)
        args: [{arg: 1, op: eq, value: 0x5412, width: 32}]
        arches: [x86_64]            # optional: this rule only on these arches
        comment: no TIOCSTI

A document whose top-level key is ``seccomp`` is elastic go-seccomp-bpf's format and is read by
``go_seccomp``.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from syswarden.escaping import escape_text
from syswarden.errors import PolicyError
from syswarden.policy import constants, vocab
from syswarden.policy.formats import tree
from syswarden.policy.formats.tree import Node, Reader
from syswarden.policy.model import KILL_PROCESS, Action, ArgCondition, Op, Policy, SyscallRule
from syswarden.policy.resolve import U64, NameResolver, arch_list, condition, native_arch
from syswarden.syscalls.arch import SUB_ARCHES, Arch

TOP_KEYS = ("name", "default", "default_action", "bad_arch", "arches", "flags", "rules")
RULE_KEYS = ("syscalls", "action", "args", "arches", "comment")
ARG_KEYS = ("arg", "op", "value", "mask", "width")


def default_arches(native: Arch | None = None) -> tuple[Arch, ...]:
    """The native arch and the ABIs it also accepts (x86_64 -> x86_64, i386, x32)."""
    arch = native or native_arch()
    return (arch, *SUB_ARCHES.get(arch, ()))


def load(text: str, *, filename: str = "<policy>", native_arch: Arch | None = None) -> Policy:
    """Parse a native YAML policy (or a go-seccomp-bpf one) into a checked ``Policy``.

    Raises:
        PolicySyntaxError: malformed YAML, wrong types, unknown keys or actions.
        PolicyError: bad argument conditions, architectures or groups.
        UnknownSyscallError: a syscall no supported arch has.
    """
    doc = tree.parse_yaml(text, filename)
    return load_doc(doc, native_arch=native_arch)


def load_doc(doc: tree.Doc, *, native_arch: Arch | None = None) -> Policy:
    reader = Reader(doc)
    top = reader.mapping(doc.root, "the policy")
    if "seccomp" in top:
        from syswarden.policy.formats import go_seccomp
        return go_seccomp.load_doc(doc, native_arch=native_arch)
    return _Loader(reader, native_arch).policy()


class _Loader:
    def __init__(self, reader: Reader, native_arch: Arch | None) -> None:
        self.r = reader
        self.native = native_arch
        self.source = reader.doc.source

    def policy(self) -> Policy:
        root = self.r.doc.root
        self.r.check_keys(root, TOP_KEYS, "the policy")
        top = root.value
        arches = self.arches(top["arches"]) if "arches" in top else default_arches(self.native)
        names = NameResolver(arches, self.source)
        default = self.default_action(root)
        rules = tuple(self.rule_in_context(i, node, names)
                      for i, node in enumerate(self.r.seq(top["rules"], "'rules'"))) if "rules" in top else ()
        return Policy(
            default_action=default,
            rules=rules,
            arches=arches,
            bad_arch_action=self.action(top["bad_arch"], "'bad_arch'") if "bad_arch" in top else KILL_PROCESS,
            flags=self.flags(top["flags"]) if "flags" in top else frozenset(),
            name=self.r.string(top["name"], "'name'") if "name" in top else "",
            source=self.source.name,
            warnings=(*self.r.warnings, *names.warnings),
        )

    def default_action(self, root: Node) -> Action:
        top = root.value
        if "default" in top and "default_action" in top:
            raise self.r.error("expected only one of 'default' and 'default_action'", root.key_spans["default"])
        key = "default" if "default" in top else "default_action"
        if key not in top:
            raise self.r.error("expected key 'default' (the action when no rule matches) in the policy",
                               root.span)
        return self.action(top[key], f"'{key}'")

    def arches(self, node: Node) -> tuple[Arch, ...]:
        arches = arch_list(self.r.strings(node, "'arches'"), self.source)
        if not arches:
            raise self.r.error("expected at least one architecture in 'arches'", node.span)
        return arches

    def flags(self, node: Node) -> frozenset[str]:
        out = set()
        for text, span in self.r.strings(node, "'flags'"):
            flag = text.lower()
            if flag not in vocab.FLAGS:
                raise self.r.error(f"unknown flag {text!r} (expected one of: {', '.join(vocab.FLAGS)})", span)
            out.add(flag)
        return frozenset(out)

    def action(self, node: Node, what: str) -> Action:
        """``allow`` / ``errno(EPERM)`` / ``{errno: EPERM}``."""
        value = node.value
        parsed: Action | None = None
        if isinstance(value, str):
            parsed = vocab.parse_action(value)
        elif isinstance(value, dict) and len(value) == 1:
            (kind, data), = value.items()
            if isinstance(data.value, (str, int)) and not isinstance(data.value, bool):
                parsed = vocab.parse_action(kind, data.value)
        if parsed is None:
            shown = value if not isinstance(value, dict) else {k: v.value for k, v in value.items()}
            raise self.r.error(f"unknown action {shown!r} in {what} (expected {vocab.ACTION_EXPECTED})",
                               node.span)
        return parsed

    def rule_in_context(self, i: int, node: Node, names: NameResolver) -> SyscallRule:
        try:
            return self.rule(node, names)
        except PolicyError as err:
            err.with_context(f"in rule {i + 1} ({node.span})")
            raise

    def rule(self, node: Node, names: NameResolver) -> SyscallRule:
        self.r.check_keys(node, RULE_KEYS, "a rule")
        items = node.value
        syscalls = self.r.require(node, "syscalls", "a rule")
        tokens = self.r.strings(syscalls, "'syscalls'")
        if not tokens:
            raise self.r.error("expected at least one syscall in 'syscalls'", syscalls.span)
        action = self.action(self.r.require(node, "action", "a rule"), "the rule's 'action'")
        args = tuple(self.condition(a) for a in self.r.seq(items["args"], "'args'")) if "args" in items else ()
        arches = frozenset(self.arches(items["arches"])) if "arches" in items else None
        names.rule_arches(arches, items["arches"].span if "arches" in items else None)
        return SyscallRule(
            names=names.names(tokens),
            action=action,
            args=args,
            arches=arches,
            comment=self.r.string(items["comment"], "'comment'") if "comment" in items else "",
            span=node.span,
        )

    def condition(self, node: Node) -> ArgCondition:
        self.r.check_keys(node, ARG_KEYS, "an argument condition")
        items = node.value
        index = self.r.integer(self.r.require(node, "arg", "an argument condition"), "'arg'", 0, 5)
        op = self.op(items["op"]) if "op" in items else Op.EQ
        width = self.r.integer(items["width"], "'width'") if "width" in items else 64
        value = self.signed(self.r.require(node, "value", "an argument condition"), width)
        if op is Op.MASKED_EQ and "mask" not in items:
            raise self.r.error("expected key 'mask' in a masked_eq condition", node.span)
        mask = self.value(items["mask"], "'mask'") if "mask" in items else U64
        return condition(index, op, value, mask=mask, width=width, span=node.span, source=self.source)

    def signed(self, node: Node, width: int) -> int:
        """A value; a negative int (``-100`` for AT_FDCWD) is taken as the ``width``-bit two's complement,
        which is what the kernel sees for a negative ``int``/``long`` argument."""
        raw = node.value
        if isinstance(raw, int) and not isinstance(raw, bool) and raw < 0 and width in (32, 64):
            if raw < -(1 << (width - 1)):
                raise self.r.error(f"expected 'value' to fit in {width} bits, found {raw}", node.span)
            return raw % (1 << width)
        return self.value(node, "'value'")

    def value(self, node: Node, what: str) -> int:
        """A number, or symbolic constants ORed together (``CLONE_NEWUSER|CLONE_NEWNET``)."""
        if isinstance(node.value, str):
            symbolic = constants.evaluate(node.value)
            if symbolic is not None:
                return self.r.integer(Node(symbolic, node.span), what)
        try:
            return self.r.integer(node, what)
        except PolicyError as err:
            err.message += " or constants such as CLONE_NEWUSER|CLONE_NEWNET"
            raise

    def op(self, node: Node) -> Op:
        text = self.r.string(node, "'op'").lower()
        if text not in vocab.OP_NAMES:
            raise self.r.error(f"unknown op {node.value!r} (expected one of: {', '.join(vocab.OP_NAMES)})",
                               node.span)
        return vocab.OP_NAMES[text]


# ------------------------------------------------------------------------------------------------ dump


def dump(policy: Policy, notes: Mapping[int, Mapping[str, str]] | None = None, header: Sequence[str] = ()) -> str:
    """The policy as native YAML; ``load(dump(p), filename=p.source) == p``.

    For a file a person keeps (``syswarden record``): ``header`` lines become leading ``#`` comments, and the
    syscalls of rule ``i`` named in ``notes[i]`` are written one per line, each followed by its note as a
    comment (``- read   # 1520 calls``). Comments are escaped to one line each; they never change the policy.
    """
    doc: dict[str, Any] = {}
    if policy.name:
        doc["name"] = policy.name
    doc["default"] = vocab.format_action(policy.default_action)
    if policy.bad_arch_action != KILL_PROCESS:
        doc["bad_arch"] = vocab.format_action(policy.bad_arch_action)
    doc["arches"] = [a.value for a in policy.arches]
    if policy.flags:
        doc["flags"] = sorted(policy.flags)
    doc["rules"] = [_dump_rule(r) for r in policy.rules]
    if not notes and not header:
        return _yaml(doc)
    for index, rule in enumerate(doc["rules"]):
        if (notes or {}).get(index):
            rule["syscalls"] = _OneNamePerLine(rule["syscalls"])
    text = yaml.dump(doc, Dumper=_NotesDumper, sort_keys=False, default_flow_style=None, width=110,
                     allow_unicode=True)
    lines = [f"# {escape_text(line)}".rstrip() for line in header]
    return "\n".join(lines + _with_notes(text.splitlines(), policy, notes or {})) + "\n"


class _OneNamePerLine(list[str]):
    """A syscall list written in block style, so each name can carry its note."""


class _NotesDumper(yaml.SafeDumper):
    pass


_NotesDumper.add_representer(
    _OneNamePerLine, lambda dumper, data: dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=False))


def _with_notes(lines: list[str], policy: Policy, notes: Mapping[int, Mapping[str, str]]) -> list[str]:
    """Append each name's note to its line: the block items right after rule ``i``'s ``syscalls:`` key are its
    names in order (names are plain syscall names or ``@groups``, one scalar per line)."""
    out: list[str] = []
    rule = -1
    names: list[str] = []
    width = 4 + max((len(n) for i in notes for n in policy.rules[i].names), default=0)
    for line in lines:
        if line.startswith("- syscalls:"):
            rule += 1
            names = list(policy.rules[rule].names) if notes.get(rule) else []
        elif names and line.startswith("  - "):
            name = names.pop(0)
            note = notes[rule].get(name)
            if note:
                line = f"{line.ljust(width + 4)}# {escape_text(note)}"
        elif not line.startswith("  "):
            names = []
        out.append(line)
    return out


def dump_section(key: str, body: dict[str, Any]) -> str:
    """One more top-level section (``landlock:``), to append to ``dump``'s text."""
    return _yaml({key: body})


def _yaml(doc: dict[str, Any]) -> str:
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(doc, Dumper=dumper, sort_keys=False, default_flow_style=None, width=110, allow_unicode=True)


def _dump_rule(rule: SyscallRule) -> dict[str, Any]:
    out: dict[str, Any] = {"syscalls": list(rule.names), "action": vocab.format_action(rule.action)}
    if rule.args:
        out["args"] = [_dump_condition(c) for c in rule.args]
    if rule.arches is not None:
        out["arches"] = [a.value for a in Arch if a in rule.arches]
    if rule.comment:
        out["comment"] = rule.comment
    return out


def _dump_condition(cond: ArgCondition) -> dict[str, Any]:
    out: dict[str, Any] = {"arg": cond.index, "op": cond.op.value, "value": _hex(cond.value)}
    if cond.op is Op.MASKED_EQ:
        out["mask"] = _hex(cond.mask)
    if cond.width != 64:
        out["width"] = cond.width
    return out


def _hex(value: int) -> int | str:
    """Small numbers stay decimal; flags and masks read better in hex."""
    return value if value < 4096 else f"{value:#x}"
