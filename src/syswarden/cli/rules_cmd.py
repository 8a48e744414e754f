"""``syswarden rules``: validate rules files, list their rules, list the fields conditions may use."""
from __future__ import annotations

import json
from collections import Counter
from typing import Any

import click

from syswarden.cli.table import render_table
from syswarden.escaping import escape_text
from syswarden.rules.loader import LoadResult, load_rules, stock_rules_path
from syswarden.rules.loader.result import Issue


def escape_text_lines(text: str) -> str:
    return "\n".join(escape_text(line) for line in text.split("\n"))


@click.group()
def rules() -> None:
    """Validate, list and explore Falco-format rules files."""


def _defined_counts(result: LoadResult, name: str) -> Counter[str]:
    """Distinct rules, macros and lists named in one file (as the loader read it)."""
    defined = result.defined.get(name, {})
    return Counter({kind: len(defined.get(kind, ())) for kind in ("rule", "macro", "list")})


@rules.command()
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print Falco's JSON validation result.")
@click.option("-v", "--verbose", is_flag=True, help="Show every issue with its locations and a caret snippet.")
def validate(files: tuple[str, ...], as_json: bool, verbose: bool) -> None:
    """Load FILES in order (as one ruleset) and report counts, errors and warnings.

    Exits 0 only when every file loads.
    """
    result = load_rules(list(files), codegen=False)      # validation judges no event: closures suffice
    if as_json:
        click.echo(result.as_json())
    else:
        click.echo(_validate_text(result, verbose))
    if not result.successful:
        raise SystemExit(2)


def _validate_text(result: LoadResult, verbose: bool) -> str:
    rows = []
    for name in result.names:
        errs, warns = result.issues_for(name)
        counts = _defined_counts(result, name)
        rows.append([name, "Invalid" if errs else "Ok", str(counts["rule"]), str(counts["macro"]),
                     str(counts["list"]), str(len(errs)), str(len(warns))])
    out = [render_table(["FILE", "STATUS", "RULES", "MACROS", "LISTS", "ERRORS", "WARNINGS"], rows,
                        numeric=range(2, 7))]
    if result.ruleset is not None:
        rs = result.ruleset
        enabled = sum(1 for r in rs.rules if r.enabled)
        out.append(f"\nLoaded {len(rs.rules)} rules ({enabled} enabled), {rs.macro_count} macros, "
                   f"{rs.list_count} lists; {len(rs.skipped)} rules skipped.")
        out += [escape_text(f"  skipped: {name}: {why}") for name, why in rs.skipped]
    if verbose:
        out.append("\n" + escape_text_lines(result.as_verbose()))
    else:
        for title, issues in (("Errors", result.errors), ("Warnings", result.warnings)):
            if issues:
                out.append(f"\n{title}:")
                rows = [_issue_row(i) for i in issues]
                out.append(_indent(render_table(["CODE", "LOCATION", "ITEM", "MESSAGE"], rows)))
    return "\n".join(out)


def _issue_row(issue: Issue) -> list[str]:
    span, item = issue.span, issue.item
    where = "" if span is None else str(span) if span.line > 0 else span.file
    return [issue.code.name, where, f"{item.item_type} '{item.item_name}'" if item else "", issue.message]


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.split("\n"))


@rules.command(name="list")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("-r", "--rules-file", "files", multiple=True, type=click.Path(),
              help="Rules file or directory (repeatable; default: the stock Falco rules).")
@click.option("--json", "as_json", is_flag=True, help="One JSON document with every rule.")
def list_cmd(paths: tuple[str, ...], files: tuple[str, ...], as_json: bool) -> None:
    """List the loaded rules in evaluation order.

    FILES may be given as arguments (as for ``rules validate``) or with -r; arguments load first.
    """
    ruleset = load_rules(list(paths + files) or [stock_rules_path()]).raise_for_errors()
    if as_json:
        docs = [{"name": r.name, "priority": r.priority.label, "source": r.source, "enabled": r.enabled,
                 "tags": sorted(r.tags), "evttypes": None if r.evttypes is None else sorted(r.evttypes),
                 "desc": r.desc, "condition": r.condition, "output": r.output} for r in ruleset.rules]
        click.echo(json.dumps({"rules": docs, "skipped": [{"name": n, "reason": w} for n, w in ruleset.skipped]},
                              indent=2))
        return
    rows = [[r.name, r.priority.label, "yes" if r.enabled else "no",
             "all" if r.evttypes is None else ",".join(sorted(r.evttypes)), ",".join(sorted(r.tags))]
            for r in ruleset.rules]
    click.echo(render_table(["RULE", "PRIORITY", "ENABLED", "EVENT TYPES", "TAGS"], rows))
    for name, why in ruleset.skipped:
        click.echo(escape_text(f"skipped: {name}: {why}"), err=True)


@rules.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable list.")
def fields(as_json: bool) -> None:
    """List the fields conditions and outputs may use, with their descriptions."""
    from syswarden.rules.fields import registry

    entries = sorted(_field_entries(registry), key=lambda e: e["name"])
    if as_json:
        click.echo(json.dumps(entries, indent=2))
        return
    click.echo(render_table(["FIELD", "TYPE", "DESCRIPTION"], [[e["name"], e["type"], e["desc"]] for e in entries]))


def _field_entries(registry: Any) -> list[dict[str, str]]:
    out = []
    for d in registry.all_fields():
        name = f"{d.name}[{d.spec.arg.value}]" if d.takes_arg else d.name
        out.append({"name": name, "type": d.type.value, "desc": d.description})
    return out
