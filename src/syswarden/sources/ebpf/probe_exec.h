/* The executable's flags (Falco's execve `flags`, PPM_EXE_* in events/data/flags.tsv execve_flags) as the
 * exec'ing task sees its new image: on an overlayfs upper or lower layer, writable by the caller, a memfd.
 * Included once, by probe.bpf.c. */
#ifndef SYSWARDEN_PROBE_EXEC_H
#define SYSWARDEN_PROBE_EXEC_H

#define EXE_WRITABLE 1
#define EXE_UPPER_LAYER 2
#define EXE_FROM_MEMFD 4
#define EXE_LOWER_LAYER 8
#define OVERLAYFS_SUPER_MAGIC_ 0x794c7630
#define SB_RDONLY_ 1
#define S_IMMUTABLE_ 8        /* inode->i_flags */
#define MAY_WRITE_ 2
#define CAP_DAC_OVERRIDE_ 1
#define CAP_FOWNER_ 3
#define S_IFREG_ 0100000
#define S_IFLNK_ 0120000
#define NGROUPS_DEPTH 16      /* binary search steps over the supplementary groups (log2 NGROUPS_MAX) */
#define UID_GID_EXTENTS 5     /* the base extents of a uid_gid_map (more are not searched, as Falco) */

/* Whether the overlayfs file is on the upper layer: its ovl_inode has an upper dentry with an inode. The
 * struct is in the kernel's BTF when overlayfs is built in; otherwise the pointer after the VFS inode, where
 * every kernel since 4.x keeps __upperdentry (Falco's approach). */
static __always_inline __u32 overlay_layer(struct dentry *d)
{
	if (BPF_CORE_READ(d, d_sb, s_magic) != OVERLAYFS_SUPER_MAGIC_)
		return 0;
	struct inode *inode = BPF_CORE_READ(d, d_inode);
	struct dentry *upper = NULL;
	if (bpf_core_type_exists(struct ovl_inode)) {
		struct ovl_inode *oi = (void *)inode - bpf_core_field_offset(struct ovl_inode, vfs_inode);
		upper = BPF_CORE_READ(oi, __upperdentry);
	} else {
		bpf_probe_read_kernel(&upper, sizeof(upper), (void *)inode + bpf_core_type_size(struct inode));
	}
	return upper && BPF_CORE_READ(upper, d_inode, i_ino) ? EXE_UPPER_LAYER : EXE_LOWER_LAYER;
}

/* A memfd is an unlinked pseudo file: its own parent, named "memfd:NAME". */
static __always_inline __u32 from_memfd(struct dentry *d)
{
	if (BPF_CORE_READ(d, d_parent) != d)
		return 0;
	char name[7] = {};
	if (bpf_probe_read_kernel_str(name, sizeof(name), BPF_CORE_READ(d, d_name.name)) != sizeof(name))
		return 0;
	return name[0] == 'm' && name[1] == 'e' && name[2] == 'm' && name[3] == 'f' && name[4] == 'd' &&
	       name[5] == ':' ? EXE_FROM_MEMFD : 0;
}

static __always_inline bool in_groups(const struct cred *cred, __u32 gid)
{
	struct group_info *gi = BPF_CORE_READ(cred, group_info);
	if (!gi)
		return false;
	__u32 left = 0, right = BPF_CORE_READ(gi, ngroups);
	for (int j = 0; j < NGROUPS_DEPTH && left < right; j++) {
		__u32 mid = (left + right) / 2, g = 0;
		bpf_core_read(&g, sizeof(g), &gi->gid[mid]);
		if (gid == g)
			return true;
		if (gid > g)
			left = mid + 1;
		else
			right = mid;
	}
	return false;
}

/* Whether kernel id `id` has a mapping in the user namespace's map (its base extents). */
static __always_inline bool id_mapped(struct uid_gid_map *map, __u32 id)
{
	__u32 n = BPF_CORE_READ(map, nr_extents);
	for (int j = 0; j < UID_GID_EXTENTS && j < n; j++) {
		__u32 first = BPF_CORE_READ(map, extent[j].lower_first);
		__u32 count = BPF_CORE_READ(map, extent[j].count);
		if (id >= first && id - first < count)
			return true;
	}
	return false;
}

/* Whether the caller may write the executable (Falco's extract__exe_writable: a read-only superblock or an
 * immutable inode no; the owner (fsuid) yes; else the group or other write bit; else CAP_DAC_OVERRIDE with the
 * file's ids mapped, or CAP_FOWNER with its uid mapped). POSIX ACLs are not consulted, as in Falco. */
static __always_inline __u32 exe_writable(const struct cred *cred, struct inode *inode)
{
	__u32 mode = BPF_CORE_READ(inode, i_mode), kind = mode & S_IFMT_;
	if ((BPF_CORE_READ(inode, i_sb, s_flags) & SB_RDONLY_) &&
	    (kind == S_IFREG_ || kind == S_IFDIR_ || kind == S_IFLNK_))
		return 0;
	if (BPF_CORE_READ(inode, i_flags) & S_IMMUTABLE_)
		return 0;
	__u32 iuid = BPF_CORE_READ(inode, i_uid.val), igid = BPF_CORE_READ(inode, i_gid.val);
	if (iuid == (__u32)-1 || igid == (__u32)-1)
		return 0;
	if (BPF_CORE_READ(cred, fsuid.val) == iuid)
		return EXE_WRITABLE;
	if (igid == BPF_CORE_READ(cred, fsgid.val) || in_groups(cred, igid))
		mode >>= 3;
	if (mode & MAY_WRITE_)
		return EXE_WRITABLE;
	struct user_namespace *ns = BPF_CORE_READ(cred, user_ns);
	if (!ns)
		return 0;
	bool uid_ok = id_mapped(&ns->uid_map, iuid), gid_ok = id_mapped(&ns->gid_map, igid);
	__u64 caps = 0;
	bpf_core_read(&caps, sizeof(caps), &cred->cap_effective);
	if ((caps & (1ull << CAP_DAC_OVERRIDE_)) && uid_ok && gid_ok)
		return EXE_WRITABLE;
	return (caps & (1ull << CAP_FOWNER_)) && uid_ok ? EXE_WRITABLE : 0;
}

/* The current task's executable's flags. Global: verified once. */
__noinline int exe_flags(void)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct file *exe = BPF_CORE_READ(task, mm, exe_file);
	if (!exe)
		return 0;
	struct dentry *d = BPF_CORE_READ(exe, f_path.dentry);
	return exe_writable(BPF_CORE_READ(task, cred), BPF_CORE_READ(exe, f_inode)) | overlay_layer(d) | from_memfd(d);
}

#endif
