"""Live capture of one command's process tree with ptrace (no root needed): ``tracer`` -> ``decode`` ->
``PtraceSource``."""
