/* relaywatch.h - the one contract between the TC program
 * (bpf/relaywatch.bpf.c) and its loader (sensor/capture_ebpf.c).
 *
 * Everything both sides must agree on lives here and only here: the ring
 * buffer record, the flow key and its normalisation, the flow states, the
 * per-CPU counter indices, the tc handle/priority we own, the size limits.
 * Fixed-width fields, explicit padding, no bitfields: the layout is the same
 * for clang -target bpf and gcc x86_64 (checked by _Static_assert below).
 */
#ifndef RW_BPF_CONTRACT_H
#define RW_BPF_CONTRACT_H

#include <linux/types.h>

#ifdef __bpf__
#define RW_INLINE static __always_inline
#else
#define RW_INLINE static inline
#endif

/* ---- limits ---------------------------------------------------------- */

/* Payload travels in chunks of at most RW_CHUNK_MAX bytes, one ring record
 * each (the kernel reserves a fixed size per record: the verifier needs a
 * constant). A packet yields at most RW_MAX_CHUNKS records, so payloads up
 * to RW_CHUNK_MAX * RW_MAX_CHUNKS = 64 KB (a full GSO/TSO super-packet)
 * arrive whole; anything beyond is cut and counted (RW_CTR_TRUNC_*), and
 * the record's payload_len still says how long the packet really was. */
#define RW_CHUNK_MAX      4096u
#define RW_MAX_CHUNKS     16u
#define RW_MAX_PAYLOAD    (RW_CHUNK_MAX * RW_MAX_CHUNKS)
/* record size classes: a 60-byte SMTP command must not pin 4 KB of ring */
#define RW_CHUNK_SMALL    256u
#define RW_CHUNK_MEDIUM   1536u

#define RW_MAX_PORTS      16     /* inspected-by-port list (config) */
#define RW_DEFAULT_FIRST_PAYLOAD_PKTS 4
#define RW_DEFAULT_RINGBUF_BYTES (8u << 20)
#define RW_DEFAULT_FLOW_ENTRIES  65536u

/* The tc filter we own on clsact ingress and egress. A filter with this
 * handle and priority is ours: a new instance replaces it (a killed loader
 * leaves it behind), never adds a second one. ("RW" = 0x5257) */
#define RW_TC_HANDLE      0x5257u
#define RW_TC_PRIORITY    0x5257u

/* ---- flow table ------------------------------------------------------ */

enum rw_flow_state {
	RW_FLOW_NEW = 0,     /* undecided: first K payload packets are sent */
	RW_FLOW_INSPECT = 1, /* send everything with payload + SYN/FIN/RST */
	RW_FLOW_BYPASS = 2,  /* send nothing, only count */
};

/* Normalised 5-tuple + VLAN ids: endpoint "a" is the numerically lower
 * (address, port) pair, so both directions of a conversation map to one
 * key. Addresses and ports are kept in network byte order as on the wire;
 * the comparison is on the raw __u32/__u16 values, which is the same in the
 * kernel and the loader because both run on the same host. */
struct rw_flow_key {
	__be32 a_addr[4];     /* IPv4: a_addr[0], rest zero */
	__be32 b_addr[4];
	__be16 a_port;
	__be16 b_port;
	__u16 vlan[2];        /* VLAN ids (12 bits), outermost first, 0 = none */
	__u8 family;          /* 4 or 6 */
	__u8 pad[3];          /* always zero (the key is hashed bytewise) */
};

struct rw_flow_val {
	__u32 state;          /* enum rw_flow_state; user space writes it */
	__u32 payload_pkts_sent; /* payload packets sent to user space */
	__u64 pkts[2];        /* [0] a->b, [1] b->a */
	__u64 bytes[2];       /* skb->len per direction */
};

/* Builds the normalised key. *a_to_b (if not NULL) is set to 1 when the
 * packet goes from endpoint a to b. Used by the kernel and the loader, so
 * "set this flow to BYPASS" hits the entry the kernel looks up. */
RW_INLINE void rw_flow_key_make(struct rw_flow_key *k, __u8 family,
				const __be32 *src, const __be32 *dst,
				__be16 sport, __be16 dport,
				__u16 vlan0, __u16 vlan1, int *a_to_b)
{
	int swap = 0, i;

	for (i = 0; i < 4; i++) {
		if (src[i] != dst[i]) {
			swap = src[i] > dst[i];
			break;
		}
		if (i == 3)
			swap = sport > dport;
	}
	for (i = 0; i < 4; i++) {
		k->a_addr[i] = swap ? dst[i] : src[i];
		k->b_addr[i] = swap ? src[i] : dst[i];
	}
	k->a_port = swap ? dport : sport;
	k->b_port = swap ? sport : dport;
	k->vlan[0] = vlan0;
	k->vlan[1] = vlan1;
	k->family = family;
	k->pad[0] = k->pad[1] = k->pad[2] = 0;
	if (a_to_b)
		*a_to_b = !swap;
}

