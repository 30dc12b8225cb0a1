/* dispatch.c - workers and ordered merge (see dispatch.h) */
#include "dispatch.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flow.h"
#include "ring.h"

#ifndef DISPATCH_IN_RING_BYTES
#define DISPATCH_IN_RING_BYTES (16u << 20)
#endif
#define IN_RING_BYTES DISPATCH_IN_RING_BYTES
#ifndef DISPATCH_OUT_RING_BYTES
#define DISPATCH_OUT_RING_BYTES (8u << 20)
#endif
#define OUT_RING_BYTES DISPATCH_OUT_RING_BYTES
#define TICK_US 1000000ull

enum msg_kind { MSG_PKT = 1, MSG_TICK, MSG_FINISH };

struct msg {
	uint32_t kind;
	uint32_t pad;
	struct pkt p;          /* payload follows the struct */
};

struct out_rec {
	uint64_t index;
	uint32_t len;
	uint32_t pad;
	/* line follows */
};

struct worker {
	struct dispatch *d;
	struct engine *e;
	pthread_t thread;
	struct ring in, out;
	_Atomic uint64_t current;      /* index of the message being handled */
	_Atomic uint64_t finished;     /* index of the last packet handled */
	uint64_t dispatched;           /* written by the dispatcher only */
	_Atomic uint64_t dispatched_pub;
	_Atomic int done;
	uint64_t lost_records;
};

struct dispatch {
	struct rule_state *rstate;  /* the workers' shared rule state */
	int n;
	struct worker *w;
	struct engine *single;
	struct line_sink sink;
	uint64_t next_index;
	uint64_t last_tick;
	void (*flow_inspect)(void *, const struct pkt *, int);
	int (*flow_counters)(void *, const struct pkt *, uint64_t *,
			     uint64_t *);
	void *inspect_arg;
	int finished;
};

static void backoff(unsigned *spins)
{
	if (++*spins < 64) {
		sched_yield();
		return;
	}
	struct timespec ts = {0, 20000};
	nanosleep(&ts, NULL);
}

/* ---- worker side ---- */

static void worker_record(void *arg, uint64_t index, const char *line,
			  size_t len)
{
	struct worker *w = arg;
	struct out_rec *r;
	unsigned spins = 0;

	if (sizeof(*r) + len > ring_max_entry(&w->out)) {
		w->lost_records++;
		ctr_inc(engine_counters(w->e), CTR_OUT_TOO_LARGE);
		return;
	}
	while (!(r = ring_reserve(&w->out, sizeof(*r) + len)))
		backoff(&spins);      /* the merger drains: backpressure */
	r->index = index;
	r->len = (uint32_t)len;
	memcpy(r + 1, line, len);
	ring_commit(&w->out);
}

static void worker_inspect(void *arg, const struct pkt *p, int inspect)
{
	struct worker *w = arg;
	/* flow_inspect callbacks touch the capture's map: the eBPF map
	 * update is thread-safe (a syscall) */
	if (w->d->flow_inspect)
		w->d->flow_inspect(w->d->inspect_arg, p, inspect);
}

static int dispatch_counters_cb(void *arg, const struct pkt *p,
				uint64_t pkts[2], uint64_t bytes[2])
{
	struct dispatch *d = arg;
	/* a map lookup (a syscall): safe from any worker thread */
	return d->flow_counters ? d->flow_counters(d->inspect_arg, p, pkts,
						   bytes) : -1;
}

static int worker_counters(void *arg, const struct pkt *p, uint64_t pkts[2],
			   uint64_t bytes[2])
{
	struct worker *w = arg;
	return dispatch_counters_cb(w->d, p, pkts, bytes);
}

/* Return once no other worker holds a packet with an index below `index`:
 * it has moved on to one at or past it, or handled all it was given. The
 * dispatcher sent every lower index before this one, and published each
 * worker's last dispatched index before that: reading it first, then the
 * worker's progress, cannot miss one. Waits go to lower indexes only, so
 * they cannot form a cycle; the merger keeps draining the output rings. */
