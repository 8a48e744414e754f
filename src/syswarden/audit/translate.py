"""``audit translate``: audit rules -> Falco-format rules that fire on the same actions from syswarden's events
(eBPF, ptrace, captures), where the audit subsystem is off or too slow.

Each ``-a always,exit`` rule (and each ``-w``) becomes one Falco rule named after its key: the syscalls become
``evt.type in (...)``; watches become the file operations of their permission classes (``r`` opens for
reading, ``w`` opens for writing and the calls that create, remove, rename or truncate, ``a`` the calls that
change attributes, ``x`` execve) on that path (``path=``: the path itself; ``dir=``: it and everything below);
fields become the Falco fields that hold the same fact (``auid`` -> ``user.loginuid``, ``euid`` -> ``user.uid``,
``exit`` -> ``evt.rawres``, ``success`` -> ``evt.failed``, ``exe`` -> ``proc.exepath``, ``a0``..``a3`` -> the
syscall's parameter, bit masks through its flag names). b32/b64 twins that translate alike become one rule
(syswarden's events name compat syscalls like native ones).

What cannot be expressed is left out of the condition and reported as a note: the translated rule is then
*looser* (it fires on more events), never stricter — a detection rule that misses is the worse error. Rules
that cannot be translated at all (``never`` rules, which suppress; lists other than exit) are skipped with a note.
"""
from __future__ import annotations

from dataclasses import dataclass

import yaml

from syswarden.audit import syscall_names
from syswarden.audit.constants import ARG_FIELDS, AUDIT_UNSET, Action, F, Filter, Op
from syswarden.audit.rule_listing import listing
from syswarden.audit.rule_model import AuditRule, RuleField, RulesFile
from syswarden.events.types import ParamType, event_spec, flag_table
from syswarden.syscalls import tables
from syswarden.syscalls.arch import Arch

_OPEN = ("open", "openat", "openat2", "creat")
_WRITE = ("creat", "truncate", "rename", "renameat", "renameat2", "unlink", "unlinkat", "link", "linkat", "symlink",
          "symlinkat", "mkdir", "mkdirat", "rmdir", "mknod", "mknodat")
_ATTR = ("chmod", "fchmodat", "chown", "lchown", "fchownat", "setxattr", "lsetxattr", "removexattr",
         "lremovexattr", "utimensat")
_EXEC = ("execve", "execveat")
# a0..a3 -> the Falco parameter holding that argument's value, per syscall (only where it is the raw value).
ARG_PARAMS: dict[tuple[str, int], str] = {
    ("clone", 0): "flags", ("unshare", 0): "flags", ("setns", 1): "nstype", ("ptrace", 0): "request",
    ("ptrace", 1): "pid", ("socket", 0): "domain", ("socket", 1): "type", ("kill", 1): "sig", ("tkill", 1): "sig",
    ("setuid", 0): "uid", ("setgid", 0): "gid", ("prctl", 0): "option", ("personality", 0): "persona",
    ("mount", 3): "flags", ("umount2", 1): "flags", ("memfd_create", 1): "flags", ("bpf", 0): "cmd",
    ("finit_module", 2): "flags", ("delete_module", 1): "flags", ("fcntl", 1): "cmd",
}
_SIMPLE = {F.LOGINUID: "user.loginuid", F.EUID: "user.uid", F.EGID: "group.gid", F.PID: "proc.pid",
           F.PPID: "proc.ppid"}
_FALCO_OPS = {Op.EQUAL: "=", Op.NOT_EQUAL: "!=", Op.LESS_THAN: "<", Op.GREATER_THAN: ">", Op.LESS_EQUAL: "<=",
              Op.GREATER_EQUAL: ">="}


@dataclass(frozen=True, slots=True)
class FalcoRule:
    name: str
    desc: str
    condition: str
    output: str
    tags: tuple[str, ...]


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _names(rule: AuditRule) -> list[str]:
    arch = rule.syscall_arch or Arch.native()
    arch_field = rule.first(F.ARCH)
    if arch_field is not None:
        arch = syscall_names.arch_of(arch_field.value) or arch
    names = []
    for nr in rule.syscalls:
        name = tables.name(arch, nr)
        if name and name not in names:
            names.append(name)
    return names


def _path_params(name: str) -> list[str]:
    spec = event_spec(name)
    if spec is None:
        return []
    return [p.name for p in spec.params if p.type in (ParamType.FSPATH, ParamType.FSRELPATH)]


def _on_path(types: tuple[str, ...], path: str, below: bool) -> str:
    """The events of ``types`` whose path parameter is ``path`` (or, ``below``, a path under it)."""
    by_param: dict[str, list[str]] = {}
    for name in types:
        for param in _path_params(name) or []:
            by_param.setdefault(param, []).append(name)
    parts = []
    for param, names in by_param.items():
        field = f"evt.arg.{param}"
        test = f"{field} = {_quote(path)}"
        if below:
            test = f"({test} or {field} startswith {_quote(path.rstrip('/') + '/')})"
        parts.append(f"(evt.type in ({', '.join(names)}) and {test})")
    return " or ".join(parts)


