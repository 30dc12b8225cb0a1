/* reasm.h - TCP stream reassembly, one struct reasm_dir per direction.
 *
 * Delivers each direction's bytes in sequence order, exactly once, to a
 * callback. In-order segments are delivered straight from the packet buffer
 * (zero copy, any size: 8-64 KB GSO segments included). Out-of-order
 * segments are copied into fixed 2 KB blocks from the worker's capped pool.
 *
 * Policies (documented in README "Design"):
 *  - retransmissions of delivered bytes are dropped and counted;
 *  - overlaps: FIRST WINS. Bytes already delivered or already buffered are
 *    kept; a later segment only fills holes. (Targets differ in how they
 *    resolve overlaps; "first" is what most stacks do for data already
 *    ACKed, and it cannot be used to rewrite what a parser already saw.)
 *  - a hole is declared lost (a gap, reported to the parser, which resyncs)
 *    when (a) the other side ACKs beyond it (the receiver got bytes the
 *    capture missed), (b) the per-direction buffer cap or the pool cap is
 *    hit (counted), or (c) the flow ends;
 *  - sequence numbers wrap: all comparisons are modulo 2^32.
 * Checksums are never looked at.
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

struct reasm_dir {
	struct reasm_seg *ooo;  /* sorted by seq, non-overlapping */
	uint32_t next_seq;      /* next byte to deliver */
	uint32_t ooo_bytes;
	uint32_t fin_seq;
	uint8_t init;           /* next_seq is valid */
	uint8_t fin;            /* FIN seen, fin_seq valid */
};

struct reasm_ctx {
	struct pool segs;
	uint32_t dir_cap;       /* max buffered out-of-order bytes per direction */
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
 * never saw are reported as a gap. */
void reasm_ack(struct reasm_ctx *rc, struct reasm_dir *rd, int dir,
	       uint32_t ack, uint64_t ts_us, const struct reasm_out *out);

/* Flow end: deliver what is buffered, holes as gaps; frees the blocks. */
void reasm_flush(struct reasm_ctx *rc, struct reasm_dir *rd, int dir,
		 uint64_t ts_us, const struct reasm_out *out);

/* Free the blocks without delivering (flow dropped). */
void reasm_release(struct reasm_ctx *rc, struct reasm_dir *rd);

#endif
