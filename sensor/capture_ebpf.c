/* capture_ebpf.c - loader and ring buffer reader for bpf/relaywatch.bpf.c.
 *
 * Design notes (why, not what):
 * - Attach: clsact hook + one cls_bpf filter per direction with our fixed
 *   handle/priority (RW_TC_HANDLE/RW_TC_PRIORITY) and BPF_TC_F_REPLACE, so
 *   a filter left by a killed instance is replaced, never duplicated. A
 *   filter at that handle/priority whose program is not ours is someone
 *   else's: we refuse instead of clobbering it.
 * - Detach: our filters always; the clsact qdisc only when we created it
 *   (or found it holding nothing but our stale filter) and no foreign filter
 *   was added meanwhile (counted with a netlink dump), because destroying
 *   the qdisc removes every filter on it.
 * - Reassembly: the kernel writes the chunks of one packet back to back
 *   from one CPU, so one assembly slot per CPU is enough; a record with a
 *   new pkt_id on that CPU, or a slot older than RW_ASM_STALE_MS, ends a
 *   packet whose tail was lost (ring full), delivered with payload_missing.
 *   Single-record packets (the common case) are handed over straight from
 *   ring memory, no copy.
 * - Memory: the kernel accounts BPF memory to the memcg on this kernel and
 *   libbpf >= 1.0 knows it, so RLIMIT_MEMLOCK is left alone. Nothing is
 *   mounted (no pinning).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/pkt_sched.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "capture_ebpf.h"
#include "relaywatch.skel.h"

#define RW_ASM_STALE_MS 100   /* a chunked packet incomplete this long lost
                               * its tail (the kernel writes all chunks of a
                               * packet within microseconds) */

static const uint16_t default_ports[] = {
	25, 465, 587, 2525,                   /* SMTP */
	3128, 8080, 8000, 8118, 8123, 8888, 80, /* HTTP proxies */
	1080, 1081, 9050,                     /* SOCKS, Tor */
};

const char *const ebpf_kern_counter_names[RW_CTR__COUNT] = {
#define RW_CTR_NAME_(id, name) [id] = name,
	RW_BPF_COUNTERS(RW_CTR_NAME_)
#undef RW_CTR_NAME_
};

const char *const ebpf_user_counter_names[EBPF_U__COUNT] = {
#define EBPF_U_NAME_(id, name) [id] = name,
	EBPF_USER_COUNTERS(EBPF_U_NAME_)
#undef EBPF_U_NAME_
};

struct asm_slot {
	bool active;
	struct rw_event hdr;  /* header of the packet being assembled */
	uint32_t base;        /* payload offset of buf[0] */
	uint32_t have;        /* contiguous bytes in buf */
	uint8_t *buf;         /* RW_MAX_PAYLOAD bytes, allocated on first use */
};

struct iface {
	char name[IF_NAMESIZE];
	int ifindex;
	bool own_qdisc;       /* destroy clsact on close if nothing else uses it */
	bool attached[2];     /* RW_DIR_INGRESS, RW_DIR_EGRESS */
};

struct ebpf_capture {
	struct relaywatch_bpf *skel;
	struct ring_buffer *rb;
	struct iface ifs[EBPF_MAX_IFACES];
	int n_ifs;
	int ncpu;
	struct asm_slot *slots;      /* ncpu */
	int64_t mono_to_real_ns;     /* ts_ns + this = wall clock */
	/* valid during ebpf_capture_poll */
	void (*cb)(void *ctx, struct pkt *p);
	void *cb_ctx;
	int delivered;
	uint64_t user[EBPF_U__COUNT];
};

/* ---- libbpf log capture: the last warning explains a failed load ------ */

static char last_log[256];

static int log_capture(enum libbpf_print_level level, const char *fmt,
		       va_list ap)
{
	char line[256];
	size_t n;

	if (level == LIBBPF_DEBUG)
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strcspn(line, "\n");
	line[n] = 0;
	if (n > 0)
		snprintf(last_log, sizeof(last_log), "%s", line);
	if (getenv("RW_BPF_VERBOSE"))
		fprintf(stderr, "libbpf: %s\n", line);
	return 0;
}

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	err[strcspn(err, "\n")] = 0;   /* one line, whatever libbpf said */
}

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ---- tc attach / detach ----------------------------------------------- */

