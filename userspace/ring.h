/* ring.h - single-producer single-consumer ring of variable-size entries.
 *
 * Entries are contiguous (an entry that would straddle the end is placed at
 * the start; the tail of the buffer is skipped with a marker), so both sides
 * work on plain pointers. Capacity is fixed at creation: a full ring makes
 * the producer wait (backpressure), it never grows. One producer thread,
 * one consumer thread, no locks.
 */
#ifndef RW_RING_H
#define RW_RING_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct ring {
	uint8_t *buf;
	size_t cap;                 /* power of two */
	_Atomic uint64_t head;      /* consumer position (bytes) */
	_Atomic uint64_t tail;      /* producer position (bytes) */
	uint64_t res_tail;          /* producer: position after reservation */
	uint64_t cons_next;         /* consumer: position after peeked entry */
};

int ring_init(struct ring *r, size_t cap);
void ring_destroy(struct ring *r);
/* producer: space for n bytes, or NULL if the ring is full right now */
void *ring_reserve(struct ring *r, size_t n);
void ring_commit(struct ring *r);
/* consumer: next entry (its size in *n) or NULL if empty */
void *ring_peek(struct ring *r, size_t *n);
void ring_release(struct ring *r);
/* largest entry the ring accepts */
size_t ring_max_entry(const struct ring *r);

#endif
