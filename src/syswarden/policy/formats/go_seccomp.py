"""elastic go-seccomp-bpf's YAML policy (as Beats and its ``sandbox`` example write it)::

    seccomp:
      default_action: allow          # kill_thread|kill_process|trap|errno|trace|log|allow, any case
      no_new_privs: true             # optional
      flag: tsync                    # optional: tsync or log
      syscalls:
        - action: errno              # errno is always EPERM
          names: [connect, accept]
        - action: errno
          names_with_args:
            - name: clone
              arguments:             # ANDed; several entries for one name are ORed
                - {argument: 0, operation: BitsNotSet, value: 0x10000000}

Semantics kept from go-seccomp-bpf's assembler: the filter checks only the native arch and a foreign arch
gets the *default* action (so ``bad_arch_action = default_action``); groups are tried in order, first match
wins. ``BitsSet`` (any bit of value set) becomes one ORed rule per bit, since the model's ``masked_eq``
tests all bits of its mask.
"""
from __future__ import annotations

import errno as _errno
import itertools
from typing import Any

import yaml

from syswarden.errors import PolicyError
from syswarden.policy import resolve
from syswarden.policy.formats import tree
from syswarden.policy.formats.tree import Node, Reader
from syswarden.policy.model import Action, ActionKind, ArgCondition, Op, Policy, SyscallRule
from syswarden.policy.resolve import NameResolver, condition
from syswarden.spans import Span
from syswarden.syscalls.arch import Arch

ACTIONS: dict[str, Action] = {
    "kill_thread": Action(ActionKind.KILL_THREAD),
    "kill_process": Action(ActionKind.KILL_PROCESS),
    "trap": Action(ActionKind.TRAP),
    "errno": Action(ActionKind.ERRNO, _errno.EPERM),
    "trace": Action(ActionKind.TRACE, 0),
    "log": Action(ActionKind.LOG),
    "allow": Action(ActionKind.ALLOW),
}
OPERATIONS: dict[str, Op | None] = {
    "equal": Op.EQ, "notequal": Op.NE, "greaterthan": Op.GT, "lessthan": Op.LT,
    "greaterorequal": Op.GE, "lessorequal": Op.LE, "bitsset": None, "bitsnotset": Op.MASKED_EQ,
}
OP_NAME = {Op.EQ: "Equal", Op.NE: "NotEqual", Op.GT: "GreaterThan", Op.LT: "LessThan", Op.GE: "GreaterOrEqual",
           Op.LE: "LessOrEqual"}
FLAGS = {"tsync": "tsync", "log": "log"}
MAX_EXPANDED_RULES = 256


def load(text: str, *, filename: str = "<policy>", native_arch: Arch | None = None) -> Policy:
    """Parse a go-seccomp-bpf YAML policy (with its top-level ``seccomp:`` key)."""
    return load_doc(tree.parse_yaml(text, filename), native_arch=native_arch)


def load_doc(doc: tree.Doc, *, native_arch: Arch | None = None) -> Policy:
    return _Loader(Reader(doc), native_arch or resolve.native_arch()).policy()


