/* reasm.h - TCP stream reassembly, one struct reasm_dir per direction.
 *
 * Delivers each direction's bytes in sequence order, exactly once, to a
 * callback. In-order segments are delivered straight from the packet buffer
 * (zero copy, any size: 8-64 KB GSO segments included). Out-of-order
 * segments are copied into fixed 2 KB blocks from the worker's capped pool;
 * a segment that continues the last buffered block fills its free room
 * first, so a run of small segments after a hole shares blocks.
 *
 * Policies (documented in README "Design"):
 *  - retransmissions of delivered bytes are dropped and counted;
 *  - overlaps: FIRST WINS. Bytes already delivered or already buffered are
 *    kept; a later segment only fills holes. (Targets differ in how they
 *    resolve overlaps; "first" is what Linux does for bytes it has already
 *    queued in order, and it cannot be used to rewrite what a parser
 *    already saw.) When the later copy's bytes DIFFER from the kept ones
 *    (compared with the buffered block, or with a fingerprint of the last
 *    segment delivered in order), the direction is flagged
 *    REASM_ANOM_OVERLAP_CONFLICT and CTR_RA_OVERLAP_CONFLICT counts it:
 *    someone sent two versions of the same bytes, the classic insertion /
 *    evasion attempt;
 *  - a hole is declared lost (a gap, reported to the parser, which resyncs)
 *    when (a) the other side ACKs beyond it (the receiver got bytes the
 *    capture missed), or (b) the flow ends. A cap (per direction, or the
 *    pool's) never does: room is made by dropping the highest buffered
 *    blocks above the new segment, else the new segment's excess, as
 *    Linux prunes its out-of-order queue (CTR_RA_PRUNED, _FLOW_CAP,
 *    _POOL_CAP); the receiver's ACK later turns what was dropped into a
 *    gap. A sender cannot make the engine skip bytes the receiver takes;
 *  - a segment more than REASM_WINDOW_MAX beyond the next byte expected
 *    is outside any receiver's window: dropped (CTR_RA_OUT_OF_WINDOW);
 *  - an ACK is believed only up to the highest sequence number seen from
 *    the acknowledged side (reasm_dir.hi_seq): a forged ACK for bytes never
 *    sent cannot open a gap or make the engine skip data that arrives
 *    later (CTR_TCP_ACK_BEYOND, REASM_ANOM_ACK_BEYOND);
 *  - memory is accounted in whole blocks (what is really held, not payload
 *    bytes): the per-direction cap (dir_cap bytes of blocks) bounds both
 *    memory and the number of buffered blocks, so insertion (a walk of the
 *    sorted block list, with an O(1) shortcut for appends) is bounded by
 *    dir_cap / sizeof(struct reasm_seg) steps. Ten thousand one-byte
 *    out-of-order segments cost at most that many blocks, then the cap
 *    policy above applies;
 *  - sequence numbers wrap: all comparisons are modulo 2^32.
 * Checksums are checked by the engine before a segment gets here.
 */
#ifndef RW_REASM_H
#define RW_REASM_H

#include <stddef.h>
#include <stdint.h>
#include "counters.h"
#include "pool.h"

#define REASM_BLOCK_DATA 2016

struct reasm_seg {
	struct reasm_seg *next;
	uint32_t seq;
	uint32_t len;
	uint8_t data[REASM_BLOCK_DATA];
};

enum {
	REASM_ANOM_OVERLAP_CONFLICT = 1,  /* two versions of the same bytes */
	REASM_ANOM_ACK_BEYOND = 2,        /* an ACK for bytes never sent */
};

struct reasm_dir {
	struct reasm_seg *ooo;  /* sorted by seq, non-overlapping */
	struct reasm_seg *ooo_tail;
	uint32_t next_seq;      /* next byte to deliver */
	uint32_t hi_seq;        /* end of the highest segment seen */
	uint32_t ooo_bytes;     /* payload bytes buffered */
	uint32_t ooo_mem;       /* bytes of blocks held (the capped figure) */
	uint32_t fin_seq;
	uint32_t last_seq, last_len;  /* last segment delivered in order */
	uint64_t last_fp;       /* its fingerprint (overlap conflicts) */
	uint8_t init;           /* next_seq is valid */
	uint8_t fin;            /* FIN seen, fin_seq valid */
	uint8_t anomalies;      /* REASM_ANOM_* */
	uint8_t peer_ack_set;
	uint32_t peer_ack;      /* highest ACK the receiver sent for it */
};

/* a segment further than this beyond the next byte expected is outside
 * any receiver's window (Linux's default maximum is 6 MB): dropped, not
 * counted as sent */
#define REASM_WINDOW_MAX (16u << 20)

struct reasm_ctx {
	struct pool segs;
	uint32_t dir_cap;       /* max bytes of out-of-order blocks per direction */
	struct rw_counters *ctr;
};

struct reasm_out {
	void *arg;
	void (*data)(void *arg, int dir, const uint8_t *d, size_t n,
		     uint64_t ts_us);
	void (*gap)(void *arg, int dir, size_t n, uint64_t ts_us);
};

int reasm_ctx_init(struct reasm_ctx *rc, size_t mem_cap_bytes,
		   uint32_t dir_cap, struct rw_counters *ctr);
void reasm_ctx_destroy(struct reasm_ctx *rc);

/* Start a direction at next_seq (ISN+1 after a SYN, or the first payload
 * byte on mid-stream pickup). */
void reasm_dir_start(struct reasm_dir *rd, uint32_t next_seq);

/* One segment of direction dir: len captured bytes at d, then missing bytes
 * that were on the wire but not captured. fin: the segment carries FIN. */
void reasm_segment(struct reasm_ctx *rc, struct reasm_dir *rd, int dir,
		   uint32_t seq, const uint8_t *d, uint32_t len,
		   uint32_t missing, int fin, uint64_t ts_us,
		   const struct reasm_out *out);

/* The peer acknowledged up to ack: bytes of rd before ack that the capture
 * never saw are reported as a gap (ack capped at rd->hi_seq). */
void reasm_ack(struct reasm_ctx *rc, struct reasm_dir *rd, int dir,
	       uint32_t ack, uint64_t ts_us, const struct reasm_out *out);

/* Flow end: deliver what is buffered, holes as gaps; frees the blocks. */
void reasm_flush(struct reasm_ctx *rc, struct reasm_dir *rd, int dir,
		 uint64_t ts_us, const struct reasm_out *out);

/* Free the blocks without delivering (flow dropped). */
void reasm_release(struct reasm_ctx *rc, struct reasm_dir *rd);

#endif
