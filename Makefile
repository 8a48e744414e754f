# syswarden: `make run` (main job) and `make test` (whole suite) each set everything up first.
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
BIN   := $(VENV)/bin
# Debian packages the product and its tests need: clang/llvm/libbpf-dev/bpftool build the CO-RE eBPF probe;
# auditd and sysdig are peers the tests and benches compare against; bubblewrap and firejail are launch peers.
APT_PACKAGES := clang llvm libbpf-dev bpftool libbpf1 libseccomp2 strace gcc gcc-multilib auditd sysdig bubblewrap firejail

.PHONY: run test setup apt venv probe clean demo

# stdout carries the alerts only (make run > alerts.txt): commands are not echoed, setup talks on stderr.
run: setup
	@echo "syswarden monitor: watching this machine with the stock Falco rules." >&2
	@echo "Try: python3 -c 'open(\"/etc/shadow\").read()' in another terminal; Ctrl-C stops and prints the summary." >&2
	@$(BIN)/syswarden monitor

# The enforcement demo: Docker's default profile refuses a user namespace.
demo: setup
	-$(BIN)/syswarden run --profile docker-default -- unshare --map-root-user --user sh -c whoami

test: setup
	$(BIN)/pytest -q

setup: apt venv probe

apt:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing" >&2; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@echo "setting up $(VENV)" >&2
	@python3 -m venv $(VENV) >&2
	@$(PY) -m pip install -q --upgrade pip >&2
	@$(PY) -m pip install -q -e '.[test]' >&2
	@touch $@

# The eBPF probe is compiled against the running kernel's BTF (see src/syswarden/sources/ebpf/).
probe:
	@if [ -f src/syswarden/sources/ebpf/Makefile ]; then $(MAKE) -s --no-print-directory -C src/syswarden/sources/ebpf >&2; fi

clean:
	rm -rf $(VENV) build *.egg-info
	@if [ -f src/syswarden/sources/ebpf/Makefile ]; then $(MAKE) -s -C src/syswarden/sources/ebpf clean; fi
