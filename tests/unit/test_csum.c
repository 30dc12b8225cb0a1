/* test_csum.c - checksums of real frames (a fixture captured with
 * offloads off: every checksum is right), a flipped bit in each header,
 * and the offload table's policy (csum.h) */
#include <pcap/pcap.h>
#include <stdlib.h>
#include "t.h"
#include "csum.h"
#include "decode.h"

#define FIXTURE "tests/fixtures/smtp/open_relay.pcap"

static uint8_t frames[64][2048];
static uint32_t lens[64];
static int nframes;
static int linktype;

static void load(void)
{
	char eb[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *b;
	pcap_t *p = pcap_open_offline(FIXTURE, eb);

	if (!p)
		return;
	linktype = pcap_datalink(p);
	while (nframes < 64 && pcap_next_ex(p, &h, &b) == 1) {
		if (h->caplen > sizeof(frames[0]))
			continue;
		memcpy(frames[nframes], b, h->caplen);
		lens[nframes++] = h->caplen;
	}
	pcap_close(p);
}

static int dec(int i, struct pkt *p)
{
	p->index = 0;
	return decode_packet(linktype, frames[i], lens[i], lens[i], 0, p, NULL);
}

TEST(real_frames_are_good)
{
	struct pkt p;
	int n = 0;

	CHECK(nframes > 10);
	for (int i = 0; i < nframes; i++) {
		if (dec(i, &p) < 0)
			continue;
		CHECK_INT(csum_check_pkt(&p), CSUM_GOOD);
		n++;
	}
	CHECK(n > 10);
}

TEST(flipped_bits_are_bad)
{
	struct pkt p;
	int i;

	for (i = 0; i < nframes; i++)
		if (dec(i, &p) == 0 && p.payload_len > 4)
			break;
	CHECK(i < nframes);
	frames[i][lens[i] - 1] ^= 0x20;            /* last payload byte */
	CHECK(dec(i, &p) == 0);
	CHECK_INT(csum_check_pkt(&p), CSUM_BAD_TCP);
	frames[i][lens[i] - 1] ^= 0x20;
	frames[i][14 + 8] ^= 1;                     /* IPv4 TTL */
	CHECK(dec(i, &p) == 0);
	CHECK_INT(csum_check_pkt(&p), CSUM_BAD_IP);
	frames[i][14 + 8] ^= 1;
	CHECK(dec(i, &p) == 0);
	CHECK_INT(csum_check_pkt(&p), CSUM_GOOD);
	/* cut by the snaplen: cannot be checked */
	p.index = 0;
	CHECK(decode_packet(linktype, frames[i], lens[i] - 2, lens[i], 0, &p,
			    NULL) == 0);
	CHECK_INT(csum_check_pkt(&p), CSUM_UNKNOWN);
	/* no headers (the eBPF ring) */
	CHECK(dec(i, &p) == 0);
	p.l3 = NULL;
	CHECK_INT(csum_check_pkt(&p), CSUM_UNKNOWN);
}

static struct pkt src_pkt(uint8_t last, int payload)
{
	struct pkt p;

	memset(&p, 0, sizeof(p));
	p.family = 4;
	p.src[0] = 10;
	p.src[3] = last;
	p.payload_len = payload ? 10 : 0;
	return p;
}

/* a sender that never sent a good checksum is kept (unproven); one that
 * did is dropped (an insertion), on its flow or from its address; a
 * source is judged offloaded after CSUM_OFFLOAD_MIN bad evidence packets
 * that are half or more of its evidence; pure ACKs are no evidence */
TEST(offload_policy)
{
	struct csum_table t;
	struct pkt a = src_pkt(1, 1), ack = src_pkt(1, 0), b = src_pkt(2, 1);
	struct pkt c = src_pkt(3, 1);
	int now, said = 0, unproven = 0, off = 0;

	csum_table_init(&t, 42);
	for (int i = 0; i < 20; i++)
		CHECK_INT(csum_table_note(&t, &ack, CSUM_BAD_TCP, 8, 0, &now),
			  CSUM_KEEP_UNPROVEN);
	for (int i = 0; i < CSUM_OFFLOAD_MIN; i++) {
		int v = csum_table_note(&t, &a, CSUM_BAD_TCP, 8, 0, &now);
		unproven += v == CSUM_KEEP_UNPROVEN;
		off += v == CSUM_KEEP_OFFLOAD;
		said += now;
	}
	CHECK_INT(unproven, CSUM_OFFLOAD_MIN - 1);
	CHECK_INT(off, 1);                 /* the 8th: judged offloaded */
	CHECK_INT(said, 1);
	CHECK_INT(csum_table_offloaded(&t), 1);
	/* offloaded: kept even on a flow that had a good one (GRO) */
	CHECK_INT(csum_table_note(&t, &a, CSUM_BAD_TCP, 8, 1, &now),
		  CSUM_KEEP_OFFLOAD);
	CHECK_INT(now, 0);
	/* a sender that sends good packets: its few bad ones are dropped */
	for (int i = 0; i < 50; i++)
		CHECK_INT(csum_table_note(&t, &b, CSUM_GOOD, 8, 0, &now),
			  CSUM_KEEP);
	for (int i = 0; i < 20; i++)
		CHECK_INT(csum_table_note(&t, &b, CSUM_BAD_TCP, 8, 0, &now),
			  CSUM_DROP);
	CHECK_INT(csum_table_offloaded(&t), 1);
	/* unknown address, but its flow direction had a good one */
	CHECK_INT(csum_table_note(&t, &c, CSUM_BAD_TCP, 8, 1, &now), CSUM_DROP);
	/* merging keeps the offloaded sources only */
	struct csum_table u;
	csum_table_init(&u, 7);
	csum_table_merge(&u, &t);
	CHECK_INT(csum_table_offloaded(&u), 1);
	CHECK_INT(csum_table_note(&u, &a, CSUM_BAD_TCP, 8, 1, &now),
		  CSUM_KEEP_OFFLOAD);
	CHECK_INT(csum_table_note(&u, &b, CSUM_BAD_TCP, 8, 1, &now), CSUM_DROP);
}

TEST(parse_mode)
{
	CHECK_INT(csum_parse_mode("auto"), CSUM_AUTO);
	CHECK_INT(csum_parse_mode("on"), CSUM_ON);
	CHECK_INT(csum_parse_mode("off"), CSUM_OFF);
	CHECK_INT(csum_parse_mode("yes"), -1);
}

int main(void)
{
	load();
	RUN(real_frames_are_good);
	RUN(flipped_bits_are_bad);
	RUN(offload_policy);
	RUN(parse_mode);
	return t_done();
}
