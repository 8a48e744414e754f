// SPDX-License-Identifier: GPL-2.0
/* syswarden's CO-RE capture probe: syscall exits plus the scheduler's fork/exec/exit, filtered in the kernel.
 *
 * The probe is generic: user space fills the `syscalls` map with, per syscall number, whether it is
 * interesting, which kind each argument is (string, sockaddr, ...) and its event type; `types` says what the
 * probe can know of each type, `pf_*` hold the rules-derived prefilter (events/prefilter.py) and
 * `known_files` the open files user space was told about. sys_exit reads the arguments from the saved user
 * registers, builds one record (struct ev_hdr + blobs) in a per-CPU scratch buffer, decides with the
 * prefilter whether any rule or state need can use it, and only then copies it to the ring buffer. sys_enter
 * does work only for close/dup2/dup3 (the file an fd held before the call). Compat calls (i386 through
 * int 0x80 or a 32-bit task, x32 numbers) have their own block of keys and are marked in the record
 * (docs/ebpf-probe.md). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "probe.h"
#include "probe_common.h"
#include "probe_paths.h"
#include "probe_prefilter.h"

#define S_IFDIR_ 0040000
#include "probe_exec.h"

char LICENSE[] SEC("license") = "GPL";

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
	h->xflags = 0;
	bpf_get_current_comm(h->comm, sizeof(h->comm));
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

/* One piece of an I/O buffer: len bytes of user memory at p to off (len already at most what is left of the
 * snaplen). Offsets and lengths are masked so the verifier sees every write inside the scratch buffer. */
static __always_inline __u32 put_piece(struct scratch *b, __u32 off, const void *p, __u64 len)
{
	if (off >= SCRATCH_HALF || !len)
		return 0;
	__u32 n = MASKED((__u32)len, 2 * MAX_SNAPLEN - 1);
	if (bpf_probe_read_user(&b->data[bound_off(off)], n, p) < 0)
		return 0;
	return n;
}

/* XF_DATA: the call's I/O buffer (syscall_decode.io_length says how much: what was transferred, or a failed
 * send's size, at most snaplen), gathered from its iovecs for vectored calls. Global: verified once. */
