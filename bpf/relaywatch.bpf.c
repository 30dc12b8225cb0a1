// SPDX-License-Identifier: GPL-2.0
/* relaywatch.bpf.c - passive TC classifier: picks the TCP segments of the
 * conversations relaywatch parses (SMTP, HTTP proxy, SOCKS) and hands
 * them to user space through a ring buffer; everything else is only
 * counted.
 *
 * Attached on clsact ingress and egress. It never changes a packet's fate:
 * every path returns TC_ACT_UNSPEC ("no opinion, continue with the next
 * filter"), not TC_ACT_OK, because TC_ACT_OK would end the filter chain and
 * silently disable other users' filters behind ours on the same hook.
 *
 * Which segments go up (see rw_flow_state in relaywatch.h):
 *   - flows touching a configured port start as INSPECT,
 *   - any other TCP flow starts as NEW: its first K payload packets are
 *     sent so user space can recognise a proxy on an odd port by content,
 *     then nothing until user space writes INSPECT or BYPASS,
 *   - SYN/FIN/RST of INSPECT and NEW flows are sent (header only),
 *   - BYPASS flows: nothing, the flow entry only counts packets/bytes.
 *
 * Headers are read through bounds-checked cursors on the linear data;
 * payload is copied with bpf_skb_load_bytes because a GSO super-packet
 * (up to 64 KB on veth/loopback) is usually non-linear.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "relaywatch.h"

char LICENSE[] SEC("license") = "GPL";

/* ---- configuration: set by the loader between open and load ---------- */
const volatile __u16 rw_ports[RW_MAX_PORTS] = {};
const volatile __u32 rw_nports = 0;
const volatile __u32 rw_first_payload_pkts = RW_DEFAULT_FIRST_PAYLOAD_PKTS;
/* chunk size (<= RW_CHUNK_MAX); smaller only to let tests force the
 * multi-chunk and over-the-cap paths with test_run's ~3.5 KB packets */
const volatile __u32 rw_chunk = RW_CHUNK_MAX;

/* ---- maps ------------------------------------------------------------- */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, RW_DEFAULT_RINGBUF_BYTES); /* loader resizes */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, RW_DEFAULT_FLOW_ENTRIES); /* loader resizes */
	__type(key, struct rw_flow_key);
	__type(value, struct rw_flow_val);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rw_stats);
} stats SEC(".maps");

#define ETH_P_8021Q_  0x8100
#define ETH_P_8021AD_ 0x88A8
#define IP_MF_OFFSET  0x3FFF  /* MF flag + fragment offset */
#define MAX_VLAN      2
#define MAX_V6_EXT    4
/* enough for eth + 2 VLAN + IPv6 + 4 small ext headers + TCP w/ options */
#define PULL_LEN      256
#define TH_FIN        0x01
#define TH_SYN        0x02
#define TH_RST        0x04

enum parse_rc {
	P_OK = 0,
	P_SHORT,      /* ran past the linear data: maybe non-linear, maybe cut */
	P_MALFORMED,
	P_NON_TCP,
	P_FRAG,
	P_VLAN_DEEP,
	P_V6_EXT,
};

struct pinfo {
	__be32 saddr[4];
	__be32 daddr[4];
	__be16 sport, dport;
	__be32 seq, ack;
	__be16 win;
	__u8 flags, family, nvlan, dir;
	__u16 vlan[MAX_VLAN];
	__u32 state;         /* flow state to report (send_pkt) */
	__u32 with_payload;  /* send payload, or the header only */
	__u32 payload_off;   /* offset of the TCP payload in the packet */
	__u32 payload_len;   /* TCP payload length on the wire */
};

/* Parses the headers in the linear area. Every cursor step is checked
 * against data_end before it is dereferenced. */
static __always_inline int parse(struct __sk_buff *skb, struct pinfo *pi)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	void *pos;
	__u16 proto;
	__u32 ip_end;     /* offset of the end of the IP packet */
	int i;

	if ((void *)(eth + 1) > end)
		return P_SHORT;
	proto = eth->h_proto;
	pos = eth + 1;
	pi->nvlan = 0;
	if (skb->vlan_present) {   /* outer tag taken out by VLAN offload */
		pi->vlan[0] = skb->vlan_tci & 0x0fff;
		pi->nvlan = 1;
	}
