/* ring.c - SPSC ring of variable-size entries (see ring.h) */
#include "ring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define HDR 8u            /* entry header: uint32 length + pad */
#define WRAP 0xffffffffu  /* marker: skip to the start of the buffer */

int ring_init(struct ring *r, size_t cap)
{
	size_t c = 4096;

	while (c < cap)
		c <<= 1;
	memset(r, 0, sizeof(*r));
	r->buf = malloc(c);
	if (!r->buf)
		return -ENOMEM;
	r->cap = c;
	atomic_init(&r->head, 0);
	atomic_init(&r->tail, 0);
	return 0;
}

void ring_destroy(struct ring *r)
{
	free(r->buf);
	r->buf = NULL;
}

size_t ring_max_entry(const struct ring *r)
{
	return r->cap / 4 - HDR;
}

static size_t entry_size(size_t n)
{
	return (HDR + n + 7) & ~(size_t)7;
}

void *ring_reserve(struct ring *r, size_t n)
{
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
	size_t need = entry_size(n);
	size_t pos = tail & (r->cap - 1);
	size_t skip = 0;

	if (n > ring_max_entry(r))
		return NULL;
	if (pos + need > r->cap)
		skip = r->cap - pos;
	if (tail + skip + need - head > r->cap)
		return NULL;
	if (skip) {
		*(uint32_t *)(r->buf + pos) = WRAP;
		tail += skip;
		pos = 0;
	}
	*(uint32_t *)(r->buf + pos) = (uint32_t)n;
	r->res_tail = tail + need;
	/* publish the wrap marker position now: the consumer only reads up
	 * to tail, which moves in ring_commit */
	if (skip)
		atomic_store_explicit(&r->tail, tail, memory_order_release);
	return r->buf + pos + HDR;
}

void ring_commit(struct ring *r)
{
	atomic_store_explicit(&r->tail, r->res_tail, memory_order_release);
}

void *ring_peek(struct ring *r, size_t *n)
{
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);

	for (;;) {
		size_t pos = head & (r->cap - 1);
		uint32_t len;

		if (head == tail)
			return NULL;
		len = *(uint32_t *)(r->buf + pos);
		if (len == WRAP) {
			head += r->cap - pos;
			atomic_store_explicit(&r->head, head,
					      memory_order_release);
			continue;
		}
		*n = len;
		r->cons_next = head + entry_size(len);
		return r->buf + pos + HDR;
	}
}

void ring_release(struct ring *r)
{
	atomic_store_explicit(&r->head, r->cons_next, memory_order_release);
}
