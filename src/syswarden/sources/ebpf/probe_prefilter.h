/* The prefilter's evaluation: events/prefilter.py's Prefilter.passes over what the probe knows of an event
 * (work.*: the KernelView), with one map lookup per dimension (included once, by probe.bpf.c). */
#ifndef SYSWARDEN_PROBE_PREFILTER_H
#define SYSWARDEN_PROBE_PREFILTER_H

#define PF_SEND 1
#define PF_DROP 0
#define PF_DROP_BY_PATH 2   /* no box holds, and the path test is what excluded them (verify the file) */

/* One lookup in the path trie: kind's key over the first len bytes of work.path (for suffixes: its last len
 * bytes, reversed), NUL terminated when nul; the box mask of every stored entry that is a prefix of the key
 * (0 if none). len is at most PF_KEY_STR (longer paths are looked up by their first or last bytes). */
static __always_inline __u64 path_lookup(struct work *w, __u32 gen, __u32 type, __u32 kind, __u32 len, __u32 end,
					 bool nul)
{
	if (len > PF_KEY_STR || (nul && len > PF_KEY_STR - 1))
		return 0;
	w->key.data[0] = (gen << 2) | kind;
	w->key.data[1] = type;
	if (kind == PFK_SUFFIXES) {
		for (__u32 i = 0; i < PF_KEY_STR; i++) {
			if (i >= len)
				break;
			w->key.data[(2 + i) & (PF_KEY_DATA - 1)] = w->path[(end - 1 - i) & (WBUF - 1)];
		}
	} else {
		__u32 n = len;
		asm volatile("" : "+r"(n));   /* keep the bound check below for the verifier */
		if (n > PF_KEY_STR)
			n = PF_KEY_STR;
		bpf_probe_read_kernel(&w->key.data[2], n, w->path);
	}
	if (nul)
		w->key.data[(2 + len) & (PF_KEY_DATA - 1)] = 0;
	w->key.prefixlen = 8 * (2 + len + (nul ? 1 : 0));
	__u64 *mask = bpf_map_lookup_elem(&pf_paths, &w->key);
	return mask ? *mask : 0;
}

static __always_inline struct pf_id_val *id_lookup(struct work *w, __u32 gen, __u32 kind, __u32 type)
{
	struct pf_id_key k = {.gen = gen, .kind = kind, .type = type};
	if (kind == PFI_COMM)
		__builtin_memcpy(k.data, w->comm, sizeof(w->comm));
	else
		__builtin_memcpy(k.data, &w->uid, sizeof(w->uid));
	return bpf_map_lookup_elem(&pf_ids, &k);
}

/* The decision for the event described by work.*: PF_SEND, PF_DROP or PF_DROP_BY_PATH. A dimension the
 * probe could not know (work.flags_known == 0, tc == TC_UNKNOWN, path_len == 0, comm_known == 0) lets
 * every box through, as KernelView's None does; a missing table sends. Global: verified once. */
__noinline int pf_decide(__u32 type, __u32 gen)
{
	struct work *w = get_work();
	if (!w || type >= MAX_TYPES)
		return PF_SEND;
	__u32 key = (gen & 1) * MAX_TYPES + type;
	struct pf_type *t = bpf_map_lookup_elem(&pf_types, &key);
	if (!t || t->mode != PF_BOXES)
		return PF_SEND;
	__u64 m = t->all & (w->ret >= 0 ? t->ret_ok : t->ret_err);
	if (w->flags_known) {
		__u64 fl = t->flags_free;
		for (int i = 0; i < PF_FLAG_REQS; i++) {
			__u32 bits = t->flag_reqs[i].bits;
			if (bits && (w->flags & bits) == bits)
				fl |= t->flag_reqs[i].boxes;
		}
		m &= t->acc[w->flags & O_ACCMODE_] & fl;
	}
	if (w->tc < PF_TYPECHARS)
		m &= t->tc[w->tc & (PF_TYPECHARS - 1)];
	if (m && (t->uses & PFU_UID)) {
		struct pf_id_val *v = id_lookup(w, gen & 1, PFI_UID, type);
		m &= t->uid_free | (v ? v->in : 0);
	}
	if (m && (t->uses & PFU_COMM)) {
		if (w->comm_known) {
			struct pf_id_val *v = id_lookup(w, gen & 1, PFI_COMM, type);
			m &= (t->comm_free | (v ? v->in : 0)) & ~(v ? v->not_in : 0);
		} else {
			count_reason(R_NO_COMM);
		}
	}
	if (m && (t->uses & PFU_FEAT) && w->scanned && !w->dotdot)
		m &= t->feat_free;
	if (w->returns_dir == 0)
		m &= t->dir_free;
	if (!m)
		return PF_DROP;
	if (!(t->uses & PFU_PATH) || !w->path_len)
		return PF_SEND;
	__u32 len = w->path_len;
	__u64 p = t->path_free;
	/* exact names need the whole path and its NUL in the key; a longer path can only meet prefixes */
	if (t->uses & PFU_NAMES)
		p |= len < PF_KEY_STR ? path_lookup(w, gen & 1, type, PFK_NAMES, len, len, true)
				      : path_lookup(w, gen & 1, type, PFK_NAMES, PF_KEY_STR, len, false);
	if ((t->uses & PFU_DIRS) && !(m & p) && w->dir_len < PF_KEY_STR)
		p |= path_lookup(w, gen & 1, type, PFK_DIRS, w->dir_len, w->dir_len, true);
	if ((t->uses & PFU_SUFFIXES) && !(m & p))
		p |= path_lookup(w, gen & 1, type, PFK_SUFFIXES, len < PF_KEY_STR ? len : PF_KEY_STR, len, false);
	return (m & p) ? PF_SEND : PF_DROP_BY_PATH;
}

#endif