class _Loader:
    def __init__(self, reader: Reader, arch: Arch) -> None:
        self.r = reader
        self.arch = arch
        self.source = reader.doc.source

    def policy(self) -> Policy:
        self.r.check_keys(self.r.doc.root, ("seccomp",), "a go-seccomp-bpf policy")
        body = self.r.doc.root.value["seccomp"]
        self.r.check_keys(body, ("default_action", "syscalls", "no_new_privs", "flag"), "'seccomp'")
        items = body.value
        default = self.action(self.r.require(body, "default_action", "'seccomp'"))
        names = NameResolver((self.arch,), self.source)
        rules = [r for g in self.r.seq(items["syscalls"], "'syscalls'") for r in self.group(g, names)] \
            if "syscalls" in items else []
        if "no_new_privs" in items and not self.r.boolean(items["no_new_privs"], "'no_new_privs'"):
            self.r.warn("no_new_privs: false is not honoured; syswarden always sets no_new_privs",
                        items["no_new_privs"].span)
        if default.kind is ActionKind.ALLOW:
            self.r.warn("go-seccomp-bpf gives foreign architectures the default action: with default allow, "
                        "32-bit syscalls bypass this deny list", body.key_spans["default_action"])
        return Policy(default_action=default, rules=tuple(rules), arches=(self.arch,), bad_arch_action=default,
                      flags=self.flag(items["flag"]) if "flag" in items else frozenset(),
                      source=self.source.name, warnings=(*self.r.warnings, *names.warnings))

    def action(self, node: Node) -> Action:
        text = self.r.string(node, "the action").lower()
        if text not in ACTIONS:
            raise self.r.error(f"unknown action {node.value!r} (expected one of: {', '.join(ACTIONS)})",
                               node.span)
        return ACTIONS[text]

    def flag(self, node: Node) -> frozenset[str]:
        text = self.r.string(node, "'flag'").lower()
        if text not in FLAGS:
            raise self.r.error(f"unknown flag {node.value!r} (expected tsync or log)", node.span)
        return frozenset({FLAGS[text]})

    def group(self, node: Node, names: NameResolver) -> list[SyscallRule]:
        self.r.check_keys(node, ("action", "names", "names_with_args"), "a syscalls group")
        items = node.value
        action = self.action(self.r.require(node, "action", "a syscalls group"))
        if "names" not in items and "names_with_args" not in items:
            raise self.r.error("expected 'names' or 'names_with_args' in a syscalls group", node.span)
        rules = []
        if "names" in items:
            tokens = self.r.strings(items["names"], "'names'")
            self.no_duplicates(tokens)
            rules.append(SyscallRule(names.names(tokens), action, span=node.span))
        for entry in self.r.seq(items["names_with_args"], "'names_with_args'") if "names_with_args" in items \
                else ():
            rules.extend(self.with_args(entry, action, names))
        return rules

    def no_duplicates(self, tokens: list[tuple[str, Span]]) -> None:
        seen: set[str] = set()
        for token, span in tokens:
            if token in seen:
                raise self.r.error(f"duplicate syscall {token!r} (go-seccomp-bpf refuses duplicates)", span)
            seen.add(token)

    def with_args(self, node: Node, action: Action, names: NameResolver) -> list[SyscallRule]:
        self.r.check_keys(node, ("name", "arguments"), "a names_with_args entry")
        name_node = self.r.require(node, "name", "a names_with_args entry")
        syscall = names.names([(self.r.string(name_node, "'name'"), name_node.span)])
        args = self.r.seq(self.r.require(node, "arguments", "a names_with_args entry"), "'arguments'")
        choices = [self.argument(a) for a in args]
        combos = list(itertools.islice(itertools.product(*choices), MAX_EXPANDED_RULES + 1))
        if len(combos) > MAX_EXPANDED_RULES:
            raise self.r.error(f"BitsSet conditions expand to more than {MAX_EXPANDED_RULES} rules", node.span)
        return [SyscallRule(syscall, action, tuple(c), span=node.span) for c in combos]

    def argument(self, node: Node) -> list[ArgCondition]:
        """The alternatives (ORed) one argument check stands for: one, or one per bit for BitsSet."""
        self.r.check_keys(node, ("argument", "position", "operation", "value"), "an argument check")
        items = node.value
        key = "argument" if "argument" in items else "position"
        index = self.r.integer(self.r.require(node, key, "an argument check"), f"'{key}'", 0, 5)
        op_node = self.r.require(node, "operation", "an argument check")
        op_text = self.r.string(op_node, "'operation'").lower()
        if op_text not in OPERATIONS:
            raise self.r.error(f"unknown operation {op_node.value!r} (expected one of: Equal, NotEqual, "
                               "GreaterThan, LessThan, GreaterOrEqual, LessOrEqual, BitsSet, BitsNotSet)",
                               op_node.span)
        value = self.r.integer(self.r.require(node, "value", "an argument check"), "'value'")
        if op_text == "bitsnotset":
            return [condition(index, Op.MASKED_EQ, 0, mask=value, span=node.span, source=self.source)]
        if op_text == "bitsset":
            bits = [1 << b for b in range(64) if value >> b & 1]
            if not bits:
                raise self.r.error("BitsSet with value 0 never matches", node.span)
            return [condition(index, Op.MASKED_EQ, bit, mask=bit, span=node.span, source=self.source)
                    for bit in bits]
        op = OPERATIONS[op_text]
        assert op is not None
        return [condition(index, op, value, span=node.span, source=self.source)]


def dump(policy: Policy) -> str:
    """The policy in go-seccomp-bpf's form, when it fits that format (one arch, errno EPERM, ...).

    Raises:
        PolicyError: the policy uses what go-seccomp-bpf cannot say.
    """
    names = {v: k for k, v in ACTIONS.items()}
    for action in (policy.default_action, *(r.action for r in policy.rules)):
        if action not in names:
            raise PolicyError(f"action {action} has no go-seccomp-bpf spelling (errno is always EPERM, "
                              "trace always 0, no notify)")
    groups: list[dict[str, Any]] = []
    for rule in policy.rules:
        if rule.arches is not None or any(c.width != 64 for c in rule.args):
            raise PolicyError("go-seccomp-bpf policies have no per-arch rules or 32-bit comparisons",
                              span=rule.span)
        if not rule.args:
            groups.append({"action": names[rule.action], "names": list(rule.names)})
            continue
        args = [_dump_arg(c) for c in rule.args]
        groups.append({"action": names[rule.action],
                       "names_with_args": [{"name": n, "arguments": args} for n in rule.names]})
    body: dict[str, Any] = {"default_action": names[policy.default_action]}
    if policy.flags:
        if len(policy.flags) > 1 or not policy.flags <= set(FLAGS):
            raise PolicyError("go-seccomp-bpf takes one flag, tsync or log")
        body["flag"] = next(iter(policy.flags))
    body["syscalls"] = groups
    return yaml.safe_dump({"seccomp": body}, sort_keys=False, default_flow_style=None, width=110)


def _dump_arg(cond: ArgCondition) -> dict[str, Any]:
    if cond.op is Op.MASKED_EQ:
        if cond.value == 0:
            return {"argument": cond.index, "operation": "BitsNotSet", "value": cond.mask}
        if cond.value == cond.mask and cond.mask & (cond.mask - 1) == 0:
            return {"argument": cond.index, "operation": "BitsSet", "value": cond.mask}
        raise PolicyError("go-seccomp-bpf has no general masked comparison", span=cond.span)
    return {"argument": cond.index, "operation": OP_NAME[cond.op], "value": cond.value}
