/* The record layout and map values shared by probe.bpf.c and the Python side (decode.py mirrors the record
 * with struct formats, loader.py / kernel_tables.py the map values).
 * Every record in the ring buffer is one struct ev_hdr followed by nblobs variable-length blobs whose
 * lengths are in blen[]; the blobs come in the order of the argument kinds of the syscall's spec, then the
 * extras named by ev_hdr.xflags (XF_*), in bit order. */
#ifndef SYSWARDEN_PROBE_H
#define SYSWARDEN_PROBE_H

/* The syscalls map holds SYSCALL_SLOTS specs per ABI: key = abi * SYSCALL_SLOTS + nr. */
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
#define K_U64 4          /* u64 at a user pointer (clone3 flags, pipe fds) */
#define K_STRARR 5       /* user char*[] (argv of a failed execve) */
#define K_MSGHDR 6       /* user msghdr pointer: its msg_name sockaddr */
#define K_FDSOCK 7       /* fd (argument, or the return value for accept): kernel socket endpoints */
#define SPEC_INTERESTING (1u << 31)
#define SPEC_RET_FDSOCK (1u << 30)
#define SPEC_ENTRY (1u << 29)     /* sys_enter keeps state for this call (close, dup2, dup3, exec, opens) */

/* The value of the `syscalls` map: the spec word and the event type's index (types, counters, prefilter). */
struct syscall_spec {
	__u32 word;
	__u32 type;
};

/* Event type indices are assigned by the loader; the scheduler records have fixed ones at the end. */
#define MAX_TYPES 128
#define TYPE_FORK (MAX_TYPES - 3)
#define TYPE_EXEC (MAX_TYPES - 2)
#define TYPE_EXIT (MAX_TYPES - 1)

/* What the probe can know about one event type, fixed per type (the `types` map). */
#define SLOT_NONE 0xff
#define SLOT_RET 6
#define OPEN_NONE 0
#define OPEN_FLAGS 1      /* flags in flags_slot (open, openat) */
#define OPEN_HOW 2        /* openat2: flags in the struct open_how blob */
#define OPEN_CREAT 3      /* creat: O_CREAT|O_WRONLY|O_TRUNC */
#define TC_NONE 0
#define TC_OPEN 1         /* 'd' with O_DIRECTORY, else 'f' (what state records for an open) */
#define TC_DOMAIN 2       /* socket(): from the domain argument */
#define TC_FDSOCK 3       /* the socket behind fd tc_slot (SLOT_RET: the returned fd); unknown if not a socket */
#define FDR_NONE 0
#define FDR_CLOSE 1       /* close(fd): the file read at entry */
#define FDR_DUP 2         /* dup, fcntl: the returned fd's file */
#define FDR_DUP2 3        /* dup2, dup3: the returned fd's file, or the one newfd held before (entry) */
struct type_info {
	__u8 path_slot[2];  /* path arguments state resolves against the cwd or a dirfd (SLOT_NONE: none) */
	__u8 dirfd_slot[2]; /* their dirfd arguments (SLOT_NONE: the cwd) */
	__u8 open_kind;     /* OPEN_*: where the open flags are */
	__u8 flags_slot;
	__u8 tc_kind;       /* TC_*: how fd.typechar is known */
	__u8 tc_slot;
	__u8 fd_role;       /* FDR_*: how "the file is one user space knows" is decided */
	__u8 known_slot;    /* fd whose file a sent event makes known (SLOT_RET: the returned fd) */
	__u8 pair_slot;     /* argument pointing to two new fds (pipe, socketpair) */
	__u8 fcntl;         /* 1: fcntl */
	__u8 cwd_after;     /* 1: append the cwd after the call (XF_CWD: fchdir, whose fd user space may not know) */
	__u8 buf_kind;      /* BUF_*: where the call's I/O buffer is (syscall_decode.BufferKind) */
	__u16 snaplen;      /* bytes of that buffer to append (XF_DATA); 0: none (no rule reads it) */
};

/* I/O buffers (the data parameter of read/write/send/recv calls): the pointer is argument 1 of each. */
#define BUF_NONE 0
#define BUF_IN 1          /* a buffer the call filled, its size in argument 2: min(ret, snaplen) if ret > 0 */
#define BUF_OUT 2         /* a buffer the call took: min(ret > 0 ? ret : size, snaplen) */
#define BUF_IOV_IN 3      /* struct iovec[argument 2] (compat_iovec for compat callers) */
#define BUF_IOV_OUT 4
#define BUF_MSG_IN 5      /* struct user_msghdr (compat_msghdr): its msg_iov, msg_iovlen */
#define BUF_MSG_OUT 6
#define MAX_SNAPLEN 16384 /* syscall_decode.MAX_SNAPLEN */
#define MAX_IOVECS 16     /* iovec entries read for a vectored call */

/* Target modes. */
#define MODE_ALL 0
#define MODE_TREE 1
#define MODE_CGROUP 2

struct probe_config {
	__u32 mode;
	__u32 self_tgid;
	__u64 cgroup_id;
	__u32 pf_on;      /* 1: apply the prefilter and the known-file filter */
	__u32 pf_gen;     /* the prefilter generation in force (0 or 1) */
	__u32 startup;    /* 1: every close/dup counts as known (until the pre-existing files are marked) */
	__u32 pad;
};

/* Per CPU and event type (the `counters` map, key = type index). */
struct type_counters {
	__u64 offered;    /* events of target processes that reached the decision */
	__u64 filtered;   /* not sent: the prefilter (and the known-file test) said no user space rule needs it */
	__u64 sent;       /* written to the ring buffer */
	__u64 dropped;    /* lost: the ring buffer was full */
};

