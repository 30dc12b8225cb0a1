/* community_id.h - Community ID v1 flow hashes
 * (https://github.com/corelight/community-id-spec), the "community_id"
 * field of every EVE record, so records join with Zeek / Suricata /
 * Elastic data about the same connection.
 *
 *   "1:" + base64(SHA1(seed:2 | addr_a | addr_b | proto:1 | 0:1 |
 *                      port_a:2 | port_b:2))        (all network order)
 *
 * where (addr_a, port_a) is the smaller endpoint: addresses compared as
 * network-order bytes, ports numerically on equal addresses. Both
 * directions of a connection therefore get the same ID.
 */
#ifndef RW_COMMUNITY_ID_H
#define RW_COMMUNITY_ID_H

#include <stddef.h>
#include <stdint.h>
#include "pkt.h"

/* "1:" + 28 base64 characters + NUL */
#define COMMUNITY_ID_LEN 31

/* Community ID of a decoded TCP segment (proto 6) into out (cap bytes,
 * COMMUNITY_ID_LEN is enough). Returns 0, -EINVAL (family not 4/6),
 * -ENOSPC (cap too small; out is then "" when cap > 0) or -EIO (libcrypto
 * failed). */
int community_id_v1(const struct pkt *p, uint16_t seed, char *out, size_t cap);

/* Same from a raw tuple: family 4 (saddr/daddr 4 bytes) or 6 (16 bytes),
 * ports in host order. Protocols with ports (TCP 6, UDP 17, SCTP 132)
 * hash them; protocols without (e.g. RSVP 46) omit them as the spec says
 * (the ports passed are ignored). ICMP/ICMPv6 (1, 58) need the spec's
 * type/code mapping, which relaywatch has no use for: -EPROTONOSUPPORT.
 * Other returns as community_id_v1(). */
int community_id_v1_tuple(int family, const uint8_t *saddr,
			  const uint8_t *daddr, uint16_t sport, uint16_t dport,
			  uint8_t proto, uint16_t seed, char *out, size_t cap);

#endif
