/* decode.c - frame -> struct pkt; the contract and the choices are in
 * decode.h.
 *
 * Every read goes through a length that was checked against caplen first:
 * "cap" is what was captured from the current header on, "decl" what the
 * IP header says exists from there on (never more than the frame had on
 * the wire). Headers are read with be16()/be32() from byte pointers, so
 * nothing depends on alignment.
 */
#include "decode.h"

#include <errno.h>
#include <string.h>
#include <pcap/dlt.h>

#define ETH_HLEN_ 14
#define SLL_HLEN 16
#define SLL2_HLEN 20
#define NULL_HLEN 4

#define ETHERTYPE_IPV4_ 0x0800
#define ETHERTYPE_IPV6_ 0x86dd
#define ETHERTYPE_8021Q 0x8100
#define ETHERTYPE_8021AD 0x88a8
#define ETHERTYPE_QINQ_OLD 0x9100

#define IPPROTO_HOPOPTS_ 0
#define IPPROTO_TCP_ 6
#define IPPROTO_ROUTING_ 43
#define IPPROTO_FRAGMENT_ 44
#define IPPROTO_AH_ 51
#define IPPROTO_DSTOPTS_ 60

static inline uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static int fail(struct rw_counters *ctr, enum rw_counter id, int err)
{
	ctr_inc(ctr, id);
	return err;
}

static inline uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

/* TCP header at b: cap bytes captured, decl bytes in the IP datagram */
static int decode_tcp(const uint8_t *b, uint32_t cap, uint32_t decl,
		      struct pkt *out, struct rw_counters *ctr)
{
	uint32_t doff;

	if (decl < 20)
		return fail(ctr, CTR_PKT_BAD_TCP, -EINVAL);
	if (cap < 20)
		return fail(ctr, CTR_PKT_TRUNC_TCP, -EMSGSIZE);
	doff = (uint32_t)(b[12] >> 4) * 4;
	if (doff < 20 || doff > decl)
		return fail(ctr, CTR_PKT_BAD_TCP, -EINVAL);
	if (doff > cap)
		return fail(ctr, CTR_PKT_TRUNC_TCP, -EMSGSIZE);

	out->sport = be16(b);
	out->dport = be16(b + 2);
	out->seq = be32(b + 4);
	out->ack = be32(b + 8);
	out->tcp_flags = b[13];
	out->win = be16(b + 14);
	out->payload = b + doff;
	out->l4_len = (uint16_t)doff;
	out->payload_len = cap - doff;
	out->payload_missing = decl - cap;
	ctr_inc(ctr, CTR_PKT_TCP);
	if (out->payload_missing)
		ctr_inc(ctr, CTR_PKT_SNAP_CUT);
	return 0;
}

/* IPv4 at b: cap bytes captured, uncaptured bytes of the frame were cut */
static int decode_ipv4(const uint8_t *b, uint32_t cap, uint32_t uncaptured,
		       struct pkt *out, struct rw_counters *ctr)
{
	uint32_t ihl, tot, decl, wire = cap + uncaptured;

	if (cap < 20)
		return fail(ctr, CTR_PKT_TRUNC_IP, -EMSGSIZE);
	if (b[0] >> 4 != 4)
		return fail(ctr, CTR_PKT_BAD_IP, -EINVAL);
	ihl = (uint32_t)(b[0] & 0x0f) * 4;
	tot = be16(b + 2);
	if (ihl < 20 || (tot != 0 && tot < ihl))
		return fail(ctr, CTR_PKT_BAD_IP, -EINVAL);
	if (ihl > cap)
		return fail(ctr, CTR_PKT_TRUNC_IP, -EMSGSIZE);
	if (tot == 0) {
		/* GSO/TSO super-packet: the length is what the frame has */
		decl = wire;
	} else {
		/* claims more than the wire carried: the receiver drops it */
		if (tot > wire)
			return fail(ctr, CTR_PKT_TRUNC_IP, -EMSGSIZE);
		decl = tot;
	}
	if (b[9] != IPPROTO_TCP_)
		return fail(ctr, CTR_PKT_NON_TCP, -EPROTONOSUPPORT);
	/* MF flag or a fragment offset */
	if (be16(b + 6) & 0x3fff)
		return fail(ctr, CTR_PKT_IPV4_FRAG, -ENOTSUP);

	out->family = 4;
	out->l3 = b;
	out->l3_len = (uint16_t)ihl;
	memcpy(out->src, b + 12, 4);
	memcpy(out->dst, b + 16, 4);
	return decode_tcp(b + ihl, min_u32(cap, decl) - ihl, decl - ihl, out,
			  ctr);
}

