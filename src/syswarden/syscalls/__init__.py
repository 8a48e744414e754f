"""Syscall names and numbers per architecture, and systemd-style syscall groups."""
