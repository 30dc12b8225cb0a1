/* flow.c - bidirectional flow table (see flow.h) */
#include "flow.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* per-word keys of flow_key_hash(), from flow_seed */
static uint64_t flow_keys[8];

void flow_hash_set_seed(uint64_t seed)
{
	for (size_t i = 0; i < sizeof(flow_keys) / sizeof(flow_keys[0]); i++) {
		uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (i + 1);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		flow_keys[i] = z ^ (z >> 31);
	}
}

/* Seeded before main(): every hash of the process (the dispatcher's
 * worker choice and each worker's table) uses the same key. */
__attribute__((constructor)) static void flow_hash_seed_random(void)
{
	uint64_t s;

	if (getrandom(&s, sizeof(s), GRND_NONBLOCK) != (ssize_t)sizeof(s))
		s = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^
		    (uint64_t)(uintptr_t)&s;
	flow_hash_set_seed(s);
}

static int ep_cmp(const uint8_t *a, uint16_t pa, const uint8_t *b,
		  uint16_t pb)
{
	int c = memcmp(a, b, 16);

	if (c)
		return c;
	return (int)pa - (int)pb;
}

void flow_key_from_pkt(const struct pkt *p, struct flow_key *k, int *swapped)
{
	int sw = ep_cmp(p->src, p->sport, p->dst, p->dport) > 0;

	memset(k, 0, sizeof(*k));
	k->family = p->family;
	k->nvlan = p->nvlan;
	for (int i = 0; i < p->nvlan && i < PKT_MAX_VLAN; i++)
		k->vlan[i] = p->vlan[i];
	memcpy(k->addr[sw], p->src, 16);
	memcpy(k->addr[!sw], p->dst, 16);
	k->port[sw] = p->sport;
	k->port[!sw] = p->dport;
	*swapped = sw;
}

/* Each 64-bit word of the key, xored with its secret key word, times its
 * own odd constant, summed, then one splitmix64 finalizer. The products
 * are independent (the CPU runs them in parallel); a serial mix per word
 * cost twice as much on the per-packet path. The key words enter before
 * the multiplications, so which inputs collide depends on the key (a
 * key added after the sum would not change which tuples collide). */
static uint32_t key_hash(const struct flow_key *k, const uint64_t *key)
{
	static const uint64_t mul[] = {
		0x9e3779b97f4a7c15ULL, 0xc2b2ae3d27d4eb4fULL,
		0x165667b19e3779f9ULL, 0xd6e8feb86659fd93ULL,
		0xff51afd7ed558ccdULL, 0xc4ceb9fe1a85ec53ULL,
		0xa0761d6478bd642fULL,
	};
	uint64_t w[sizeof(mul) / sizeof(mul[0])] = {0};
	uint64_t h = 0;

	_Static_assert(sizeof(struct flow_key) <= sizeof(w),
		       "flow_key grew: add hash constants");
	memcpy(w, k, sizeof(*k));
	for (size_t i = 0; i < sizeof(w) / 8; i++) {
		uint64_t x = w[i] ^ key[i];
		h += (x ^ (x >> 29)) * mul[i];
	}
	h ^= key[7];
	h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
	h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return (uint32_t)(h ^ (h >> 32));
}

uint32_t flow_key_hash(const struct flow_key *k)
{
	return key_hash(k, flow_keys);
}

uint32_t flow_key_hash_stable(const struct flow_key *k)
{
	static const uint64_t zero[8];

	return key_hash(k, zero);
}

uint32_t flow_hash_pkt(const struct pkt *p)
{
	struct flow_key k;
	int sw;

	flow_key_from_pkt(p, &k, &sw);
	return flow_key_hash(&k);
}

int flow_table_init(struct flow_table *t, uint32_t max, size_t entry_size)
{
	uint32_t nb = 1;

	memset(t, 0, sizeof(*t));
	if (!max || entry_size < sizeof(struct flow_link))
		return -EINVAL;
	/* about one bucket per entry: chains stay short at the cap, and the
	 * bucket array (4 bytes each) stays small enough to live in cache */
	while (nb < max && nb < (1u << 30))
		nb <<= 1;
	/* calloc: pages of entries never used are never touched */
	t->entries = calloc(max, entry_size);
	t->buckets = malloc(sizeof(uint32_t) * nb);
	if (!t->entries || !t->buckets) {
		flow_table_destroy(t);
		return -ENOMEM;
	}
	memset(t->buckets, 0xff, sizeof(uint32_t) * nb);
	t->nbuckets_mask = nb - 1;
	t->entry_size = entry_size;
	t->max = max;
	/* free list threaded through hnext, built lazily: indices >= used
	 * that were never handed out are implicitly free */
	t->free_head = FLOW_NONE;
	for (int l = 0; l < FLOW_LISTS; l++)
		t->lru_head[l] = t->lru_tail[l] = FLOW_NONE;
	return 0;
}

void flow_table_destroy(struct flow_table *t)
{
	free(t->entries);
	free(t->buckets);
	memset(t, 0, sizeof(*t));
}

