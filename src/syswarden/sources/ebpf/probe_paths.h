/* Paths in the kernel: the lexical path an event's path argument names (what state's fd.name will hold) and
 * the kernel's own path of a file, both built in the per-CPU work area (included once, by probe.bpf.c). */
#ifndef SYSWARDEN_PROBE_PATHS_H
#define SYSWARDEN_PROBE_PATHS_H

struct walk_state {
	struct work *w;
	__u64 dentry, vfsmnt, mnt;  /* where the walk is (kernel pointers, read with probe reads) */
	__u64 root_d, root_m;       /* the task's root */
	__u32 off;                  /* emission: bytes written */
	__u32 buf;
	int err;
};

/* Step i of the walk up: record the component (names[i], 0 for a mount crossing) or stop at the root. */
static long walk_up_step(__u64 i, struct walk_state *s)
{
	struct dentry *dentry = (struct dentry *)s->dentry;
	struct vfsmount *vfsmnt = (struct vfsmount *)s->vfsmnt;
	struct mount *mnt = (struct mount *)s->mnt;
	if (s->dentry == s->root_d && s->vfsmnt == s->root_m) {
		s->w->walk_len = i + 1;
		return 1;
	}
	if (dentry == BPF_CORE_READ(vfsmnt, mnt_root)) {
		struct mount *parent = BPF_CORE_READ(mnt, mnt_parent);
		if (parent == mnt) {   /* the namespace's root: the task's root is outside it (or above) */
			s->w->walk_len = i + 1;
			return 1;
		}
		s->dentry = (__u64)BPF_CORE_READ(mnt, mnt_mountpoint);
		s->mnt = (__u64)parent;
		s->vfsmnt = (__u64)parent + bpf_core_field_offset(struct mount, mnt);
		return 0;
	}
	struct dentry *parent = BPF_CORE_READ(dentry, d_parent);
	if (parent == dentry)
		return 1;   /* a pseudo file's dentry (pipe, socket, memfd): no path */
	s->w->names[i & (WALK_STEPS - 1)] = (__u64)BPF_CORE_READ(dentry, d_name.name);
	s->w->lens[i & (WALK_STEPS - 1)] = BPF_CORE_READ(dentry, d_name.len);
	s->dentry = (__u64)parent;
	return 0;
}

/* Emission step: "/" + component, root first. */
static long walk_emit_step(__u64 i, struct walk_state *s)
{
	__u32 j = (WALK_STEPS - 1 - i) & (WALK_STEPS - 1);
	struct work *w = s->w;
	if (!w->names[j])
		return 0;
	__u32 len = w->lens[j], off = s->off;
	if (len > 255 || off + 1 + len > WBUF - 1) {
		s->err = 1;
		return 1;
	}
	__u8 *dst = s->buf ? w->real : w->path;
	dst[off & (WBUF - 1)] = '/';
	off++;
	if (bpf_probe_read_kernel(&dst[off & (WBUF - 1)], len & 255, (void *)w->names[j]) < 0) {
		s->err = 1;
		return 1;
	}
	s->off = off + len;
	return 0;
}

/* Walks from (dentry, vfsmount) up to the task's root, crossing mount points, and writes the absolute path
 * ("/a/b", "/" for the root) into work.path (buf 0) or work.real (buf 1). Returns its length, or -1 when the
 * walk did not finish: more than WALK_STEPS components and mount crossings, a pseudo file (pipe, socket,
 * memfd), a name over 255 bytes, or longer than PATH_MAX. Like d_path without its locks: a concurrent rename can make it wrong, which at worst
 * sends an event. Both loops are bpf_loop callbacks, verified once. */
__noinline int walk_path(__u64 dentry_p, __u64 vfsmnt_p, __u32 buf)
{
	struct work *w = get_work();
	if (!w || !dentry_p || !vfsmnt_p)
		return -1;
	struct task_struct *task = bpf_get_current_task_btf();
	struct walk_state s = {
		.w = w, .dentry = dentry_p, .vfsmnt = vfsmnt_p,
		.mnt = vfsmnt_p - bpf_core_field_offset(struct mount, mnt),
		.root_d = (__u64)BPF_CORE_READ(task, fs, root.dentry),
		.root_m = (__u64)BPF_CORE_READ(task, fs, root.mnt),
		.buf = buf & 1,
	};
	w->walk_len = 0;
	#pragma unroll
	for (int i = 0; i < WALK_STEPS; i++)
		w->names[i] = 0;
	bpf_loop(WALK_STEPS, walk_up_step, &s, 0);
	if (!w->walk_len)
		return -1;
	bpf_loop(WALK_STEPS, walk_emit_step, &s, 0);
	if (s.err)
		return -1;
	__u32 off = s.off;
	__u8 *dst = s.buf ? w->real : w->path;
	if (off == 0)
		dst[off++ & (WBUF - 1)] = '/';
	dst[off & (WBUF - 1)] = 0;
	return off;
}

static __always_inline int walk_file(struct file *f, __u32 buf)
{
	if (!f)
		return -1;
	return walk_path((__u64)BPF_CORE_READ(f, f_path.dentry), (__u64)BPF_CORE_READ(f, f_path.mnt), buf);
}

struct scan_state {
	struct work *w;
	__u32 len;
	__u32 c1, c2, c3;   /* the last three characters */
	__u32 bad;
	__u32 dotdot;
	__u32 last_slash;
};

static long scan_step(__u64 i, struct scan_state *s)
{
	if (i >= s->len)
		return 1;
	__u32 ch = s->w->path[i & (WBUF - 1)];
	if (ch == '/') {
		if (s->c1 == '/' || (s->c1 == '.' && s->c2 == '/') || (s->c1 == '.' && s->c2 == '.' && s->c3 == '/'))
			s->bad = 1;
		if (s->c1 == '.' && s->c2 == '.')
			s->dotdot = 1;
		s->last_slash = i;
	}
	s->c3 = s->c2;
	s->c2 = s->c1;
	s->c1 = ch;
	return 0;
}

/* Checks work.path[0..len) (absolute, NUL terminated): 1 when it is in the normal form state's
 * normalize_path leaves unchanged (no "//", "/./", "/../", no trailing "/", "/." or "/.."); sets dir_len
 * (up to the last '/', 1 for a file in the root) and dotdot ("../" anywhere, Falco's directory_traversal).
 * The loop is a bpf_loop callback: verified once, whatever the characters. */
__noinline int scan_path(__u32 len)
{
	struct work *w = get_work();
	if (!w || len == 0 || len > WBUF - 1)
		return 0;
	struct scan_state s = {.w = w, .len = len};
	bpf_loop(WBUF, scan_step, &s, 0);
	if (w->path[0] != '/')
		s.bad = 1;
	if (len > 1 && s.c1 == '/')
		s.bad = 1;
	if ((s.c1 == '.' && s.c2 == '/') || (s.c1 == '.' && s.c2 == '.' && s.c3 == '/'))
		s.bad = 1;
	w->dotdot = s.dotdot;
	w->dir_len = s.last_slash ? s.last_slash : 1;
	return !s.bad;
}

#endif
