/* flow.h - the per-worker bidirectional flow table.
 *
 * Keyed by the normalized TCP 5-tuple plus VLAN ids: both directions of a
 * conversation find the same entry. Entries live in one array allocated at
 * start (max_flows, --max-flows): no allocation per packet. Lookup is a
 * chained hash over 32-bit indices; an LRU list orders entries by last
 * activity, which serves both the idle timeout (expire from the cold end)
 * and the cap policy: when the table is full the least recently active flow
 * is closed (its records are written, reason "evicted") and counted
 * (flow.evicted.table_full).
 *
 * There are FLOW_LISTS LRU lists: each entry is on exactly one (the engine
 * keeps embryonic, parsed and plain flows apart, each with its own idle
 * timeout and eviction priority). A global push counter orders entries
 * across lists, so flow_coldest() is the least recently active of all.
 *
 * flow_hash_pkt() is symmetric: the dispatcher uses it to send both
 * directions of a conversation to the same worker. flow_key_hash() is
 * keyed with a random per-process seed (flow_hash_set_seed() to fix it):
 * nobody can precompute 5-tuples that collide into one bucket or one
 * worker. It is a fast keyed mix, not a cryptographic MAC: the bucket
 * index is never visible to the sender. flow_key_hash_stable() is the
 * unkeyed variant for identifiers that must not change between runs
 * (flow_id).
 */
#ifndef RW_FLOW_H
#define RW_FLOW_H

#include <stddef.h>
#include <stdint.h>
#include "pkt.h"

struct flow_key {
	uint8_t addr[2][16];  /* [0] is the lower (addr, port) endpoint */
	uint16_t port[2];
	uint16_t vlan[PKT_MAX_VLAN];
	uint8_t family;
	uint8_t nvlan;
	uint8_t pad[2];
};

#define FLOW_NONE UINT32_MAX
#define FLOW_LRU_GRAIN_US 1000000ull
#define FLOW_LISTS 3

/* Link part of a flow, owned by the table; the engine embeds it first in
 * its own per-flow struct (see engine.c). */
struct flow_link {
	struct flow_key key;
	uint32_t hash;
	uint32_t hnext;
	uint32_t lru_prev, lru_next;
	uint64_t last_ts;
	uint64_t lru_ts;        /* when last moved to the hot end */
	uint32_t lru_seq;       /* global order of moves to a hot end */
	uint8_t in_use;
	uint8_t list;           /* which LRU list (0..FLOW_LISTS-1) */
};

struct flow_table {
	uint8_t *entries;      /* max entries of entry_size bytes */
	size_t entry_size;
	uint32_t max, hwm;   /* hwm: slots ever handed out */
	uint32_t *buckets;
	uint32_t nbuckets_mask;
	uint32_t free_head;
	uint32_t lru_head[FLOW_LISTS], lru_tail[FLOW_LISTS]; /* head = most recent */
	uint32_t n_list[FLOW_LISTS];
	uint32_t seq;
};

/* Normalize p's addresses into key; *swapped = 1 when p's source is the
 * higher endpoint (key.addr[1]). */
void flow_key_from_pkt(const struct pkt *p, struct flow_key *key,
		       int *swapped);
uint32_t flow_key_hash(const struct flow_key *k);
uint32_t flow_key_hash_stable(const struct flow_key *k);
uint32_t flow_hash_pkt(const struct pkt *p);
/* replace the random seed (tests, reproducible runs); before any flow */
void flow_hash_set_seed(uint64_t seed);

int flow_table_init(struct flow_table *t, uint32_t max, size_t entry_size);
void flow_table_destroy(struct flow_table *t);

static inline struct flow_link *flow_at(const struct flow_table *t,
					uint32_t i)
{
	return (struct flow_link *)(t->entries + (size_t)i * t->entry_size);
}

/* Find the flow for key (hash precomputed); NULL if absent. */
struct flow_link *flow_lookup(struct flow_table *t, const struct flow_key *k,
			      uint32_t hash);
/* Insert a new zeroed entry at the hot end of list 0; NULL when full
 * (caller evicts, then retries). */
struct flow_link *flow_insert(struct flow_table *t, const struct flow_key *k,
			      uint32_t hash, uint64_t ts);
/* move f to the hot end of another list */
void flow_set_list(struct flow_table *t, struct flow_link *f, int list);
void flow_remove(struct flow_table *t, struct flow_link *f);
/* mark activity: move to the hot end of the LRU */
void flow_touch(struct flow_table *t, struct flow_link *f, uint64_t ts);
/* relink f at the hot end of its list as of its last activity (an
 * expiry walk met a flow active since its last relink) */
void flow_refresh(struct flow_table *t, struct flow_link *f);
/* the least recently active flow of all lists, or NULL */
struct flow_link *flow_coldest(struct flow_table *t);
/* the least recently active flow of one list, or NULL */
struct flow_link *flow_coldest_in(struct flow_table *t, int list);
/* the next flow towards the hot end of f's list, or NULL */
struct flow_link *flow_warmer(struct flow_table *t, struct flow_link *f);

#endif
