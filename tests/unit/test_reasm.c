/* test_reasm.c - reassembly: order, retransmission, overlap, gaps, wrap */
#include <stdlib.h>
#include "t.h"
#include "reasm.h"

/* collects the delivered stream; a gap is written as '#' per lost byte */
static char got[1 << 16];
static size_t got_len;

static void on_data(void *arg, int dir, const uint8_t *d, size_t n, uint64_t ts)
{
	(void)arg; (void)dir; (void)ts;
	memcpy(got + got_len, d, n);
	got_len += n;
	got[got_len] = 0;
}

static void on_gap(void *arg, int dir, size_t n, uint64_t ts)
{
	(void)arg; (void)dir; (void)ts;
	memset(got + got_len, '#', n);
	got_len += n;
	got[got_len] = 0;
}

static const struct reasm_out out = { NULL, on_data, on_gap };
static struct reasm_ctx rc;
static struct rw_counters ctr;

static void setup(uint32_t dir_cap)
{
	reasm_ctx_destroy(&rc);
	memset(&ctr, 0, sizeof(ctr));
	reasm_ctx_init(&rc, 1 << 20, dir_cap, &ctr);
	got_len = 0;
	got[0] = 0;
}

static void seg(struct reasm_dir *rd, uint32_t seq, const char *s)
{
	reasm_segment(&rc, rd, 0, seq, (const uint8_t *)s,
		      (uint32_t)strlen(s), 0, 0, 0, &out);
}

TEST(in_order)
{
	struct reasm_dir rd = {0};
	setup(1 << 16);
	reasm_dir_start(&rd, 100);
	seg(&rd, 100, "HELO ");
	seg(&rd, 105, "x\r\n");
	CHECK_STR(got, "HELO x\r\n");
}

TEST(out_of_order_and_retransmission)
{
	struct reasm_dir rd = {0};
	setup(1 << 16);
	reasm_dir_start(&rd, 1);
	seg(&rd, 6, "world");
	seg(&rd, 11, "!");
	CHECK_STR(got, "");
	seg(&rd, 1, "hello");
	CHECK_STR(got, "helloworld!");
	seg(&rd, 1, "hello");            /* retransmission */
	CHECK_STR(got, "helloworld!");
	CHECK_INT(ctr.v[CTR_RA_RETRANS], 1);
	CHECK_INT(rd.ooo_bytes, 0);
}

TEST(overlap_first_wins)
{
	struct reasm_dir rd = {0};
	setup(1 << 16);
	reasm_dir_start(&rd, 0);
	seg(&rd, 4, "EFGH");             /* buffered first */
	seg(&rd, 2, "xxxxYY");           /* covers 2..7: 4..7 already held */
	seg(&rd, 0, "AB");
	CHECK_STR(got, "ABxxEFGH");
	seg(&rd, 6, "zzzzIJ");           /* overlaps delivered bytes */
	CHECK_STR(got, "ABxxEFGHzzIJ");
	CHECK(ctr.v[CTR_RA_OVERLAP] >= 2);
}

TEST(bytes_reversed_one_at_a_time)
{
	struct reasm_dir rd = {0};
	const char *msg = "MAIL FROM:<a@b>\r\n";
	size_t n = strlen(msg);
	setup(1 << 16);
	reasm_dir_start(&rd, 7);
	for (size_t i = n; i-- > 1;) {
		char c[2] = { msg[i], 0 };
		seg(&rd, 7 + (uint32_t)i, c);
	}
	CHECK_STR(got, "");
	char c0[2] = { msg[0], 0 };
	seg(&rd, 7, c0);
	CHECK_STR(got, msg);
}

TEST(sequence_wrap)
{
	struct reasm_dir rd = {0};
	setup(1 << 16);
	reasm_dir_start(&rd, 0xfffffffd);
	seg(&rd, 0x00000002, "DEF");     /* after the wrap, early */
	seg(&rd, 0xfffffffd, "ABCde");   /* crosses 2^32 */
	CHECK_STR(got, "ABCdeDEF");
}

