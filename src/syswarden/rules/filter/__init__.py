"""The Falco filter language: text -> AST (``parser.parse``) and AST -> canonical text (``printer.to_text``)."""
