// SPDX-License-Identifier: GPL-2.0
/* syswarden's CO-RE capture probe: raw syscall enter/exit plus the scheduler's fork/exec/exit.
 *
 * The probe is generic: user space fills the `syscalls` map with, per syscall number, whether it is
 * interesting and which kind each argument is (string, sockaddr, ...). sys_enter stashes the raw arguments
 * of interesting syscalls of target processes per thread; sys_exit reads what the argument kinds say and
 * emits one record (struct ev_hdr + blobs) to the ring buffer, as modern Falco emits exit events only.
 * Changing the syscall set is a map update, no reload. Compat calls (i386 through int 0x80 or a 32-bit task,
 * x32 numbers) have their own block of keys in the same map and are marked in the record (docs/ebpf-probe.md). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "probe.h"

char LICENSE[] SEC("license") = "GPL";

struct inflight {
	__s64 nr;          /* within its ABI (x32 without the bit, socketcall: the SYS_* call) */
	__u64 args[6];     /* compat arguments already zero-extended from 32 bits */
	__u32 abi;
	__u32 pad;
};

struct scratch {
	__u8 data[2 * SCRATCH_HALF];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 * 1024 * 1024);
} rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NR_ABIS * SYSCALL_SLOTS);
	__type(key, __u32);
	__type(value, __u32);
} syscalls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct probe_config);
} settings SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u32);
} traced SEC(".maps");

/* LRU so a thread killed between enter and exit cannot leak an entry forever. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct inflight);
} inflight SEC(".maps");

/* One scratch buffer per CPU (max_entries set to the number of possible CPUs by the loader): events are
 * assembled here, then copied into the ring buffer in one bpf_ringbuf_output. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct probe_stats);
} stats SEC(".maps");

static __always_inline struct probe_config *get_config(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&settings, &zero);
}

/* Whether this task (tgid, cgroup) is one we report; syswarden itself never is. */
static __always_inline bool is_target(struct probe_config *cfg, __u32 tgid)
{
	if (tgid == cfg->self_tgid)
		return false;
	if (cfg->mode == MODE_TREE)
		return bpf_map_lookup_elem(&traced, &tgid) != NULL;
	if (cfg->mode == MODE_CGROUP)
		return bpf_get_current_cgroup_id() == cfg->cgroup_id;
	return true;
}

static __always_inline __u32 encode_tty(struct task_struct *task)
{
	struct tty_struct *tty = BPF_CORE_READ(task, signal, tty);
	if (!tty)
		return 0;
	__u32 major = BPF_CORE_READ(tty, driver, major);
	__u32 minor = BPF_CORE_READ(tty, driver, minor_start) + BPF_CORE_READ(tty, index);
	/* new_encode_dev(), the encoding of /proc/PID/stat's tty_nr */
	return (minor & 0xff) | (major << 8) | ((minor & ~0xffu) << 12);
}

static __always_inline void fill_common(struct ev_hdr *h, struct task_struct *task)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 uid_gid = bpf_get_current_uid_gid();
	h->ts = bpf_ktime_get_boot_ns();
	h->tid = (__u32)pid_tgid;
	h->tgid = pid_tgid >> 32;
	h->ppid = BPF_CORE_READ(task, real_parent, tgid);
	h->uid = (__u32)uid_gid;
	h->gid = uid_gid >> 32;
	h->euid = BPF_CORE_READ(task, cred, euid.val);
	h->egid = BPF_CORE_READ(task, cred, egid.val);
	h->loginuid = bpf_core_field_exists(task->loginuid) ? BPF_CORE_READ(task, loginuid.val) : (__u32)-1;
	h->tty = encode_tty(task);
	h->cgroup_id = bpf_get_current_cgroup_id();
	h->cpu = bpf_get_smp_processor_id();
	h->nblobs = 0;
	h->abi = ABI_X64;
	bpf_get_current_comm(h->comm, sizeof(h->comm));
}

static __always_inline struct scratch *get_scratch(void)
{
	__u32 cpu = bpf_get_smp_processor_id();
	return bpf_map_lookup_elem(&scratch, &cpu);
}

static __always_inline void set_blob(struct ev_hdr *h, __u32 len)
{
	__u16 n = h->nblobs;
	if (n < MAX_BLOBS)
		h->blen[n & (MAX_BLOBS - 1)] = len;
	h->nblobs = n + 1;
}