__noinline int put_iobuf(__u32 kind, __u32 snaplen, __s64 ret, __u32 off)
{
	struct scratch *b = get_scratch();
	if (!b || off >= SCRATCH_HALF || snaplen > MAX_SNAPLEN)
		return off;
	struct ev_hdr *h = (struct ev_hdr *)b->data;
	bool compat = h->abi != ABI_X64;
	bool in = kind == BUF_IN || kind == BUF_IOV_IN || kind == BUF_MSG_IN;
	__u64 want = ret > 0 ? (__u64)ret : in ? 0 : kind == BUF_OUT ? h->args[2] : snaplen;
	if (want > snaplen)
		want = snaplen;
	__u32 start = off;
	if (kind == BUF_IN || kind == BUF_OUT) {
		off += put_piece(b, off, (const void *)h->args[1], want);
	} else if (want) {
		__u64 iov = h->args[1], cnt = h->args[2];
		if (kind == BUF_MSG_IN || kind == BUF_MSG_OUT) {
			if (compat) {
				/* struct compat_msghdr: name, namelen, then the 32-bit msg_iov and msg_iovlen */
				__u32 m32[4] = {};
				bpf_probe_read_user(m32, sizeof(m32), (const void *)h->args[1]);
				iov = m32[2];
				cnt = m32[3];
			} else {
				struct user_msghdr m = {};
				bpf_probe_read_user(&m, sizeof(m), (const void *)h->args[1]);
				iov = (__u64)m.msg_iov;
				cnt = m.msg_iovlen;
			}
		}
		__u64 left = want;
		for (int i = 0; i < MAX_IOVECS && i < cnt && left; i++) {
			__u64 base = 0, len = 0;
			if (compat) {
				__u32 v32[2] = {};
				if (bpf_probe_read_user(v32, sizeof(v32), (const void *)(iov + 8 * i)) < 0)
					break;
				base = v32[0];
				len = v32[1];
			} else {
				__u64 v[2] = {};
				if (bpf_probe_read_user(v, sizeof(v), (const void *)(iov + 16 * i)) < 0)
					break;
				base = v[0];
				len = v[1];
			}
			if (len > left)
				len = left;
			__u32 n = put_piece(b, off, (const void *)base, len);
			if (n != len)
				break;
			off += n;
			left -= n;
		}
	}
	set_blob(h, off - start);
	h->xflags |= XF_DATA;
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

/* Copies the record to the ring buffer; false if it was full. */
static __always_inline bool submit(struct scratch *b, __u32 off)
{
	if (off > 2 * SCRATCH_HALF)
		off = 2 * SCRATCH_HALF;
	return bpf_ringbuf_output(&rb, b->data, off & (2 * SCRATCH_HALF - 1), 0) == 0;
}

static __always_inline void count_submit(struct type_counters *tc, bool ok)
{
	if (!tc)
		return;
	if (ok)
		tc->sent += 1;
	else
		tc->dropped += 1;
}

/* Which ABI the current syscall came through. TS_COMPAT is what the kernel's in_ia32_syscall() tests: set by
 * every ia32 entry (int 0x80 from 64-bit code too), cleared on return to user mode. It is tested first: an i386
 * call's number is 32 bits wide and may itself have bit 30 set. */
static __always_inline __u32 syscall_abi(struct task_struct *task, long id)
{
	/* a direct (BTF, CO-RE relocated) load, not a probe_read: this runs for every syscall of the system */
	if (task->thread_info.status & TS_COMPAT)
		return ABI_I386;
	if (id & X32_SYSCALL_BIT)
		return ABI_X32;
	return ABI_X64;
}

/* socketcall(call, args*): the sub-call's arguments are 32-bit words in user memory; read as many as the
 * kernel does (a longer read could fault at the end of a page and lose the call). */
static __always_inline void read_socketcall_args(__u64 *args, __u32 call, __u64 uargs)
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
		args[i] = words[i];
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

/* clone, fork, vfork, clone3: the child's return (0) was reported by sched_process_fork. */
static __always_inline bool is_fork(__u32 abi, __u32 nr)
{
	if (abi == ABI_I386)
		return nr == 120 || nr == 2 || nr == 190 || nr == 435;
	return (abi == ABI_X64 || abi == ABI_X32) && (nr == 56 || nr == 57 || nr == 58 || nr == 435);
}

/* The syscalls-map key of the current call from its raw number; -1 if it has none. */
static __always_inline long syscall_key(struct task_struct *task, long id, __u32 *abi_out, __u32 *nr_out,
					__u64 bx)
{
	__u32 abi = syscall_abi(task, id);
	/* the i386 gate truncates the number to 32 bits; x32 numbers are keyed without their bit */
	__u64 nr = abi == ABI_I386 ? (__u32)id : abi == ABI_X32 ? id & ~(long)X32_SYSCALL_BIT : id;
	if (abi == ABI_I386 && nr == I386_NR_SOCKETCALL) {
		__u32 call = (__u32)bx;
		if (call < 1 || call > SOCKETCALL_MAX)
			return -1;
		abi = ABI_SOCKETCALL;
		nr = call;
	}
	if (nr >= SYSCALL_SLOTS)
		return -1;
	*abi_out = abi;
	*nr_out = nr;
	return abi * SYSCALL_SLOTS + nr;
}

/* The spec of the current call when its spec word has `bit` and the task is a target (else NULL): the
 * prologue of both dispatchers, and all an unwanted call pays (one array lookup). */
static __always_inline struct syscall_spec *wanted_call(struct task_struct *task, long id, __u64 bx, __u32 bit,
							__u32 *abi, __u32 *nr, __u32 *k, struct probe_config **cfg)
{
	if (id < 0)
		return NULL;
	long key = syscall_key(task, id, abi, nr, bx);
	if (key < 0)
		return NULL;
	*k = key;
	struct syscall_spec *sp = bpf_map_lookup_elem(&syscalls, k);
	if (!sp || !(sp->word & bit))
		return NULL;
	*cfg = get_config();
	if (!*cfg || !is_target(*cfg, bpf_get_current_pid_tgid() >> 32))
		return NULL;
	return sp;
}

/* Records that user space now knows the file behind fd; when the set is full the process becomes
 * untracked (all its close/dup sent). */
static __always_inline void mark_known(struct file *f)
{
	if (!f)
		return;
	__u64 key = (__u64)f;
	__u8 one = 1;
	if (bpf_map_update_elem(&known_files, &key, &one, BPF_ANY) != 0) {
		__u32 tgid = bpf_get_current_pid_tgid() >> 32;
		bpf_map_update_elem(&untracked, &tgid, &one, BPF_ANY);
		count_reason(R_KNOWN_FULL);
	}
}

/* Walks the directory a relative path argument is resolved against: dirfd's file, or the cwd
 * (AT_FDCWD, or a type without dirfd); its path goes to work.path. Returns its length or -1. */
static __always_inline int walk_dir(struct ev_hdr *h, __u32 dirfd_slot)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__s32 dirfd = dirfd_slot <= 5 ? (__s32)h->args[MASKED(dirfd_slot, 7)] : -100;
	if (dirfd == -100)
		return walk_path((__u64)BPF_CORE_READ(task, fs, pwd.dentry), (__u64)BPF_CORE_READ(task, fs, pwd.mnt), 0);
	return walk_file(fd_file(dirfd), 0);
}

