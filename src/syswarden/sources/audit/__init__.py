"""The Linux audit source: the kernel's audit stream (live) or audit log files, as syswarden events."""