/* Masks an offset in a way clang cannot fold away, so the verifier sees it below SCRATCH_HALF. */
static __always_inline __u32 bound_off(__u32 off)
{
	asm volatile("%0 &= %1" : "+r"(off) : "i"(SCRATCH_HALF - 1));
	return off;
}

/* Blob writers: each returns the new offset. Offsets stay below SCRATCH_HALF and reads are at most
 * SCRATCH_HALF/2 long, so every access is provably inside the 2*SCRATCH_HALF scratch buffer. */
static __always_inline __u32 put_user_str(struct scratch *b, struct ev_hdr *h, __u32 off, const void *p)
{
	long n = 0;
	if (off < SCRATCH_HALF && p)
		n = bpf_probe_read_user_str(&b->data[bound_off(off)], MAX_PATH_LEN, p);
	if (n < 0)
		n = 0;
	set_blob(h, n);
	return off + n;
}

static __always_inline __u32 put_kernel_str(struct scratch *b, struct ev_hdr *h, __u32 off, const void *p)
{
	long n = 0;
	if (off < SCRATCH_HALF && p)
		n = bpf_probe_read_kernel_str(&b->data[bound_off(off)], MAX_PATH_LEN, p);
	if (n < 0)
		n = 0;
	set_blob(h, n);
	return off + n;
}

static __always_inline __u32 put_user_bytes(struct scratch *b, struct ev_hdr *h, __u32 off, const void *p,
					    __u64 len, __u32 cap)
{
	if (len > cap)
		len = cap;
	len &= (MAX_ARGV_LEN * 2 - 1);
	if (off >= SCRATCH_HALF || !p || bpf_probe_read_user(&b->data[bound_off(off)], len, p) < 0)
		len = 0;
	set_blob(h, len);
	return off + len;
}

/* argv: an array of 8-byte pointers, or of 4-byte ones (zero-extended) for compat callers. */
static __always_inline __u32 put_argv(struct scratch *b, struct ev_hdr *h, __u32 off, const void *argv,
				      __u32 psize)
{
	__u32 start = off;
	#pragma unroll
	for (int i = 0; i < 16; i++) {
		__u64 ptr = 0;
		if (!argv || bpf_probe_read_user(&ptr, psize, argv + i * psize) < 0 || !ptr)
			break;
		const char *arg = (const char *)ptr;
		long n = 0;
		if (off < SCRATCH_HALF)
			n = bpf_probe_read_user_str(&b->data[bound_off(off)], 512, arg);
		if (n <= 0)
			break;
		off += n;
	}
	set_blob(h, off - start);
	return off;
}

static __always_inline __u32 put_fdsock(struct scratch *b, struct ev_hdr *h, __u32 off, struct task_struct *task,
					__s64 fd)
{
	struct sock_endpoints ep = {};
	struct file **fds = BPF_CORE_READ(task, files, fdt, fd);
	unsigned int max_fds = BPF_CORE_READ(task, files, fdt, max_fds);
	struct file *f = NULL;
	if (fd >= 0 && fd < max_fds)
		bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	if (f && (BPF_CORE_READ(f, f_inode, i_mode) & 00170000) == 0140000) {
		struct socket *sock = BPF_CORE_READ(f, private_data);
		struct sock *sk = BPF_CORE_READ(sock, sk);
		ep.type = BPF_CORE_READ(sock, type);
		ep.family = BPF_CORE_READ(sk, __sk_common.skc_family);
		ep.lport = BPF_CORE_READ(sk, __sk_common.skc_num);
		ep.rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
		if (ep.family == 2) {
			BPF_CORE_READ_INTO(&ep.laddr, sk, __sk_common.skc_rcv_saddr);
			BPF_CORE_READ_INTO(&ep.raddr, sk, __sk_common.skc_daddr);
		} else if (ep.family == 10) {
			BPF_CORE_READ_INTO(&ep.laddr, sk, __sk_common.skc_v6_rcv_saddr);
			BPF_CORE_READ_INTO(&ep.raddr, sk, __sk_common.skc_v6_daddr);
		}
	}
	__u32 len = 0;
	if (off < SCRATCH_HALF) {
		bpf_probe_read_kernel(&b->data[bound_off(off)], sizeof(ep), &ep);
		len = sizeof(ep);
	}
	set_blob(h, len);
	return off + len;
}

