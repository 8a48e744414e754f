"""One rules line -> checked commands: auditctl's option semantics (``rules_file`` walks a whole file).

Each line becomes zero or more commands (``rule_model``): options act in the order written, as in auditctl
(``-F arch=`` must precede ``-S``; ``-w`` must precede ``-p``; keys gather into one field, added last). Every
error names the file, line and column and says what was expected; nothing is returned for a file with errors.
"""
from __future__ import annotations

import difflib
import posixpath
from collections.abc import Callable

from syswarden.audit import syscall_names
from syswarden.audit.constants import (AUDIT_MAX_FIELDS, AUDIT_MAX_KEY_LEN, FIELD_NAMES, KEY_SEPARATOR, NAME_MAX,
                                       PATH_MAX, PERM_BITS, ACTIONS, FILTERS, Action, F, Filter, Op)
from syswarden.audit.rule_fields import (FieldError, UnknownNameError, comparison, field_value, parse_number,
                                        resolve_arch, split_pair)
from syswarden.audit.rule_fields import check_filter
from syswarden.audit.rule_model import (MASK_ALL, MASK_NONE, AddRule, AuditRule, AuditRuleError, Command, Control,
                                        DeleteAll, DeleteRule, ErrorMode, RuleField, RuleWarning, SetControl)
from syswarden.audit.rule_syntax import Option
from syswarden.spans import Span
from syswarden.syscalls.arch import AUDIT_ARCH, Arch

FIRST_CLASS_BIT = 2048 - 16
_NOT_IN_FILES = {"h": "help", "s": "status", "l": "list", "v": "version", "t": "trim", "m": "send a message",
                 "R": "nested rules files", "q": "make equivalent", "signal": "signal auditd",
                 "reset_backlog_wait_time_actual": "reset a counter"}
_CONTROLS = {"b": Control.BACKLOG_LIMIT, "r": Control.RATE_LIMIT, "backlog_wait_time": Control.BACKLOG_WAIT_TIME}
IsDir = Callable[[str], bool]
DEPRECATED_WATCH = "-w is deprecated upstream"