def _watch(path: str, perm: int, below: bool) -> str:
    parts = []
    if perm & 4:
        parts.append(f"(evt.is_open_read = true and {_on_path(_OPEN, path, below)})")
    if perm & 2:
        parts.append(f"(evt.is_open_write = true and {_on_path(_OPEN, path, below)})")
        parts.append(_on_path(_WRITE, path, below))
    if perm & 8:
        parts.append(_on_path(_ATTR, path, below))
    if perm & 1:
        target = f"proc.exepath = {_quote(path)}"
        if below:
            target = f"({target} or proc.exepath startswith {_quote(path.rstrip('/') + '/')})"
        parts.append(f"(evt.type in ({', '.join(_EXEC)}) and {target})")
    return "(" + " or ".join(p for p in parts if p) + ")"


def _arg(field: RuleField, names: list[str], notes: list[str]) -> str | None:
    index = int(field.field) - int(F.ARG0)
    alternatives = []
    for name in names:
        param = ARG_PARAMS.get((name, index))
        spec = event_spec(name)
        pspec = next((p for p in spec.params if p.name == param), None) if spec and param else None
        if pspec is None:
            notes.append(f"a{index} of {name} has no Falco parameter here; left out (looser)")
            return None
        value = field.value
        if field.op in (Op.BIT_MASK, Op.BIT_TEST):
            if not pspec.table:
                notes.append(f"a{index}&{value:#x} on {name}: no flag names to test; left out (looser)")
                return None
            bits = [flag_table(pspec.table).render(1 << b) for b in range(32) if value >> b & 1]
            if not all(bits):
                notes.append(f"a{index}&{value:#x} on {name}: bits without a Falco name; left out (looser)")
                return None
            joiner = " or " if field.op is Op.BIT_MASK else " and "
            test = "(" + joiner.join(f"evt.arg.{param} contains {b}" for b in bits) + ")"
        else:
            test = f"evt.rawarg.{param} {_FALCO_OPS[field.op]} {_signed(value)}"
        alternatives.append(f"(evt.type = {name} and {test})")
    return "(" + " or ".join(alternatives) + ")" if alternatives else None


def _signed(value: int) -> int:
    return value - (1 << 32) if value & 0x80000000 else value


def _field(field: RuleField, names: list[str], notes: list[str]) -> str | None:
    op = _FALCO_OPS.get(field.op)
    if field.field in _SIMPLE and op:
        value = -1 if field.value == AUDIT_UNSET else _signed(field.value)
        return f"{_SIMPLE[field.field]} {op} {value}"
    if field.field is F.EXIT and op:
        return f"evt.rawres {op} {_signed(field.value)}"
    if field.field is F.SUCCESS:
        return f"evt.failed = {'false' if field.value else 'true'}"
    if field.field is F.EXE and op in ("=", "!="):
        return f"proc.exepath {op} {_quote(field.text or '')}"
    if field.field in ARG_FIELDS:
        return _arg(field, names, notes)
    if field.field in (F.ARCH, F.FILTERKEY, F.WATCH, F.DIR, F.PERM):
        return None
    notes.append(f"field {field.field.name.lower()} has no Falco equivalent here; left out (looser)")
    return None


def _condition(rule: AuditRule, notes: list[str]) -> str | None:
    names = [] if rule.all_syscalls else _names(rule)
    parts = []
    watch = rule.first(F.WATCH) or rule.first(F.DIR)
    if watch is not None:
        perm = rule.first(F.PERM)
        parts.append(_watch(watch.text or "", perm.value if perm else 15, watch.field is F.DIR))
    if names:
        parts.append(f"evt.type in ({', '.join(names)})")
    elif watch is None:
        notes.append("-S all: the rule applies to every event type (slow on a busy machine)")
    for field in rule.fields:
        test = _field(field, names, notes)
        if test:
            parts.append(test)
    if not parts:
        return None
    return " and ".join(parts)


def translate(rules: RulesFile) -> tuple[list[FalcoRule], list[str]]:
    """The Falco rules for ``rules``, and notes on what could not be carried over (with file:line)."""
    out: list[FalcoRule] = []
    seen: dict[str, int] = {}
    notes: list[str] = []
    for rule in rules.rules:
        where = f"{rule.span}" if rule.span else rules.name
        if rule.filter is not Filter.EXIT or rule.action is not Action.ALWAYS:
            notes.append(f"{where}: {listing(rule)!r}: only -a always,exit rules translate (never-rules suppress "
                         "in order; write a Falco exception instead)")
            continue
        rule_notes: list[str] = []
        condition = _condition(rule, rule_notes)
        notes.extend(f"{where}: {n}" for n in rule_notes)
        if condition is None:
            continue
        key = ",".join(rule.keys) or "nokey"
        if any(r.condition == condition and key in r.tags for r in out):
            continue                               # the b32 twin of a rule already translated
        seen[key] = seen.get(key, 0) + 1
        name = f"audit {key}" + (f" ({seen[key]})" if seen[key] > 1 else "")
        out.append(FalcoRule(
            name=name, desc=f"Translated from the audit rule {listing(rule)} ({where})", condition=condition,
            output=f"audit rule {key} matched: %evt.type by %proc.name (pid=%proc.pid ppid=%proc.ppid "
                   "user=%user.name loginuid=%user.loginuid exe=%proc.exepath) %evt.args",
            tags=("audit", *rule.keys)))
    return out, notes


def to_yaml(rules: list[FalcoRule]) -> str:
    """The rules as a Falco rules file."""
    items = [{"rule": r.name, "desc": r.desc, "condition": r.condition, "output": r.output, "priority": "NOTICE",
              "tags": list(r.tags)} for r in rules]
    return "# Generated by syswarden audit translate\n" + yaml.safe_dump(items, sort_keys=False, width=110)
