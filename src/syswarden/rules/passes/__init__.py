"""AST passes run by ``rules.compiler`` in order: resolve_macros, expand_lists, check_fields,
infer_event_types. Each module exports a function named after it."""
