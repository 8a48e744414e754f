"""One ``syswarden record``: pick the backend, run it, and turn its recording into the policy text (merged into
an existing policy when asked). The CLI calls these and prints; nothing here prints."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from syswarden.errors import InputError
from syswarden.policy.landlock import LandlockSpec
from syswarden.policy.model import Action, Policy
from syswarden.recorder.build import BuildOptions, build_policy, conditions_text, merge_into, shadowed
from syswarden.recorder.recording import Recording
from syswarden.recorder.report import render as render_policy
from syswarden.recorder.report import unknown_warnings


@dataclass(frozen=True, slots=True)
class Options:
    fmt: str = "yaml"
    with_args: bool = False
    with_landlock: bool = False
    backend: str = "ptrace"
    default_action: Action | None = None


class Recorder(Protocol):
    recording: Recording
    exit_status: int | None

    def run(self) -> int | None: ...

    def close(self) -> None: ...


@dataclass(slots=True)
class Result:
    recording: Recording
    exit_code: int
    backend: str
    interrupted: int = 0          # the signal that interrupted the recording (SIGINT, SIGTERM), 0 if none
    warnings: list[str] = field(default_factory=list)


def check(options: Options) -> None:
    """Refuse option combinations that cannot work before anything runs."""
    if options.with_landlock and options.fmt != "yaml":
        raise InputError("a Docker/OCI policy cannot hold Landlock rules (expected --format yaml with --landlock)")


def make_recorder(command: list[str], options: Options) -> Recorder:
    check(options)
    if options.backend == "ebpf":
        if options.with_landlock:
            raise InputError("--landlock learns paths with the ptrace backend (expected --backend ptrace)")
        from syswarden.recorder.ebpf_backend import EbpfRecorder
        return EbpfRecorder(command, options.with_args)
    files = None
    if options.with_landlock:
        from syswarden.recorder.files import FileTracker
        files = FileTracker()
    from syswarden.recorder.ptrace_backend import PtraceRecorder
    return PtraceRecorder(command, options.with_args, files)


def result_of(recorder: Recorder, backend: str, interrupted: int = 0) -> Result:
    from syswarden.recorder.ptrace_backend import exit_code
    files = getattr(recorder, "files", None)
    if files is not None:
        files.finish(recorder.recording)
    result = Result(recorder.recording, exit_code(recorder.exit_status), backend, interrupted)
    result.warnings.extend(unknown_warnings(recorder.recording))
    result.warnings.extend(getattr(recorder, "warnings", ()))
    return result


def from_capture(path: Path, pid: int | None, comm: str | None, options: Options) -> Result:
    from syswarden.recorder.capture import learn
    check(options)
    recording, warnings = learn(path, pid, comm, options.with_args)
    return Result(recording, 0, "capture", warnings=warnings)


def load_existing(path: Path) -> tuple[Policy, LandlockSpec | None]:
    """The policy of ``--merge FILE`` (any format) and its Landlock section."""
    from syswarden.policy.load import load_policy_file
    return load_policy_file(str(path))


def build(result: Result, options: Options) -> Policy:
    build_options = BuildOptions(with_args=options.with_args, docker=options.fmt == "docker",
                                 name=_name(result.recording))
    if options.default_action is not None:
        build_options = BuildOptions(options.default_action, options.with_args, options.fmt == "docker",
                                     build_options.name)
    return build_policy(result.recording, build_options)


def _name(recording: Recording) -> str:
    if not recording.commands or not recording.commands[0]:
        return ""
    return Path(recording.commands[0][0]).name


def render(result: Result, options: Options, existing: tuple[Policy, LandlockSpec | None] | None = None
           ) -> tuple[str, list[str]]:
    """The policy text and the notes to print (what a merge added, what it could not)."""
    policy = build(result, options)
    notes: list[str] = []
    landlock = None
    if options.with_landlock:
        from syswarden.recorder.landlock import section
        landlock = section(result.recording, existing[1] if existing else None)
    if existing is not None:
        policy, added = merge_into(existing[0], policy)
        for rule in added:
            what = ", ".join(rule.names) + (f" when {conditions_text(rule.args)}" if rule.args else "")
            arches = "/".join(a.value for a in sorted(rule.arches, key=lambda a: a.value)) if rule.arches else "all"
            notes.append(f"merge: added {what} ({arches})")
            for name in shadowed(policy, rule):
                notes.append(f"merge: warning: {name} stays denied: an earlier rule of the existing policy denies it")
        if not added:
            notes.append("merge: the existing policy already allows everything this run did")
    return render_policy(policy, options.fmt, result.recording, result.backend, landlock), notes
