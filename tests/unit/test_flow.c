/* test_flow.c - flow table: symmetric keys, LRU, cap, reuse; SPSC ring; pool */
#include <stdlib.h>
#include "t.h"
#include "flow.h"
#include "pool.h"
#include "ring.h"

static struct pkt mk(uint32_t s, uint16_t sp, uint32_t d, uint16_t dp)
{
	struct pkt p;
	memset(&p, 0, sizeof(p));
	p.family = 4;
	memcpy(p.src, &s, 4);
	memcpy(p.dst, &d, 4);
	p.sport = sp;
	p.dport = dp;
	return p;
}

TEST(key_is_symmetric)
{
	struct pkt a = mk(0x0a000001, 40000, 0x0a000002, 25);
	struct pkt b = mk(0x0a000002, 25, 0x0a000001, 40000);
	struct flow_key ka, kb;
	int sa, sb;

	flow_key_from_pkt(&a, &ka, &sa);
	flow_key_from_pkt(&b, &kb, &sb);
	CHECK(memcmp(&ka, &kb, sizeof(ka)) == 0);
	CHECK(sa != sb);
	CHECK_INT(flow_hash_pkt(&a), flow_hash_pkt(&b));
	/* a VLAN makes it another flow */
	b.nvlan = 1;
	b.vlan[0] = 7;
	CHECK(flow_hash_pkt(&a) != flow_hash_pkt(&b));
}

TEST(insert_lookup_remove_reuse)
{
	struct flow_table t;
	struct flow_key k[3];
	int sw;

	CHECK_INT(flow_table_init(&t, 2, sizeof(struct flow_link)), 0);
	for (int i = 0; i < 3; i++) {
		struct pkt p = mk(0x0a000001, (uint16_t)(1000 + i), 0x0a000002, 25);
		flow_key_from_pkt(&p, &k[i], &sw);
	}
	struct flow_link *f0 = flow_insert(&t, &k[0], flow_key_hash(&k[0]), 1);
	struct flow_link *f1 = flow_insert(&t, &k[1], flow_key_hash(&k[1]), 2);
	CHECK(f0 && f1);
	CHECK(flow_insert(&t, &k[2], flow_key_hash(&k[2]), 3) == NULL); /* full */
	CHECK(flow_lookup(&t, &k[0], flow_key_hash(&k[0])) == f0);
	CHECK(flow_coldest(&t) == f0);
	flow_touch(&t, f0, 500000);              /* within the LRU grain: */
	CHECK(flow_coldest(&t) == f0);           /* not relinked yet */
	CHECK_INT(f0->last_ts, 500000);          /* but its time is exact */
	flow_touch(&t, f0, 4 * FLOW_LRU_GRAIN_US);
	CHECK(flow_coldest(&t) == f1);           /* LRU order follows activity */
	flow_remove(&t, f1);
	CHECK(flow_lookup(&t, &k[1], flow_key_hash(&k[1])) == NULL);
	struct flow_link *f2 = flow_insert(&t, &k[2], flow_key_hash(&k[2]), 5);
	CHECK(f2 == f1);                         /* slot reused */
	CHECK(flow_coldest(&t) == f0);
	flow_table_destroy(&t);
}

TEST(many_flows_chain_correctly)
{
	struct flow_table t;
	int sw, found = 0;

	flow_table_init(&t, 5000, sizeof(struct flow_link));
	for (uint32_t i = 0; i < 5000; i++) {
		struct pkt p = mk(0x0a000000 + i, (uint16_t)i, 0x0b000000, 25);
		struct flow_key k;
		flow_key_from_pkt(&p, &k, &sw);
		CHECK(flow_insert(&t, &k, flow_key_hash(&k), i) != NULL);
	}
	for (uint32_t i = 0; i < 5000; i += 7) {
		struct pkt p = mk(0x0b000000, 25, 0x0a000000 + i, (uint16_t)i);
		struct flow_key k;
		flow_key_from_pkt(&p, &k, &sw);
		struct flow_link *f = flow_lookup(&t, &k, flow_key_hash(&k));
		found += f && f->last_ts == i;
	}
	CHECK_INT(found, (5000 + 6) / 7);
	flow_table_destroy(&t);
}

TEST(pool_cap_and_reuse)
{
	struct pool p;
	void *o[10];

	pool_init(&p, 100, 3);
	for (int i = 0; i < 3; i++)
		CHECK((o[i] = pool_get(&p)) != NULL);
	CHECK(pool_get(&p) == NULL);             /* cap */
	pool_put(&p, o[1]);
	CHECK(pool_get(&p) == o[1]);
	CHECK_INT(p.peak, 3);
	pool_destroy(&p);
}