static int ipv6_may_be_tcp(uint8_t nh)
{
	return nh == IPPROTO_TCP_ || nh == IPPROTO_HOPOPTS_ ||
	       nh == IPPROTO_ROUTING_ || nh == IPPROTO_FRAGMENT_ ||
	       nh == IPPROTO_AH_ || nh == IPPROTO_DSTOPTS_;
}

static int decode_ipv6(const uint8_t *b, uint32_t cap, uint32_t uncaptured,
		       struct pkt *out, struct rw_counters *ctr)
{
	uint32_t plen, decl, off = 40, wire = cap + uncaptured;
	uint8_t nh;
	int n;

	if (cap < 40)
		return fail(ctr, CTR_PKT_TRUNC_IP, -EMSGSIZE);
	if (b[0] >> 4 != 6)
		return fail(ctr, CTR_PKT_BAD_IP, -EINVAL);
	plen = be16(b + 4);
	if (plen == 0) {
		/* jumbogram / BIG TCP: the length is what the frame has */
		decl = wire;
	} else {
		decl = 40 + plen;
		if (decl > wire)
			return fail(ctr, CTR_PKT_TRUNC_IP, -EMSGSIZE);
	}
	cap = min_u32(cap, decl);
	nh = b[6];

	for (n = 0; nh != IPPROTO_TCP_; n++) {
		uint32_t need, len;

		switch (nh) {
		case IPPROTO_HOPOPTS_:
		case IPPROTO_ROUTING_:
		case IPPROTO_DSTOPTS_:
		case IPPROTO_AH_:
			need = 2;
			break;
		case IPPROTO_FRAGMENT_:
			need = 8;
			break;
		default:
			/* ESP, no next header (59), UDP, ICMPv6, ... */
			return fail(ctr, CTR_PKT_NON_TCP, -EPROTONOSUPPORT);
		}
		if (n == DECODE_MAX_IPV6_EXT)
			return fail(ctr, CTR_PKT_IPV6_EXT_LOOP, -EINVAL);
		if (off + need > decl)
			return fail(ctr, CTR_PKT_BAD_IP, -EINVAL);
		if (off + need > cap)
			return fail(ctr, CTR_PKT_TRUNC_IP, -EMSGSIZE);
		if (nh == IPPROTO_FRAGMENT_) {
			uint16_t fo = be16(b + off + 2);

			/* offset (bits 15..3) or M (bit 0): a real fragment;
			 * else atomic (RFC 6946), processed as a whole */
			if (fo & 0xfff9) {
				if (ipv6_may_be_tcp(b[off]))
					return fail(ctr, CTR_PKT_IPV6_FRAG,
						    -ENOTSUP);
				return fail(ctr, CTR_PKT_NON_TCP,
					    -EPROTONOSUPPORT);
			}
			len = 8;
		} else if (nh == IPPROTO_AH_) {
			len = ((uint32_t)b[off + 1] + 2) * 4;
		} else {
			len = ((uint32_t)b[off + 1] + 1) * 8;
		}
		if (off + len > decl)
			return fail(ctr, CTR_PKT_BAD_IP, -EINVAL);
		if (off + len > cap)
			return fail(ctr, CTR_PKT_TRUNC_IP, -EMSGSIZE);
		nh = b[off];
		off += len;
	}

	out->family = 6;
	out->l3 = b;
	out->l3_len = (uint16_t)off;
	memcpy(out->src, b + 8, 16);
	memcpy(out->dst, b + 24, 16);
	return decode_tcp(b + off, cap - off, decl - off, out, ctr);
}

/* dispatch on the IP version nibble (raw IP link types) */
static int decode_ip_any(const uint8_t *b, uint32_t cap, uint32_t uncaptured,
			 struct pkt *out, struct rw_counters *ctr)
{
	if (cap < 1)
		return fail(ctr, CTR_PKT_TRUNC_IP, -EMSGSIZE);
	switch (b[0] >> 4) {
	case 4:
		return decode_ipv4(b, cap, uncaptured, out, ctr);
	case 6:
		return decode_ipv6(b, cap, uncaptured, out, ctr);
	default:
		return fail(ctr, CTR_PKT_BAD_IP, -EINVAL);
	}
}