/* A global (separately verified) function: inlining six argument slots times every kind into sys_exit
 * explodes the verifier's path count, verifying one slot once does not. Reads the raw arguments from the
 * header already written to this CPU's scratch buffer. */
__noinline int put_arg(__u32 kind, __u32 i, __s64 ret, __u32 off)
{
	struct scratch *b = get_scratch();
	if (!b || i > 6)
		return off;
	struct ev_hdr *h = (struct ev_hdr *)b->data;
	/* slot 6 is the return value (accept's new socket) */
	__u64 raw = i < 6 ? h->args[i] : (__u64)ret;
	const void *p = (const void *)raw;
	__u32 j = i + 1;
	asm volatile("" : "+r"(j));  /* keep clang from folding the bound check the verifier needs */
	__u64 next = j < 6 ? h->args[j] : 0;
	/* i386 and x32 callers lay out user structures with 32-bit pointers */
	bool compat = h->abi != ABI_X64;
	int len32 = 0;
	switch (kind) {
	case K_STR:
		return put_user_str(b, h, off, p);
	case K_SOCKADDR:
		return put_user_bytes(b, h, off, p, next, MAX_SOCKADDR_LEN);
	case K_SOCKADDR_OUT:
		if (ret < 0 || !next || bpf_probe_read_user(&len32, sizeof(len32), (void *)next) < 0)
			len32 = 0;
		return put_user_bytes(b, h, off, p, len32 < 0 ? 0 : len32, MAX_SOCKADDR_LEN);
	case K_U64:
		return put_user_bytes(b, h, off, p, 8, 8);
	case K_STRARR:
		return put_argv(b, h, off, p, compat ? 4 : 8);
	case K_MSGHDR: {
		if (compat) {
			/* struct compat_msghdr: a 32-bit msg_name, then msg_namelen */
			__u32 m32[2] = {};
			if (p)
				bpf_probe_read_user(&m32, sizeof(m32), p);
			return put_user_bytes(b, h, off, (void *)(__u64)m32[0], m32[1], MAX_SOCKADDR_LEN);
		}
		struct user_msghdr m = {};
		if (p)
			bpf_probe_read_user(&m, sizeof(m), p);
		return put_user_bytes(b, h, off, m.msg_name, m.msg_namelen, MAX_SOCKADDR_LEN);
	}
	case K_FDSOCK:
		/* an fd is an int in every ABI: sign-extend the low 32 bits (-1 must not become 4294967295) */
		return put_fdsock(b, h, off, bpf_get_current_task_btf(), (__s32)raw);
	}
	return off;
}

/* The executable's (or the cwd's) path, leaf component first, NUL-separated ("echo\0bin\0usr\0"): an approximation of
 * d_path (not allowed in tracepoints) that walks dentries up and crosses mount points. User space joins the
 * components in reverse. Global, so the 32-step loop is verified once. */
__noinline int put_task_path(__u32 off, int cwd)
{
	struct scratch *b = get_scratch();
	if (!b)
		return off;
	struct ev_hdr *h = (struct ev_hdr *)b->data;
	struct task_struct *task = bpf_get_current_task_btf();
	struct dentry *dentry;
	struct vfsmount *vfsmnt;
	if (cwd) {
		dentry = BPF_CORE_READ(task, fs, pwd.dentry);
		vfsmnt = BPF_CORE_READ(task, fs, pwd.mnt);
	} else {
		dentry = BPF_CORE_READ(task, mm, exe_file, f_path.dentry);
		vfsmnt = BPF_CORE_READ(task, mm, exe_file, f_path.mnt);
	}
	struct mount *mnt = (void *)vfsmnt - bpf_core_field_offset(struct mount, mnt);
	__u32 start = off;
	for (int i = 0; i < 32 && dentry; i++) {
		struct dentry *parent = BPF_CORE_READ(dentry, d_parent);
		struct dentry *mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
		if (dentry == mnt_root || dentry == parent) {
			struct mount *mnt_parent = BPF_CORE_READ(mnt, mnt_parent);
			if (dentry != mnt_root) {
				/* A pseudo file (memfd, anon inode) is its own parent: its name is all there is. */
				if (off < SCRATCH_HALF) {
					long n = bpf_probe_read_kernel_str(&b->data[bound_off(off)], 256,
									   BPF_CORE_READ(dentry, d_name.name));
					off += n > 0 ? n : 0;
				}
				break;
			}
			if (mnt == mnt_parent)
				break;
			dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
			mnt = mnt_parent;
			vfsmnt = (void *)mnt + bpf_core_field_offset(struct mount, mnt);
			continue;
		}
		long n = 0;
		if (off < SCRATCH_HALF)
			n = bpf_probe_read_kernel_str(&b->data[bound_off(off)], 256, BPF_CORE_READ(dentry, d_name.name));
		if (n <= 0)
			break;
		off += n;
		dentry = parent;
	}
	set_blob(h, off - start);
	return off;
}

