"""Live capture with the CO-RE eBPF probe: ``probe.bpf.c`` -> ``loader`` -> ``ringbuf`` -> ``decode`` ->
``EbpfSource``."""
