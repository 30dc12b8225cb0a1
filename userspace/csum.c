/* csum.c - Internet checksums (see csum.h) */
#include "csum.h"

#include <arpa/inet.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

uint64_t csum_add(uint64_t sum, const uint8_t *d, size_t n)
{
	uint64_t a = 0, b = 0, w0, w1;
	uint32_t w;

	/* 64-bit words, two accumulators, the carries folded back in (one's
	 * complement addition is end-around carry): about half the
	 * instructions of a 32-bit loop (__int128 accumulators compiled to
	 * more, measured with callgrind) */
	while (n >= 16) {
		memcpy(&w0, d, 8);
		memcpy(&w1, d + 8, 8);
		a += w0;
		a += a < w0;
		b += w1;
		b += b < w1;
		d += 16;
		n -= 16;
	}
	a = (a & 0xffffffff) + (a >> 32) + (b & 0xffffffff) + (b >> 32);
	sum += a;
	while (n >= 4) {
		memcpy(&w, d, 4);
		sum += w;
		d += 4;
		n -= 4;
	}
	if (n >= 2) {
		uint16_t h;
		memcpy(&h, d, 2);
		sum += h;
		d += 2;
		n -= 2;
	}
	if (n) {
		uint8_t last[2] = { d[0], 0 };
		uint16_t h;
		memcpy(&h, last, 2);
		sum += h;
	}
	return sum;
}

uint16_t csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

enum csum_result csum_check_pkt(const struct pkt *p)
{
	const uint8_t *tcp;
	uint32_t tcp_len;
	uint64_t s = 0;
	uint8_t ph[4];

	if (!p->l3 || p->payload_missing)
		return CSUM_UNKNOWN;
	tcp = p->l3 + p->l3_len;
	tcp_len = p->l4_len + p->payload_len;
	if (p->family == 4) {
		/* total length 0: a GSO super-packet of the capture host (its
		 * checksums are partial anyway), never a packet a receiver
		 * takes from the wire (ip_rcv drops it): judged like a bad
		 * checksum, so only an offloaded sender gets it through */
		if (!p->l3[2] && !p->l3[3])
			return CSUM_BAD_IP;
		if (csum_fold(csum_add(0, p->l3, p->l3_len)) != 0xffff)
			return CSUM_BAD_IP;
		s = csum_add(s, p->src, 4);
		s = csum_add(s, p->dst, 4);
	} else {
		s = csum_add(s, p->src, 16);
		s = csum_add(s, p->dst, 16);
	}
	/* pseudo-header: zero, protocol 6, TCP length (the 32-bit IPv6 form
	 * sums to the same value for lengths below 64 KB... and above: the
	 * high half is added as its own word) */
	ph[0] = (uint8_t)(tcp_len >> 24);
	ph[1] = (uint8_t)(tcp_len >> 16);
	ph[2] = (uint8_t)(tcp_len >> 8);
	ph[3] = (uint8_t)tcp_len;
	s = csum_add(s, ph, 4);
	ph[0] = 0;
	ph[1] = 6;
	s = csum_add(s, ph, 2);
	/* header and payload are contiguous in the frame */
	s = csum_add(s, tcp, tcp_len);
	return csum_fold(s) == 0xffff ? CSUM_GOOD : CSUM_BAD_TCP;
}

int csum_parse_mode(const char *s)
{
	if (!strcmp(s, "auto"))
		return CSUM_AUTO;
	if (!strcmp(s, "on"))
		return CSUM_ON;
	if (!strcmp(s, "off"))
		return CSUM_OFF;
	return -1;
}

void csum_table_init(struct csum_table *t, uint64_t key)
{
	memset(t, 0, sizeof(*t));
	t->key = key;
}

static struct csum_src *slot_of(struct csum_table *t, const uint8_t *addr)
{
	uint64_t a, b;

	memcpy(&a, addr, 8);
	memcpy(&b, addr + 8, 8);
	a = (a ^ t->key) * 0x9e3779b97f4a7c15ULL;
	a ^= (b ^ (t->key >> 7)) * 0xc2b2ae3d27d4eb4fULL;
	return &t->src[(a >> 58) & (CSUM_SOURCES - 1)];
}

/* the source's slot; NULL when an offloaded host holds it (it keeps it:
 * a flood of other sources cannot make the capture host's packets be
 * dropped again) */
static struct csum_src *find(struct csum_table *t, uint8_t family,
			     const uint8_t *addr)
{
	struct csum_src *s = slot_of(t, addr);

	if (s->family == family && !memcmp(s->addr, addr, 16))
		return s;
	if (s->offloaded)
		return NULL;
	memset(s, 0, sizeof(*s));
	s->family = family;
	memcpy(s->addr, addr, 16);
	return s;
}

int csum_table_note(struct csum_table *t, const struct pkt *p,
		    enum csum_result r, unsigned min_bad, int flow_verified,
		    int *became_offloaded)
{
	int evidence = csum_evidence(p);
	struct csum_src *s = find(t, p->family, p->src);

	*became_offloaded = 0;
	if (s && evidence) {
		if (r == CSUM_GOOD && s->good < UINT16_MAX)
			s->good++;
		else if (r != CSUM_GOOD && s->bad < UINT16_MAX)
			s->bad++;
	}
	if (r == CSUM_GOOD)
		return CSUM_KEEP;
	if (s && s->offloaded)
		return CSUM_KEEP_OFFLOAD;
	if (s && s->bad >= min_bad && s->bad >= s->good) {
		s->offloaded = 1;
		*became_offloaded = 1;
		return CSUM_KEEP_OFFLOAD;
	}
	/* a sender that proved it computes checksums (on this flow, or
	 * from this address) does not send bad ones: an insertion */
	if (flow_verified || (s && s->good))
		return CSUM_DROP;
	return CSUM_KEEP_UNPROVEN;
}

void csum_table_merge(struct csum_table *to, const struct csum_table *from)
{
	for (int i = 0; i < CSUM_SOURCES; i++) {
		const struct csum_src *f = &from->src[i];
		struct csum_src *s;

		if (!f->offloaded)
			continue;
		s = find(to, f->family, f->addr);
		if (s)
			s->offloaded = 1;
	}
}

unsigned csum_table_offloaded(const struct csum_table *t)
{
	unsigned n = 0;

	for (int i = 0; i < CSUM_SOURCES; i++)
		n += t->src[i].offloaded;
	return n;
}

void csum_say_offload(uint8_t family, const uint8_t *addr)
{
	static _Atomic int said;
	char buf[64] = "?";

	if (atomic_exchange(&said, 1))
		return;
	inet_ntop(family == 4 ? AF_INET : AF_INET6, addr, buf, sizeof(buf));
	fprintf(stderr, "relaywatch: most packets from %s carry a wrong "
		"checksum: captured on the sending host with checksum offload "
		"(or after GRO); that host's checksums are no longer checked "
		"(--checksum on checks them all)\n", buf);
}

void csum_table_say(const struct csum_table *t)
{
	for (int i = 0; i < CSUM_SOURCES; i++)
		if (t->src[i].offloaded) {
			csum_say_offload(t->src[i].family, t->src[i].addr);
			return;
		}
}
