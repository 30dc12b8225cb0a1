/* capture_ebpf.h - live capture through the relaywatch TC program.
 *
 * Loads bpf/relaywatch.bpf.c (embedded skeleton), attaches it to clsact
 * ingress and egress of each interface, and turns its ring buffer records
 * into struct pkt for the engine. Only the segments of flows worth parsing
 * reach user space (configured ports, the first few payload packets of any
 * other TCP flow, flows user space marked INSPECT); the engine bypasses a
 * flow with ebpf_capture_set_flow(c, p, 0) once it knows it is not
 * interesting, and the kernel stops sending it.
 *
 * Typical use (main.c):
 *   struct ebpf_opts o = { .ifnames = {"eth0"}, .n_ifnames = 1 };
 *   if (ebpf_capture_open(&o, &c, err, sizeof(err)) < 0)
 *           -> log err, fall back to pcap
 *   while (running) ebpf_capture_poll(c, 100, on_pkt, engine);
 *   ebpf_capture_stats(c, &st); ebpf_capture_close(c);
 *
 * Not thread-safe: one thread polls; ebpf_capture_set_flow may be called
 * from the poll callback (that is the intended place).
 */
#ifndef RW_CAPTURE_EBPF_H
#define RW_CAPTURE_EBPF_H

#include <stddef.h>
#include <stdint.h>
#include "pkt.h"
#include "relaywatch.h"

#define EBPF_MAX_IFACES 8

struct ebpf_capture;

struct ebpf_opts {
	const char *ifnames[EBPF_MAX_IFACES];
	int n_ifnames;            /* 0: load only, attach nowhere (tests) */
	size_t ringbuf_bytes;     /* 0: 8 MB; rounded up to a power of two */
	int first_payload_pkts;   /* payload packets sent per undecided flow:
	                           * 0 = default (4), < 0 = none */
	const uint16_t *ports;    /* always-inspected ports, host order;
	                           * NULL = default list (SMTP + proxies) */
	int n_ports;              /* <= RW_MAX_PORTS (16) */
	/* extensions, 0 = default */
	uint32_t flow_entries;    /* kernel flow table size (LRU), 65536 */
	uint32_t chunk_bytes;     /* max payload bytes per ring record, 4096;
	                           * smaller only for tests (forces chunking) */
};

/* user-space side losses/totals of the ring reader */
#define EBPF_USER_COUNTERS(X) \
	X(EBPF_U_RECORDS, "ebpf.user.records") \
	X(EBPF_U_PKTS, "ebpf.user.packets_delivered") \
	X(EBPF_U_BYTES, "ebpf.user.payload_bytes_delivered") \
	X(EBPF_U_MULTI_CHUNK, "ebpf.user.multi_chunk_packets") \
	X(EBPF_U_PARTIAL, "ebpf.user.partial_packets") \
	X(EBPF_U_MISSING_BYTES, "ebpf.user.payload_bytes_missing") \
	X(EBPF_U_BAD_RECORD, "ebpf.user.drop.malformed_record")

enum ebpf_user_counter {
#define EBPF_U_ENUM_(id, name) id,
	EBPF_USER_COUNTERS(EBPF_U_ENUM_)
#undef EBPF_U_ENUM_
	EBPF_U__COUNT
};

struct ebpf_stats {
	uint64_t kern[RW_CTR__COUNT];   /* summed over CPUs; RW_CTR_* */
	uint64_t user[EBPF_U__COUNT];   /* EBPF_U_* */
};

/* "module.reason" names for the stats output, same order as the enums */
extern const char *const ebpf_kern_counter_names[RW_CTR__COUNT];
extern const char *const ebpf_user_counter_names[EBPF_U__COUNT];

/* Loads and attaches. 0 and *out on success; on failure -errno and a
 * one-line reason in err (no BPF permission, verifier refused, interface
 * missing or not Ethernet, ...) so the caller can fall back to pcap.
 * Replaces a filter left behind by a killed instance, never adds a second
 * one; refuses (-EBUSY) if our handle/priority holds someone else's program. */
int ebpf_capture_open(const struct ebpf_opts *o, struct ebpf_capture **out,
		      char *err, size_t errlen);

/* Waits up to timeout_ms for records and calls cb once per packet, the
 * chunks of a GSO super-packet reassembled (payload up to 64 KB). A packet
 * whose chunks were partly lost arrives with payload_missing set (lost
 * tail) or split into several pkts (seq advanced) around a hole. p and its
 * payload are valid only during the call. Returns the number of packets
 * delivered (>= 0) or -errno. EINTR counts as 0. */
int ebpf_capture_poll(struct ebpf_capture *c, int timeout_ms,
		      void (*cb)(void *ctx, struct pkt *p), void *ctx);

/* Marks the flow of p (either direction) INSPECT (inspect=1) or BYPASS
 * (inspect=0) in the kernel flow table; creates the entry if the LRU
 * evicted it. 0 or -errno. */
int ebpf_capture_set_flow(struct ebpf_capture *c, const struct pkt *p,
			  int inspect);

/* Kernel per-CPU counters summed, plus the reader's own. */
void ebpf_capture_stats(struct ebpf_capture *c, struct ebpf_stats *out);
/* The kernel's packet and byte counters of p's flow (p from client to
 * server): [0] client->server, [1] server->client. 0, or -errno (-ENOENT:
 * the LRU table no longer holds the flow). */
int ebpf_capture_flow_counters(struct ebpf_capture *c, const struct pkt *p,
			       uint64_t pkts[2], uint64_t bytes[2]);

/* Detaches (removes the clsact qdisc only if we created or adopted it and
 * no other filter uses it) and frees. NULL-safe. */
void ebpf_capture_close(struct ebpf_capture *c);

/* For tests and the bench driver: the program fd of direction RW_DIR_*
 * (bpf_prog_test_run_opts), the flow map fd. -1 if c is NULL. */
int ebpf_capture_prog_fd(const struct ebpf_capture *c, int dir);
int ebpf_capture_flows_fd(const struct ebpf_capture *c);

#endif