/* Counts filters on clsact ingress/egress (parent_min TC_H_MIN_INGRESS or
 * TC_H_MIN_EGRESS) of ifindex that are not ours. -errno if the dump fails
 * (callers treat that as "someone else may be there"). */
static int tc_count_foreign(int ifindex, uint32_t parent_min)
{
	struct {
		struct nlmsghdr n;
		struct tcmsg t;
	} req;
	char buf[16384];
	int fd, count = 0, rc = 0, iter;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	memset(&req, 0, sizeof(req));
	req.n.nlmsg_len = NLMSG_LENGTH(sizeof(struct tcmsg));
	req.n.nlmsg_type = RTM_GETTFILTER;
	req.n.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.n.nlmsg_seq = 1;
	req.t.tcm_family = AF_UNSPEC;
	req.t.tcm_ifindex = ifindex;
	req.t.tcm_parent = TC_H_MAKE(TC_H_CLSACT, parent_min);
	if (sendto(fd, &req, req.n.nlmsg_len, 0, (struct sockaddr *)&sa,
		   sizeof(sa)) < 0) {
		rc = -errno;
		goto out;
	}
	/* bounded: a dump of a sane filter list is a handful of datagrams */
	for (iter = 0; iter < 1024; iter++) {
		ssize_t len = recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *h;

		if (len < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			goto out;
		}
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)len);
		     h = NLMSG_NEXT(h, len)) {
			struct tcmsg *t;

			if (h->nlmsg_type == NLMSG_DONE)
				goto out;
			if (h->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(h);

				rc = e->error ? e->error : -EIO;
				goto out;
			}
			if (h->nlmsg_type != RTM_NEWTFILTER)
				continue;
			t = NLMSG_DATA(h);
			/* handle 0: the per-priority chain head, not a filter */
			if (t->tcm_handle == 0)
				continue;
			if (t->tcm_handle == RW_TC_HANDLE &&
			    TC_H_MAJ(t->tcm_info) >> 16 == RW_TC_PRIORITY)
				continue;
			count++;
		}
	}
	rc = -EIO;
out:
	close(fd);
	return rc < 0 ? rc : count;
}

/* Is the filter at our handle/priority on this hook one of ours (a stale
 * relaywatch program)? 1 ours, 0 none there, -EBUSY someone else's. */
static int tc_slot_owner(struct bpf_tc_hook *hook)
{
	LIBBPF_OPTS(bpf_tc_opts, q, .handle = RW_TC_HANDLE,
		    .priority = RW_TC_PRIORITY);
	struct bpf_prog_info info;
	__u32 ilen = sizeof(info);
	int fd, rc;

	rc = bpf_tc_query(hook, &q);
	/* ENOENT: no filter there; EINVAL: the hook has no filter chain yet */
	if (rc == -ENOENT || rc == -EINVAL)
		return 0;
	if (rc < 0)
		return rc;
	fd = bpf_prog_get_fd_by_id(q.prog_id);
	if (fd < 0)
		return -EBUSY;
	memset(&info, 0, sizeof(info));
	rc = bpf_obj_get_info_by_fd(fd, &info, &ilen);
	close(fd);
	if (rc < 0)
		return -EBUSY;
	if (strcmp(info.name, "rw_ingress") == 0 ||
	    strcmp(info.name, "rw_egress") == 0)
		return 1;
	return -EBUSY;
}

