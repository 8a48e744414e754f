"""The field reference (``docs/fields.md``) rendered from the registry, so the document cannot drift."""
from __future__ import annotations

from syswarden.rules.fields import registry
from syswarden.rules.fields.model import ArgKind

_HEADER = """# Fields

Generated from `syswarden.rules.fields.registry` by `python -m syswarden.rules.fields.docs > docs/fields.md`
(a test checks that this file matches the registry). `<NA>` means the field does not apply to the event; any
check on it is false, except `exists`. *Filter only* fields cannot be printed in outputs (as in Falco).
Multi-valued fields (`proc.aname` without an index, `fd.ip`, `fd.port`, `fd.net`) pass a check when any value
does.
"""


_PIPE = "\\|"


def render_markdown() -> str:
    """The whole field reference as Markdown, one table per field class."""
    lines = [_HEADER]
    current = ""
    for fdef in registry.all_fields():
        cls = fdef.name.split(".", 1)[0]
        if cls != current:
            current = cls
            lines += ["", f"## {cls}", "", "| field | type | argument | description |", "|---|---|---|---|"]
        arg = "" if fdef.spec.arg is ArgKind.NONE else fdef.spec.arg.value
        desc = (fdef.description + (" *Filter only.*" if fdef.filter_only else "")).replace("|", _PIPE)
        lines.append(f"| `{fdef.name}` | {fdef.type.value} | {arg} | {desc} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render_markdown(), end="")
