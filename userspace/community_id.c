/* community_id.c - Community ID v1; see community_id.h.
 *
 * Computed once per flow (records carry the flow's cached string), so a
 * one-shot EVP_Digest per call is cheap enough; no context is kept and
 * the function is safe to call from any worker thread.
 */
#include "community_id.h"

#include <errno.h>
#include <string.h>
#include <openssl/evp.h>

#define SHA1_LEN 20

static int proto_has_ports(uint8_t proto)
{
	return proto == 6 || proto == 17 || proto == 132;
}

int community_id_v1_tuple(int family, const uint8_t *saddr,
			  const uint8_t *daddr, uint16_t sport, uint16_t dport,
			  uint8_t proto, uint16_t seed, char *out, size_t cap)
{
	/* seed(2) + 2 * addr(16) + proto(1) + pad(1) + 2 * port(2) */
	uint8_t buf[2 + 32 + 2 + 4], md[SHA1_LEN];
	const uint8_t *a = saddr, *b = daddr;
	uint16_t pa = sport, pb = dport;
	unsigned int mdlen = 0;
	size_t alen, n = 0;
	int c;

	if (out && cap > 0)
		out[0] = '\0';
	if (family == 4)
		alen = 4;
	else if (family == 6)
		alen = 16;
	else
		return -EINVAL;
	if (!saddr || !daddr)
		return -EINVAL;
	if (proto == 1 || proto == 58)
		return -EPROTONOSUPPORT;
	if (!out || cap < COMMUNITY_ID_LEN)
		return -ENOSPC;

	/* smaller endpoint first, so both directions hash alike */
	c = memcmp(saddr, daddr, alen);
	if (c > 0 || (c == 0 && sport > dport)) {
		a = daddr;
		b = saddr;
		pa = dport;
		pb = sport;
	}
	buf[n++] = (uint8_t)(seed >> 8);
	buf[n++] = (uint8_t)seed;
	memcpy(buf + n, a, alen);
	n += alen;
	memcpy(buf + n, b, alen);
	n += alen;
	buf[n++] = proto;
	buf[n++] = 0;
	if (proto_has_ports(proto)) {
		buf[n++] = (uint8_t)(pa >> 8);
		buf[n++] = (uint8_t)pa;
		buf[n++] = (uint8_t)(pb >> 8);
		buf[n++] = (uint8_t)pb;
	}
	if (!EVP_Digest(buf, n, md, &mdlen, EVP_sha1(), NULL) ||
	    mdlen != SHA1_LEN)
		return -EIO;
	out[0] = '1';
	out[1] = ':';
	/* 20 bytes -> 28 characters + NUL, fits COMMUNITY_ID_LEN - 2 */
	if (EVP_EncodeBlock((unsigned char *)out + 2, md, SHA1_LEN) != 28) {
		out[0] = '\0';
		return -EIO;
	}
	return 0;
}

int community_id_v1(const struct pkt *p, uint16_t seed, char *out, size_t cap)
{
	return community_id_v1_tuple(p->family, p->src, p->dst, p->sport,
				     p->dport, 6, seed, out, cap);
}