static int iface_attach(struct ebpf_capture *c, struct iface *ifc,
			char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifc->ifindex,
		    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
	static const enum bpf_tc_attach_point ap[2] = { BPF_TC_INGRESS,
							 BPF_TC_EGRESS };
	static const uint32_t pmin[2] = { TC_H_MIN_INGRESS, TC_H_MIN_EGRESS };
	struct bpf_program *prog[2] = { c->skel->progs.rw_ingress,
					c->skel->progs.rw_egress };
	int rc, d;

	rc = bpf_tc_hook_create(&hook);
	if (rc == 0) {
		ifc->own_qdisc = true;
	} else if (rc == -EEXIST) {
		/* a clsact that holds nothing but our stale filter was left
		 * by a killed instance: adopt it, so close removes it */
		int f0 = tc_count_foreign(ifc->ifindex, pmin[0]);
		int f1 = tc_count_foreign(ifc->ifindex, pmin[1]);

		ifc->own_qdisc = f0 == 0 && f1 == 0;
	} else {
		seterr(err, errlen, "eBPF capture: cannot create clsact qdisc on %s: %s",
		       ifc->name, strerror(-rc));
		return rc;
	}
	for (d = 0; d < 2; d++) {
		LIBBPF_OPTS(bpf_tc_opts, o, .handle = RW_TC_HANDLE,
			    .priority = RW_TC_PRIORITY,
			    .flags = BPF_TC_F_REPLACE);

		hook.attach_point = ap[d];
		rc = tc_slot_owner(&hook);
		if (rc == -EBUSY) {
			seterr(err, errlen, "eBPF capture: tc filter handle 0x%x prio 0x%x on %s %s belongs to another program; remove it or use pcap",
			       RW_TC_HANDLE, RW_TC_PRIORITY, ifc->name,
			       d ? "egress" : "ingress");
			return rc;
		}
		if (rc < 0) {
			seterr(err, errlen, "eBPF capture: cannot query tc filters on %s: %s",
			       ifc->name, strerror(-rc));
			return rc;
		}
		o.prog_fd = bpf_program__fd(prog[d]);
		rc = bpf_tc_attach(&hook, &o);
		if (rc < 0) {
			seterr(err, errlen, "eBPF capture: cannot attach tc filter on %s %s: %s",
			       ifc->name, d ? "egress" : "ingress",
			       strerror(-rc));
			return rc;
		}
		ifc->attached[d] = true;
	}
	return 0;
}

static void iface_detach(struct iface *ifc)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifc->ifindex);
	static const enum bpf_tc_attach_point ap[2] = { BPF_TC_INGRESS,
							 BPF_TC_EGRESS };
	int d;

	for (d = 0; d < 2; d++) {
		LIBBPF_OPTS(bpf_tc_opts, o, .handle = RW_TC_HANDLE,
			    .priority = RW_TC_PRIORITY);

		if (!ifc->attached[d])
			continue;
		hook.attach_point = ap[d];
		bpf_tc_detach(&hook, &o);  /* gone already (ifdown): fine */
		ifc->attached[d] = false;
	}
	if (ifc->own_qdisc &&
	    tc_count_foreign(ifc->ifindex, TC_H_MIN_INGRESS) == 0 &&
	    tc_count_foreign(ifc->ifindex, TC_H_MIN_EGRESS) == 0) {
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&hook);
	}
	ifc->own_qdisc = false;
}

static int on_record(void *ctx, void *data, size_t size);

/* ---- open / close ----------------------------------------------------- */

static size_t pow2_at_least(size_t v, size_t min)
{
	size_t p = min;

	while (p < v && p < ((size_t)1 << 30))
		p <<= 1;
	return p;
}

static const char *load_reason(int rc)
{
	switch (-rc) {
	case EPERM:
		return "no permission to load BPF programs (needs root or CAP_BPF+CAP_NET_ADMIN)";
	case EACCES:
	case EINVAL:
		return "the kernel verifier refused the program";
	case ENOSYS:
	case EOPNOTSUPP:
		return "this kernel lacks the BPF features needed (BPF syscall, ring buffer)";
	case ENOMEM:
		return "not enough locked memory for the maps";
	default:
		return strerror(-rc);
	}
}

