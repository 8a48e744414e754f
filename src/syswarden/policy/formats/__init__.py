"""Policy formats: one module per format, each with ``load(text, *, filename, ...) -> Policy`` and
``dump(policy) -> str``."""
