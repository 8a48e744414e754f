/* The record layout shared by probe.bpf.c and decode.py (which mirrors it with struct formats).
 * Every record in the ring buffer is one struct ev_hdr followed by nblobs variable-length blobs whose
 * lengths are in blen[]; the blobs come in the order of the argument kinds of the syscall's spec. */
#ifndef SYSWARDEN_PROBE_H
#define SYSWARDEN_PROBE_H

/* The syscalls map holds SYSCALL_SLOTS spec words per ABI: key = abi * SYSCALL_SLOTS + nr. */
#define SYSCALL_SLOTS 1024
#define NR_ABIS 4
#define ABI_X64 0        /* the 64-bit `syscall` ABI */
#define ABI_I386 1       /* ia32 compat: int 0x80, sysenter, 32-bit code (the task's TS_COMPAT) */
#define ABI_X32 2        /* nr | X32_SYSCALL_BIT; nr is stored without the bit */
#define ABI_SOCKETCALL 3 /* an i386 socketcall sub-call: nr is the SYS_* call number (1..20) */
#define X32_SYSCALL_BIT 0x40000000
#define TS_COMPAT 0x0002 /* thread_info.status bit set by the ia32 entry, cleared on return to user mode */
#define I386_NR_SOCKETCALL 102
#define SOCKETCALL_MAX 20
#define MAX_BLOBS 8
#define SCRATCH_HALF 32768
#define MAX_PATH_LEN 4096
#define MAX_ARGV_LEN 4096
#define MAX_ENV_LEN 4096
#define MAX_SOCKADDR_LEN 128

/* Pseudo syscall numbers for scheduler events. */
#define EV_FORK (-1)
#define EV_EXEC (-2)
#define EV_EXIT (-3)

/* Argument kinds, 4 bits per argument in the per-syscall spec word (bits 0..23); bit 31 = interesting. */
#define K_NONE 0
#define K_STR 1          /* user string pointer (path, name) */
#define K_SOCKADDR 2     /* user sockaddr pointer, length in the next argument */
#define K_SOCKADDR_OUT 3 /* user sockaddr pointer, int* length in the next argument, read at exit */
#define K_U64 4          /* u64 at a user pointer (clone3 flags) */
#define K_STRARR 5       /* user char*[] (argv of a failed execve) */
#define K_MSGHDR 6       /* user msghdr pointer: its msg_name sockaddr */
#define K_FDSOCK 7       /* fd (argument, or the return value for accept): kernel socket endpoints */
#define SPEC_INTERESTING (1u << 31)
#define SPEC_RET_FDSOCK (1u << 30)

/* Target modes. */
#define MODE_ALL 0
#define MODE_TREE 1
#define MODE_CGROUP 2

struct probe_config {
	__u32 mode;
	__u32 self_tgid;
	__u64 cgroup_id;
};

struct probe_stats {
	__u64 events;
	__u64 drops;
};

/* K_FDSOCK blob: socket family and both endpoints, network byte order for addresses, host order ports. */
struct sock_endpoints {
	__u16 family;
	__u16 type;
	__u16 lport;
	__u16 rport;
	__u8 laddr[16];
	__u8 raddr[16];
};

struct ev_hdr {
	__u64 ts;          /* CLOCK_BOOTTIME ns */
	__s64 ret;
	__u64 args[6];
	__u64 cgroup_id;
	__u32 tid;
	__u32 tgid;
	__u32 ppid;
	__u32 uid;
	__u32 gid;
	__u32 euid;
	__u32 egid;
	__u32 loginuid;
	__s32 nr;
	__u32 tty;
	__u16 nblobs;
	__u16 cpu;
	__u16 blen[MAX_BLOBS];
	char comm[16];
	__u32 abi;         /* ABI_*: of the syscall, or of the call that forked/exec'ed for fork/exec records */
};

#endif