static int iface_check(const char *name, int *ifindex, char *err,
		       size_t errlen)
{
	char path[128];
	FILE *f;
	int type = -1;

	if (!name || strlen(name) >= IF_NAMESIZE) {
		seterr(err, errlen, "eBPF capture: bad interface name");
		return -EINVAL;
	}
	*ifindex = (int)if_nametoindex(name);
	if (*ifindex == 0) {
		seterr(err, errlen, "eBPF capture: interface '%s' not found", name);
		return -ENODEV;
	}
	/* the program parses from an Ethernet header: refuse L3 devices
	 * (tun, wireguard) instead of silently seeing nothing */
	snprintf(path, sizeof(path), "/sys/class/net/%s/type", name);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%d", &type) != 1)
			type = -1;
		fclose(f);
	}
	if (type != -1 && type != 1 /* ARPHRD_ETHER */ &&
	    type != 772 /* ARPHRD_LOOPBACK */) {
		seterr(err, errlen, "eBPF capture: interface '%s' is not Ethernet (type %d); use pcap",
		       name, type);
		return -EOPNOTSUPP;
	}
	return 0;
}

int ebpf_capture_open(const struct ebpf_opts *o, struct ebpf_capture **out,
		      char *err, size_t errlen)
{
	libbpf_print_fn_t old_print;
	struct ebpf_capture *c = NULL;
	const uint16_t *ports = default_ports;
	int nports = (int)(sizeof(default_ports) / sizeof(default_ports[0]));
	uint32_t chunk = RW_CHUNK_MAX;
	int rc = 0, i, k = RW_DEFAULT_FIRST_PAYLOAD_PKTS;
	size_t rbsz;

	if (err && errlen)
		err[0] = 0;
	if (!o || !out || o->n_ifnames < 0 || o->n_ifnames > EBPF_MAX_IFACES) {
		seterr(err, errlen, "eBPF capture: bad options");
		return -EINVAL;
	}
	*out = NULL;
	if (o->ports) {
		ports = o->ports;
		nports = o->n_ports;
	}
	if (nports < 0 || nports > RW_MAX_PORTS) {
		seterr(err, errlen, "eBPF capture: %d ports configured, at most %d",
		       nports, RW_MAX_PORTS);
		return -EINVAL;
	}
	if (o->first_payload_pkts < 0)
		k = 0;
	else if (o->first_payload_pkts > 0)
		k = o->first_payload_pkts;
	if (o->chunk_bytes) {
		if (o->chunk_bytes > RW_CHUNK_MAX) {
			seterr(err, errlen, "eBPF capture: chunk_bytes > %u", RW_CHUNK_MAX);
			return -EINVAL;
		}
		chunk = o->chunk_bytes;
	}

	c = calloc(1, sizeof(*c));
	if (!c) {
		seterr(err, errlen, "eBPF capture: out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < o->n_ifnames; i++) {
		rc = iface_check(o->ifnames[i], &c->ifs[i].ifindex, err, errlen);
		if (rc < 0)
			goto fail;
		snprintf(c->ifs[i].name, sizeof(c->ifs[i].name), "%s",
			 o->ifnames[i]);
	}

	c->ncpu = libbpf_num_possible_cpus();
	if (c->ncpu <= 0) {
		rc = c->ncpu < 0 ? c->ncpu : -EINVAL;
		seterr(err, errlen, "eBPF capture: cannot count CPUs: %s", strerror(-rc));
		goto fail;
	}
	c->slots = calloc((size_t)c->ncpu, sizeof(*c->slots));
	if (!c->slots) {
		rc = -ENOMEM;
		seterr(err, errlen, "eBPF capture: out of memory");
		goto fail;
	}

	last_log[0] = 0;
	old_print = libbpf_set_print(log_capture);
	c->skel = relaywatch_bpf__open();
	if (!c->skel) {
		rc = -errno ? -errno : -EINVAL;
		libbpf_set_print(old_print);
		seterr(err, errlen, "eBPF capture: cannot open BPF object: %s (%s)",
		       strerror(-rc), last_log);
		goto fail;
	}
	for (i = 0; i < nports; i++)
		c->skel->rodata->rw_ports[i] = ports[i];
	c->skel->rodata->rw_nports = (uint32_t)nports;
	c->skel->rodata->rw_first_payload_pkts = (uint32_t)k;
	c->skel->rodata->rw_chunk = chunk;
	rbsz = pow2_at_least(o->ringbuf_bytes ? o->ringbuf_bytes
					      : RW_DEFAULT_RINGBUF_BYTES,
			     (size_t)sysconf(_SC_PAGESIZE));
	bpf_map__set_max_entries(c->skel->maps.events, (uint32_t)rbsz);
	if (o->flow_entries)
		bpf_map__set_max_entries(c->skel->maps.flows, o->flow_entries);
	rc = relaywatch_bpf__load(c->skel);
	libbpf_set_print(old_print);
	if (rc < 0) {
		seterr(err, errlen, "eBPF capture: %s (%s; last libbpf message: %s)",
		       load_reason(rc), strerror(-rc),
		       last_log[0] ? last_log : "none");
		goto fail;
	}

	c->rb = ring_buffer__new(bpf_map__fd(c->skel->maps.events), on_record,
				 c, NULL);
	if (!c->rb) {
		rc = -errno ? -errno : -ENOMEM;
		seterr(err, errlen, "eBPF capture: cannot map ring buffer: %s",
		       strerror(-rc));
		goto fail;
	}

	old_print = libbpf_set_print(log_capture);
	for (i = 0; i < o->n_ifnames && rc == 0; i++) {
		c->n_ifs = i + 1;
		rc = iface_attach(c, &c->ifs[i], err, errlen);
	}
	libbpf_set_print(old_print);
	if (rc < 0)
		goto fail;
	c->mono_to_real_ns = clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC);
	*out = c;
	return 0;
fail:
	ebpf_capture_close(c);
	return rc < 0 ? rc : -EINVAL;
}

