/* Maps and small helpers shared by the probe's programs (included once, by probe.bpf.c). */
#ifndef SYSWARDEN_PROBE_COMMON_H
#define SYSWARDEN_PROBE_COMMON_H

#define O_ACCMODE_ 3
#define O_DIRECTORY_ 0200000
#define O_CREAT_TRUNC_WRONLY 01101   /* creat(): O_CREAT | O_WRONLY | O_TRUNC */
#define F_DUPFD_ 0
#define F_DUPFD_CLOEXEC_ 1030
#define S_IFMT_ 00170000
#define S_IFSOCK_ 0140000
#define WALK_STEPS 64        /* a walk's iterations: path components plus mount crossings (power of 2) */
#define WBUF 4096

struct inflight {
	__u32 key;         /* the syscalls map key of the call its sys_enter saw */
	__u32 known;       /* close: the fd's file was known; dup2/dup3: the file newfd held was known */
};

struct scratch {
	__u8 data[2 * SCRATCH_HALF];
};

/* Per-CPU work area of the prefilter: the event's view, the lexical path and the kernel's path of a file. */
struct work {
	struct pf_path_key key;
	__u8 path[2 * WBUF];     /* the lexical absolute path (NUL terminated), or the walked directory */
	__u8 real[2 * WBUF];     /* a walked kernel path */
	__u64 names[WALK_STEPS]; /* dentry name pointers collected by a walk, leaf first */
	__u32 lens[WALK_STEPS];
	__u32 blob_off[8];       /* record offset of the blob of each argument slot (0: none) */
	__u32 blob_len[8];
	__s64 ret;
	__u32 type;
	__u32 gen;
	__u32 flags;
	__u32 flags_known;
	__u32 tc;                /* typechar index, TC_UNKNOWN */
	__u32 path_len;          /* of path[] without the NUL; 0: no usable path */
	__u32 dir_len;
	__u32 scanned;           /* path[] was scanned: dotdot is known */
	__u32 dotdot;            /* "../" seen in the path */
	__u32 uid;
	__u32 comm_known;
	char comm[16];
	__u32 fd_known;
	__u32 walk_len;
	__u32 returns_dir;       /* the returned fd is a directory: 0, 1, or 2 (unknown) */
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 * 1024 * 1024);
} rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NR_ABIS * SYSCALL_SLOTS);
	__type(key, __u32);
	__type(value, struct syscall_spec);
} syscalls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_TYPES);
	__type(key, __u32);
	__type(value, struct type_info);
} types SEC(".maps");

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

/* close/dup2/dup3/exec entry state, per thread (task storage: no hashing, freed with the task; an exit
 * finding none, or one of another call, sends: fail open). */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct inflight);
} inflight SEC(".maps");

/* One scratch buffer and one work area per CPU (max_entries set to the number of possible CPUs by the
 * loader): events are assembled here, then copied into the ring buffer in one bpf_ringbuf_output. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct work);
} work SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MAX_TYPES);
	__type(key, __u32);
	__type(value, struct type_counters);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NR_REASONS);
	__type(key, __u32);
	__type(value, __u64);
} reasons SEC(".maps");

/* The prefilter (probe.h): per generation and type, the box masks of each dimension. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * MAX_TYPES);
	__type(key, __u32);
	__type(value, struct pf_type);
} pf_types SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct pf_path_key);
	__type(value, __u64);
} pf_paths SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct pf_id_key);
	__type(value, struct pf_id_val);
} pf_ids SEC(".maps");

/* The comm each thread had when it was created or exec'ed (what state's proc.name holds; a later
 * prctl(PR_SET_NAME) does not change it). Seeded by user space for threads that predate the probe. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 131072);
	__type(key, __u32);
	__type(value, char[16]);
} comms SEC(".maps");

/* The open files user space was told about (struct file *). Not LRU: an evicted entry would filter the
 * close of a file user space still holds. Entries of files freed without a close we saw (exit, exec's
 * close-on-exec, munmap) stay until the address is reused, which can only cause extra sends. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 262144);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, __u8);
} known_files SEC(".maps");

/* The open family's path argument as it was when the call entered (before the kernel copied it): the record
 * and the decision use this copy, not the user memory at exit, which another thread may have rewritten
 * meanwhile (TOCTOU, as Falco's enter hooks). Task storage: one buffer per thread, freed with it. */
struct saved_path {
	__u32 key;         /* the syscalls-map key of the call it was copied for */
	__u32 len;         /* bytes copied, with the NUL (0: none) */
	__u8 buf[MAX_PATH_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct saved_path);
} saved_paths SEC(".maps");

/* Processes whose known files could not all be recorded (set full): every close/dup of theirs is sent. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u8);
} untracked SEC(".maps");

/* v & m in a way clang cannot fold away (it drops masks it can prove redundant; the verifier cannot). */
#define MASKED(v, m) ({ __u32 __v = (v); asm volatile("%0 &= %1" : "+r"(__v) : "i"(m)); __v; })

static __always_inline struct probe_config *get_config(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&settings, &zero);
}

static __always_inline struct scratch *get_scratch(void)
{
	__u32 cpu = bpf_get_smp_processor_id();
	return bpf_map_lookup_elem(&scratch, &cpu);
}

static __always_inline struct work *get_work(void)
{
	__u32 cpu = bpf_get_smp_processor_id();
	return bpf_map_lookup_elem(&work, &cpu);
}

static __always_inline void count_reason(__u32 reason)
{
	__u64 *n = bpf_map_lookup_elem(&reasons, &reason);
	if (n)
		*n += 1;
}

static __always_inline struct type_counters *type_counter(__u32 type)
{
	return bpf_map_lookup_elem(&counters, &type);
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

/* The file behind fd in the current task's table (NULL if none). */
static __always_inline struct file *fd_file(__s64 fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct file **fds = BPF_CORE_READ(task, files, fdt, fd);
	unsigned int max_fds = BPF_CORE_READ(task, files, fdt, max_fds);
	struct file *f = NULL;
	if (fd >= 0 && fd < max_fds)
		bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

static __always_inline bool is_known(struct file *f)
{
	__u64 key = (__u64)f;
	return f && bpf_map_lookup_elem(&known_files, &key) != NULL;
}

struct file___pre613 {
	atomic_long_t f_count;
} __attribute__((preserve_access_index));

/* Whether the fd being closed holds the file's last reference (file_ref_t counts from 0 since 6.13). */
static __always_inline bool last_reference(struct file *f)
{
	if (bpf_core_field_exists(f->f_ref))
		return BPF_CORE_READ(f, f_ref.refcnt.counter) == 0;
	struct file___pre613 *old = (void *)f;
	return BPF_CORE_READ(old, f_count.counter) == 1;
}

#endif