#pragma unroll
	for (i = 0; i < MAX_VLAN; i++) {
		struct { __be16 tci, encap; } *vh = pos;

		if (proto != bpf_htons(ETH_P_8021Q_) &&
		    proto != bpf_htons(ETH_P_8021AD_))
			break;
		if (pi->nvlan >= MAX_VLAN)
			return P_VLAN_DEEP;
		if ((void *)(vh + 1) > end)
			return P_SHORT;
		if (pi->nvlan == 0)
			pi->vlan[0] = bpf_ntohs(vh->tci) & 0x0fff;
		else
			pi->vlan[1] = bpf_ntohs(vh->tci) & 0x0fff;
		pi->nvlan++;
		proto = vh->encap;
		pos = vh + 1;
	}
	if (proto == bpf_htons(ETH_P_8021Q_) || proto == bpf_htons(ETH_P_8021AD_))
		return P_VLAN_DEEP;

	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = pos;
		__u32 ihl;

		if ((void *)(ip + 1) > end)
			return P_SHORT;
		if (ip->version != 4)
			return P_MALFORMED;
		ihl = ip->ihl * 4;
		if (ihl < sizeof(*ip))
			return P_MALFORMED;
		if (ip->frag_off & bpf_htons(IP_MF_OFFSET))
			return P_FRAG;
		if (ip->protocol != IPPROTO_TCP)
			return P_NON_TCP;
		pi->family = 4;
		pi->saddr[0] = ip->saddr;
		pi->daddr[0] = ip->daddr;
		pi->saddr[1] = pi->saddr[2] = pi->saddr[3] = 0;
		pi->daddr[1] = pi->daddr[2] = pi->daddr[3] = 0;
		ip_end = (__u32)(pos - data) + bpf_ntohs(ip->tot_len);
		/* BIG TCP GSO packets carry tot_len 0: the skb is the packet */
		if (ip->tot_len == 0)
			ip_end = skb->len;
		else if (bpf_ntohs(ip->tot_len) < ihl)
			return P_MALFORMED;
		pos += ihl;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = pos;
		__u8 nh;

		if ((void *)(ip6 + 1) > end)
			return P_SHORT;
		if (ip6->version != 6)
			return P_MALFORMED;
		pi->family = 6;
		__builtin_memcpy(pi->saddr, &ip6->saddr, 16);
		__builtin_memcpy(pi->daddr, &ip6->daddr, 16);
		ip_end = (__u32)(pos - data) + sizeof(*ip6) +
			 bpf_ntohs(ip6->payload_len);
		if (ip6->payload_len == 0)   /* jumbogram / BIG TCP */
			ip_end = skb->len;
		nh = ip6->nexthdr;
		pos = ip6 + 1;
#pragma unroll
		for (i = 0; i < MAX_V6_EXT; i++) {
			struct { __u8 nh, len; } *x = pos;
			__u32 l;

			if (nh == IPPROTO_TCP)
				break;
			if (nh == IPPROTO_FRAGMENT)
				return P_FRAG;
			if (nh != IPPROTO_HOPOPTS && nh != IPPROTO_ROUTING &&
			    nh != IPPROTO_DSTOPTS && nh != IPPROTO_AH)
				return P_NON_TCP;
			if ((void *)(x + 1) > end)
				return P_SHORT;
			/* AH counts 4-byte units minus 2, the others 8-byte
			 * units minus 1: at most ~2 KB, a bounded step */
			if (nh == IPPROTO_AH)
				l = ((__u32)x->len + 2) * 4;
			else
				l = ((__u32)x->len + 1) * 8;
			nh = x->nh;
			pos += l;
		}
		if (nh != IPPROTO_TCP)
			return P_V6_EXT;
	} else {
		return P_NON_TCP;
	}

	{
		struct tcphdr *th = pos;
		__u32 doff, off;

		if ((void *)(th + 1) > end)
			return P_SHORT;
		doff = th->doff * 4;
		if (doff < sizeof(*th))
			return P_MALFORMED;
		off = (__u32)(pos - data) + doff;
		/* a header claiming more than the skb holds: cut or forged */
		if (ip_end > skb->len || off > ip_end)
			return P_MALFORMED;
		pi->sport = th->source;
		pi->dport = th->dest;
		pi->seq = th->seq;
		pi->ack = th->ack_seq;
		pi->win = th->window;
		pi->flags = ((__u8 *)th)[13] & 0x3f;
		pi->payload_off = off;
		pi->payload_len = ip_end - off;
	}
	return P_OK;
}

static __always_inline int port_configured(__be16 port)
{
	__u16 p = bpf_ntohs(port);
	int i;

#pragma unroll
	for (i = 0; i < RW_MAX_PORTS; i++)
		if ((__u32)i < rw_nports && rw_ports[i] == p)
			return 1;
	return 0;
}

/* Reserves a record of constant size SZ, copies the header template and
 * len (1..SZ, or 0 for a header-only record) payload bytes from skb offset
 * poff. 0 on success, -1 ring full, -2 load failed (record discarded). */