void ebpf_capture_close(struct ebpf_capture *c)
{
	int i;

	if (!c)
		return;
	for (i = 0; i < c->n_ifs; i++)
		iface_detach(&c->ifs[i]);
	ring_buffer__free(c->rb);
	relaywatch_bpf__destroy(c->skel);
	if (c->slots) {
		for (i = 0; i < c->ncpu; i++)
			free(c->slots[i].buf);
		free(c->slots);
	}
	free(c);
}

int ebpf_capture_prog_fd(const struct ebpf_capture *c, int dir)
{
	if (!c)
		return -1;
	return bpf_program__fd(dir == RW_DIR_EGRESS ? c->skel->progs.rw_egress
						    : c->skel->progs.rw_ingress);
}

int ebpf_capture_flows_fd(const struct ebpf_capture *c)
{
	return c ? bpf_map__fd(c->skel->maps.flows) : -1;
}

/* ---- ring reader ------------------------------------------------------ */

/* Delivers payload bytes [base, base+len) of the packet described by e,
 * followed by `missing` bytes that never arrived. */
static void deliver(struct ebpf_capture *c, const struct rw_event *e,
		    const uint8_t *data, uint32_t base, uint32_t len,
		    uint32_t missing, bool last)
{
	struct pkt p;

	memset(&p, 0, sizeof(p));
	p.ts_us = (uint64_t)((int64_t)e->ts_ns + c->mono_to_real_ns) / 1000;
	p.family = e->family;
	p.nvlan = e->nvlan > PKT_MAX_VLAN ? PKT_MAX_VLAN : e->nvlan;
	p.vlan[0] = e->vlan[0];
	p.vlan[1] = e->vlan[1];
	memcpy(p.src, e->saddr, 16);
	memcpy(p.dst, e->daddr, 16);
	p.sport = ntohs(e->sport);
	p.dport = ntohs(e->dport);
	p.seq = ntohl(e->seq) + base;
	p.ack = ntohl(e->ack);
	/* pieces of a split packet: SYN belongs to the first byte, FIN to the
	 * last */
	p.tcp_flags = e->tcp_flags;
	if (base != 0)
		p.tcp_flags &= (uint8_t)~TCP_SYN;
	if (!last)
		p.tcp_flags &= (uint8_t)~TCP_FIN;
	p.win = ntohs(e->win);
	p.payload = len ? data : NULL;
	p.payload_len = len;
	p.payload_missing = missing;
	p.wire_len = e->wire_len;
	c->user[EBPF_U_PKTS]++;
	c->user[EBPF_U_BYTES] += len;
	c->user[EBPF_U_MISSING_BYTES] += missing;
	c->delivered++;
	if (c->cb)
		c->cb(c->cb_ctx, &p);
}

