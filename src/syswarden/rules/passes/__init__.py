"""AST passes over filter conditions, each a module exporting a function named after it.

``rules.compiler`` runs resolve_macros, expand_lists, check_fields and infer_event_types in that order;
find_na_checks serves the loader's LOAD_UNSAFE_NA_CHECK warning. Errors are in ``passes.errors``.
"""