static __always_inline int emit_sz(struct __sk_buff *skb,
				   const struct rw_event *tmpl, __u32 poff,
				   __u32 coff, __u64 len, const __u32 SZ)
{
	struct rw_event *e;

	e = bpf_ringbuf_reserve(&events, sizeof(*e) + SZ, 0);
	if (!e)
		return -1;
	__builtin_memcpy(e, tmpl, sizeof(*e));
	e->chunk_off = coff;
	e->chunk_len = len;
	/* keep len a 64-bit bounded value in one register: clang 14 otherwise
	 * checks a 32-bit copy and the verifier sees an unbounded length */
	asm volatile("" : "+r"(len));
	if (len > 0 && len <= SZ) {
		if (bpf_skb_load_bytes(skb, poff, e->data, len) < 0) {
			bpf_ringbuf_discard(e, 0);
			return -2;
		}
	}
	bpf_ringbuf_submit(e, 0);
	return 0;
}

static __always_inline int emit(struct __sk_buff *skb,
				const struct rw_event *tmpl, __u32 poff,
				__u32 coff, __u64 len)
{
	if (len <= RW_CHUNK_SMALL)
		return emit_sz(skb, tmpl, poff, coff, len, RW_CHUNK_SMALL);
	if (len <= RW_CHUNK_MEDIUM)
		return emit_sz(skb, tmpl, poff, coff, len, RW_CHUNK_MEDIUM);
	return emit_sz(skb, tmpl, poff, coff, len, RW_CHUNK_MAX);
}

/* Sends one packet: header template + payload in chunks. A separate
 * function (BPF-to-BPF call), not inlined: keeps the bulk path's code
 * small and the program verified once per call site. */
static __noinline void send_pkt(struct __sk_buff *skb, struct rw_stats *st,
				const struct pinfo *pi)
{
	struct rw_event t;
	__u32 chunk = rw_chunk;
	__u32 cap = 0, i;
	int rc;

	if (chunk == 0 || chunk > RW_CHUNK_MAX)
		chunk = RW_CHUNK_MAX;
	if (pi->with_payload) {
		cap = pi->payload_len;
		if (cap > chunk * RW_MAX_CHUNKS) {
			cap = chunk * RW_MAX_CHUNKS;
			st->ctr[RW_CTR_TRUNC_PKTS]++;
			st->ctr[RW_CTR_TRUNC_BYTES] += pi->payload_len - cap;
		}
	}

	__builtin_memset(&t, 0, sizeof(t));
	t.ts_ns = bpf_ktime_get_ns();
	t.cpu = bpf_get_smp_processor_id();
	t.pkt_id = (__u32)st->next_pkt_id++;
	t.ifindex = skb->ifindex;
	t.dir = pi->dir;
	t.family = pi->family;
	t.tcp_flags = pi->flags;
	t.nvlan = pi->nvlan;
	__builtin_memcpy(t.saddr, pi->saddr, 16);
	__builtin_memcpy(t.daddr, pi->daddr, 16);
	t.sport = pi->sport;
	t.dport = pi->dport;
	t.seq = pi->seq;
	t.ack = pi->ack;
	t.win = pi->win;
	t.vlan[0] = pi->vlan[0];
	t.vlan[1] = pi->vlan[1];
	t.wire_len = skb->len;
	t.payload_len = pi->payload_len;
	t.cap_len = cap;
	t.flow_state = pi->state;

	st->ctr[RW_CTR_SENT_PKTS]++;
	if (cap == 0) {
		rc = emit_sz(skb, &t, 0, 0, 0, 0);
		if (rc == -1)
			st->ctr[RW_CTR_RB_FULL]++;
		else
			st->ctr[RW_CTR_SENT_RECORDS]++;
		return;
	}
	for (i = 0; i < RW_MAX_CHUNKS; i++) {
		__u32 off = i * chunk;
		__u64 len;

		if (off >= cap)
			break;
		len = cap - off;
		if (len > chunk)
			len = chunk;
		rc = emit(skb, &t, pi->payload_off + off, off, len);
		if (rc < 0) {
			/* stop at the first loss: the reader then sees a
			 * clean tail gap (cap_len - received) */
			if (rc == -1) {
				st->ctr[RW_CTR_RB_FULL]++;
				st->ctr[RW_CTR_RB_FULL_BYTES] += cap - off;
			} else {
				st->ctr[RW_CTR_LOAD_FAIL]++;
			}
			break;
		}
		st->ctr[RW_CTR_SENT_RECORDS]++;
		st->ctr[RW_CTR_SENT_BYTES] += len;
	}
}