static __always_inline void submit(struct scratch *b, __u32 off)
{
	__u32 zero = 0;
	struct probe_stats *st = bpf_map_lookup_elem(&stats, &zero);
	if (off > 2 * SCRATCH_HALF)
		off = 2 * SCRATCH_HALF;
	if (bpf_ringbuf_output(&rb, b->data, off & (2 * SCRATCH_HALF - 1), 0) < 0) {
		if (st)
			__sync_fetch_and_add(&st->drops, 1);
	} else if (st) {
		__sync_fetch_and_add(&st->events, 1);
	}
}

/* Which ABI the current syscall came through. TS_COMPAT is what the kernel's in_ia32_syscall() tests: set by
 * every ia32 entry (int 0x80 from 64-bit code too), cleared on return to user mode. It is tested first: an i386
 * call's number is 32 bits wide and may itself have bit 30 set. */
static __always_inline __u32 syscall_abi(long id)
{
	/* a direct (BTF, CO-RE relocated) load, not a probe_read: this runs for every syscall of the system */
	struct task_struct *task = bpf_get_current_task_btf();
	if (task->thread_info.status & TS_COMPAT)
		return ABI_I386;
	if (id & X32_SYSCALL_BIT)
		return ABI_X32;
	return ABI_X64;
}

static __always_inline __u32 *syscall_spec(__u32 abi, __u32 nr)
{
	__u32 key = abi * SYSCALL_SLOTS + nr;
	return bpf_map_lookup_elem(&syscalls, &key);
}

/* socketcall(call, args*): the sub-call's arguments are 32-bit words in user memory; read as many as the
 * kernel does (a longer read could fault at the end of a page and lose the call). */
static __always_inline void read_socketcall_args(struct inflight *inf, __u32 call, __u64 uargs)
{
	static const __u8 nargs[SOCKETCALL_MAX + 1] = {0, 3, 3, 3, 2, 3, 3, 3, 4, 4, 4, 6, 6, 2, 5, 5, 3, 3, 4, 5, 4};
	__u32 words[6] = {};
	if (call > SOCKETCALL_MAX)
		return;
	__u32 n = nargs[call];
	if (n > 6)
		n = 6;
	if (bpf_probe_read_user(words, n * 4, (void *)uargs) < 0)
		return;
	#pragma unroll
	for (int i = 0; i < 6; i++)
		inf->args[i] = words[i];
}