static uint32_t idx_of(const struct flow_table *t, const struct flow_link *f)
{
	return (uint32_t)(((const uint8_t *)f - t->entries) / t->entry_size);
}

struct flow_link *flow_lookup(struct flow_table *t, const struct flow_key *k,
			      uint32_t hash)
{
	uint32_t i = t->buckets[hash & t->nbuckets_mask];

	while (i != FLOW_NONE) {
		struct flow_link *f = flow_at(t, i);
		if (f->hash == hash && memcmp(&f->key, k, sizeof(*k)) == 0)
			return f;
		i = f->hnext;
	}
	return NULL;
}

static void lru_unlink(struct flow_table *t, struct flow_link *f)
{
	int l = f->list;

	if (f->lru_prev != FLOW_NONE)
		flow_at(t, f->lru_prev)->lru_next = f->lru_next;
	else
		t->lru_head[l] = f->lru_next;
	if (f->lru_next != FLOW_NONE)
		flow_at(t, f->lru_next)->lru_prev = f->lru_prev;
	else
		t->lru_tail[l] = f->lru_prev;
	t->n_list[l]--;
}

static void lru_push_head(struct flow_table *t, struct flow_link *f)
{
	uint32_t i = idx_of(t, f);
	int l = f->list;

	f->lru_seq = ++t->seq;
	f->lru_prev = FLOW_NONE;
	f->lru_next = t->lru_head[l];
	if (t->lru_head[l] != FLOW_NONE)
		flow_at(t, t->lru_head[l])->lru_prev = i;
	t->lru_head[l] = i;
	if (t->lru_tail[l] == FLOW_NONE)
		t->lru_tail[l] = i;
	t->n_list[l]++;
}

void flow_set_list(struct flow_table *t, struct flow_link *f, int list)
{
	if (f->list == list)
		return;
	lru_unlink(t, f);
	f->list = (uint8_t)list;
	lru_push_head(t, f);
}

struct flow_link *flow_insert(struct flow_table *t, const struct flow_key *k,
			      uint32_t hash, uint64_t ts)
{
	struct flow_link *f;
	uint32_t i, b;

	if (t->free_head != FLOW_NONE) {
		i = t->free_head;
		f = flow_at(t, i);
		t->free_head = f->hnext;
	} else if (t->hwm < t->max) {
		/* never-used slot: entries below the high-water mark are
		 * either live or on the free list */
		i = t->hwm;
		f = flow_at(t, i);
	} else {
		return NULL;
	}
	t->hwm += (i == t->hwm);
	memset(f, 0, t->entry_size);
	f->key = *k;
	f->hash = hash;
	f->in_use = 1;
	f->last_ts = ts;
	f->lru_ts = ts;
	b = hash & t->nbuckets_mask;
	f->hnext = t->buckets[b];
	t->buckets[b] = i;
	lru_push_head(t, f);
	return f;
}

void flow_remove(struct flow_table *t, struct flow_link *f)
{
	uint32_t i = idx_of(t, f);
	uint32_t *pp = &t->buckets[f->hash & t->nbuckets_mask];

	while (*pp != FLOW_NONE && *pp != i)
		pp = &flow_at(t, *pp)->hnext;
	if (*pp == i)
		*pp = f->hnext;
	lru_unlink(t, f);
	f->in_use = 0;
	f->hnext = t->free_head;
	t->free_head = i;
}

void flow_touch(struct flow_table *t, struct flow_link *f, uint64_t ts)
{
	f->last_ts = ts;
	/* Approximate LRU: relinking writes to two neighbour entries (cache
	 * misses on a busy table), so a flow moves to the hot end at most
	 * once per FLOW_LRU_GRAIN_US of packet time. The order is then exact
	 * to that grain, which is all the idle timeout and the eviction
	 * policy need. */
	if (ts - f->lru_ts < FLOW_LRU_GRAIN_US ||
	    t->lru_head[f->list] == idx_of(t, f))
		return;
	f->lru_ts = ts;
	lru_unlink(t, f);
	lru_push_head(t, f);
}

void flow_refresh(struct flow_table *t, struct flow_link *f)
{
	f->lru_ts = f->last_ts;
	lru_unlink(t, f);
	lru_push_head(t, f);
}

struct flow_link *flow_coldest_in(struct flow_table *t, int list)
{
	uint32_t i = t->lru_tail[list];

	return i == FLOW_NONE ? NULL : flow_at(t, i);
}

/* seq wraps after 2^32 moves: compared as a signed difference, which is
 * right while the lists' tails are less than 2^31 moves apart */
struct flow_link *flow_coldest(struct flow_table *t)
{
	struct flow_link *best = NULL;

	for (int l = 0; l < FLOW_LISTS; l++) {
		struct flow_link *f = flow_coldest_in(t, l);
		if (f && (!best || (int32_t)(f->lru_seq - best->lru_seq) < 0))
			best = f;
	}
	return best;
}

struct flow_link *flow_warmer(struct flow_table *t, struct flow_link *f)
{
	return f->lru_prev == FLOW_NONE ? NULL : flow_at(t, f->lru_prev);
}