static __always_inline int handle(struct __sk_buff *skb, int dir)
{
	__u32 zero = 0;
	struct rw_stats *st = bpf_map_lookup_elem(&stats, &zero);
	struct rw_flow_key key;
	struct rw_flow_val *v, nv;
	struct pinfo pi;
	__u32 state;
	int rc, a_to_b, has_payload, ctl, send = 0;

	if (!st)
		return TC_ACT_UNSPEC;
	st->ctr[RW_CTR_PKTS]++;

	/* parse() fills every field it returns P_OK with except the VLAN
	 * ids; no memset of the whole struct on the bulk path */
	pi.vlan[0] = pi.vlan[1] = 0;
	rc = parse(skb, &pi);
	if (rc == P_SHORT) {
		/* headers beyond the linear area (or a cut packet): pull them
		 * in (changes the skb's layout, not the packet) and parse
		 * again; a really short packet fails the second parse too */
		__u32 n = skb->len < PULL_LEN ? skb->len : PULL_LEN;

		st->ctr[RW_CTR_HDR_PULL]++;
		if (bpf_skb_pull_data(skb, n) == 0) {
			pi.vlan[0] = pi.vlan[1] = 0;
			rc = parse(skb, &pi);
		}
	}
	switch (rc) {
	case P_OK:
		break;
	case P_NON_TCP:
		st->ctr[RW_CTR_NON_TCP]++;
		return TC_ACT_UNSPEC;
	case P_FRAG:
		st->ctr[RW_CTR_FRAG]++;
		return TC_ACT_UNSPEC;
	case P_VLAN_DEEP:
		st->ctr[RW_CTR_VLAN_DEEP]++;
		return TC_ACT_UNSPEC;
	case P_V6_EXT:
		st->ctr[RW_CTR_IPV6_EXT]++;
		return TC_ACT_UNSPEC;
	default:
		st->ctr[RW_CTR_MALFORMED]++;
		return TC_ACT_UNSPEC;
	}
	st->ctr[RW_CTR_TCP]++;
	st->ctr[RW_CTR_PAYLOAD_BYTES] += pi.payload_len;

	rw_flow_key_make(&key, pi.family, pi.saddr, pi.daddr, pi.sport,
			 pi.dport, pi.vlan[0], pi.vlan[1], &a_to_b);
	has_payload = pi.payload_len > 0;
	ctl = pi.flags & (TH_FIN | TH_SYN | TH_RST);

	v = bpf_map_lookup_elem(&flows, &key);
	if (!v) {
		__builtin_memset(&nv, 0, sizeof(nv));
		nv.state = (port_configured(pi.sport) ||
			    port_configured(pi.dport)) ? RW_FLOW_INSPECT
						       : RW_FLOW_NEW;
		if (bpf_map_update_elem(&flows, &key, &nv, BPF_NOEXIST) == 0)
			st->ctr[RW_CTR_FLOW_NEW]++;
		v = bpf_map_lookup_elem(&flows, &key);
		if (!v) {
			/* no entry (update failed, or evicted at once): decide
			 * by port alone for this packet and count the loss */
			st->ctr[RW_CTR_FLOW_UPDATE_FAIL]++;
			if (nv.state == RW_FLOW_INSPECT && (has_payload || ctl)) {
				pi.dir = dir;
				pi.state = nv.state;
				pi.with_payload = has_payload;
				send_pkt(skb, st, &pi);
			}
			return TC_ACT_UNSPEC;
		}
	}
	/* plain increments: a flow direction is normally handled on one CPU
	 * (RSS/XPS); a rare lost increment is an acceptable statistic error,
	 * an atomic on every bulk packet is not */
	v->pkts[!a_to_b]++;
	v->bytes[!a_to_b] += skb->len;
	state = v->state;

	if (state == RW_FLOW_BYPASS) {
		st->ctr[RW_CTR_BYPASSED]++;
		return TC_ACT_UNSPEC;
	}
	if (state == RW_FLOW_INSPECT) {
		send = has_payload || ctl;
	} else if (rw_first_payload_pkts > 0) {
		/* NEW: sample the first K payload packets; flags always (a
		 * flow user space saw start should be seen ending) */
		if (has_payload &&
		    v->payload_pkts_sent < rw_first_payload_pkts) {
			send = 1;
		} else if (ctl) {
			send = 1;
			has_payload = 0;  /* past the sample: header only */
		}
	}
	if (!send) {
		if (has_payload || ctl)
			st->ctr[RW_CTR_UNDECIDED]++;
		return TC_ACT_UNSPEC;
	}
	if (has_payload)
		__sync_fetch_and_add(&v->payload_pkts_sent, 1);
	pi.dir = dir;
	pi.state = state;
	pi.with_payload = has_payload;
	send_pkt(skb, st, &pi);
	return TC_ACT_UNSPEC;
}

SEC("tc")
int rw_ingress(struct __sk_buff *skb)
{
	return handle(skb, RW_DIR_INGRESS);
}

SEC("tc")
int rw_egress(struct __sk_buff *skb)
{
	return handle(skb, RW_DIR_EGRESS);
}
