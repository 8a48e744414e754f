"""Kernel and C-library ABI bindings (ctypes, raw syscalls): the only place syswarden talks to them directly."""