/* ---- ring buffer record ---------------------------------------------- */

enum rw_dir {
	RW_DIR_INGRESS = 0,
	RW_DIR_EGRESS = 1,
};

/* One record = this header + chunk_len payload bytes at data[]. A packet
 * with payload yields ceil(cap_len / chunk) records, all with the same
 * (cpu, pkt_id) and increasing chunk_off, written back to back by one
 * program run; records of other CPUs may interleave. A packet sent for its
 * flags only (SYN/FIN/RST) has cap_len == 0 and one record.
 * Bytes missing for the reader = payload_len - (bytes it received). */
struct rw_event {
	__u64 ts_ns;          /* bpf_ktime_get_ns() (CLOCK_MONOTONIC) */
	__u32 cpu;            /* CPU that ran the program */
	__u32 pkt_id;         /* per-CPU packet sequence number */
	__u32 ifindex;
	__u8 dir;             /* enum rw_dir */
	__u8 family;          /* 4 or 6 */
	__u8 tcp_flags;       /* FIN SYN RST PSH ACK URG (wire bits) */
	__u8 nvlan;           /* 0..2 */
	__be32 saddr[4];
	__be32 daddr[4];
	__be16 sport;
	__be16 dport;
	__be32 seq;
	__be32 ack;
	__be16 win;
	__u16 vlan[2];        /* VLAN ids, outermost first */
	__u16 pad0;
	__u32 wire_len;       /* skb->len */
	__u32 payload_len;    /* TCP payload length on the wire */
	__u32 cap_len;        /* payload bytes the kernel tries to send for
	                       * this packet (< payload_len: cut, counted) */
	__u32 chunk_off;      /* offset of data[] in the TCP payload */
	__u32 chunk_len;      /* bytes at data[] */
	__u32 flow_state;     /* enum rw_flow_state when sent */
	__u32 pad1;
	__u8 data[];
};

/* ---- per-CPU counters ------------------------------------------------ */

/* X(index, "stats name"). Every loss has its own counter. The ones every
 * bulk packet touches come first: one cache line. */
#define RW_BPF_COUNTERS(X) \
	X(RW_CTR_PKTS, "ebpf.packets") \
	X(RW_CTR_TCP, "ebpf.tcp_packets") \
	X(RW_CTR_PAYLOAD_BYTES, "ebpf.tcp_payload_bytes") \
	X(RW_CTR_BYPASSED, "ebpf.flow.bypassed_packets") \
	X(RW_CTR_UNDECIDED, "ebpf.flow.undecided_not_sent") \
	X(RW_CTR_NON_TCP, "ebpf.skipped.non_tcp") \
	X(RW_CTR_FRAG, "ebpf.skipped.ip_fragment") \
	X(RW_CTR_MALFORMED, "ebpf.skipped.malformed_or_truncated") \
	X(RW_CTR_VLAN_DEEP, "ebpf.skipped.vlan_too_deep") \
	X(RW_CTR_IPV6_EXT, "ebpf.skipped.ipv6_ext_chain_too_long") \
	X(RW_CTR_HDR_PULL, "ebpf.headers_pulled_nonlinear") \
	X(RW_CTR_FLOW_NEW, "ebpf.flow.created") \
	X(RW_CTR_FLOW_UPDATE_FAIL, "ebpf.drop.flow_table_update_failed") \
	X(RW_CTR_SENT_PKTS, "ebpf.sent.packets") \
	X(RW_CTR_SENT_RECORDS, "ebpf.sent.records") \
	X(RW_CTR_SENT_BYTES, "ebpf.sent.payload_bytes") \
	X(RW_CTR_RB_FULL, "ebpf.drop.ringbuf_full_records") \
	X(RW_CTR_RB_FULL_BYTES, "ebpf.drop.ringbuf_full_bytes") \
	X(RW_CTR_TRUNC_PKTS, "ebpf.drop.truncated_over_64k_packets") \
	X(RW_CTR_TRUNC_BYTES, "ebpf.drop.truncated_over_64k_bytes") \
	X(RW_CTR_LOAD_FAIL, "ebpf.drop.skb_load_bytes_failed")

enum rw_counter_idx {
#define RW_CTR_ENUM_(id, name) id,
	RW_BPF_COUNTERS(RW_CTR_ENUM_)
#undef RW_CTR_ENUM_
	RW_CTR__COUNT
};

/* value of the single-entry per-CPU array "stats" */
struct rw_stats {
	__u64 ctr[RW_CTR__COUNT];
	__u64 next_pkt_id;    /* source of rw_event.pkt_id, not a counter */
};

_Static_assert(sizeof(struct rw_flow_key) == 44, "rw_flow_key layout");
_Static_assert(sizeof(struct rw_flow_val) == 40, "rw_flow_val layout");
_Static_assert(sizeof(struct rw_event) == 104, "rw_event layout");

#endif
