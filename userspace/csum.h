/* csum.h - Internet checksums (RFC 1071) of IPv4 headers and TCP segments,
 * and the engine's checksum policy.
 *
 * Why a passive sensor checks them: a segment with a wrong checksum is
 * dropped by the receiving stack, so an attacker can send one carrying
 * bytes the server never sees (an insertion: a benign RCPT at the real
 * one's sequence numbers, which the sensor's "first copy wins" would
 * keep). The engine validates the packets that reach a parsed stream
 * (and those that would create a flow), never the bulk of bypassed
 * traffic.
 *
 * Offload: captures taken on a sending host with checksum offload carry
 * wrong (partial) checksums on every packet that host sends, and GRO on a
 * capturing gateway merges segments without fixing theirs. Policy of
 * --checksum auto (the default), what users of other sensors rely on:
 * per source address (a 64-slot table), the packets that carry evidence
 * (payload or SYN; kernel-made RSTs and TIME-WAIT ACKs are checksummed in
 * software even with offload) are counted good or bad. A bad packet is
 *  - kept when its source is judged offloaded: at least CSUM_OFFLOAD_MIN
 *    bad ones making up half or more of its evidence (sticky; said once
 *    on stderr, checksum.offload_hosts, checksum.offload_not_checked);
 *  - dropped when its sender proved it computes checksums: a good one on
 *    the same flow direction, or from the same address (an insertion);
 *  - kept otherwise: a sender that never sent one good checksum is taken
 *    to be offloaded (checksum.unproven_not_checked).
 * Files are sampled before they are read (the first CSUM_SAMPLE frames,
 * capture_pcap_sample_csum()), so a short capture taken with offload is
 * recognised from its first packet.
 * The trade-off: a sender can make its own address look offloaded by
 * sending many bad packets, then insert; `--checksum on` (validate
 * everything, for gateways whose captures are clean: inline mode, TC) and
 * the visible counters are the answer to that.
 */
#ifndef RW_CSUM_H
#define RW_CSUM_H

#include <stddef.h>
#include <stdint.h>
#include "pkt.h"

enum csum_mode { CSUM_AUTO = 0, CSUM_ON, CSUM_OFF };

enum csum_result {
	CSUM_GOOD = 0,
	CSUM_BAD_IP,       /* IPv4 header checksum wrong */
	CSUM_BAD_TCP,      /* TCP checksum wrong */
	CSUM_UNKNOWN,      /* no headers (eBPF) or payload cut by snaplen */
};

#define CSUM_SOURCES 64
#define CSUM_OFFLOAD_MIN 8
#define CSUM_SAMPLE 2000

struct csum_src {
	uint8_t addr[16];
	uint8_t family;
	uint8_t offloaded;
	uint16_t good, bad;  /* evidence packets (saturating) */
};

struct csum_table {
	struct csum_src src[CSUM_SOURCES];
	uint64_t key;
};

void csum_table_init(struct csum_table *t, uint64_t key);
enum csum_verdict {
	CSUM_DROP = 0,        /* the receiver drops it: so do we */
	CSUM_KEEP,            /* good checksum */
	CSUM_KEEP_OFFLOAD,    /* bad, from a source judged offloaded */
	CSUM_KEEP_UNPROVEN,   /* bad, from a sender that never sent a good
	                       * one (nor on this flow): taken as offload */
};

/* a packet whose checksum says something of its sender's offload: one
 * with payload or SYN (kernel-made RSTs and TIME-WAIT ACKs are
 * checksummed in software even with offload) */
static inline int csum_evidence(const struct pkt *p)
{
	return p->payload_len || (p->tcp_flags & TCP_SYN);
}

/* Note one checked packet of p's source and say what to do with it.
 * flow_verified: its flow direction already carried a good checksum on a
 * packet with payload or SYN. *became_offloaded = 1 the first time the
 * source is judged offloaded. min_bad: bad packets needed (CSUM_OFFLOAD_MIN;
 * less when sampling). */
int csum_table_note(struct csum_table *t, const struct pkt *p,
		    enum csum_result r, unsigned min_bad, int flow_verified,
		    int *became_offloaded);
/* copy the offloaded sources of from into to */
void csum_table_merge(struct csum_table *to, const struct csum_table *from);

/* how many sources are judged offloaded */
unsigned csum_table_offloaded(const struct csum_table *t);
/* say once per process, on stderr, that a host's captures are offloaded */
void csum_say_offload(uint8_t family, const uint8_t *addr);
/* csum_say_offload() for the first offloaded source of t, if any */
void csum_table_say(const struct csum_table *t);

/* one's complement sum of n bytes added to sum (not folded) */
uint64_t csum_add(uint64_t sum, const uint8_t *d, size_t n);
/* fold to 16 bits */
uint16_t csum_fold(uint64_t sum);
/* check p's IPv4 header and TCP checksum (p->l3 must be set) */
enum csum_result csum_check_pkt(const struct pkt *p);
/* parse "auto" / "on" / "off"; -1 if none */
int csum_parse_mode(const char *s);

#endif