/* XF_DIRPATH / XF_DIRPATH2 (which): when the path argument in slot is relative, the directory the kernel
 * resolves it against, appended to the record for state to join the name to (as the filter did). Global. */
__noinline int put_dirpath(__u32 slot, __u32 dirfd_slot, __u32 which, __u32 off)
{
	struct scratch *b = get_scratch();
	struct work *w = get_work();
	if (!b || !w || slot > 5 || off >= SCRATCH_HALF)
		return off;
	struct ev_hdr *h = (struct ev_hdr *)b->data;
	__u32 boff = w->blob_off[MASKED(slot, 7)], blen = w->blob_len[MASKED(slot, 7)];
	if (!boff || blen < 2 || boff >= SCRATCH_HALF || b->data[boff & (SCRATCH_HALF - 1)] == '/')
		return off;
	int n = walk_dir(h, dirfd_slot);
	if (n <= 0 || n >= WBUF - 1)
		return off;
	bpf_probe_read_kernel(&b->data[bound_off(off)], (n + 1) & (WBUF - 1), w->path);
	set_blob(h, n + 1);
	h->xflags |= which ? XF_DIRPATH2 : XF_DIRPATH;
	return off + n + 1;
}

/* The path the prefilter decides on, in work.path: the event's path argument (blob of slot) as state will
 * name it. A filesystem path (fs) is known only when absolute and normal, or relative and normal once
 * joined to the directory the kernel resolves it against (walked: the same one put_dirpath sends); a plain
 * string (fs 0: symlink's target) is taken as it is. Sets work.path_len (0: unknown), dir_len, scanned
 * and dotdot. Global: verified once. */
__noinline int compose_path(__u32 slot, __u32 dirfd_slot, __u32 fs, __u32 saved)
{
	struct scratch *b = get_scratch();
	struct work *w = get_work();
	if (!b || !w || slot > 5)
		return 0;
	struct ev_hdr *h = (struct ev_hdr *)b->data;
	w->path_len = 0;
	w->scanned = 0;
	const __u8 *src;
	__u32 blen;
	if (saved) {
		struct saved_path *sp = bpf_task_storage_get(&saved_paths, bpf_get_current_task_btf(), 0, 0);
		if (!sp)
			return 0;
		src = sp->buf;
		blen = sp->len;
	} else {
		__u32 boff = w->blob_off[MASKED(slot, 7)];
		if (!boff || boff >= SCRATCH_HALF)
			return 0;
		src = &b->data[boff & (SCRATCH_HALF - 1)];
		blen = w->blob_len[MASKED(slot, 7)];
	}
	/* a 4096-byte read may have been cut: unknown */
	if (blen < 2 || blen >= MAX_PATH_LEN) {
		if (blen >= MAX_PATH_LEN)
			count_reason(R_LONG);
		return 0;
	}
	__u32 name_len = blen - 1;
	__u32 dlen = 0;
	__u8 first = 0;
	bpf_probe_read_kernel(&first, 1, src);
	if (fs && first != '/') {
		int n = walk_dir(h, dirfd_slot);
		if (n <= 0 || n >= WBUF - 1) {
			count_reason(R_RELATIVE);
			return 0;
		}
		dlen = n;
		if (dlen > 1)
			w->path[dlen++ & (WBUF - 1)] = '/';
	}
	__u32 len = dlen + name_len;
	if (len > WBUF - 1) {
		count_reason(R_LONG);
		return 0;
	}
	bpf_probe_read_kernel(&w->path[dlen & (WBUF - 1)], (name_len + 1) & (WBUF - 1), src);
	int normal = scan_path(len);
	w->scanned = 1;
	if (normal || !fs)
		w->path_len = len;
	else
		count_reason(R_NONNORMAL);
	return 0;
}

/* XF_CWD: the task's cwd after the call (fchdir), walked. */
static __always_inline __u32 put_cwd(struct scratch *b, struct ev_hdr *h, struct work *w, __u32 off)
{
	struct task_struct *task = bpf_get_current_task_btf();
	int n = walk_path((__u64)BPF_CORE_READ(task, fs, pwd.dentry), (__u64)BPF_CORE_READ(task, fs, pwd.mnt), 0);
	if (n <= 0 || n >= PF_KEY_STR || off >= SCRATCH_HALF)
		return off;
	bpf_probe_read_kernel(&b->data[bound_off(off)], (n + 1) & 255, w->path);
	set_blob(h, n + 1);
	h->xflags |= XF_CWD;
	return off + n + 1;
}

