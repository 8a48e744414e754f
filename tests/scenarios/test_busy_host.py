"""Issue 14's acceptance scenario: a busy host. While one process opens, reads, closes and stats a file no rule
cares about as fast as one core allows, the whole-machine `syswarden monitor` with the stock rules (eBPF, kernel
prefilter on) drops nothing and still detects the attacks made meanwhile: a read of /etc/shadow by an untrusted
program (also through the i386 gate), a symlink over a sensitive file, a search for private keys, an exec from
/dev/shm, a fileless exec via memfd, and an x32 call is still seen."""
from __future__ import annotations

import json
import re
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.scenarios.conftest import RULES_DIR, SYSWARDEN, _ebpf_reason
from tests.sources.compat_calls import build_int80io

pytestmark = [pytest.mark.kernel, pytest.mark.slow]

BUSY_C = r"""
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
    double secs = atof(argv[2]); char buf[256]; struct stat st; long n = 0;
    struct timespec t0, t; clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        for (int i = 0; i < 1000; i++, n++) {
            int fd = open(argv[1], O_RDONLY);
            if (fd >= 0) { read(fd, buf, sizeof buf); close(fd); }
            stat(argv[1], &st);
        }
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while (t.tv_sec - t0.tv_sec + (t.tv_nsec - t0.tv_nsec) / 1e9 < secs);
    printf("%ld\n", n);
    return 0;
}
"""
EXTRA_RULES = """\
- rule: Probe ready
  desc: the monitor sees opens (the test waits for this before loading the host)
  condition: evt.type in (open, openat) and fd.name = {ready}
  output: ready (file=%fd.name)
  priority: WARNING
- rule: x32 open seen
  desc: an open through the x32 ABI (ENOSYS on kernels without it) still reaches the rules
  condition: evt.type = open and evt.arg.abi = x32 and fd.name = /etc/shadow
  output: x32 open (file=%fd.name res=%evt.res)
  priority: WARNING
"""
MEMFD_EXEC = ("import os; fd = os.memfd_create('payload'); os.write(fd, open('/bin/true', 'rb').read()); "
              "os.execv(f'/proc/self/fd/{fd}', ['payload'])")
X32_OPEN = ("import ctypes; libc = ctypes.CDLL(None, use_errno=True); "
            "libc.syscall(0x40000000 | 2, b'/etc/shadow', 0)")


def has_kernel_filter() -> bool:
    out = subprocess.run([*SYSWARDEN, "monitor", "--help"], capture_output=True, text=True).stdout
    return "--no-kernel-filter" in out


def wait_for(path: Path, pattern: str, timeout: float, poke) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        poke()
        if path.exists() and pattern in path.read_text(errors="replace"):
            return True
        time.sleep(0.5)
    return False


def test_busy_host_drops_nothing_and_detects_attacks(tmp_path: Path) -> None:
    if (reason := _ebpf_reason()) or not RULES_DIR.joinpath("falco_rules.yaml").exists():
        pytest.skip(reason or "stock rules not found")
    if not has_kernel_filter():
        pytest.skip("this syswarden has no kernel prefilter (monitor --no-kernel-filter missing)")
    busy, int80io = tmp_path / "busy", build_int80io(tmp_path)
    (tmp_path / "busy.c").write_text(BUSY_C)
    subprocess.run(["gcc", "-O2", "-o", str(busy), str(tmp_path / "busy.c")], check=True)
    plain, ready = tmp_path / "plain.txt", tmp_path / "ready"
    plain.write_text("nothing to see\n")
    ready.write_text("x")
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "id_rsa").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    rules = tmp_path / "extra.yaml"
    rules.write_text(EXTRA_RULES.format(ready=ready))
    alerts, errors = tmp_path / "alerts.json", tmp_path / "monitor.err"
    shm = Path("/dev/shm") / f"sw-{secrets.token_hex(4)}"
    args = [*SYSWARDEN, "monitor", "--source", "ebpf", "-r", str(RULES_DIR / "falco_rules.yaml"), "-r", str(rules),
            "--json", "-o", str(alerts)]
    with open(errors, "w") as err:
        mon = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err)
    try:
        assert wait_for(alerts, "Probe ready", 60, lambda: open(ready).close()), errors.read_text()
        load = subprocess.Popen([str(busy), str(plain), "10"], stdout=subprocess.PIPE, text=True)
        time.sleep(1.5)
        sh = lambda script: subprocess.run(["/bin/sh", "-c", script], check=False, capture_output=True)  # noqa: E731
        sh("cat /etc/shadow > /dev/null")
        sh(f"{int80io} /etc/shadow > /dev/null")
        sh(f"ln -s /etc/shadow {tmp_path / 'innocent-link'}")
        sh(f"find {tmp_path} -name id_rsa > /dev/null")
        sh(f"cp /bin/true {shm} && {shm}")
        subprocess.run([sys.executable, "-c", MEMFD_EXEC], check=False)
        subprocess.run([sys.executable, "-c", X32_OPEN], check=False)
        iterations = int(load.communicate(timeout=60)[0])
        time.sleep(2)
    finally:
        mon.send_signal(signal.SIGINT)
        try:
            mon.wait(timeout=60)
        except subprocess.TimeoutExpired:
            mon.kill()
            mon.wait()
        shm.unlink(missing_ok=True)
    summary = errors.read_text()
    fired = [json.loads(line) for line in alerts.read_text().splitlines() if line.startswith("{")]
    by_rule: dict[str, list[dict]] = {}
    for alert in fired:
        by_rule.setdefault(alert["rule"], []).append(alert["output_fields"])
    dropped = re.search(r"Events dropped:\s+(\d+)", summary)
    assert dropped is not None and int(dropped.group(1)) == 0, summary
    assert iterations > 10_000, f"the busy loop made only {iterations} iterations"   # a loaded machine: ~10k/s
    shadow = {(a["proc.name"], a["fd.name"]) for a in by_rule.get("Read sensitive file untrusted", [])}
    assert {("cat", "/etc/shadow"), ("int80io", "/etc/shadow")} <= shadow, by_rule.keys()
    assert any(a["proc.name"] == "ln" for a in by_rule.get("Create Symlink Over Sensitive Files", []))
    assert any(a["proc.name"] == "find" for a in by_rule.get("Search Private Keys or Passwords", []))
    assert any(str(shm) in str(a.values()) for a in by_rule.get("Execution from /dev/shm", []))
    assert by_rule.get("Fileless execution via memfd_create")
    assert by_rule.get("x32 open seen")
    assert not any(a.get("fd.name") == str(plain) for alerts_of in by_rule.values() for a in alerts_of)
