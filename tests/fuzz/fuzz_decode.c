/* fuzz_decode.c - libFuzzer target for decode_packet().
 *
 * Input: byte 0 picks the link type (low 4 bits) and how many bytes the
 * frame had on the wire beyond what was captured (high 4 bits, times 997,
 * so snaplen cuts of up to ~15 KB are exercised); the rest is the frame.
 * Besides "no crash, no read past caplen" (ASan), the contract of
 * decode.h is checked: a success points inside the frame and accounts for
 * exactly the bytes the wire had, a failure moves exactly one counter.
 */
#include <stdint.h>
#include <stdlib.h>
#include <pcap/dlt.h>

#include "decode.h"

static const int linktypes[16] = {
	DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_RAW,
	DECODE_LINKTYPE_RAW, DLT_IPV4, DLT_IPV6, DLT_NULL,
	DLT_LOOP, DLT_EN10MB, DLT_EN10MB, DLT_LINUX_SLL,
	DLT_RAW, DLT_NULL, DLT_EN10MB, 147 /* unsupported */
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rw_counters ctr = { { 0 } };
	struct pkt p;
	uint64_t total = 0;
	uint32_t caplen, wirelen;
	int rc;

	if (size < 1 || size > 1u << 20)
		return 0;
	caplen = (uint32_t)(size - 1);
	wirelen = caplen + (uint32_t)(data[0] >> 4) * 997;
	p.index = 77;
	rc = decode_packet(linktypes[data[0] & 15], data + 1, caplen, wirelen,
			   123, &p, &ctr);
	for (int i = 0; i < CTR__COUNT; i++)
		total += ctr.v[i];
	if (p.index != 77)
		abort();
	if (rc == 0) {
		const uint8_t *end = data + 1 + caplen;

		if (ctr.v[CTR_PKT_TCP] != 1 ||
		    total != 1 + (p.payload_missing != 0) ||
		    ctr.v[CTR_PKT_SNAP_CUT] != (p.payload_missing != 0))
			abort();
		if (p.payload < data + 1 || p.payload > end ||
		    p.payload_len > (size_t)(end - p.payload))
			abort();
		if (p.payload_missing > wirelen - caplen)
			abort();
		if (p.family != 4 && p.family != 6)
			abort();
		if (p.nvlan > PKT_MAX_VLAN || p.wire_len != wirelen)
			abort();
	} else {
		if (rc >= 0 || total != 1 || ctr.v[CTR_PKT_TCP] != 0)
			abort();
	}
	return 0;
}
