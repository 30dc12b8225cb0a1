/* reasm.c - TCP stream reassembly (see reasm.h for the policies) */
#include "reasm.h"

#include <string.h>

static inline int32_t seqdiff(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b);
}

int reasm_ctx_init(struct reasm_ctx *rc, size_t mem_cap_bytes,
		   uint32_t dir_cap, struct rw_counters *ctr)
{
	size_t n = mem_cap_bytes / sizeof(struct reasm_seg);

	rc->dir_cap = dir_cap;
	rc->ctr = ctr;
	return pool_init(&rc->segs, sizeof(struct reasm_seg), n ? n : 1);
}

void reasm_ctx_destroy(struct reasm_ctx *rc)
{
	pool_destroy(&rc->segs);
}

void reasm_dir_start(struct reasm_dir *rd, uint32_t next_seq)
{
	rd->next_seq = next_seq;
	if (!rd->init || seqdiff(next_seq, rd->hi_seq) > 0)
		rd->hi_seq = next_seq;
	rd->init = 1;
}

/* Fingerprint of a delivered segment: its first 64 bytes and its last 8,
 * with its length. Bounded cost whatever the size (GSO segments are 64
 * KB; a command line fits whole); a retransmission of the same (seq, len)
 * with other bytes in the part hashed is an overlap conflict. */
