"""syswarden.testing helpers drive the real pipeline without a kernel."""
from __future__ import annotations

from syswarden.rules import Engine, load_texts
from syswarden.service.pipeline import Pipeline
from syswarden.spans import SourceText
from syswarden.state import State
from syswarden.testing import CapturingOutput, ListSource, alert_matches, event, thread

RULE = ("- rule: Shell\n  desc: d\n  condition: evt.type = execve and proc.name = bash\n"
        "  output: shell %proc.cmdline\n  priority: NOTICE\n")


def test_list_source_through_pipeline_with_state() -> None:
    """ListSource + State + Engine + CapturingOutput: an execve event seen by state raises the alert."""
    ruleset = load_texts([SourceText("r.yaml", RULE)]).ruleset
    assert ruleset is not None
    sh = thread(50, comm="sh", exepath="/usr/bin/dash")
    ev = event("execve", sh, params={"exe": "/usr/bin/bash", "args": ["-i"], "comm": "bash",
                                     "trusted_exepath": "/usr/bin/bash", "filename": "/usr/bin/bash"})
    ev.thread = None                       # let the state engine attach (and update) the thread
    source = ListSource([ev], threads=[sh])
    out = CapturingOutput()
    summary = Pipeline(source, Engine(ruleset, hostname="h"), [out], state=State()).run()
    assert summary.alerts == 1 and source.closed
    assert alert_matches(out.alerts[0], rule="Shell", output_contains="shell bash -i", proc__cmdline="bash -i")
    assert not alert_matches(out.alerts[0], rule="Other")
