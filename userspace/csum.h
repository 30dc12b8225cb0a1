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
 * wrong (partial) checksums on every packet that host sends. Policy of
 * --checksum auto (the default): per source address (a 64-slot table),
 * count the packets that carry evidence (payload or SYN; kernel-generated
 * RSTs and TIME-WAIT ACKs are checksummed in software even with offload,
 * so pure ACKs and RSTs are not evidence); a source with at least
 * CSUM_OFFLOAD_MIN bad and not a single good one is "offloaded": its
 * packets are then accepted unvalidated (counted), and relaywatch says so
 * once on stderr and in stats (checksum.offload_hosts). One good checksum
 * from that source ends it for good. An attacker cannot use this to
 * insert: the real session's own packets must carry good checksums to
 * reach the server, and the first of them makes its source verified.
 * --checksum on validates everything, off nothing.
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

/* one's complement sum of n bytes added to sum (not folded) */
uint64_t csum_add(uint64_t sum, const uint8_t *d, size_t n);
/* fold to 16 bits */
uint16_t csum_fold(uint64_t sum);
/* check p's IPv4 header and TCP checksum (p->l3 must be set) */
enum csum_result csum_check_pkt(const struct pkt *p);
/* parse "auto" / "on" / "off"; -1 if none */
int csum_parse_mode(const char *s);

#endif