/* Why the probe could not decide and sent (fail open), counted per CPU (the `reasons` map). */
#define R_RELATIVE 0      /* relative path whose directory could not be walked */
#define R_NONNORMAL 1     /* "//", "/./", "/../", trailing "/" or "/." in the path */
#define R_LONG 2          /* path possibly cut (4096 bytes read) or longer than PATH_MAX once joined */
#define R_NO_COMM 3       /* no exec-time comm snapshot for the thread */
#define R_NO_ENTRY 4      /* close/dup2 without the state its sys_enter keeps */
#define R_KNOWN_FULL 5    /* known-file set full: the process is untracked (all its close/dup sent) */
#define R_STARTUP 6       /* close/dup during start-up, before the pre-existing files were marked */
#define R_UNTRACKED 7     /* close/dup of an untracked process */
#define R_EXIT_COPY 8     /* an open's path read at exit: no copy from its entry (decided the same way) */
#define NR_REASONS 9

/* Prefilter tables, per generation and event type (the `pf_types` map, key = gen * MAX_TYPES + type).
 * Every mask has one bit per box of the type's TypeFilter (events/prefilter.py); the event is sent when
 * AND over the dimensions of (boxes the dimension allows) is non-zero. */
#define PF_SEND_ALL 0     /* no box test: every event of the type is sent (if not gated) */
#define PF_BOXES 1        /* sent when a box holds */
#define PF_FLAG_REQS 8
#define PF_TYPECHARS 32
#define TC_UNKNOWN 0xff   /* the probe does not know fd.typechar */
/* Indices of fd.typechar values (kernel_tables.TYPECHARS lists them all; "o?" is state's unknown kind). */
#define TCI_F 0
#define TCI_D 1
#define TCI_4 2
#define TCI_6 3
#define TCI_U 4
#define TCI_N 11
#define TCI_UNKNOWN 17
struct pf_flag_req {
	__u32 bits;       /* open flag bits that must all be set */
	__u32 pad;
	__u64 boxes;      /* boxes with exactly this requirement */
};
struct pf_type {
	__u32 mode;       /* PF_SEND_ALL or PF_BOXES */
	__u32 gated;      /* 1: sent only when user space knows the call's fd (Prefilter.fd_gated) */
	__u64 all;        /* every box of the type */
	__u64 ret_ok;     /* boxes allowing ret >= 0 */
	__u64 ret_err;    /* boxes allowing ret < 0 */
	__u64 acc[4];     /* boxes allowing each flags & O_ACCMODE */
	__u64 flags_free; /* boxes without a required flag set */
	struct pf_flag_req flag_reqs[PF_FLAG_REQS];
	__u64 tc[PF_TYPECHARS]; /* boxes allowing each typechar index */
	__u64 path_free;  /* boxes without a path test */
	__u64 feat_free;  /* boxes without a raw path feature */
	__u64 feat_dotdot;/* boxes requiring "../" in the raw path */
	__u64 comm_free;  /* boxes without comm_in */
	__u64 uid_free;   /* boxes without uid_in */
	__u64 dir_free;   /* boxes not requiring returns_dir */
	__u32 uses;       /* PFU_* dimensions some box constrains */
	__u8 path_slot;   /* argument holding the TypeFilter's path_param (SLOT_NONE: no path test) */
	__u8 dirfd_slot;  /* its dirfd argument (SLOT_NONE: the cwd) */
	__u8 path_fs;     /* 1: a filesystem path (decided only absolute and normal); 0: the raw string */
	__u8 pad;
};
#define PFU_PATH 1        /* some box has a path test (then at least one of the three below) */
#define PFU_FEAT 2
#define PFU_COMM 4
#define PFU_UID 8
#define PFU_NAMES 16      /* exact names or prefixes */
#define PFU_DIRS 32
#define PFU_SUFFIXES 64

/* Path keys: one LPM trie for exact names (string + NUL), prefixes, directories (dir + NUL) and reversed
 * suffixes. data[0] = generation << 2 | kind, data[1] = type index, then the bytes. Values are u64 box
 * masks, each already OR-ed with the masks of every shorter stored prefix (so one lookup answers all). */
#define PFK_NAMES 0       /* exact names and prefixes */
#define PFK_DIRS 1
#define PFK_SUFFIXES 2
#define PF_KEY_DATA 256
#define PF_KEY_STR (PF_KEY_DATA - 2)   /* bytes of a path in a key: longer paths are looked up by their start */
#define PF_SUFFIX_STR 126
struct pf_path_key {
	__u32 prefixlen;  /* in bits, including the two header bytes */
	__u8 data[PF_KEY_DATA];
};

/* comm and uid sets (a hash map): key {gen, kind, type, 0, data}, value {in, not_in} box masks. */
#define PFI_COMM 0
#define PFI_UID 1
struct pf_id_key {
	__u8 gen;
	__u8 kind;
	__u8 type;
	__u8 pad;
	__u8 data[16];    /* the comm (NUL padded) or the uid (u32, little endian) */
};
struct pf_id_val {
	__u64 in;         /* boxes whose comm_in / uid_in holds this value */
	__u64 not_in;     /* boxes whose comm_not_in holds it */
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

/* Extra blobs after the spec's, in this order. */
#define XF_DIRPATH 1      /* the directory the first path argument, relative, was resolved against (its dirfd's
			   * file or the cwd), as the kernel walked it: user space joins the name to it */
#define XF_DIRPATH2 2     /* the same for the second path argument (rename, link: newpath) */
#define XF_CWD 4          /* the cwd after the call, as the kernel walked it */
#define XF_DATA 8         /* the call's I/O buffer, at most type_info.snaplen bytes */

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
	__u16 abi;         /* ABI_*: of the syscall, or of the call that forked/exec'ed for fork/exec records */
	__u16 xflags;      /* XF_*: extra blobs */
};

#endif