TEST(ring_fifo_with_wrap)
{
	struct ring r;
	uint32_t next_w = 0, next_r = 0;
	size_t n;

	ring_init(&r, 4096);
	for (int round = 0; round < 2000; round++) {
		/* variable sizes force wraps */
		size_t len = 8 + (size_t)(round * 37) % 500;
		void *w = ring_reserve(&r, len);
		if (w) {
			memset(w, 0, len);
			memcpy(w, &next_w, 4);
			next_w++;
			ring_commit(&r);
		}
		if (!w || round % 3 == 0) {
			uint32_t *e = ring_peek(&r, &n);
			if (e) {
				CHECK_INT(*e, next_r);
				next_r++;
				ring_release(&r);
			}
		}
	}
	while (ring_peek(&r, &n)) {
		next_r++;
		ring_release(&r);
	}
	CHECK_INT(next_r, next_w);
	CHECK(next_w > 1000);
	CHECK(ring_reserve(&r, ring_max_entry(&r) + 1) == NULL);
	ring_destroy(&r);
}

/* the hash is keyed: another seed moves flows to other buckets (so no
 * one can precompute colliding tuples), and stays symmetric; the stable
 * variant (flow_id) does not depend on the seed */
TEST(hash_is_keyed)
{
	struct pkt a = mk(0x0a000001, 40000, 0x0a000002, 25);
	struct pkt b = mk(0x0a000002, 25, 0x0a000001, 40000);
	struct flow_key k;
	uint32_t h1, h2, s1, s2;
	int sw, moved = 0;

	flow_key_from_pkt(&a, &k, &sw);
	flow_hash_set_seed(1);
	h1 = flow_key_hash(&k);
	s1 = flow_key_hash_stable(&k);
	CHECK_INT(flow_hash_pkt(&a), flow_hash_pkt(&b));
	flow_hash_set_seed(2);
	h2 = flow_key_hash(&k);
	s2 = flow_key_hash_stable(&k);
	CHECK(h1 != h2);
	CHECK_INT(s1, s2);
	CHECK_INT(flow_hash_pkt(&a), flow_hash_pkt(&b));
	/* pairs that share a bucket under one key mostly do not under
	 * another (1024 buckets) */
	for (uint32_t i = 0; i < 2000; i++) {
		struct pkt x = mk(0x0a000000 + i, 1000, 0x0b000000, 25);
		struct pkt y = mk(0x0a100000 + i * 7, 2000, 0x0b000000, 25);
		flow_hash_set_seed(11);
		int same1 = (flow_hash_pkt(&x) & 1023) == (flow_hash_pkt(&y) & 1023);
		flow_hash_set_seed(12);
		int same2 = (flow_hash_pkt(&x) & 1023) == (flow_hash_pkt(&y) & 1023);
		moved += same1 != same2;
	}
	CHECK(moved > 0);
}

/* several LRU lists: coldest of each, coldest of all in push order */
TEST(lru_lists)
{
	struct flow_table t;
	struct flow_link *f[4];
	int sw;

	CHECK_INT(flow_table_init(&t, 8, sizeof(struct flow_link)), 0);
	for (int i = 0; i < 4; i++) {
		struct pkt p = mk(0x0a000001, (uint16_t)(1000 + i), 0x0a000002, 25);
		struct flow_key k;
		flow_key_from_pkt(&p, &k, &sw);
		f[i] = flow_insert(&t, &k, flow_key_hash(&k), (uint64_t)i);
		CHECK(f[i] != NULL);
	}
	CHECK(flow_coldest(&t) == f[0]);
	flow_set_list(&t, f[0], 1);         /* moved: now the warmest */
	CHECK(flow_coldest_in(&t, 0) == f[1]);
	CHECK(flow_coldest_in(&t, 1) == f[0]);
	CHECK(flow_coldest_in(&t, 2) == NULL);
	CHECK(flow_coldest(&t) == f[1]);
	CHECK_INT(t.n_list[0], 3);
	CHECK_INT(t.n_list[1], 1);
	flow_set_list(&t, f[1], 2);
	flow_set_list(&t, f[2], 2);
	CHECK(flow_coldest(&t) == f[3]);    /* list 0, oldest push */
	CHECK(flow_warmer(&t, f[1]) == f[2]);
	flow_remove(&t, f[3]);
	CHECK(flow_coldest(&t) == f[0]);
	CHECK_INT(t.n_list[0], 0);
	flow_table_destroy(&t);
}

int main(void)
{
	RUN(key_is_symmetric);
	RUN(hash_is_keyed);
	RUN(lru_lists);
	RUN(insert_lookup_remove_reuse);
	RUN(many_flows_chain_correctly);
	RUN(pool_cap_and_reuse);
	RUN(ring_fifo_with_wrap);
	return t_done();
}