TEST(ack_beyond_hole_is_a_gap)
{
	struct reasm_dir rd = {0};
	setup(1 << 16);
	reasm_dir_start(&rd, 0);
	seg(&rd, 0, "abc");
	seg(&rd, 6, "ghi");
	reasm_ack(&rc, &rd, 0, 9, 0, &out); /* peer got everything */
	CHECK_STR(got, "abc###ghi");
	CHECK_INT(ctr.v[CTR_RA_GAP], 1);
	CHECK_INT(ctr.v[CTR_RA_GAP_BYTES], 3);
	/* an ACK for bytes never seen: believed only up to what was seen
	 * (a forged one must not make the engine skip what comes next) */
	reasm_ack(&rc, &rd, 0, 12, 0, &out);
	CHECK_STR(got, "abc###ghi");
	CHECK_INT(ctr.v[CTR_TCP_ACK_BEYOND], 1);
	CHECK(rd.anomalies & REASM_ANOM_ACK_BEYOND);
	seg(&rd, 9, "jkl");              /* the data does come */
	CHECK_STR(got, "abc###ghijkl");
	/* a real loss: the data after the hole shows the sender got there */
	seg(&rd, 15, "pq");
	reasm_ack(&rc, &rd, 0, 17, 0, &out);
	CHECK_STR(got, "abc###ghijkl###pq");
}

/* A second copy of bytes with other content: first wins, flagged */
TEST(overlap_conflict_flagged)
{
	struct reasm_dir rd = {0};
	setup(1 << 16);
	reasm_dir_start(&rd, 0);
	seg(&rd, 0, "RCPT TO:<a@lan>\r\n");
	seg(&rd, 0, "RCPT TO:<a@lan>\r\n");       /* same bytes: fine */
	CHECK_INT(ctr.v[CTR_RA_OVERLAP_CONFLICT], 0);
	seg(&rd, 0, "RCPT TO:<v@far>\r\n");       /* other bytes */
	CHECK_INT(ctr.v[CTR_RA_OVERLAP_CONFLICT], 1);
	CHECK(rd.anomalies & REASM_ANOM_OVERLAP_CONFLICT);
	CHECK_STR(got, "RCPT TO:<a@lan>\r\n");
	/* against buffered out-of-order bytes */
	memset(&rd, 0, sizeof(rd));
	setup(1 << 16);
	reasm_dir_start(&rd, 0);
	seg(&rd, 4, "WXYZ");
	seg(&rd, 4, "WXYZ");
	CHECK_INT(ctr.v[CTR_RA_OVERLAP_CONFLICT], 0);
	seg(&rd, 2, "..wxyz");
	CHECK_INT(ctr.v[CTR_RA_OVERLAP_CONFLICT], 1);
	seg(&rd, 0, "ab");
	CHECK_STR(got, "ab..WXYZ");
	reasm_release(&rc, &rd);
}

/* Tiny out-of-order segments: memory is counted in blocks, so the
 * per-direction cap bounds the blocks; the rest is a counted gap */
TEST(tiny_segments_capped_in_blocks)
{
	struct reasm_dir rd = {0};
	uint8_t b = 'x';

	setup(8 * (uint32_t)sizeof(struct reasm_seg));
	reasm_dir_start(&rd, 0);
	for (uint32_t i = 1000; i > 0; i--)
		reasm_segment(&rc, &rd, 0, i, &b, 1, 0, 0, 0, &out);
	CHECK(rc.segs.in_use <= 8);
	CHECK(ctr.v[CTR_RA_FLOW_CAP] > 0);
	CHECK(rd.ooo_mem <= 8 * sizeof(struct reasm_seg));
	/* forward with holes, one byte each: appends share blocks */
	memset(&rd, 0, sizeof(rd));
	setup(8 * (uint32_t)sizeof(struct reasm_seg));
	reasm_dir_start(&rd, 0);
	for (uint32_t i = 1; i < 4000; i++)
		reasm_segment(&rc, &rd, 0, i, &b, 1, 0, 0, 0, &out);
	CHECK_INT(ctr.v[CTR_RA_FLOW_CAP], 0);
	CHECK(rc.segs.in_use <= 2);
	reasm_segment(&rc, &rd, 0, 0, &b, 1, 0, 0, 0, &out);
	CHECK_INT(got_len, 4000);
	CHECK_INT(rc.segs.in_use, 0);
}

TEST(fin_is_not_a_gap)
{
	struct reasm_dir rd = {0};
	setup(1 << 16);
	reasm_dir_start(&rd, 0);
	reasm_segment(&rc, &rd, 0, 0, (const uint8_t *)"bye", 3, 0, 1, 0, &out);
	reasm_ack(&rc, &rd, 0, 4, 0, &out);  /* ACK of the FIN */
	CHECK_STR(got, "bye");
	CHECK_INT(ctr.v[CTR_RA_GAP], 0);
}

/* A cap never gives up a hole (a sender flooding segments beyond it
 * must not make the engine skip bytes the receiver takes): the highest
 * blocks above a new segment are pruned, else the new segment is
 * dropped; the receiver's ACK later declares what was dropped lost. */
