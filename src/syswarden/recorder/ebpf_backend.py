"""The eBPF backend: the kernel counts every syscall of the command's tree per ABI (``sources/ebpf/census``), so
recording costs a map increment per syscall instead of two ptrace stops; the arguments that decide safety are
kept in a map. Needs root (CAP_BPF + CAP_PERFMON). Landlock rules need the paths a run used: ``--landlock``
takes the ptrace backend (docs/recorder.md).

Counting starts at the command's exec (the gate that holds it until the census is attached is not counted);
the successful ``execve`` itself is added, as the ptrace backend sees it.
"""
from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field

from syswarden.errors import SourceError
from syswarden.recorder.recording import Recording, SyscallId, identify
from syswarden.recorder.safety import MULTIPLEXER_ARGS, SAFETY_ARGS, safety_args, wanted_values
from syswarden.sources.ebpf import census as census_mod
from syswarden.sources.targets import GatedCommand
from syswarden.syscalls import tables
from syswarden.syscalls.arch import X32_SYSCALL_BIT, Arch
from syswarden.syscalls.multiplexers import SOCKETCALL_CALLS

ABI_ARCH = {census_mod.ABI_X64: Arch.X86_64, census_mod.ABI_I386: Arch.I386, census_mod.ABI_X32: Arch.X32}
_POLL_S = 0.02


@dataclass(slots=True)
class EbpfRecorder:
    """Records ``command`` with the census; ``recording`` is filled when ``run()`` (or ``close()``) ends."""

    command: list[str]
    with_args: bool = False
    recording: Recording = field(default_factory=Recording)
    exit_status: int | None = None
    warnings: list[str] = field(default_factory=list)
    _census: census_mod.Census | None = None
    _gate: GatedCommand | None = None
    _collected: bool = False

    def run(self) -> int | None:
        from syswarden.sources.ebpf.source import can_load_bpf
        if Arch.native() is not Arch.X86_64:
            raise SourceError("the eBPF recorder knows x86_64's ABIs only; use --backend ptrace")
        if not can_load_bpf():
            raise SourceError("the eBPF backend needs root (CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN); "
                              "use --backend ptrace")
        self.recording.commands.append(tuple(self.command))
        census = self._census = census_mod.Census()
        try:
            self._configure(census)
            gate = self._gate = GatedCommand(self.command)
            census.trace_after_exec(gate.pid)
            try:
                census.attach()
            except BaseException:
                gate.abandon()
                raise
            gate.release()
            self._wait(census, gate)
        finally:
            self.close()
        return self.exit_status

    def _configure(self, census: census_mod.Census) -> None:
        for abi, arch in ABI_ARCH.items():
            for name in (*SAFETY_ARGS, *MULTIPLEXER_ARGS):
                spec = safety_args(name, self.with_args, arch is Arch.I386)
                nr = tables.number(arch, name)
                if spec is not None and nr is not None:
                    census.want_args(abi, nr & ~X32_SYSCALL_BIT, spec.indexes)
        for name in ("socket", "socketpair", "setsockopt"):
            spec = safety_args(name, self.with_args, True)
            if spec is not None:
                census.want_args(census_mod.ABI_SOCKETCALL, SOCKETCALL_CALLS[name], spec.indexes)

    def _wait(self, census: census_mod.Census, gate: GatedCommand) -> None:
        """Until the command has exited and no process of its tree is left."""
        while True:
            if gate.poll() is not None and not [p for p in census.traced() if os.path.exists(f"/proc/{p}")]:
                break
            time.sleep(_POLL_S)
        status = gate.returncode
        self.exit_status = None if status is None else _wait_status(status)

    def close(self) -> None:
        """Kill what is left of the tree (an interrupted run), stop counting and collect the counts once."""
        census, gate = self._census, self._gate
        if census is None:
            return
        try:
            if gate is not None and gate.poll() is None:
                for pid in [gate.pid, *census.traced()]:
                    _kill(pid)
                gate.wait()
            for pid in census.traced():
                _kill(pid)
            census.detach()
            if not self._collected:
                self._collected = True
                self._collect(census)
        finally:
            census.close()
            self._census = None

    def _collect(self, census: census_mod.Census) -> None:
        rec = self.recording
        for (abi, nr), (calls, errors) in census.counts().items():
            sid = _identify(abi, nr)
            if sid is None:
                arch = ABI_ARCH.get(abi, Arch.I386)
                rec.unknown[(arch, nr)] = rec.unknown.get((arch, nr), 0) + calls
                continue
            rec.count(sid.arch, sid.name, calls, errors)
        # the successful exec of the command happened before counting started
        rec.count(Arch.native(), "execve")
        for abi, nr, vals in census.arg_values():
            arch = ABI_ARCH.get(abi, Arch.I386)
            sid = _identify(abi, nr, vals[0])
            spec = safety_args(sid.name, self.with_args, arch is Arch.I386) if sid else None
            if sid is None or spec is None:
                continue
            wanted = list(vals)
            args = [0] * 6
            for index in spec.indexes:
                args[index] = wanted.pop(0)
            rec.add_values(sid.arch, sid.name, wanted_values(spec, tuple(args)))
        lost = census.lost()
        if lost:
            self.warnings.append(f"{lost} argument values did not fit the census map; --args rules may miss some "
                                 "(use --backend ptrace)")


def _identify(abi: int, nr: int, arg0: int = 0) -> SyscallId | None:
    if abi == census_mod.ABI_SOCKETCALL:
        return identify(Arch.I386, 102, nr)
    return identify(ABI_ARCH[abi], nr, arg0)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _wait_status(code: int) -> int:
    """A wait status for an exit code as ``GatedCommand`` keeps it (negative: killed by that signal)."""
    return (-code) & 0x7F if code < 0 else (code & 0xFF) << 8