/* ethertype et follows at data + off: walk VLAN tags, then IPv4/IPv6 */
static int decode_ethertype(const uint8_t *data, uint32_t caplen, uint32_t off,
			    uint16_t et, uint32_t uncaptured, struct pkt *out,
			    struct rw_counters *ctr)
{
	while (et == ETHERTYPE_8021Q || et == ETHERTYPE_8021AD ||
	       et == ETHERTYPE_QINQ_OLD) {
		if (out->nvlan == PKT_MAX_VLAN)
			return fail(ctr, CTR_PKT_VLAN_DEEP, -EINVAL);
		if (caplen - off < 4)
			return fail(ctr, CTR_PKT_TRUNC_LINK, -EMSGSIZE);
		out->vlan[out->nvlan++] = be16(data + off) & 0x0fff;
		et = be16(data + off + 2);
		off += 4;
	}
	switch (et) {
	case ETHERTYPE_IPV4_:
		return decode_ipv4(data + off, caplen - off, uncaptured, out,
				   ctr);
	case ETHERTYPE_IPV6_:
		return decode_ipv6(data + off, caplen - off, uncaptured, out,
				   ctr);
	default:
		return fail(ctr, CTR_PKT_NON_IP, -EPROTONOSUPPORT);
	}
}

static int null_family_version(uint32_t fam)
{
	switch (fam) {
	case 2:
		return 4;
	case 10: /* Linux */
	case 24: /* NetBSD, OpenBSD, BSD/OS */
	case 28: /* FreeBSD, DragonFly */
	case 30: /* macOS */
		return 6;
	default:
		return 0;
	}
}

static int decode_null(const uint8_t *data, uint32_t caplen,
		       uint32_t uncaptured, struct pkt *out,
		       struct rw_counters *ctr)
{
	uint32_t fam;
	int v;

	if (caplen < NULL_HLEN)
		return fail(ctr, CTR_PKT_TRUNC_LINK, -EMSGSIZE);
	/* host order (DLT_NULL) or network order (DLT_LOOP), or the other
	 * order for a file from another host: the values cannot collide */
	memcpy(&fam, data, 4);
	v = null_family_version(fam);
	if (!v)
		v = null_family_version(__builtin_bswap32(fam));
	data += NULL_HLEN;
	caplen -= NULL_HLEN;
	if (v == 4)
		return decode_ipv4(data, caplen, uncaptured, out, ctr);
	if (v == 6)
		return decode_ipv6(data, caplen, uncaptured, out, ctr);
	return fail(ctr, CTR_PKT_NON_IP, -EPROTONOSUPPORT);
}

int decode_packet(int linktype, const uint8_t *data, uint32_t caplen,
		  uint32_t wirelen, uint64_t ts_us, struct pkt *out,
		  struct rw_counters *ctr)
{
	uint64_t index = out->index;
	uint32_t uncaptured;

	memset(out, 0, sizeof(*out));
	out->index = index;
	if (!data)
		caplen = 0;
	if (wirelen < caplen)
		wirelen = caplen;
	uncaptured = wirelen - caplen;
	out->ts_us = ts_us;
	out->wire_len = wirelen;

	switch (linktype) {
	case DLT_EN10MB:
		if (caplen < ETH_HLEN_)
			return fail(ctr, CTR_PKT_TRUNC_LINK, -EMSGSIZE);
		return decode_ethertype(data, caplen, ETH_HLEN_,
					be16(data + 12), uncaptured, out, ctr);
	case DLT_LINUX_SLL:
		if (caplen < SLL_HLEN)
			return fail(ctr, CTR_PKT_TRUNC_LINK, -EMSGSIZE);
		return decode_ethertype(data, caplen, SLL_HLEN,
					be16(data + 14), uncaptured, out, ctr);
	case DLT_LINUX_SLL2:
		if (caplen < SLL2_HLEN)
			return fail(ctr, CTR_PKT_TRUNC_LINK, -EMSGSIZE);
		return decode_ethertype(data, caplen, SLL2_HLEN,
					be16(data), uncaptured, out, ctr);
	case DLT_RAW:
	case DECODE_LINKTYPE_RAW:
		return decode_ip_any(data, caplen, uncaptured, out, ctr);
	case DLT_IPV4:
		if (caplen >= 1 && data[0] >> 4 != 4)
			return fail(ctr, CTR_PKT_BAD_IP, -EINVAL);
		return decode_ipv4(data, caplen, uncaptured, out, ctr);
	case DLT_IPV6:
		if (caplen >= 1 && data[0] >> 4 != 6)
			return fail(ctr, CTR_PKT_BAD_IP, -EINVAL);
		return decode_ipv6(data, caplen, uncaptured, out, ctr);
	case DLT_NULL:
	case DLT_LOOP:
		return decode_null(data, caplen, uncaptured, out, ctr);
	default:
		return fail(ctr, CTR_PKT_LINKTYPE, -EPROTONOSUPPORT);
	}
}