TEST(per_direction_cap_keeps_the_hole)
{
	struct reasm_dir rd = {0};
	setup(2 * (uint32_t)sizeof(struct reasm_seg));
	reasm_dir_start(&rd, 0);
	seg(&rd, 100, "C");
	seg(&rd, 200, "D");
	seg(&rd, 300, "E");              /* above both: dropped */
	CHECK(ctr.v[CTR_RA_FLOW_CAP] >= 1);
	CHECK_INT(got_len, 0);           /* still waiting for the hole */
	seg(&rd, 50, "B");               /* below: the top block (D) goes */
	CHECK_INT(ctr.v[CTR_RA_PRUNED], 1);
	CHECK_INT(rc.segs.in_use, 2);
	seg(&rd, 0, "A");                /* in order: the hole fills */
	CHECK_INT(got_len, 1);
	reasm_ack(&rc, &rd, 0, 301, 0, &out); /* the receiver got it all */
	CHECK_INT(got_len, 301);
	CHECK(got[0] == 'A' && got[50] == 'B' && got[100] == 'C');
	CHECK(got[200] == '#' && got[300] == '#');
	CHECK_INT(rd.ooo_bytes, 0);
	/* far beyond any window: dropped, not counted as sent */
	seg(&rd, 301 + REASM_WINDOW_MAX + 10, "Z");
	CHECK_INT(ctr.v[CTR_RA_OUT_OF_WINDOW], 1);
	CHECK(rd.hi_seq == 301 || rd.hi_seq == 302);
}

TEST(snaplen_cut_reports_missing_bytes)
{
	struct reasm_dir rd = {0};
	setup(1 << 16);
	reasm_dir_start(&rd, 0);
	reasm_segment(&rc, &rd, 0, 0, (const uint8_t *)"abc", 3, 4, 0, 0, &out);
	seg(&rd, 7, "Z");
	CHECK_STR(got, "abc####Z");
}

TEST(flush_delivers_buffered_with_gaps)
{
	struct reasm_dir rd = {0};
	setup(1 << 16);
	reasm_dir_start(&rd, 0);
	seg(&rd, 2, "cd");
	seg(&rd, 6, "gh");
	reasm_flush(&rc, &rd, 0, 0, &out);
	CHECK_STR(got, "##cd##gh");
	CHECK_INT(rc.segs.in_use, 0);
}

TEST(random_segmentation_equals_stream)
{
	char stream[4000];
	struct reasm_dir rd = {0};
	uint32_t isn = 0xffffff00;   /* wraps midway */

	srand(7);
	for (size_t i = 0; i < sizeof(stream); i++)
		stream[i] = (char)('a' + i % 26);
	for (int round = 0; round < 50; round++) {
		setup(1 << 22);
		memset(&rd, 0, sizeof(rd));
		reasm_dir_start(&rd, isn);
		/* random segments, random order, with duplicates */
		for (int k = 0; k < 400; k++) {
			size_t off = (size_t)rand() % sizeof(stream);
			size_t len = 1 + (size_t)rand() % 200;
			if (off + len > sizeof(stream))
				len = sizeof(stream) - off;
			reasm_segment(&rc, &rd, 0, isn + (uint32_t)off,
				      (const uint8_t *)stream + off,
				      (uint32_t)len, 0, 0, 0, &out);
		}
		/* then everything once, in order */
		reasm_segment(&rc, &rd, 0, isn, (const uint8_t *)stream,
			      sizeof(stream), 0, 0, 0, &out);
		CHECK_INT(got_len, sizeof(stream));
		CHECK(memcmp(got, stream, sizeof(stream)) == 0);
		CHECK_INT(rc.segs.in_use, 0);
	}
}

int main(void)
{
	RUN(in_order);
	RUN(overlap_conflict_flagged);
	RUN(tiny_segments_capped_in_blocks);
	RUN(out_of_order_and_retransmission);
	RUN(overlap_first_wins);
	RUN(bytes_reversed_one_at_a_time);
	RUN(sequence_wrap);
	RUN(ack_beyond_hole_is_a_gap);
	RUN(fin_is_not_a_gap);
	RUN(per_direction_cap_keeps_the_hole);
	RUN(snaplen_cut_reports_missing_bytes);
	RUN(flush_delivers_buffered_with_gaps);
	RUN(random_segmentation_equals_stream);
	reasm_ctx_destroy(&rc);
	return t_done();
}