SEC("tp_btf/sys_enter")
int BPF_PROG(sys_enter, struct pt_regs *regs, long id)
{
	struct probe_config *cfg = get_config();
	if (!cfg || id < 0)
		return 0;
	__u32 abi = syscall_abi(id);
	/* the i386 gate truncates the number to 32 bits; x32 numbers are keyed without their bit */
	__u64 nr = abi == ABI_I386 ? (__u32)id : abi == ABI_X32 ? id & ~(long)X32_SYSCALL_BIT : id;
	__u32 call = 0;
	if (abi == ABI_I386 && nr == I386_NR_SOCKETCALL) {
		call = (__u32)BPF_CORE_READ(regs, bx);
		if (call < 1 || call > SOCKETCALL_MAX)
			return 0;
		abi = ABI_SOCKETCALL;
		nr = call;
	}
	if (nr >= SYSCALL_SLOTS)
		return 0;
	__u32 *spec = syscall_spec(abi, nr);
	if (!spec || !(*spec & SPEC_INTERESTING))
		return 0;
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	if (!is_target(cfg, pid_tgid >> 32))
		return 0;
	struct inflight inf = {.nr = nr, .abi = abi};
	if (abi == ABI_X64 || abi == ABI_X32) {
		inf.args[0] = BPF_CORE_READ(regs, di);
		inf.args[1] = BPF_CORE_READ(regs, si);
		inf.args[2] = BPF_CORE_READ(regs, dx);
		inf.args[3] = BPF_CORE_READ(regs, r10);
		inf.args[4] = BPF_CORE_READ(regs, r8);
		inf.args[5] = BPF_CORE_READ(regs, r9);
	} else if (abi == ABI_I386) {
		/* the ia32 convention: ebx, ecx, edx, esi, edi, ebp. The kernel uses only the low halves (64-bit code
		 * calling int 0x80 may leave anything above): zero-extend, as compat pointers are */
		inf.args[0] = (__u32)BPF_CORE_READ(regs, bx);
		inf.args[1] = (__u32)BPF_CORE_READ(regs, cx);
		inf.args[2] = (__u32)BPF_CORE_READ(regs, dx);
		inf.args[3] = (__u32)BPF_CORE_READ(regs, si);
		inf.args[4] = (__u32)BPF_CORE_READ(regs, di);
		inf.args[5] = (__u32)BPF_CORE_READ(regs, bp);
	} else {
		read_socketcall_args(&inf, call, (__u32)BPF_CORE_READ(regs, cx));
	}
	__u32 tid = (__u32)pid_tgid;
	bpf_map_update_elem(&inflight, &tid, &inf, BPF_ANY);
	return 0;
}

