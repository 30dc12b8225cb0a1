/* csum.c - Internet checksums (see csum.h) */
#include "csum.h"

#include <string.h>

uint64_t csum_add(uint64_t sum, const uint8_t *d, size_t n)
{
	uint32_t w;

	/* 32-bit words into a 64-bit accumulator: no carry is lost before
	 * 2^32 words, far beyond a 64 KB segment */
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