static uint64_t seg_fp(const uint8_t *d, uint32_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ n, w;
	uint32_t m = n < 64 ? n : 64, i;

	for (i = 0; i + 8 <= m; i += 8) {
		memcpy(&w, d + i, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
	}
	for (; i < m; i++)
		h = (h ^ d[i]) * 0x100000001b3ULL;
	if (n >= 8) {
		memcpy(&w, d + n - 8, 8);
		h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
	}
	return h ^ (h >> 29);
}

static void conflict(struct reasm_ctx *rc, struct reasm_dir *rd)
{
	ctr_inc(rc->ctr, CTR_RA_OVERLAP_CONFLICT);
	rd->anomalies |= REASM_ANOM_OVERLAP_CONFLICT;
}

/* [seq, seq+len) of a new copy against the buffered blocks it overlaps */
static void check_buffered(struct reasm_ctx *rc, struct reasm_dir *rd,
			   uint32_t seq, const uint8_t *d, uint32_t len)
{
	for (struct reasm_seg *s = rd->ooo; s; s = s->next) {
		int32_t lo, hi;

		if (seqdiff(s->seq, seq + len) >= 0)
			break;
		if (seqdiff(s->seq + s->len, seq) <= 0)
			continue;
		lo = seqdiff(s->seq, seq) > 0 ? seqdiff(s->seq, seq) : 0;
		hi = seqdiff(s->seq + s->len, seq) < (int32_t)len ?
		     seqdiff(s->seq + s->len, seq) : (int32_t)len;
		if (memcmp(d + lo, s->data + (uint32_t)(seq + (uint32_t)lo -
							s->seq),
			   (size_t)(hi - lo))) {
			conflict(rc, rd);
			return;
		}
	}
}

static void emit_gap(struct reasm_ctx *rc, struct reasm_dir *rd, int dir,
		     uint32_t n, uint64_t ts, const struct reasm_out *out)
{
	if (!n)
		return;
	ctr_inc(rc->ctr, CTR_RA_GAP);
	ctr_add(rc->ctr, CTR_RA_GAP_BYTES, n);
	rd->next_seq += n;
	out->gap(out->arg, dir, n, ts);
}

static void emit_data(struct reasm_ctx *rc, struct reasm_dir *rd, int dir,
		      const uint8_t *d, uint32_t n, uint64_t ts,
		      const struct reasm_out *out)
{
	if (!n)
		return;
	ctr_add(rc->ctr, CTR_RA_BYTES, n);
	rd->last_seq = rd->next_seq;
	rd->last_len = n;
	rd->last_fp = seg_fp(d, n);
	rd->next_seq += n;
	out->data(out->arg, dir, d, n, ts);
}

/* deliver buffered blocks that are now in order */
static void drain(struct reasm_ctx *rc, struct reasm_dir *rd, int dir,
		  uint64_t ts, const struct reasm_out *out)
{
	struct reasm_seg *s;

	while ((s = rd->ooo) && seqdiff(s->seq, rd->next_seq) <= 0) {
		int32_t skip = seqdiff(rd->next_seq, s->seq);

		rd->ooo = s->next;
		if (!rd->ooo)
			rd->ooo_tail = NULL;
		rd->ooo_bytes -= s->len;
		rd->ooo_mem -= (uint32_t)sizeof(*s);
		if ((uint32_t)skip < s->len)
			emit_data(rc, rd, dir, s->data + skip,
				  s->len - (uint32_t)skip, ts, out);
		pool_put(&rc->segs, s);
	}
}

/* Give up on the hole before the first buffered block. */
static void skip_hole(struct reasm_ctx *rc, struct reasm_dir *rd, int dir,
		      uint64_t ts, const struct reasm_out *out)
{
	if (!rd->ooo)
		return;
	emit_gap(rc, rd, dir, (uint32_t)seqdiff(rd->ooo->seq, rd->next_seq),
		 ts, out);
	drain(rc, rd, dir, ts, out);
}

/* Free the highest buffered block if it starts above seq. 1 if one was
 * freed. The walk to its predecessor is bounded by the blocks a direction
 * may hold (dir_cap / block). */
static int drop_top(struct reasm_ctx *rc, struct reasm_dir *rd, uint32_t seq)
{
	struct reasm_seg *t = rd->ooo_tail, **pp = &rd->ooo, *prev = NULL;

	if (!t || seqdiff(t->seq, seq) <= 0)
		return 0;
	while (*pp != t) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	*pp = NULL;
	rd->ooo_tail = prev;
	rd->ooo_bytes -= t->len;
	rd->ooo_mem -= (uint32_t)sizeof(*t);
	pool_put(&rc->segs, t);
	ctr_inc(rc->ctr, CTR_RA_PRUNED);
	return 1;
}

/* Buffer [seq, seq+len) minus what is already buffered (first wins).
 * Returns 0, or -1 if a cap stopped it (the rest was not stored). */
static int buffer_range(struct reasm_ctx *rc, struct reasm_dir *rd,
			uint32_t seq, const uint8_t *d, uint32_t len)
{
	struct reasm_seg **pp = &rd->ooo, *prev = NULL;
	struct reasm_seg *t = rd->ooo_tail;

	/* appending after the last block (the common case after a hole):
	 * no walk, nothing to compare */
	if (t && seqdiff(seq, t->seq + t->len) >= 0) {
		pp = &t->next;
		prev = t;
	} else {
		check_buffered(rc, rd, seq, d, len);
	}
	while (len) {
		struct reasm_seg *cur = *pp;
		uint32_t take = len;

		/* skip blocks entirely before seq */
		if (cur && seqdiff(cur->seq + cur->len, seq) <= 0) {
			prev = cur;
			pp = &cur->next;
			continue;
		}
		/* overlap with cur: drop our covered part */
		if (cur && seqdiff(cur->seq, seq) <= 0) {
			uint32_t cov = (uint32_t)seqdiff(cur->seq + cur->len, seq);
			if (cov > len)
				cov = len;
			ctr_inc(rc->ctr, CTR_RA_OVERLAP);
			seq += cov;
			d += cov;
			len -= cov;
			prev = cur;
			pp = &cur->next;
			continue;
		}
		/* new bytes before cur (or at the end) */
		if (cur && seqdiff(cur->seq, seq) < (int32_t)take) {
			take = (uint32_t)seqdiff(cur->seq, seq);
			ctr_inc(rc->ctr, CTR_RA_OVERLAP);
		}
		/* they continue the previous block: fill its room first */
		if (prev && prev->seq + prev->len == seq &&
		    prev->len < REASM_BLOCK_DATA) {
			uint32_t k = REASM_BLOCK_DATA - prev->len;
			if (k > take)
				k = take;
			memcpy(prev->data + prev->len, d, k);
			prev->len += k;
			rd->ooo_bytes += k;
			seq += k;
			d += k;
			len -= k;
			continue;
		}
		if (take > REASM_BLOCK_DATA)
			take = REASM_BLOCK_DATA;
		if (rd->ooo_mem + sizeof(struct reasm_seg) > rc->dir_cap) {
			ctr_inc(rc->ctr, CTR_RA_FLOW_CAP);
			return -1;
		}
		struct reasm_seg *s = pool_get(&rc->segs);
		if (!s) {
			ctr_inc(rc->ctr, CTR_RA_POOL_CAP);
			return -1;
		}
		s->seq = seq;
		s->len = take;
		memcpy(s->data, d, take);
		s->next = cur;
		*pp = s;
		if (!cur)
			rd->ooo_tail = s;
		prev = s;
		pp = &s->next;
		rd->ooo_bytes += take;
		rd->ooo_mem += (uint32_t)sizeof(*s);
		seq += take;
		d += take;
		len -= take;
	}
	return 0;
}

void reasm_segment(struct reasm_ctx *rc, struct reasm_dir *rd, int dir,
		   uint32_t seq, const uint8_t *d, uint32_t len,
		   uint32_t missing, int fin, uint64_t ts,
		   const struct reasm_out *out)
{
	uint32_t total = len + missing;
	int32_t rel;

	/* far beyond anything a receiver's window takes: the receiver drops
	 * it, so it neither counts as sent (hi_seq) nor takes buffer */
	if (rd->init && seqdiff(seq, rd->next_seq) > (int32_t)REASM_WINDOW_MAX) {
		ctr_inc(rc->ctr, CTR_RA_OUT_OF_WINDOW);
		return;
	}
	if (fin && !rd->fin) {
		rd->fin = 1;
		rd->fin_seq = seq + total;
	}
	if (!total) {
		/* the FIN takes a sequence number: a RST after it is at
		 * fin_seq + 1 */
		if (fin && rd->init && seqdiff(rd->fin_seq + 1, rd->hi_seq) > 0)
			rd->hi_seq = rd->fin_seq + 1;
		return;
	}
	ctr_inc(rc->ctr, CTR_RA_SEGMENTS);
	if (!rd->init)
		reasm_dir_start(rd, seq);
	if (seqdiff(seq + total + (fin ? 1u : 0u), rd->hi_seq) > 0)
		rd->hi_seq = seq + total + (fin ? 1u : 0u);
	rel = seqdiff(seq, rd->next_seq);
	if (rel < 0) {
		uint32_t old = rd->next_seq - seq;  /* no -INT32_MIN */
		if (old >= total) {
			ctr_inc(rc->ctr, CTR_RA_RETRANS);
			/* the same segment again, with other bytes? */
			if (seq == rd->last_seq && len == rd->last_len &&
			    !missing && len && seg_fp(d, len) != rd->last_fp)
				conflict(rc, rd);
			return;
		}
		ctr_inc(rc->ctr, CTR_RA_OVERLAP);
		seq += old;
		if (old >= len) {
			missing -= old - len;
			d += len;
			len = 0;
		} else {
			d += old;
			len -= old;
		}
		rel = 0;
	}
	if (rel == 0) {
		ctr_inc(rc->ctr, CTR_RA_INORDER);
		/* buffered blocks this segment also covers: first wins, but
		 * the in-order bytes are the same stream position, so deliver
		 * ours up to the first buffered block, then drain */
		uint32_t upto = len;
		if (rd->ooo && seqdiff(rd->ooo->seq, seq) < (int32_t)len) {
			upto = (uint32_t)seqdiff(rd->ooo->seq, seq);
			check_buffered(rc, rd, seq, d, len);
		}
		emit_data(rc, rd, dir, d, upto, ts, out);
		if (upto == len && missing) {
			uint32_t m = missing;
			if (rd->ooo && seqdiff(rd->ooo->seq, rd->next_seq) < (int32_t)m)
				m = (uint32_t)seqdiff(rd->ooo->seq, rd->next_seq);
			emit_gap(rc, rd, dir, m, ts, out);
		}
		drain(rc, rd, dir, ts, out);
		/* the part of ours beyond the buffered blocks, if any */
		if (upto < len && seqdiff(seq + len, rd->next_seq) > 0) {
			uint32_t off = (uint32_t)seqdiff(rd->next_seq, seq);
			reasm_segment(rc, rd, dir, rd->next_seq, d + off,
				      len - off, missing, 0, ts, out);
		}
		return;
	}
	ctr_inc(rc->ctr, CTR_RA_OOO);
	/* Cap hit: keep waiting for the hole (only the receiver's ACK or
	 * the flow's end declares it lost: a sender cannot make the engine
	 * skip bytes the receiver will take by flooding it with segments
	 * beyond them). Room is made as Linux prunes its out-of-order queue:
	 * from the top. Blocks above this segment go first; if none, what
	 * did not fit of this segment is dropped (counted in
	 * buffer_range()), and the ACK that covers it later is a gap. */
	while (buffer_range(rc, rd, seq, d, len) < 0 &&
	       drop_top(rc, rd, seq))
		;
}

void reasm_ack(struct reasm_ctx *rc, struct reasm_dir *rd, int dir,
	       uint32_t ack, uint64_t ts, const struct reasm_out *out)
{
	uint32_t limit = ack;
	int32_t ahead;

	/* the receiver's RCV.NXT as it said it (RST acceptance) */
	if (!rd->peer_ack_set || seqdiff(ack, rd->peer_ack) > 0) {
		rd->peer_ack = ack;
		rd->peer_ack_set = 1;
	}
	if (!rd->init)
		return;
	if (rd->fin && seqdiff(ack, rd->fin_seq) > 0)
		limit = rd->fin_seq;   /* the FIN's sequence number is no data */
	if (seqdiff(limit, rd->hi_seq) > 0) {
		/* bytes never sent, as far as the capture knows: believe the
		 * ACK up to what was seen; a real loss shows again once the
		 * data after the hole arrives */
		ctr_inc(rc->ctr, CTR_TCP_ACK_BEYOND);
		rd->anomalies |= REASM_ANOM_ACK_BEYOND;
		limit = rd->hi_seq;
	}
	ahead = seqdiff(limit, rd->next_seq);
	if (ahead <= 0 || ahead > (1 << 30))
		return;
	while (rd->ooo && seqdiff(rd->ooo->seq, limit) < 0) {
		skip_hole(rc, rd, dir, ts, out);
	}
	ahead = seqdiff(limit, rd->next_seq);
	if (ahead > 0)
		emit_gap(rc, rd, dir, (uint32_t)ahead, ts, out);
}

void reasm_flush(struct reasm_ctx *rc, struct reasm_dir *rd, int dir,
		 uint64_t ts, const struct reasm_out *out)
{
	while (rd->ooo)
		skip_hole(rc, rd, dir, ts, out);
}

void reasm_release(struct reasm_ctx *rc, struct reasm_dir *rd)
{
	struct reasm_seg *s, *n;

	for (s = rd->ooo; s; s = n) {
		n = s->next;
		pool_put(&rc->segs, s);
	}
	rd->ooo = NULL;
	rd->ooo_tail = NULL;
	rd->ooo_bytes = 0;
	rd->ooo_mem = 0;
}