/* Ends the slot's packet: what was assembled, then the lost tail. */
static void slot_flush(struct ebpf_capture *c, struct asm_slot *s)
{
	uint32_t end = s->base + s->have;

	if (!s->active)
		return;
	s->active = false;
	if (end < s->hdr.cap_len)
		c->user[EBPF_U_PARTIAL]++;
	deliver(c, &s->hdr, s->buf, s->base, s->have,
		s->hdr.payload_len > end ? s->hdr.payload_len - end : 0, true);
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct ebpf_capture *c = ctx;
	const struct rw_event *e = data;
	struct asm_slot *s;
	uint32_t off, len;

	c->user[EBPF_U_RECORDS]++;
	if (size < sizeof(*e) || e->chunk_len > size - sizeof(*e) ||
	    e->cpu >= (uint32_t)c->ncpu || e->cap_len > e->payload_len ||
	    e->cap_len > RW_MAX_PAYLOAD ||
	    e->chunk_off > e->cap_len || e->chunk_len > e->cap_len - e->chunk_off) {
		c->user[EBPF_U_BAD_RECORD]++;
		return 0;
	}
	s = &c->slots[e->cpu];
	off = e->chunk_off;
	len = e->chunk_len;
	/* this CPU moved on to another packet: the slot's tail is lost */
	if (s->active && s->hdr.pkt_id != e->pkt_id)
		slot_flush(c, s);

	if (!s->active && off == 0 && len == e->cap_len) {
		/* whole packet in one record: hand over ring memory */
		deliver(c, e, e->data, 0, len, e->payload_len - len, true);
		return 0;
	}
	if (!s->active) {
		if (!s->buf) {
			s->buf = malloc(RW_MAX_PAYLOAD);
			if (!s->buf) {
				/* count it as lost; the header still goes up */
				deliver(c, e, NULL, off, 0, e->payload_len - off, true);
				c->user[EBPF_U_PARTIAL]++;
				return 0;
			}
		}
		c->user[EBPF_U_MULTI_CHUNK]++;
		s->active = true;
		s->hdr = *e;
		s->base = off;
		s->have = 0;
		if (off != 0)   /* leading chunks lost */
			c->user[EBPF_U_PARTIAL]++;
	} else if (off != s->base + s->have) {
		/* a hole inside: deliver what precedes it, restart after it */
		uint32_t end = s->base + s->have;

		c->user[EBPF_U_PARTIAL]++;
		deliver(c, &s->hdr, s->buf, s->base, s->have,
			off > end ? off - end : 0, false);
		s->base = off;
		s->have = 0;
	}
	memcpy(s->buf + s->have, e->data, len);
	s->have += len;
	if (s->base + s->have >= s->hdr.cap_len)
		slot_flush(c, s);
	return 0;
}

int ebpf_capture_poll(struct ebpf_capture *c, int timeout_ms,
		      void (*cb)(void *ctx, struct pkt *p), void *ctx)
{
	int rc, i;
	int64_t now;

	if (!c)
		return -EINVAL;
	c->cb = cb;
	c->cb_ctx = ctx;
	c->delivered = 0;
	rc = ring_buffer__poll(c->rb, timeout_ms);
	if (rc == -EINTR)
		rc = 0;
	/* chunked packets whose tail never came (reservation failed) */
	now = clock_ns(CLOCK_MONOTONIC);
	for (i = 0; i < c->ncpu; i++) {
		struct asm_slot *s = &c->slots[i];

		if (s->active &&
		    now - (int64_t)s->hdr.ts_ns > RW_ASM_STALE_MS * 1000000LL)
			slot_flush(c, s);
	}
	c->cb = NULL;
	c->cb_ctx = NULL;
	return rc < 0 ? rc : c->delivered;
}