/* execve/execveat: a successful one is reported by sched_process_exec instead. */
static __always_inline bool is_exec(__u32 abi, __u32 nr)
{
	if (abi == ABI_X64)
		return nr == 59 || nr == 322;
	if (abi == ABI_I386)
		return nr == 11 || nr == 358;
	if (abi == ABI_X32)
		return nr == 520 || nr == 545;
	return false;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit, struct pt_regs *regs, long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct inflight *found = bpf_map_lookup_elem(&inflight, &tid);
	if (!found)
		return 0;
	struct inflight inf = *found;
	bpf_map_delete_elem(&inflight, &tid);
	__u32 nr = inf.nr, abi = inf.abi;
	if (abi >= NR_ABIS || nr >= SYSCALL_SLOTS)
		return 0;
	__u32 *specp = syscall_spec(abi, nr);
	if (!specp)
		return 0;
	__u32 spec = *specp;
	/* A successful exec was already reported by sched_process_exec with the new image's argv. */
	if (ret == 0 && is_exec(abi, nr))
		return 0;
	/* a compat call returns a 32-bit value */
	if (abi == ABI_I386 || abi == ABI_SOCKETCALL)
		ret = (__s32)ret;
	struct scratch *b = get_scratch();
	if (!b)
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	struct ev_hdr *h = (struct ev_hdr *)b->data;
	fill_common(h, task);
	h->nr = nr;
	h->abi = abi;
	h->ret = ret;
	#pragma unroll
	for (int i = 0; i < 6; i++)
		h->args[i] = inf.args[i];
	__u32 off = sizeof(*h);
	#pragma unroll
	for (int i = 0; i < 6; i++) {
		__u32 kind = (spec >> (i * 4)) & 0xf;
		if (kind)
			off = put_arg(kind, i, ret, off);
	}
	if ((spec & SPEC_RET_FDSOCK) && ret >= 0)
		off = put_arg(K_FDSOCK, 6, ret, off);
	submit(b, off);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(sched_fork, struct task_struct *parent, struct task_struct *child)
{
	struct probe_config *cfg = get_config();
	__u32 ptgid = BPF_CORE_READ(parent, tgid);
	if (!cfg || !is_target(cfg, ptgid))
		return 0;
	__u32 ctgid = BPF_CORE_READ(child, tgid);
	if (cfg->mode == MODE_TREE) {
		__u32 one = 1;
		bpf_map_update_elem(&traced, &ctgid, &one, BPF_ANY);
	}
	struct scratch *b = get_scratch();
	if (!b)
		return 0;
	struct ev_hdr *h = (struct ev_hdr *)b->data;
	fill_common(h, parent);
	h->tid = BPF_CORE_READ(child, pid);
	h->tgid = ctgid;
	/* A new thread's parent process is its creator's parent; a new process's parent is the creator. */
	h->ppid = ctgid == ptgid ? BPF_CORE_READ(parent, real_parent, tgid) : ptgid;
	h->nr = EV_FORK;
	h->ret = 0;
	__u32 ptid = (__u32)bpf_get_current_pid_tgid();
	struct inflight *inf = bpf_map_lookup_elem(&inflight, &ptid);
	h->args[0] = 0;
	h->args[1] = ptid;
	h->args[2] = inf ? inf->nr : -1;
	h->args[3] = BPF_CORE_READ(child, start_time);
	h->args[4] = 0;
	h->args[5] = 0;
	h->abi = inf ? inf->abi : ABI_X64;
	/* clone3 is 435 in all three ABIs; clone is 56 (x86_64, x32) or 120 (i386), flags first in each */
	if (inf && inf->nr == 435 && inf->abi != ABI_SOCKETCALL) {
		__u64 flags = 0;
		bpf_probe_read_user(&flags, sizeof(flags), (void *)inf->args[0]);
		h->args[0] = flags;
	} else if (inf && ((inf->nr == 56 && (inf->abi == ABI_X64 || inf->abi == ABI_X32)) ||
			   (inf->nr == 120 && inf->abi == ABI_I386))) {
		h->args[0] = inf->args[0];
	}
	submit(b, sizeof(*h));
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(sched_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct probe_config *cfg = get_config();
	__u32 tgid = BPF_CORE_READ(p, tgid);
	if (!cfg || !is_target(cfg, tgid))
		return 0;
	struct scratch *b = get_scratch();
	if (!b)
		return 0;
	struct ev_hdr *h = (struct ev_hdr *)b->data;
	fill_common(h, p);
	h->nr = EV_EXEC;
	h->ret = 0;
	__u32 old = old_pid;
	struct inflight *inf = bpf_map_lookup_elem(&inflight, &old);
	struct mm_struct *mm = BPF_CORE_READ(p, mm);
	const struct cred *cred = BPF_CORE_READ(p, cred);
	h->args[0] = old_pid;
	h->args[1] = inf ? inf->nr : 59;
	h->abi = inf ? inf->abi : ABI_X64;
	h->args[2] = BPF_CORE_READ(mm, exe_file, f_inode, i_ino);
	bpf_core_read(&h->args[3], sizeof(__u64), &cred->cap_effective);
	bpf_core_read(&h->args[4], sizeof(__u64), &cred->cap_permitted);
	bpf_core_read(&h->args[5], sizeof(__u64), &cred->cap_inheritable);
	__u32 off = sizeof(*h);
	off = put_kernel_str(b, h, off, BPF_CORE_READ(bprm, filename));
	__u64 arg_start = BPF_CORE_READ(mm, arg_start), arg_end = BPF_CORE_READ(mm, arg_end);
	off = put_user_bytes(b, h, off, (void *)arg_start, arg_end - arg_start, MAX_ARGV_LEN);
	__u64 env_start = BPF_CORE_READ(mm, env_start), env_end = BPF_CORE_READ(mm, env_end);
	off = put_user_bytes(b, h, off, (void *)env_start, env_end - env_start, MAX_ENV_LEN);
	off = put_task_path(off, 0);
	off = put_task_path(off, 1);
	submit(b, off);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(sched_exit, struct task_struct *p)
{
	struct probe_config *cfg = get_config();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32, tid = (__u32)pid_tgid;
	if (!cfg || !is_target(cfg, tgid))
		return 0;
	bpf_map_delete_elem(&inflight, &tid);
	/* signal->live is decremented before this tracepoint: zero means the last thread of the process. */
	bool group_dead = BPF_CORE_READ(p, signal, live.counter) == 0;
	struct scratch *b = get_scratch();
	if (b) {
		struct ev_hdr *h = (struct ev_hdr *)b->data;
		fill_common(h, p);
		h->nr = EV_EXIT;
		h->ret = BPF_CORE_READ(p, exit_code);
		h->args[0] = group_dead;
		submit(b, sizeof(*h));
	}
	if (group_dead && cfg->mode == MODE_TREE)
		bpf_map_delete_elem(&traced, &tgid);
	return 0;
}