/* The open family's path blob from the copy sys_enter made (saved_paths); false when there is none for this
 * call, and the caller reads user memory now instead. Global. */
__noinline int put_saved_path(__u32 key, __u32 off)
{
	struct scratch *b = get_scratch();
	struct task_struct *task = bpf_get_current_task_btf();
	if (!b || off >= SCRATCH_HALF)
		return -1;
	struct saved_path *sp = bpf_task_storage_get(&saved_paths, task, 0, 0);
	if (!sp || sp->key != key || sp->len == 0 || sp->len > MAX_PATH_LEN)
		return -1;
	__u32 len = MASKED(sp->len, MAX_PATH_LEN * 2 - 1);
	if (len > MAX_PATH_LEN)
		return -1;
	bpf_probe_read_kernel(&b->data[bound_off(off)], len, sp->buf);
	sp->len = 0;
	set_blob((struct ev_hdr *)b->data, len);
	return off + len;
}

/* Whether user space knows the file the call uses (Prefilter.fd_gated): the fd's file read at entry
 * (close), the argument fd's (dup, fcntl), or either the old fd's or the one newfd held before (dup2, dup3:
 * the call closes that one). Start-up and untracked processes count as known. */
static __always_inline __u32 fd_known(struct probe_config *cfg, struct type_info *ti, __u32 tgid, __s32 fd,
				      struct inflight *stash)
{
	if (cfg->startup) {
		count_reason(R_STARTUP);
		return 1;
	}
	if (bpf_map_lookup_elem(&untracked, &tgid)) {
		count_reason(R_UNTRACKED);
		return 1;
	}
	if (ti->fd_role == FDR_CLOSE || ti->fd_role == FDR_DUP2) {
		if (!stash) {
			count_reason(R_NO_ENTRY);
			return 1;
		}
		if (stash->known)
			return 1;
		if (ti->fd_role == FDR_CLOSE)
			return 0;
	}
	return is_known(fd_file(fd));
}

/* Fills work.* (the KernelView) and decides with the boxes of t: 1 to send. args are the raw arguments (the
 * scratch header's); the path comes from the open's entry copy (saved) or from the record's blob. */
static __always_inline int decide_boxes(struct pf_type *t, struct type_info *ti, __u32 type, __u32 gen, __s64 ret,
					__u64 *args, struct work *w, __u32 saved)
{
	w->ret = ret;
	w->type = type;
	w->uid = (__u32)bpf_get_current_uid_gid();
	/* open flags, the returned fd's type as state records it (from O_DIRECTORY), and the inode's */
	w->flags_known = 1;
	if (ti->open_kind == OPEN_FLAGS && ti->flags_slot <= 5)
		w->flags = args[MASKED(ti->flags_slot, 7)];
	else if (ti->open_kind == OPEN_CREAT)
		w->flags = O_CREAT_TRUNC_WRONLY;
	else if (ti->open_kind == OPEN_HOW && w->blob_len[2] >= 8 && w->blob_off[2] < SCRATCH_HALF) {
		struct scratch *b = get_scratch();
		__u64 how = 0;
		if (b)
			bpf_probe_read_kernel(&how, 8, &b->data[w->blob_off[2] & (SCRATCH_HALF - 1)]);
		w->flags = how;
	} else
		w->flags_known = 0;
	w->tc = ti->tc_kind == TC_OPEN ? ((w->flags & O_DIRECTORY_) == O_DIRECTORY_ ? TCI_D : TCI_F) : TC_UNKNOWN;
	w->returns_dir = 2;
	if (ti->open_kind != OPEN_NONE) {
		struct file *f = ret >= 0 ? fd_file(ret) : NULL;
		w->returns_dir = ret < 0 ? 0 : f ? (BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT_) == S_IFDIR_ : 2;
	}
	/* the path */
	w->path_len = 0;
	w->scanned = 0;
	if (t->path_slot <= 5)
		compose_path(t->path_slot, t->dirfd_slot, t->path_fs, saved);
	/* the comm user space has for the thread (its fork/exec snapshot) */
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	char *comm = bpf_map_lookup_elem(&comms, &tid);
	w->comm_known = comm != NULL;
	if (comm)
		bpf_probe_read_kernel(w->comm, sizeof(w->comm), comm);
	return pf_decide(type, gen) == PF_SEND;
}