/* ---- flow verdicts and stats ------------------------------------------ */

int ebpf_capture_set_flow(struct ebpf_capture *c, const struct pkt *p,
			  int inspect)
{
	struct rw_flow_key k;
	struct rw_flow_val v;
	__be32 src[4], dst[4];
	int fd, rc, tries;

	if (!c || !p || (p->family != 4 && p->family != 6))
		return -EINVAL;
	memcpy(src, p->src, 16);
	memcpy(dst, p->dst, 16);
	if (p->family == 4) {   /* pkt.h: "rest zero"; make sure of it */
		src[1] = src[2] = src[3] = 0;
		dst[1] = dst[2] = dst[3] = 0;
	}
	rw_flow_key_make(&k, p->family, src, dst, htons(p->sport),
			 htons(p->dport), p->nvlan > 0 ? p->vlan[0] & 0x0fff : 0,
			 p->nvlan > 1 ? p->vlan[1] & 0x0fff : 0, NULL);
	fd = bpf_map__fd(c->skel->maps.flows);
	/* read-modify-write keeps the kernel's per-flow counters; increments
	 * racing with it are lost, which only skews the flow's statistics */
	for (tries = 0; tries < 2; tries++) {
		if (bpf_map_lookup_elem(fd, &k, &v) == 0) {
			v.state = inspect ? RW_FLOW_INSPECT : RW_FLOW_BYPASS;
			rc = bpf_map_update_elem(fd, &k, &v, BPF_ANY);
			return rc < 0 ? -errno : 0;
		}
		memset(&v, 0, sizeof(v));
		v.state = inspect ? RW_FLOW_INSPECT : RW_FLOW_BYPASS;
		if (bpf_map_update_elem(fd, &k, &v, BPF_NOEXIST) == 0)
			return 0;
		if (errno != EEXIST)
			return -errno;
	}
	return -EAGAIN;
}

int ebpf_capture_flow_counters(struct ebpf_capture *c, const struct pkt *p,
			       uint64_t pkts[2], uint64_t bytes[2])
{
	struct rw_flow_key k;
	struct rw_flow_val v;
	__be32 src[4], dst[4];
	int a_to_b = 0;

	if (!c || !p || (p->family != 4 && p->family != 6))
		return -EINVAL;
	memcpy(src, p->src, 16);
	memcpy(dst, p->dst, 16);
	if (p->family == 4) {
		src[1] = src[2] = src[3] = 0;
		dst[1] = dst[2] = dst[3] = 0;
	}
	rw_flow_key_make(&k, p->family, src, dst, htons(p->sport),
			 htons(p->dport), p->nvlan > 0 ? p->vlan[0] & 0x0fff : 0,
			 p->nvlan > 1 ? p->vlan[1] & 0x0fff : 0, &a_to_b);
	if (bpf_map_lookup_elem(bpf_map__fd(c->skel->maps.flows), &k, &v) < 0)
		return -errno;
	/* p goes client -> server: that is a->b when a_to_b */
	pkts[0] = v.pkts[!a_to_b];
	pkts[1] = v.pkts[a_to_b];
	bytes[0] = v.bytes[!a_to_b];
	bytes[1] = v.bytes[a_to_b];
	return 0;
}

void ebpf_capture_stats(struct ebpf_capture *c, struct ebpf_stats *out)
{
	struct rw_stats *per;
	__u32 zero = 0;
	int i, j;

	if (!out)
		return;
	memset(out, 0, sizeof(*out));
	if (!c)
		return;
	memcpy(out->user, c->user, sizeof(out->user));
	/* sizeof(struct rw_stats) is a multiple of 8: no per-CPU padding */
	per = calloc((size_t)c->ncpu, sizeof(*per));
	if (!per)
		return;
	if (bpf_map_lookup_elem(bpf_map__fd(c->skel->maps.stats), &zero, per) == 0)
		for (i = 0; i < c->ncpu; i++)
			for (j = 0; j < RW_CTR__COUNT; j++)
				out->kern[j] += per[i].ctr[j];
	free(per);
}