class LineParser:
    """The state auditctl keeps while it walks the options of one line."""

    def __init__(self, name: str, lineno: int, text: str, native: Arch, is_dir: IsDir, allow_immutable: bool,
                 strict_names: bool = True):
        self.name, self.lineno, self.text = name, lineno, text
        self.strict_names = strict_names
        self.native, self.is_dir, self.allow_immutable = native, is_dir, allow_immutable
        self.list: Filter | None = None
        self.action = Action.ALWAYS
        self.delete = self.prepend = self.skip = False
        self.arch: Arch | None = None
        self.syscall_added = self.perm_added = self.exe_added = self.fs_added = False
        self.mask = list(MASK_NONE)
        self.fields: list[RuleField] = []
        self.keys: list[str] = []
        self.key_col = 0
        self.unarched: list[str] = []
        self.commands: list[Command] = []
        self.warnings: list[RuleWarning] = []

    def span(self, col: int) -> Span:
        return Span(self.name, self.lineno, col, self.lineno, len(self.text) + 1)

    def error(self, message: str, col: int) -> AuditRuleError:
        return AuditRuleError(message, span=self.span(col))

    def run(self, opts: list[Option]) -> None:
        if any(o.name == "D" for o in opts):
            self._delete_all(opts)
            return
        for opt in opts:
            handler = getattr(self, f"_opt_{opt.name.replace('-', '_')}", None)
            if handler is None:
                what = _NOT_IN_FILES.get(opt.name, "this option")
                raise self.error(f"{opt.display} ({what}) is not supported in a rules file", opt.col)
            handler(opt, opts)
        self._finish()

    # -- rule lists -------------------------------------------------------------------------------------------
    def _setup(self, opt: Option, *, delete: bool = False, prepend: bool = False) -> None:
        if self.list is not None:
            raise self.error("only one -a, -A, -d, -w or -W per line", opt.col)
        value = opt.value or ""
        parts = value.split(",")
        if len(parts) != 2:
            raise self.error(f"expected LIST,ACTION (e.g. always,exit), not {value!r}", opt.value_col)
        first, second = parts
        if first in ACTIONS and second in FILTERS:
            action, flt = ACTIONS[first], FILTERS[second]
        elif first in FILTERS and second in ACTIONS:
            flt, action = FILTERS[first], ACTIONS[second]
        else:
            raise self.error(f"expected LIST,ACTION with LIST one of {', '.join(FILTERS)} and ACTION always or "
                             f"never, not {value!r}", opt.value_col)
        if action is Action.POSSIBLE:
            self.warnings.append(RuleWarning("the 'possible' action is deprecated; the rule is skipped (as "
                                             "auditctl does)", self.span(opt.value_col)))
            self.skip = True
        if flt is Filter.TASK and self.syscall_added and not delete:
            raise self.error("syscall rules cannot go on the task list", opt.value_col)
        self.list, self.action, self.delete, self.prepend = flt, action, delete, prepend

    def _opt_a(self, opt: Option, _opts: list[Option]) -> None:
        self._setup(opt)

    def _opt_A(self, opt: Option, _opts: list[Option]) -> None:
        self._setup(opt, prepend=True)

    def _opt_d(self, opt: Option, _opts: list[Option]) -> None:
        self._setup(opt, delete=True)

    # -- syscalls ---------------------------------------------------------------------------------------------
    def _opt_S(self, opt: Option, _opts: list[Option]) -> None:
        if self.list in (Filter.TASK, Filter.USER, Filter.FS, Filter.EXCLUDE):
            raise self.error(f"syscall rules cannot go on the {self.list.keyword} list", opt.col)
        unknown_arch = self.arch is None
        arch = self.arch or self.native
        col = opt.value_col
        for part in (opt.value or "").split(","):
            if part:
                self._add_syscall(arch, part, col)
            col += len(part) + 1
        self.syscall_added = True
        if unknown_arch and self.list is not None:
            self.unarched.extend(p for p in (opt.value or "").split(",") if p)

    def _add_syscall(self, arch: Arch, name: str, col: int) -> None:
        if name == "all":
            self.mask = list(MASK_ALL)
            return
        nr = syscall_names.number(arch, name)
        if nr is None and name[:1].isdigit():
            nr = parse_number(name)
        if nr is None or nr < 0:
            known = list(_syscall_table(arch))
            close = difflib.get_close_matches(name, known, n=3, cutoff=0.75)
            hint = f"; did you mean {' or '.join(close)}?" if close else ""
            raise self.error(f"unknown syscall {name!r} on {arch.value}{hint}", col)
        if nr >= FIRST_CLASS_BIT:
            raise self.error(f"syscall number {nr} is out of range: the mask holds 0..{FIRST_CLASS_BIT - 1} (the "
                             "top bits are the kernel's syscall classes)", col)
        self.mask[nr // 32] |= 1 << (nr % 32)

    # -- fields -----------------------------------------------------------------------------------------------
    def _room(self, col: int) -> None:
        if len(self.fields) >= AUDIT_MAX_FIELDS - 1:
            raise self.error(f"too many fields: a rule holds at most {AUDIT_MAX_FIELDS - 1} (and its key)", col)

    def _opt_F(self, opt: Option, _opts: list[Option]) -> None:
        if self.list is None:
            raise self.error("a list must come before -F: expected -a LIST,ACTION (or -w PATH) first", opt.col)
        value = opt.value or ""
        if value.startswith("key="):
            self._add_key(value[4:], opt.value_col + 4, checked=False)
            return
        try:
            name, op, text, offset = split_pair(value)
        except FieldError as exc:
            raise self.error(str(exc), opt.value_col) from None
        if not name:
            raise self.error("missing field name before the operator", opt.value_col)
        if not text:
            raise self.error(f"missing value after the operator of {name}", opt.value_col + offset)
        field = FIELD_NAMES.get(name)
        if field is None:
            close = difflib.get_close_matches(name, list(FIELD_NAMES), n=3, cutoff=0.6)
            hint = f"; did you mean {' or '.join(close)}?" if close else ""
            raise self.error(f"unknown field {name!r}{hint}", opt.value_col)
        self._room(opt.col)
        try:
            check_filter(field, op, self.list)
            if field is F.ARCH:
                number, string = self._arch(text, opt), None
            else:
                number, string = field_value(field, text, self.native)
        except UnknownNameError as exc:
            if self.strict_names:
                raise self.error(f"{name}: {exc}", opt.value_col + offset) from None
            # Checking a file written for another machine: keep the name; such a rule is never loaded.
            self.warnings.append(RuleWarning(f"{name}: {exc}; the rule cannot be loaded on this machine",
                                             self.span(opt.value_col + offset)))
            number, string = 0, text
        except FieldError as exc:
            raise self.error(f"{name}: {exc}", opt.value_col + (offset + exc.offset if exc.offset else 0)) from None
        if field in (F.WATCH, F.DIR, F.PERM):
            self.perm_added = True
        if field is F.EXE:
            self.exe_added = True
        if field is F.FSTYPE:
            self.fs_added = True
        self.fields.append(RuleField(field, op, number, string, self.span(opt.value_col)))

    def _arch(self, text: str, opt: Option) -> int:
        if self.syscall_added:
            raise FieldError("arch must come before -S (the syscall names are looked up in its table)")
        self.arch = resolve_arch(text, self.native)
        return AUDIT_ARCH[self.arch]

    def _opt_C(self, opt: Option, _opts: list[Option]) -> None:
        self._room(opt.col)
        try:
            op, code = comparison(opt.value or "", self.list)
        except FieldError as exc:
            raise self.error(str(exc), opt.value_col + exc.offset) from None
        self.fields.append(RuleField(F.FIELD_COMPARE, op, code, None, self.span(opt.value_col)))

    def _opt_k(self, opt: Option, _opts: list[Option]) -> None:
        if self.list is None or not (self.syscall_added or self.perm_added or self.exe_added or self.fs_added):
            raise self.error("-k needs a watch or a syscall (-w, -S, path=, dir= or exe=) given before it", opt.col)
        self._add_key(opt.value or "", opt.value_col, checked=True)

    def _add_key(self, key: str, col: int, *, checked: bool) -> None:
        if KEY_SEPARATOR in key:
            raise self.error("a key cannot contain the 0x01 byte (it separates keys)", col)
        if not key:
            raise self.error("empty key", col)
        total = len(KEY_SEPARATOR.join([*self.keys, key]).encode("utf-8", "surrogateescape"))
        if total > AUDIT_MAX_KEY_LEN:
            raise self.error(f"the keys of a rule are {total} bytes together; the kernel takes {AUDIT_MAX_KEY_LEN}",
                             col)
        if not self.keys:
            self.key_col = col
        self.keys.append(key)

    def _opt_p(self, opt: Option, _opts: list[Option]) -> None:
        if self.list is None:
            raise self.error("-p needs a watch (-w PATH) or a rule given before it", opt.col)
        if not self.fields:
            raise self.error("-p needs a path given before it (-w PATH, or -F path= / dir=)", opt.col)
        bits = 0
        value = opt.value or ""
        if len(value) > 4:
            raise self.error(f"permission {value!r} is too long; expected up to four of r, w, x, a", opt.value_col)
        for i, ch in enumerate(value.lower()):
            if ch not in PERM_BITS:
                raise self.error(f"permission {ch!r} is not one of r, w, x, a", opt.value_col + i)
            bits |= PERM_BITS[ch]
        at = next((i for i, f in enumerate(self.fields) if f.field is F.PERM), None)
        perm = RuleField(F.PERM, Op.EQUAL, bits, None, self.span(opt.value_col))
        if at is None:
            self._room(opt.col)
            self.fields.append(perm)
        else:
            self.fields[at] = perm
        self.perm_added = True

    # -- watches ----------------------------------------------------------------------------------------------
    def _watch(self, opt: Option, delete: bool) -> None:
        if self.list is not None:
            raise self.error("-w and -W cannot be combined with -a, -A or -d", opt.col)
        path = opt.value or ""
        if not path.startswith("/"):
            raise self.error(f"a watched path must be absolute (start with '/'), not {path!r}", opt.value_col)
        if len(path.encode("utf-8", "surrogateescape")) >= PATH_MAX:
            raise self.error(f"the watched path is longer than {PATH_MAX - 1} bytes", opt.value_col)
        if len(posixpath.basename(path).encode("utf-8", "surrogateescape")) > NAME_MAX:
            raise self.error(f"the last component of the path is longer than {NAME_MAX} bytes", opt.value_col)
        if ".." in path:
            self.warnings.append(RuleWarning("relative path notation ('..') is not supported in watches",
                                             self.span(opt.value_col)))
        if "*" in path or "?" in path:
            self.warnings.append(RuleWarning("wildcards are not supported in watches: the path is taken literally",
                                             self.span(opt.value_col)))
        if len(path) > 2:
            path = path.rstrip("/") or "/"
        kind = F.DIR if self.is_dir(path) else F.WATCH
        self.list, self.action, self.delete = Filter.EXIT, Action.ALWAYS, delete
        self.syscall_added = self.perm_added = True
        self.mask = list(MASK_ALL)
        self.fields = [RuleField(kind, Op.EQUAL, 0, path, self.span(opt.value_col)),
                       RuleField(F.PERM, Op.EQUAL, 15, None, self.span(opt.value_col))]
        self.warnings.append(RuleWarning(DEPRECATED_WATCH + "; -a always,exit -F arch=b64 -F path=... -F perm=... lets "
                                         "the kernel skip other syscalls", self.span(opt.col)))

    def _opt_w(self, opt: Option, _opts: list[Option]) -> None:
        self._watch(opt, delete=False)

    def _opt_W(self, opt: Option, _opts: list[Option]) -> None:
        self._watch(opt, delete=True)

    # -- control options --------------------------------------------------------------------------------------
    def _delete_all(self, opts: list[Option]) -> None:
        names = [o.name for o in opts]
        if names == ["D"]:
            self.commands.append(DeleteAll(None, self.span(opts[0].col), self.text))
        elif names == ["D", "k"]:
            self.commands.append(DeleteAll(opts[1].value, self.span(opts[0].col), self.text))
        else:
            col = next(o.col for o in opts if o.name == "D")
            raise self.error("-D takes no other option but -k KEY", col)

    def _choice(self, opt: Option, what: Control, allowed: tuple[str, ...]) -> None:
        if opt.value not in allowed:
            raise self.error(f"{opt.display} must be {', '.join(allowed[:-1])} or {allowed[-1]}, not "
                             f"{opt.value!r}", opt.value_col)
        self.commands.append(SetControl(what, int(opt.value), self.span(opt.col), self.text))

    def _opt_e(self, opt: Option, _opts: list[Option]) -> None:
        if opt.value == "2" and not self.allow_immutable:
            raise self.error("-e 2 locks the audit configuration until reboot; refused (pass --allow-immutable "
                             "if that is what you want)", opt.value_col)
        self._choice(opt, Control.ENABLED, ("0", "1", "2"))

    def _opt_f(self, opt: Option, _opts: list[Option]) -> None:
        self._choice(opt, Control.FAILURE, ("0", "1", "2"))

    def _number_control(self, opt: Option, _opts: list[Option]) -> None:
        number = parse_number(opt.value or "") if (opt.value or "")[:1].isdigit() else None
        if number is None or number > 0xFFFFFFFF:
            raise self.error(f"{opt.display} must be a number, not {opt.value!r}", opt.value_col)
        self.commands.append(SetControl(_CONTROLS[opt.name], number, self.span(opt.col), self.text))

    _opt_b = _opt_r = _opt_backlog_wait_time = _number_control

    def _opt_loginuid_immutable(self, opt: Option, _opts: list[Option]) -> None:
        self.commands.append(SetControl(Control.LOGINUID_IMMUTABLE, 1, self.span(opt.col), self.text))

    def _opt_reset_lost(self, opt: Option, _opts: list[Option]) -> None:
        self.commands.append(SetControl(Control.RESET_LOST, 0, self.span(opt.col), self.text))

    def _opt_i(self, opt: Option, _opts: list[Option]) -> None:
        self.commands.append(ErrorMode("ignore", self.span(opt.col), self.text))

    def _opt_c(self, opt: Option, _opts: list[Option]) -> None:
        self.commands.append(ErrorMode("continue", self.span(opt.col), self.text))

    # -- the rule ---------------------------------------------------------------------------------------------
    def _finish(self) -> None:
        if self.list is None:
            if self.syscall_added or self.fields or self.keys:
                raise self.error("no list given: expected -a LIST,ACTION (e.g. -a always,exit)", 1)
            return
        if self.skip:
            return
        fields = list(self.fields)
        if self.keys:
            if not (self.syscall_added or self.perm_added or self.exe_added or self.fs_added):
                raise self.error("a key needs a syscall (-S), a watch (-w, path=, dir=) or exe= before it",
                                 self.key_col)
            try:
                check_filter(F.FILTERKEY, Op.EQUAL, self.list)
            except FieldError as exc:
                raise self.error(f"key: {exc}", self.key_col) from None
            fields.append(RuleField(F.FILTERKEY, Op.EQUAL, 0, KEY_SEPARATOR.join(self.keys), self.span(self.key_col)))
        mask = self.mask
        if self.list is not Filter.TASK and not self.syscall_added:
            mask = list(MASK_ALL)
        self._warn_unarched()
        rule = AuditRule(self.list, self.action, tuple(mask), tuple(fields), self.prepend, self.span(1),
                         self.arch or self.native)
        cls = DeleteRule if self.delete else AddRule
        self.commands.append(cls(rule, self.span(1), self.text))

    def _warn_unarched(self) -> None:
        """auditctl's "32/64 bit syscall mismatch" warning: names without an arch match other syscalls (or
        none) on the machine's compat ABI."""
        compat = {Arch.X86_64: Arch.I386, Arch.AARCH64: Arch.ARM}.get(self.native)
        names = [n for n in self.unarched if n != "all"]
        if compat is None or not names:
            return
        differ = [n for n in names if syscall_names.number(compat, n) != syscall_names.number(self.native, n)]
        if differ:
            self.warnings.append(RuleWarning(
                f"-S {','.join(differ)} without -F arch=: the numbers are {self.native.value}'s, and on "
                f"{compat.value} they are other syscalls (or none); pair the rule with -F arch=b64 and a "
                "-F arch=b32 twin", self.span(1)))


def _syscall_table(arch: Arch) -> list[str]:
    from syswarden.syscalls import tables
    return list(tables.table(arch))