/* Whether the open's path argument has its entry copy for this call (saved_paths). */
static __always_inline bool has_saved_path(__u32 key)
{
	struct saved_path *sp = bpf_task_storage_get(&saved_paths, bpf_get_current_task_btf(), 0, 0);
	return sp && sp->key == key && sp->len > 0;
}

/* Everything after the cheap checks of sys_exit: the record, the decision, the ring buffer, the counters
 * and the known-file set. The six raw arguments are already in the scratch header. Global (verified once);
 * put_arg, put_saved_path, compose_path, put_dirpath and pf_decide are global functions of their own. */
__noinline int handle_exit(__u32 key, __u32 abi, __u32 nr, __s64 ret)
{
	struct probe_config *cfg = get_config();
	struct syscall_spec *sp = bpf_map_lookup_elem(&syscalls, &key);
	struct scratch *b = get_scratch();
	struct work *w = get_work();
	if (!cfg || !sp || !b || !w)
		return 0;
	__u32 spec = sp->word, type = sp->type & (MAX_TYPES - 1);
	struct type_info *ti = bpf_map_lookup_elem(&types, &type);
	if (!ti)
		return 0;
	struct inflight stash_copy, *stash = NULL;
	if (spec & SPEC_ENTRY) {
		struct inflight *found = bpf_task_storage_get(&inflight, bpf_get_current_task_btf(), 0, 0);
		if (found && found->key == key) {
			stash_copy = *found;
			stash = &stash_copy;
		}
		if (found)
			found->key = -1;
	}
	/* A successful exec was already reported by sched_process_exec with the new image's argv, a child's
	 * return from fork by sched_process_fork. */
	if (ret == 0 && (is_exec(abi, nr) || is_fork(abi, nr)))
		return 0;
	struct type_counters *tc = type_counter(type);
	if (tc)
		tc->offered += 1;
	/* a compat call returns a 32-bit value */
	if (abi == ABI_I386 || abi == ABI_SOCKETCALL)
		ret = (__s32)ret;
	struct task_struct *task = bpf_get_current_task_btf();
	struct ev_hdr *h = (struct ev_hdr *)b->data;
	__u64 args[6];
	#pragma unroll
	for (int i = 0; i < 6; i++)
		args[i] = h->args[i];
	/* Decide before building the record whenever what the decision reads is at hand: the fd gate, and the
	 * boxes of a type without a path test or of an open whose path was copied at entry. Dropped events
	 * then cost no record. */
	struct pf_type *t = NULL;
	int decided = 0;
	if (cfg->pf_on) {
		__u32 pkey = (cfg->pf_gen & 1) * MAX_TYPES + type;
		t = bpf_map_lookup_elem(&pf_types, &pkey);
	}
	if (t) {
		int send = 1;
		if (t->gated && !fd_known(cfg, ti, bpf_get_current_pid_tgid() >> 32, (__s32)args[0], stash))
			send = 0;
		else if (t->mode == PF_BOXES && ti->open_kind != OPEN_HOW &&
			 (t->path_slot > 5 || (ti->open_kind != OPEN_NONE && t->path_slot == ti->path_slot[0] &&
					       has_saved_path(key))))
			send = decide_boxes(t, ti, type, cfg->pf_gen, ret, args, w, t->path_slot <= 5);
		else if (t->mode == PF_BOXES)
			decided = -1;           /* after the record: the path is in a blob */
		if (!send) {
			if (tc)
				tc->filtered += 1;
			return 0;
		}
		decided = decided ? decided : 1;
	}
	fill_common(h, task);
	#pragma unroll
	for (int i = 0; i < 6; i++)
		h->args[i] = args[i];
	h->nr = nr;
	h->abi = abi;
	h->ret = ret;
	__u32 off = sizeof(*h);
	#pragma unroll
	for (int i = 0; i < 8; i++) {
		w->blob_off[i] = 0;
		w->blob_len[i] = 0;
	}
	#pragma unroll
	for (int i = 0; i < 6; i++) {
		__u32 kind = (spec >> (i * 4)) & 0xf;
		if (kind) {
			__u32 before = off;
			int saved = -1;
			if (kind == K_STR && ti->open_kind != OPEN_NONE && i == ti->path_slot[0]) {
				saved = put_saved_path(key, off);
				if (saved < 0)
					count_reason(R_EXIT_COPY);
			}
			off = saved >= 0 ? saved : put_arg(kind, i, ret, off);
			w->blob_off[i] = before;
			w->blob_len[i] = off - before;
		}
	}
	if ((spec & SPEC_RET_FDSOCK) && ret >= 0)
		off = put_arg(K_FDSOCK, 6, ret, off);
	int send = 1;
	if (t && decided < 0)
		send = decide_boxes(t, ti, type, cfg->pf_gen, ret, args, w, 0);
	/* the same record whether or not (and however) the type is filtered: the directories relative path
	 * arguments were resolved against, and fchdir's new cwd */
	if (send && ti->path_slot[0] <= 5)
		off = put_dirpath(ti->path_slot[0], ti->dirfd_slot[0], 0, off);
	if (send && ti->path_slot[1] <= 5)
		off = put_dirpath(ti->path_slot[1], ti->dirfd_slot[1], 1, off);
	if (send && ti->cwd_after && ret == 0)
		off = put_cwd(b, h, w, off);
	if (send && ti->buf_kind != BUF_NONE && ti->snaplen)
		off = put_iobuf(ti->buf_kind, ti->snaplen, ret, off);
	if (!send) {
		if (tc)
			tc->filtered += 1;
		return 0;
	}
	bool ok = submit(b, off);
	count_submit(tc, ok);
	if (!ok || !cfg->pf_on)
		return 0;
	/* user space now knows the fds this event names */
	if (ti->known_slot == SLOT_RET && ret >= 0)
		mark_known(fd_file(ret));
	else if (ti->known_slot <= 5)
		mark_known(fd_file((__s32)args[ti->known_slot & 7]));
	if (ti->pair_slot <= 5 && ret >= 0 && w->blob_len[ti->pair_slot & 7] >= 8) {
		__s32 pair[2] = {-1, -1};
		bpf_probe_read_kernel(pair, 8, &b->data[w->blob_off[ti->pair_slot & 7] & (SCRATCH_HALF - 1)]);
		mark_known(fd_file(pair[0]));
		mark_known(fd_file(pair[1]));
	}
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(sys_enter, struct pt_regs *regs, long id)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u32 abi, nr, k;
	struct probe_config *cfg;
	struct syscall_spec *sp = wanted_call(task, id, 0, SPEC_ENTRY, &abi, &nr, &k, &cfg);
	if (!sp || abi == ABI_SOCKETCALL)
		return 0;
	__u32 type = sp->type & (MAX_TYPES - 1);
	struct type_info *ti = bpf_map_lookup_elem(&types, &type);
	if (!ti)
		return 0;
	if (ti->open_kind != OPEN_NONE) {
		/* the path as it is now, before the kernel reads it (see saved_paths) */
		__u32 slot = ti->path_slot[0];
		__u64 p = abi == ABI_I386 ? (__u32)(slot == 0 ? regs->bx : slot == 1 ? regs->cx : regs->dx)
					  : (slot == 0 ? regs->di : slot == 1 ? regs->si : regs->dx);
		struct saved_path *sp = bpf_task_storage_get(&saved_paths, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (sp) {
			long n = bpf_probe_read_user_str(sp->buf, MAX_PATH_LEN, (void *)p);
			sp->key = k;
			sp->len = n > 0 ? n : 0;
		}
		return 0;
	}
	if (ti->fd_role == FDR_NONE) {
		/* execve/execveat: sched_exec names the call from this (the registers then describe the new image:
		 * the kernel sets orig_ax to the new ABI's execve for its first return) */
		struct inflight *exec = bpf_task_storage_get(&inflight, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (exec) {
			exec->key = k;
			exec->known = 0;
		}
		return 0;
	}
	if (!cfg->pf_on)
		return 0;
	/* close(fd): the fd; dup2/dup3(old, new): the new one, whose file the call replaces */
	__s32 fd;
	if (abi == ABI_I386)
		fd = ti->fd_role == FDR_CLOSE ? (__s32)regs->bx : (__s32)regs->cx;
	else
		fd = ti->fd_role == FDR_CLOSE ? (__s32)regs->di : (__s32)regs->si;
	struct file *f = fd_file(fd);
	struct inflight *inf = bpf_task_storage_get(&inflight, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!inf)
		return 0;
	inf->key = k;
	inf->known = is_known(f);
	/* the close drops the file's last reference: forget it before the kernel frees it (and the address
	 * can be reused by another CPU's open) */
	if (ti->fd_role == FDR_CLOSE && inf->known && last_reference(f)) {
		__u64 fkey = (__u64)f;
		bpf_map_delete_elem(&known_files, &fkey);
	}
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit, struct pt_regs *regs, long ret)
{
	long id = regs->orig_ax;
	struct task_struct *task = bpf_get_current_task_btf();
	__u32 abi, nr, k;
	struct probe_config *cfg;
	if (!wanted_call(task, id, regs->bx, SPEC_INTERESTING, &abi, &nr, &k, &cfg))
		return 0;
	struct scratch *b = get_scratch();
	if (!b)
		return 0;
	/* The arguments, from the saved user registers: the kernel changes only ax on the way (a successful
	 * exec resets them all, but is reported by sched_exec). */
	struct ev_hdr *h = (struct ev_hdr *)b->data;
	if (abi == ABI_X64 || abi == ABI_X32) {
		h->args[0] = regs->di;
		h->args[1] = regs->si;
		h->args[2] = regs->dx;
		h->args[3] = regs->r10;
		h->args[4] = regs->r8;
		h->args[5] = regs->r9;
	} else if (abi == ABI_I386) {
		/* the ia32 convention: ebx, ecx, edx, esi, edi, ebp. The kernel uses only the low halves (64-bit code
		 * calling int 0x80 may leave anything above): zero-extend, as compat pointers are */
		h->args[0] = (__u32)regs->bx;
		h->args[1] = (__u32)regs->cx;
		h->args[2] = (__u32)regs->dx;
		h->args[3] = (__u32)regs->si;
		h->args[4] = (__u32)regs->di;
		h->args[5] = (__u32)regs->bp;
	} else {
		__builtin_memset(h->args, 0, sizeof(h->args));
		read_socketcall_args(h->args, nr, (__u32)regs->cx);
	}
	return handle_exit(k, abi, nr, ret);
}

/* The syscall the current task is in, from its saved registers (fork and exec records name it). */
static __always_inline void current_call(struct task_struct *task, __s64 *nr, __u32 *abi, __u64 *flags)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
	long id = BPF_CORE_READ(regs, orig_ax);
	*abi = syscall_abi(task, id);
	*nr = *abi == ABI_I386 ? (__u32)id : *abi == ABI_X32 ? id & ~(long)X32_SYSCALL_BIT : id;
	if (!flags)
		return;
	/* clone3 is 435 in all three ABIs; clone is 56 (x86_64, x32) or 120 (i386), flags first in each */
	__u64 arg0 = *abi == ABI_I386 ? (__u32)BPF_CORE_READ(regs, bx) : BPF_CORE_READ(regs, di);
	*flags = 0;
	if (*nr == 435)
		bpf_probe_read_user(flags, sizeof(*flags), (void *)arg0);
	else if ((*nr == 56 && *abi != ABI_I386) || (*nr == 120 && *abi == ABI_I386))
		*flags = arg0;
}

/* The task's id in its own pid namespace (task_pid_vnr of a thread id; of the leader: the process's). */
static __always_inline __u32 task_vnr(struct task_struct *t)
{
	struct pid *pid = BPF_CORE_READ(t, thread_pid);
	unsigned int level = BPF_CORE_READ(pid, level);
	struct upid up = {};
	bpf_core_read(&up, sizeof(up), &pid->numbers[level & 31]);
	return up.nr;
}

/* The task's process group id in its own pid namespace (task_pgrp_vnr): 0 when the group's leader is not
 * visible there (a group created outside the task's namespace), as the kernel reports it. */
static __always_inline __u32 task_vpgid(struct task_struct *t)
{
	struct pid *own = BPF_CORE_READ(t, thread_pid);
	struct pid *pgrp = BPF_CORE_READ(t, signal, pids[PIDTYPE_PGID]);
	if (!own || !pgrp)
		return 0;
	unsigned int level = BPF_CORE_READ(own, level);
	if (BPF_CORE_READ(pgrp, level) < level)
		return 0;
	struct upid mine = {}, up = {};
	bpf_core_read(&mine, sizeof(mine), &own->numbers[level & 31]);
	bpf_core_read(&up, sizeof(up), &pgrp->numbers[level & 31]);
	return up.ns == mine.ns ? up.nr : 0;
}

/* Keeps the current comm as thread tid's proc.name (comms) and counts one offered record of type. */
static __always_inline struct type_counters *snapshot_comm(__u32 tid, __u32 type)
{
	char comm[16];
	bpf_get_current_comm(comm, sizeof(comm));
	bpf_map_update_elem(&comms, &tid, comm, BPF_ANY);
	struct type_counters *tc = type_counter(type);
	if (tc)
		tc->offered += 1;
	return tc;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(sched_fork, struct task_struct *parent, struct task_struct *child)
{
	struct probe_config *cfg = get_config();
	__u32 ptgid = BPF_CORE_READ(parent, tgid);
	if (!cfg || !is_target(cfg, ptgid))
		return 0;
	__u32 ctgid = BPF_CORE_READ(child, tgid), ctid = BPF_CORE_READ(child, pid);
	if (cfg->mode == MODE_TREE) {
		__u32 one = 1;
		bpf_map_update_elem(&traced, &ctgid, &one, BPF_ANY);
	}
	/* the child's proc.name is the creator's comm now (what the record below carries) */
	struct type_counters *tc = snapshot_comm(ctid, TYPE_FORK);
	struct scratch *b = get_scratch();
	if (!b)
		return 0;
	struct ev_hdr *h = (struct ev_hdr *)b->data;
	fill_common(h, parent);
	h->tid = ctid;
	h->tgid = ctgid;
	/* A new thread's parent process is its creator's parent; a new process's parent is the creator. */
	h->ppid = ctgid == ptgid ? BPF_CORE_READ(parent, real_parent, tgid) : ptgid;
	h->nr = EV_FORK;
	h->ret = 0;
	__s64 nr = -1;
	__u32 abi = ABI_X64;
	__u64 flags = 0;
	if (!(BPF_CORE_READ(parent, flags) & 0x00200000))   /* PF_KTHREAD: no user registers to read */
		current_call(parent, &nr, &abi, &flags);
	h->args[0] = flags;
	h->args[1] = (__u32)bpf_get_current_pid_tgid();
	h->args[2] = nr;
	h->args[3] = BPF_CORE_READ(child, start_time);
	h->args[4] = task_vnr(child);                              /* vtid */
	h->args[5] = task_vnr(BPF_CORE_READ(child, group_leader)); /* vpid */
	h->abi = abi;
	count_submit(tc, submit(b, sizeof(*h)));
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(sched_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct probe_config *cfg = get_config();
	__u32 tgid = BPF_CORE_READ(p, tgid), tid = BPF_CORE_READ(p, pid);
	if (!cfg || !is_target(cfg, tgid))
		return 0;
	struct type_counters *tc = snapshot_comm(tid, TYPE_EXEC);
	struct scratch *b = get_scratch();
	if (!b)
		return 0;
	struct ev_hdr *h = (struct ev_hdr *)b->data;
	fill_common(h, p);
	h->nr = EV_EXEC;
	h->ret = 0;
	/* The call that exec'ed, as sys_enter saw it: here TS_COMPAT and orig_ax already describe the new image
	 * (a 64-bit execve of an i386 binary returns as i386 execve). A kernel-started exec: execve. */
	struct inflight *inf = bpf_task_storage_get(&inflight, bpf_get_current_task_btf(), 0, 0);
	bool known = inf && inf->key < NR_ABIS * SYSCALL_SLOTS;
	__u32 abi = known ? inf->key / SYSCALL_SLOTS : ABI_X64;
	__u64 nr = known ? inf->key % SYSCALL_SLOTS : 59;
	struct mm_struct *mm = BPF_CORE_READ(p, mm);
	const struct cred *cred = BPF_CORE_READ(p, cred);
	/* the former tid, and the process group in the task's pid namespace (Falco's execve vpgid: a shell
	 * with job control puts each command in its own group with setpgid before exec, which only this shows) */
	h->args[0] = (__u32)old_pid | (__u64)task_vpgid(p) << 32;
	h->args[1] = nr | (__u64)exe_flags() << 32;   /* the call, and the executable's PPM_EXE_* flags */
	h->abi = abi;
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
	count_submit(tc, submit(b, off));
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
	bpf_map_delete_elem(&comms, &tid);
	/* signal->live is decremented before this tracepoint: zero means the last thread of the process. */
	bool group_dead = BPF_CORE_READ(p, signal, live.counter) == 0;
	struct type_counters *tc = type_counter(TYPE_EXIT);
	if (tc)
		tc->offered += 1;
	struct scratch *b = get_scratch();
	if (b) {
		struct ev_hdr *h = (struct ev_hdr *)b->data;
		fill_common(h, p);
		h->nr = EV_EXIT;
		h->ret = BPF_CORE_READ(p, exit_code);
		h->args[0] = group_dead;
		count_submit(tc, submit(b, sizeof(*h)));
	}
	if (group_dead) {
		bpf_map_delete_elem(&untracked, &tgid);
		if (cfg->mode == MODE_TREE)
			bpf_map_delete_elem(&traced, &tgid);
	}
	return 0;
}

/* Run once by user space at start-up (and when the filter is switched on): every file open anywhere now is
 * one user space may know (its /proc seed), so closing it must be reported. */
SEC("iter/task_file")
int mark_files(struct bpf_iter__task_file *ctx)
{
	struct file *f = ctx->file;
	if (!f)
		return 0;
	__u64 key = (__u64)f;
	__u8 one = 1;
	if (bpf_map_update_elem(&known_files, &key, &one, BPF_ANY) != 0)
		count_reason(R_KNOWN_FULL);
	return 0;
}
