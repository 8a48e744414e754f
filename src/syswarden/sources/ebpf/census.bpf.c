// SPDX-License-Identifier: GPL-2.0
/* syswarden's syscall census, for `syswarden record --backend ebpf`: counts every syscall of the traced process
 * trees per ABI in the kernel (calls and failures), keeps the distinct values of the arguments user space asks
 * for. Nothing per syscall goes through a ring buffer: user space reads the maps once the tree has exited.
 *
 * It is separate from probe.bpf.c (the auditing probe) on purpose: no decoding, no per-event records, no
 * shared maps, so either can change without the other (docs/recorder.md). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

#define SLOTS 1024          /* numbers per ABI block */
#define NR_ABIS 4
#define ABI_X64 0
#define ABI_I386 1
#define ABI_X32 2
#define ABI_SOCKETCALL 3    /* i386 socketcall sub-calls, by SYS_* number */
#define TS_COMPAT 0x0002
#define X32_SYSCALL_BIT 0x40000000
#define I386_NR_SOCKETCALL 102
#define SOCKETCALL_MAX 20

struct counts {
	__u64 calls;
	__u64 errors;
};

struct argkey {
	__u32 key;          /* abi * SLOTS + nr */
	__u32 pad;
	__u64 vals[2];      /* the wanted arguments, lowest index first */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NR_ABIS * SLOTS);
	__type(key, __u32);
	__type(value, struct counts);
} counts SEC(".maps");

/* per syscall key: bits 0..5 the argument indexes whose values to keep (at most two) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NR_ABIS * SLOTS);
	__type(key, __u32);
	__type(value, __u32);
} argspec SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct argkey);
	__type(value, __u64);
} argvals SEC(".maps");

/* the traced processes (tgid -> 1): the command, then every child forked by a traced process */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u32);
} traced SEC(".maps");

/* the command before its exec (tgid -> 1): counted from its first instruction on, not while syswarden's gate
 * still runs in it */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u32);
} armed SEC(".maps");

/* [0] = values that did not fit in argvals */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

static __always_inline bool traced_tgid(__u32 tgid)
{
	return bpf_map_lookup_elem(&traced, &tgid) != NULL;
}

static __always_inline void count_lost(__u32 which)
{
	__u64 *n = bpf_map_lookup_elem(&lost, &which);
	if (n)
		*n += 1;
}

/* ABI and number-within-ABI of the current syscall (TS_COMPAT is what in_ia32_syscall() tests). */
static __always_inline __u32 key_of(struct pt_regs *regs, long id)
{
	struct task_struct *task = bpf_get_current_task_btf();
	if (task->thread_info.status & TS_COMPAT) {
		__u32 nr = (__u32)id;
		if (nr == I386_NR_SOCKETCALL) {
			__u32 call = (__u32)BPF_CORE_READ(regs, bx);
			if (call >= 1 && call <= SOCKETCALL_MAX)
				return ABI_SOCKETCALL * SLOTS + call;
		}
		return nr < SLOTS ? ABI_I386 * SLOTS + nr : (__u32)-1;
	}
	if (id & X32_SYSCALL_BIT) {
		__u64 nr = id & ~(long)X32_SYSCALL_BIT;
		return nr < SLOTS ? ABI_X32 * SLOTS + nr : (__u32)-1;
	}
	return id < SLOTS ? ABI_X64 * SLOTS + id : (__u32)-1;
}

/* The counters of the current syscall (NULL for numbers outside the table). */
static __always_inline struct counts *counter(struct pt_regs *regs, long id, __u32 *keyp)
{
	__u32 key = key_of(regs, id);
	*keyp = key;
	return key < NR_ABIS * SLOTS ? bpf_map_lookup_elem(&counts, &key) : NULL;
}

static __always_inline void read_args(struct pt_regs *regs, __u32 key, __u64 *a)
{
	if (key >= ABI_SOCKETCALL * SLOTS) {
		/* socketcall(call, args*): the sub-call's arguments are 32-bit words in user memory */
		__u32 w[6] = {};
		bpf_probe_read_user(w, sizeof(w), (void *)(__u64)(__u32)BPF_CORE_READ(regs, cx));
		for (int i = 0; i < 6; i++)
			a[i] = w[i];
	} else if (key >= ABI_I386 * SLOTS && key < ABI_X32 * SLOTS) {
		a[0] = (__u32)BPF_CORE_READ(regs, bx);
		a[1] = (__u32)BPF_CORE_READ(regs, cx);
		a[2] = (__u32)BPF_CORE_READ(regs, dx);
		a[3] = (__u32)BPF_CORE_READ(regs, si);
		a[4] = (__u32)BPF_CORE_READ(regs, di);
		a[5] = (__u32)BPF_CORE_READ(regs, bp);
	} else {
		a[0] = BPF_CORE_READ(regs, di);
		a[1] = BPF_CORE_READ(regs, si);
		a[2] = BPF_CORE_READ(regs, dx);
		a[3] = BPF_CORE_READ(regs, r10);
		a[4] = BPF_CORE_READ(regs, r8);
		a[5] = BPF_CORE_READ(regs, r9);
	}
}

SEC("tp_btf/sys_enter")
int BPF_PROG(census_enter, struct pt_regs *regs, long id)
{
	if (id < 0 || !traced_tgid(bpf_get_current_pid_tgid() >> 32))
		return 0;
	__u32 key;
	struct counts *c = counter(regs, id, &key);
	if (!c)
		return 0;
	c->calls += 1;
	__u32 *specp = bpf_map_lookup_elem(&argspec, &key);
	__u32 spec = specp ? *specp : 0;
	if (!spec)
		return 0;
	__u64 a[6] = {};
	read_args(regs, key, a);
	struct argkey ak = {.key = key};
	int n = 0;
	for (int i = 0; i < 6; i++) {
		if (spec & (1u << i)) {
			if (n < 2)
				ak.vals[n & 1] = a[i];
			n++;
		}
	}
	if (bpf_map_lookup_elem(&argvals, &ak))
		return 0;
	__u64 one = 1;
	if (bpf_map_update_elem(&argvals, &ak, &one, BPF_NOEXIST) < 0)
		count_lost(0);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(census_exit, struct pt_regs *regs, long ret)
{
	/* failures only; the number is still in orig_ax (rt_sigreturn's is -1), the ABI unchanged: an exec that
	 * switches ABI returns 0 */
	if (ret >= 0 || ret < -4095 || !traced_tgid(bpf_get_current_pid_tgid() >> 32))
		return 0;
	long id = BPF_CORE_READ(regs, orig_ax);
	__u32 key;
	struct counts *c = id < 0 ? NULL : counter(regs, id, &key);
	if (c)
		c->errors += 1;
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(census_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = BPF_CORE_READ(parent, tgid);
	if (!traced_tgid(ptgid))
		return 0;
	__u32 ctgid = BPF_CORE_READ(child, tgid);
	__u32 one = 1;
	bpf_map_update_elem(&traced, &ctgid, &one, BPF_ANY);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(census_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = BPF_CORE_READ(p, tgid);
	if (!bpf_map_lookup_elem(&armed, &tgid))
		return 0;
	__u32 one = 1;
	bpf_map_update_elem(&traced, &tgid, &one, BPF_ANY);
	bpf_map_delete_elem(&armed, &tgid);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(census_exit_task, struct task_struct *p)
{
	__u32 tgid = BPF_CORE_READ(p, tgid);
	/* signal->live is decremented before this tracepoint: zero means the last thread of the process */
	if (BPF_CORE_READ(p, signal, live.counter) == 0)
		bpf_map_delete_elem(&traced, &tgid);
	return 0;
}