static void worker_wait_turn(void *arg, uint64_t index)
{
	struct worker *self = arg;
	struct dispatch *d = self->d;

	for (int i = 0; i < d->n; i++) {
		struct worker *x = &d->w[i];
		unsigned spins = 0;

		if (x == self)
			continue;
		for (;;) {
			uint64_t disp = atomic_load_explicit(&x->dispatched_pub,
							     memory_order_acquire);
			uint64_t cur = atomic_load_explicit(&x->current,
							    memory_order_acquire);
			uint64_t fin = atomic_load_explicit(&x->finished,
							    memory_order_acquire);
			if (cur >= index || fin == disp)
				break;
			backoff(&spins);
		}
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	unsigned spins = 0;

	for (;;) {
		size_t n;
		struct msg *m = ring_peek(&w->in, &n);

		if (!m) {
			backoff(&spins);
			continue;
		}
		spins = 0;
		atomic_store_explicit(&w->current, m->p.index,
				      memory_order_release);
		if (m->kind == MSG_PKT) {
			const uint8_t *b = (const uint8_t *)(m + 1);
			m->p.l3 = m->p.l3_len ? b : NULL;
			m->p.payload = b + m->p.l3_len + m->p.l4_len;
			engine_packet(w->e, &m->p);
		} else if (m->kind == MSG_TICK) {
			engine_tick(w->e, m->p.ts_us, m->p.index);
		} else {
			engine_finish(w->e, m->p.index);
		}
		atomic_store_explicit(&w->finished, m->p.index,
				      memory_order_release);
		int fin = m->kind == MSG_FINISH;
		ring_release(&w->in);
		if (fin)
			break;
	}
	atomic_store(&w->done, 1);
	return NULL;
}

/* ---- merger (caller's thread) ---- */

/* Write records in index order as far as it is safe. A worker with no
 * record queued may still produce one with a lower index unless it has
 * handled everything up to that index, or everything it was given, or is
 * handling a message of a higher index (records carry the index of the
 * message being handled, and `current` is stored after the records of the
 * previous message are committed). Its
 * progress is read BEFORE its ring: a record written before the progress
 * store is then visible. (Dispatching happens in this same thread, so
 * nothing is dispatched between the two reads.) */
static void merge(struct dispatch *d)
{
	uint64_t fin[64], disp[64], cur[64];

	for (;;) {
		struct worker *best = NULL;
		struct out_rec *br = NULL, *heads[64];
		size_t n;
		int ok = 1;

		for (int i = 0; i < d->n; i++) {
			disp[i] = atomic_load_explicit(&d->w[i].dispatched_pub,
						       memory_order_acquire);
			fin[i] = atomic_load_explicit(&d->w[i].finished,
						      memory_order_acquire);
			cur[i] = atomic_load_explicit(&d->w[i].current,
						      memory_order_acquire);
		}
		for (int i = 0; i < d->n; i++) {
			heads[i] = ring_peek(&d->w[i].out, &n);
			if (heads[i] && (!br || heads[i]->index < br->index)) {
				br = heads[i];
				best = &d->w[i];
			}
		}
		if (!br)
			return;
		/* a worker already handling a later index only writes records
		 * of that index or later: without this, a worker waiting for
		 * its rules turn (worker_wait_turn) on one whose output ring is
		 * full would wait forever */
		for (int i = 0; i < d->n && ok; i++)
			if (!heads[i] && fin[i] < br->index &&
			    fin[i] != disp[i] && cur[i] < br->index)
				ok = 0;
		if (!ok)
			return;
		d->sink.write(d->sink.arg, (const char *)(br + 1), br->len);
		ring_release(&best->out);
	}
}

static void single_record(void *arg, uint64_t index, const char *line,
			  size_t len)
{
	struct dispatch *d = arg;
	(void)index;
	d->sink.write(d->sink.arg, line, len);
}

static void single_inspect(void *arg, const struct pkt *p, int inspect)
{
	struct dispatch *d = arg;
	if (d->flow_inspect)
		d->flow_inspect(d->inspect_arg, p, inspect);
}

struct dispatch *dispatch_new(int nworkers, const struct engine_config *cfg,
			      const struct line_sink *sink,
			      void (*flow_inspect)(void *, const struct pkt *,
						   int),
			      void *inspect_arg)
{
	struct dispatch *d = calloc(1, sizeof(*d));
	struct engine_config wcfg;

	if (!d)
		return NULL;
	d->sink = *sink;
	d->flow_inspect = flow_inspect;
	d->inspect_arg = inspect_arg;
	d->next_index = 1;
	if (nworkers <= 1) {
		struct engine_output o = {
			.arg = d, .record = single_record,
			.flow_inspect = single_inspect,
			.flow_counters = dispatch_counters_cb };
		d->n = 1;
		d->single = engine_new(cfg, &o);
		if (!d->single) {
			free(d);
			return NULL;
		}
		return d;
	}
	if (nworkers > DISPATCH_MAX_WORKERS)
		nworkers = DISPATCH_MAX_WORKERS;
	d->n = nworkers;
	d->w = calloc((size_t)nworkers, sizeof(*d->w));
	if (!d->w)
		goto fail;
	/* one set of thresholds and correlations for all the shards */
	wcfg = *cfg;
	if (!wcfg.rule_shared) {
		d->rstate = rule_state_new(&cfg->rule_state);
		if (!d->rstate)
			goto fail;
		wcfg.rule_shared = d->rstate;
	}
	for (int i = 0; i < nworkers; i++) {
		struct worker *w = &d->w[i];
		struct engine_output o = {
			.arg = w, .record = worker_record,
			.flow_inspect = worker_inspect,
			.wait_turn = worker_wait_turn,
			.flow_counters = worker_counters };
		w->d = d;
		if (ring_init(&w->in, IN_RING_BYTES) < 0 ||
		    ring_init(&w->out, OUT_RING_BYTES) < 0 ||
		    !(w->e = engine_new(&wcfg, &o))) {
			d->finished = 1;   /* no thread runs yet */
			goto fail;
		}
		atomic_init(&w->current, 0);
		atomic_init(&w->finished, 0);
		atomic_init(&w->dispatched_pub, 0);
		atomic_init(&w->done, 0);
	}
	for (int i = 0; i < nworkers; i++) {
		if (pthread_create(&d->w[i].thread, NULL, worker_main, &d->w[i])) {
			d->n = i;          /* finish and join the started ones */
			goto fail;
		}
	}
	return d;
fail:
	dispatch_free(d);
	return NULL;
}

static void send_msg(struct dispatch *d, struct worker *w, uint32_t kind,
		     const struct pkt *p)
{
	/* the IP and TCP headers travel with the payload (they are
	 * contiguous in the frame): the worker checks checksums */
	size_t hlen = kind == MSG_PKT && p->l3 ? p->l3_len + p->l4_len : 0;
	size_t plen = kind == MSG_PKT ? hlen + p->payload_len : 0;
	struct msg *m;
	unsigned spins = 0;

	while (!(m = ring_reserve(&w->in, sizeof(*m) + plen))) {
		merge(d);                  /* keep the workers' output moving */
		backoff(&spins);
	}
	m->kind = kind;
	m->p = *p;
	m->p.payload = NULL;
	m->p.l3 = NULL;
	if (!hlen)
		m->p.l3_len = m->p.l4_len = 0;
	if (plen)
		memcpy(m + 1, hlen ? p->l3 : p->payload, plen);
	w->dispatched = p->index;
	ring_commit(&w->in);
	atomic_store_explicit(&w->dispatched_pub, p->index,
			      memory_order_release);
}

void dispatch_tick(struct dispatch *d, uint64_t now)
{
	struct pkt t = { .ts_us = now };

	d->last_tick = now;
	if (d->single) {
		engine_tick(d->single, now, d->next_index++);
		return;
	}
	for (int i = 0; i < d->n; i++) {
		t.index = d->next_index++;
		send_msg(d, &d->w[i], MSG_TICK, &t);
	}
	merge(d);
}

enum verdict dispatch_packet(struct dispatch *d, struct pkt *p)
{
	p->index = d->next_index++;
	if (d->single)
		return engine_packet(d->single, p);
	if (p->ts_us > d->last_tick + TICK_US) {
		if (d->last_tick)
			dispatch_tick(d, p->ts_us);
		d->last_tick = p->ts_us;
	}
	/* p->payload_len above the ring's entry size cannot happen: a TCP
	 * segment is at most 64 KB and entries may be up to 4 MB */
	send_msg(d, &d->w[flow_hash_pkt(p) % (uint32_t)d->n], MSG_PKT, p);
	if ((p->index & 255) == 0)
		merge(d);
	return VERDICT_ACCEPT;
}

void dispatch_drain(struct dispatch *d)
{
	if (!d->single)
		merge(d);
}

void dispatch_finish(struct dispatch *d)
{
	if (d->finished)
		return;
	d->finished = 1;
	if (d->single) {
		engine_finish(d->single, d->next_index++);
		return;
	}
	for (int i = 0; i < d->n; i++) {
		struct pkt t = { .index = d->next_index++ };
		send_msg(d, &d->w[i], MSG_FINISH, &t);
	}
	for (;;) {
		int all = 1;
		unsigned spins = 0;
		merge(d);
		for (int i = 0; i < d->n; i++)
			all &= atomic_load(&d->w[i].done);
		if (all)
			break;
		backoff(&spins);
	}
	for (int i = 0; i < d->n; i++)
		pthread_join(d->w[i].thread, NULL);
	merge(d);
}

void dispatch_counters(struct dispatch *d, struct rw_counters *sum)
{
	if (d->single) {
		counters_sum(sum, engine_counters(d->single));
		return;
	}
	for (int i = 0; i < d->n; i++)
		counters_sum(sum, engine_counters(d->w[i].e));
}

void dispatch_mem(struct dispatch *d, struct engine_mem *m)
{
	struct engine_mem one;

	memset(m, 0, sizeof(*m));
	for (int i = 0; i < d->n; i++) {
		engine_mem(d->single ? d->single : d->w[i].e, &one);
		m->flow_entry_bytes = one.flow_entry_bytes;
		m->parser_state_bytes = one.parser_state_bytes;
		m->flows_active += one.flows_active;
		m->flows_peak += one.flows_peak;
		m->flows_max += one.flows_max;
		m->parsers_peak += one.parsers_peak;
		m->reasm_bytes_peak += one.reasm_bytes_peak;
	}
}

void dispatch_set_flow_counters(struct dispatch *d,
				 int (*fn)(void *arg, const struct pkt *p,
					   uint64_t pkts[2], uint64_t bytes[2]))
{
	d->flow_counters = fn;
}

int dispatch_workers(const struct dispatch *d)
{
	return d->n;
}

void dispatch_free(struct dispatch *d)
{
	if (!d)
		return;
	if (!d->single && d->w && !d->finished)
		dispatch_finish(d);
	engine_free(d->single);
	if (d->w) {
		for (int i = 0; i < d->n; i++) {
			engine_free(d->w[i].e);
			ring_destroy(&d->w[i].in);
			ring_destroy(&d->w[i].out);
		}
		free(d->w);
	}
	rule_state_free(d->rstate);   /* after the engines that use it */
	free(d);
}
