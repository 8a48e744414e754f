# syswarden: `make run` (main job) and `make test` (whole suite) each set everything up first.
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
BIN   := $(VENV)/bin
# Debian packages the product and its tests need: clang/llvm/libbpf-dev/bpftool build the CO-RE eBPF probe;
# auditd and sysdig are peers the tests and benches compare against; bubblewrap and firejail are launch peers;
# nats-server (JetStream), rsyslog, prometheus (promtool) and systemd (systemd-analyze) are the outputs' and the
# service's test peers (tests start their own instances on 127.0.0.1; never the system's).
APT_PACKAGES := clang llvm libbpf-dev bpftool libbpf1 libseccomp2 strace gcc gcc-multilib auditd sysdig bubblewrap \
                firejail nats-server rsyslog prometheus systemd

.PHONY: run test lint setup apt venv probe clean demo

# stdout carries the alerts only (make run > alerts.txt): commands are not echoed, setup talks on stderr.
run: setup
	@echo "syswarden monitor: watching this machine with the stock Falco rules." >&2
	@echo "Try: python3 -c 'open(\"/etc/shadow\").read()' in another terminal; Ctrl-C stops and prints the summary." >&2
	@$(BIN)/syswarden monitor

# The enforcement demo: Docker's default profile refuses a user namespace. `check` explains the denial (which
# rule, which action); `run` shows it happening. unshare's failure is the expected outcome, not a make error.
demo: setup
	@echo "== what Docker's default profile does with unshare(2):"
	@$(BIN)/syswarden check profile:docker-default unshare --no-path
	@echo "== running 'unshare --map-root-user --user sh -c whoami' under it:"
	@$(BIN)/syswarden run --profile docker-default -- unshare --map-root-user --user sh -c whoami; \
	  status=$$?; if [ $$status -ne 0 ]; then \
	    echo "== unshare exited $$status: the filter answered unshare(2) with EPERM, so no user namespace was made"; \
	  else echo "== unexpected: unshare succeeded"; exit 1; fi

# The static checks first (pinned in the test extra, configured in pyproject.toml): ruff (unused code, likely
# bugs, long lines) and mypy (the package type-checks; the listed packages strictly). Then the suite.
test: lint
	$(BIN)/pytest -q

lint: setup
	$(BIN)/ruff check src tests bench tools
	$(BIN)/mypy

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
