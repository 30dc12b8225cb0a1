/* engine.c - flows, reassembly, protocol detection, parsers (records are
 * written by engine_records.c, facts and alerts by engine_facts.c).
 *
 * Per packet: find or create the flow (roles from the handshake, or from
 * ports and first payload on mid-stream pickup), feed the payload to the
 * direction's reassembler, which delivers in-order bytes to the flow's
 * application context: first content detection (while undecided), then the
 * parser. A parser that grants a tunnel gets a child context fed with the
 * tunnel's bytes, detected and parsed the same way.
 *
 * Rules. Every parser event is also a fact for the rule engine (rules.h,
 * bound to fields by rule_bind.c), as are a flow's creation and end and a
 * granted tunnel; facts of a tunnel's payload carry the tunnel. Each match
 * that passes its rate limit becomes an "alert" record written just before
 * the record of the same event. The worker reads the published ruleset on
 * every fact (one acquire load; see engine_set_ruleset()) and keeps its own
 * reference to the set it uses (engine_facts.c).
 */
#include "engine_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "community_id.h"
#include "csum.h"
#include "eve.h"
#include "flow.h"
#include "http_proxy.h"
#include "json.h"
#include "pool.h"
#include "reasm.h"
#include "rule_bind.h"

#define TUNNEL_MAX_DEPTH 2
/* idle flows closed per packet / per tick at most (see expire()) */
#define EXPIRE_PER_PACKET 8
#define EXPIRE_PER_TICK 4096
#define RECORD_BUF (512 * 1024)

const char *const engine_close_reason_name[] = {
	"timeout", "closed", "rst", "evicted", "shutdown",
};

static const struct proto_ops *const all_parsers[] = {
	&smtp_ops, &http_proxy_ops, &socks_ops,
};

/* ------------------------------------------------------------------ */

void engine_config_default(struct engine_config *c)
{
	static const uint16_t smtp[] = {25, 587, 2525};
	static const uint16_t smtps[] = {465};
	static const uint16_t http[] = {3128, 8080, 8000, 8118, 8123, 8888, 80};
	static const uint16_t socks[] = {1080, 1081, 9050};

	memset(c, 0, sizeof(*c));
	memcpy(c->smtp_ports, smtp, sizeof(smtp));
	c->n_smtp_ports = 3;
	memcpy(c->smtp_tls_ports, smtps, sizeof(smtps));
	c->n_smtp_tls_ports = 1;
	memcpy(c->http_proxy_ports, http, sizeof(http));
	c->n_http_proxy_ports = 7;
	memcpy(c->socks_ports, socks, sizeof(socks));
	c->n_socks_ports = 3;
	c->max_flows = 65536;
	c->max_parsers = 16384;
	c->reasm_mem = 64u << 20;
	c->reasm_dir_cap = 256u << 10;
	c->flow_timeout_s = 600;
	c->embryonic_timeout_s = 30;
	c->detect_bytes = DET_BYTES;
}

int engine_parse_ports(const char *s, uint16_t *ports, int *n)
{
	int k = 0;

	if (!*s) {
		*n = 0;
		return 0;
	}
	while (*s) {
		char *end;
		unsigned long v = strtoul(s, &end, 10);
		if (end == s || v == 0 || v > 65535 || k >= ENGINE_MAX_PORTS ||
		    (*end && *end != ','))
			return -EINVAL;
		ports[k++] = (uint16_t)v;
		s = *end ? end + 1 : end;
	}
	*n = k;
	return 0;
}

static int port_in(uint16_t port, const uint16_t *list, int n)
{
	for (int i = 0; i < n; i++)
		if (list[i] == port)
			return 1;
	return 0;
}

/* which parser the port asks for; *implicit_tls for SMTPS */
static enum app_proto app_by_port(const struct engine_config *c, uint16_t port,
				  int *implicit_tls)
{
	*implicit_tls = 0;
	if (port_in(port, c->smtp_ports, c->n_smtp_ports))
		return APP_SMTP;
	if (port_in(port, c->smtp_tls_ports, c->n_smtp_tls_ports)) {
		*implicit_tls = 1;
		return APP_SMTP;
	}
	if (port_in(port, c->http_proxy_ports, c->n_http_proxy_ports))
		return APP_HTTP_PROXY;
	if (port_in(port, c->socks_ports, c->n_socks_ports))
		return APP_SOCKS;
	return APP_UNKNOWN;
}

static int is_service_port(const struct engine_config *c, uint16_t port)
{
	int tls;
	return app_by_port(c, port, &tls) != APP_UNKNOWN;
}

static const struct proto_ops *ops_for(enum app_proto a)
{
	for (size_t i = 0; i < sizeof(all_parsers) / sizeof(all_parsers[0]); i++)
		if (all_parsers[i]->id == a)
			return all_parsers[i];
	return NULL;
}

static const enum rw_counter det_port_ctr[APP__COUNT] = {
	[APP_SMTP] = CTR_DET_SMTP_PORT,
	[APP_HTTP_PROXY] = CTR_DET_HTTP_PROXY_PORT,
	[APP_SOCKS] = CTR_DET_SOCKS_PORT,
};
static const enum rw_counter det_content_ctr[APP__COUNT] = {
	[APP_SMTP] = CTR_DET_SMTP_CONTENT,
	[APP_HTTP_PROXY] = CTR_DET_HTTP_PROXY_CONTENT,
	[APP_SOCKS] = CTR_DET_SOCKS_CONTENT,
};

/* ------------------------------------------------------------------ */
/* application contexts */

static void *state_get(struct engine *e, struct pool *pool, struct eflow *f);
static void app_feed(struct app_ctx *a, int dir, const uint8_t *d, size_t n,
		     uint64_t ts);
static void app_gap(struct app_ctx *a, int dir, size_t n, uint64_t ts);
static void app_start(struct app_ctx *a, enum app_proto p, int implicit_tls,
		      int by_content);

static void sink_tunnel_open(void *ctx, const struct tunnel_info *ti,
			     uint64_t ts)
{
	struct app_ctx *a = ctx;
	struct engine *e = a->e;
	struct tunnel_ctx *t;
	int tls;

	if (a->child)
		return;
	ctr_inc(&e->ctr, CTR_TUNNEL_OPEN);
	engine_fact_tunnel(e, a, ti, ts);
	if (a->depth + 1 > TUNNEL_MAX_DEPTH) {
		ctr_inc(&e->ctr, CTR_TUNNEL_DEPTH_CAP);
		return;
	}
	t = state_get(e, &e->tunnel_pool, a->flow);
	if (!t)
		return;
	t->ti = *ti;
	t->ti.target_host[TUNNEL_HOST_MAX - 1] = '\0';
	t->app.tun = &t->ti;
	t->app.flow = a->flow;
	t->app.e = e;
	t->app.depth = a->depth + 1;
	t->app.server_port = ti->target_port;
	t->app.app = APP_UNKNOWN;
	a->child = &t->app;
	/* the target port is a strong hint (CONNECT host:25, SOCKS to :80,
	 * a chained proxy); other ports are decided by content */
	enum app_proto p = app_by_port(&e->cfg, ti->target_port, &tls);
	if (p != APP_UNKNOWN)
		app_start(&t->app, p, tls, 0);
}

static void sink_tunnel_data(void *ctx, int dir, const uint8_t *d, size_t n,
			     uint64_t ts)
{
	struct app_ctx *a = ctx;

	if (a->child)
		app_feed(a->child, dir, d, n, ts);
}

static void sink_tunnel_gap(void *ctx, int dir, size_t n, uint64_t ts)
{
	struct app_ctx *a = ctx;

	if (a->child)
		app_gap(a->child, dir, n, ts);
}

static void app_release_det(struct app_ctx *a)
{
	if (a->det) {
		pool_put(&a->e->det_pool, a->det);
		a->det = NULL;
	}
}

/* Start parser p on a (state from the pool). On a full pool the context
 * becomes APP_NONE: the flow is followed no further (counted). */
static void app_start(struct app_ctx *a, enum app_proto p, int implicit_tls,
		      int by_content)
{
	struct engine *e = a->e;
	const struct proto_ops *ops = ops_for(p);
	struct proto_init pi = {
		.server_port = a->server_port,
		.implicit_tls = implicit_tls,
		.midstream = a->flow->midstream,
		.reversed = a->reversed,
		.in_tunnel = a->tun != NULL,
	};

	if (!ops) {
		a->app = APP_NONE;
		return;
	}
	a->state = state_get(e, &e->parser_pool, a->flow);
	if (!a->state) {
		a->app = APP_NONE;
		return;
	}
	ctr_inc(&e->ctr, by_content ? det_content_ctr[p] : det_port_ctr[p]);
	a->app = p;
	a->ops = ops;
	a->sink.ctx = a;
	a->sink.event = engine_sink_event;
	a->sink.tunnel_open = sink_tunnel_open;
	a->sink.tunnel_data = sink_tunnel_data;
	a->sink.tunnel_gap = sink_tunnel_gap;
	a->flow->ever_app = 1;
	ops->init(a->state, &a->sink, &e->ctr, &pi);
}

/* The port's parser, started on the flow's first payload byte (or gap):
 * a SYN holds no parser state, so a SYN flood cannot exhaust the pool. */
static void app_start_by_port(struct app_ctx *a)
{
	enum app_proto p = a->port_app;

	a->port_app = APP_UNKNOWN;
	app_start(a, p, a->port_tls, 0);
}

/* Run the probes over what detection has buffered. final: no more bytes
 * will come before a decision is needed. */
static enum app_proto detect_decide(const struct app_ctx *a,
				    struct detect *d, int final)
{
	int more = 0;

	for (size_t i = 0; i < sizeof(all_parsers) / sizeof(all_parsers[0]); i++) {
		const struct proto_ops *o = all_parsers[i];
		enum probe_result (*probe)(const uint8_t *, size_t,
					   const uint8_t *, size_t) =
			a->tun && o->probe_tunnel ? o->probe_tunnel : o->probe;
		enum probe_result r = probe(d->buf[0], d->len[0],
					    d->buf[1], d->len[1]);
		if (r == PROBE_YES || r == PROBE_YES_REVERSED) {
			d->reversed = r == PROBE_YES_REVERSED;
			return o->id;
		}
		if (r == PROBE_MORE)
			more = 1;
	}
	if (more && !final && !d->full && d->nchunks < DET_CHUNKS)
		return APP_UNKNOWN;
	return APP_NONE;
}

/* Replay what detection buffered, in arrival order, into the new parser.
 * Reversed roles: what the connecting side said before the other side's
 * first bytes (a bot's login to its controller) is not the protocol's:
 * skipped and counted; the rest goes in with the directions swapped. */
static void detect_replay(struct app_ctx *a, struct detect *d, uint64_t ts)
{
	size_t off[2] = {0, 0};
	int seen_srv = 0;

	for (int i = 0; i < d->nchunks; i++) {
		int dir = d->chunk[i].dir;

		seen_srv |= dir == DIR_TO_CLIENT;
		if (a->reversed && !seen_srv)
			ctr_add(&a->e->ctr, CTR_DET_REVERSE_PREAMBLE,
				d->chunk[i].len);
		else
			a->ops->feed(a->state, dir ^ a->reversed,
				     d->buf[dir] + off[dir], d->chunk[i].len,
				     ts);
		off[dir] += d->chunk[i].len;
	}
}

static void detect_conclude(struct app_ctx *a, enum app_proto p, uint64_t ts)
{
	struct detect *d = a->det;

	if (p == APP_NONE) {
		ctr_inc(&a->e->ctr, CTR_DET_NONE);
		a->app = APP_NONE;
		app_release_det(a);
		return;
	}
	a->det = NULL;
	a->reversed = d->reversed;
	if (a->reversed)
		ctr_inc(&a->e->ctr, CTR_DET_REVERSED);
	app_start(a, p, 0, 1);
	if (a->app != APP_NONE)
		detect_replay(a, d, ts);
	pool_put(&a->e->det_pool, d);
}

static void app_feed(struct app_ctx *a, int dir, const uint8_t *d, size_t n,
		     uint64_t ts)
{
	struct detect *det;
	size_t room, take;
	enum app_proto p;

	if (a->app == APP_NONE || !n)
		return;
	if (a->app == APP_UNKNOWN && a->port_app != APP_UNKNOWN)
		app_start_by_port(a);
	if (a->app == APP_NONE)
		return;
	if (a->app != APP_UNKNOWN) {
		a->ops->feed(a->state, dir ^ a->reversed, d, n, ts);
		return;
	}
	if (!a->det) {
		a->det = state_get(a->e, &a->e->det_pool, a->flow);
		if (!a->det) {
			a->app = APP_NONE;
			return;
		}
		/* the buffers are written before they are read */
		memset(a->det, 0, offsetof(struct detect, buf));
	}
	det = a->det;
	room = a->e->cfg.detect_bytes - det->len[dir];
	take = n < room ? n : room;
	if (take < n)
		det->full = 1;
	if (take && det->nchunks < DET_CHUNKS) {
		memcpy(det->buf[dir] + det->len[dir], d, take);
		det->len[dir] += (uint16_t)take;
		det->chunk[det->nchunks].dir = (uint8_t)dir;
		det->chunk[det->nchunks].len = (uint16_t)take;
		det->nchunks++;
	} else {
		det->full = 1;
		take = 0;
	}
	p = detect_decide(a, det, 0);
	if (p == APP_UNKNOWN)
		return;
	detect_conclude(a, p, ts);
	/* bytes of this chunk that did not fit the detection buffer */
	if (a->app != APP_NONE && take < n)
		a->ops->feed(a->state, dir ^ a->reversed, d + take, n - take,
			     ts);
}

static void app_gap(struct app_ctx *a, int dir, size_t n, uint64_t ts)
{
	if (a->app == APP_UNKNOWN && a->port_app != APP_UNKNOWN)
		app_start_by_port(a);
	if (a->app == APP_UNKNOWN && a->det) {
		/* decide with what we have: a gap cannot be replayed */
		detect_conclude(a, detect_decide(a, a->det, 1), ts);
	}
	if (a->app == APP_NONE || a->app == APP_UNKNOWN)
		return;
	a->ops->gap(a->state, dir ^ a->reversed, n, ts);
}

static int app_wants_data(const struct app_ctx *a)
{
	if (a->app == APP_NONE)
		return 0;
	if (a->app == APP_UNKNOWN)
		return 1;
	if (a->child && app_wants_data(a->child))
		return 1;
	return a->ops->wants_data ? a->ops->wants_data(a->state) : 1;
}

/* end of flow: flush parsers (child first: its records come before the
 * carrier's), release states */
static void app_end(struct app_ctx *a, uint64_t ts)
{
	struct engine *e = a->e;

	if (a->child) {
		app_end(a->child, ts);
		pool_put(&e->tunnel_pool, (struct tunnel_ctx *)a->child);
		a->child = NULL;
	}
	if (a->app == APP_UNKNOWN && a->det)
		detect_conclude(a, detect_decide(a, a->det, 1), ts);
	if (a->state) {
		if (a->ops->end)
			a->ops->end(a->state, ts);
		pool_put(&e->parser_pool, a->state);
		a->state = NULL;
	}
	app_release_det(a);
}

/* ------------------------------------------------------------------ */
/* flows */

static void ra_data(void *arg, int dir, const uint8_t *d, size_t n,
		    uint64_t ts)
{
	struct eflow *f = arg;
	app_feed(&f->app, dir, d, n, ts);
}

static void ra_gap(void *arg, int dir, size_t n, uint64_t ts)
{
	struct eflow *f = arg;
	f->gaps++;
	app_gap(&f->app, dir, n, ts);
}

static void flow_close(struct engine *e, struct eflow *f,
		       enum close_reason why)
{
	struct reasm_out ro = { f, ra_data, ra_gap };
	uint64_t ts = f->link.last_ts;

	if (!f->link.in_use || f->closing)
		return;      /* already closed, or being closed further up */
	f->closing = 1;

	if (f->app.app != APP_NONE) {
		reasm_flush(&e->ra, &f->rd[0], 0, ts, &ro);
		reasm_flush(&e->ra, &f->rd[1], 1, ts, &ro);
	}
	reasm_release(&e->ra, &f->rd[0]);
	reasm_release(&e->ra, &f->rd[1]);
	app_end(&f->app, ts);
	engine_fact_flow(e, f, TRIG_FLOW_END, engine_close_reason_name[why]);
	if (f->ever_app || e->cfg.flow_records_all)
		engine_flow_record(e, f, why);
	switch (why) {
	case CLOSE_TIMEOUT: ctr_inc(&e->ctr, CTR_FLOW_TIMEOUT); break;
	case CLOSE_FIN: ctr_inc(&e->ctr, CTR_FLOW_FIN); break;
	case CLOSE_RST: ctr_inc(&e->ctr, CTR_FLOW_RST); break;
	case CLOSE_EVICT: ctr_inc(&e->ctr, CTR_FLOW_EVICT); break;
	case CLOSE_SHUTDOWN: ctr_inc(&e->ctr, CTR_FLOW_END_OF_INPUT); break;
	}
	flow_remove(&e->flows, &f->link);
}

/* Close idle flows, each list with its own timeout, at most `budget`
 * of them (amortised: a packet never pays for thousands of flows that
 * went idle at once; the rest go on the next packets or ticks, and a full
 * table evicts the coldest anyway). Returns how many were closed. */
static unsigned expire(struct engine *e, uint64_t now, unsigned budget)
{
	unsigned closed = 0;

	for (int list = 0; list < FLOW_LISTS; list++) {
		uint64_t to = (uint64_t)(list == FL_EMBRYONIC ?
					 e->cfg.embryonic_timeout_s :
					 e->cfg.flow_timeout_s) * 1000000;
		struct flow_link *l;
		unsigned visits = 0;

		/* The LRU order is exact to FLOW_LRU_GRAIN_US: a flow at the
		 * cold end may have been active since its last relink; it is
		 * relinked at the hot end now (so no walk meets it twice).
		 * The coldest is read again after each close: closing one
		 * flow can close others (its parsers' states are given back,
		 * nothing is evicted meanwhile: e->evicting). */
		while ((l = flow_coldest_in(&e->flows, list)) &&
		       now > l->lru_ts + to && closed < budget &&
		       visits++ < 8 * budget) {
			if (now <= l->last_ts + to) {
				flow_refresh(&e->flows, l);
				continue;
			}
			if (list == FL_EMBRYONIC)
				ctr_inc(&e->ctr, CTR_FLOW_EMBRYONIC_TIMEOUT);
			e->evicting++;
			flow_close(e, (struct eflow *)l, CLOSE_TIMEOUT);
			e->evicting--;
			closed++;
		}
	}
	if (closed == budget)
		ctr_inc(&e->ctr, CTR_FLOW_EXPIRE_DEFERRED);
	return closed;
}

/* does context a (or a tunnel inside it) hold an object of pool? */
static int app_holds(struct engine *e, const struct app_ctx *a,
		     const struct pool *pool)
{
	for (; a; a = a->child) {
		if ((pool == &e->parser_pool && a->state) ||
		    (pool == &e->det_pool && a->det) ||
		    (pool == &e->tunnel_pool && a->child))
			return 1;
	}
	return 0;
}

/* A state from pool (parser, detection, tunnel) for flow f. Full pool:
 * the least recently active parsed flow (never f, never the packet's own
 * flow) is closed (records written, reason "evicted", counted) so the
 * newest session is still parsed; a flood of idle sessions cannot blind
 * the sensor to the next one. NULL (counted) when nothing can be evicted. */
static void *state_get(struct engine *e, struct pool *pool, struct eflow *f)
{
	void *o = pool_get(pool);

	for (int tries = 0; !o && !e->evicting && tries < 8; tries++) {
		struct flow_link *l = flow_coldest_in(&e->flows, FL_PARSED);
		int walk = 0;

		/* the least recently active flow that holds an object of
		 * this very pool (closing one that holds none frees nothing) */
		while (l && walk++ < 64 &&
		       (l == &f->link ||
			(e->pkt_flow && l == &e->pkt_flow->link) ||
			!app_holds(e, &((struct eflow *)l)->app, pool)))
			l = flow_warmer(&e->flows, l);
		if (!l || walk > 64)
			break;
		e->evicting++;
		ctr_inc(&e->ctr, CTR_FLOW_EVICT_STATE);
		flow_close(e, (struct eflow *)l, CLOSE_EVICT);
		e->evicting--;
		o = pool_get(pool);
	}
	if (!o)
		ctr_inc(&e->ctr, CTR_DET_STATE_CAP);
	return o;
}

/* the list a flow belongs on now */
static void flow_relist(struct engine *e, struct eflow *f)
{
	int l = !f->payload_seen ? FL_EMBRYONIC :
		f->app.app == APP_NONE || f->bypassed ? FL_PLAIN : FL_PARSED;

	if (l != f->link.list)
		flow_set_list(&e->flows, &f->link, l);
}

/* Which endpoint of the key is the client, for a flow seen first with
 * packet p (sender is key endpoint `sender`). */
static int pick_client(const struct engine *e, const struct pkt *p,
		       int sender, int *midstream)
{
	int f = p->tcp_flags;

	*midstream = 0;
	if ((f & TCP_SYN) && !(f & TCP_ACK))
		return sender;           /* SYN: sender opens */
	if ((f & TCP_SYN) && (f & TCP_ACK))
		return !sender;          /* SYN-ACK: receiver opened */
	*midstream = 1;
	if (is_service_port(&e->cfg, p->dport) && !is_service_port(&e->cfg, p->sport))
		return sender;
	if (is_service_port(&e->cfg, p->sport) && !is_service_port(&e->cfg, p->dport))
		return !sender;
	if (p->payload_len >= 4 && memcmp(p->payload, "220", 3) == 0 &&
	    (p->payload[3] == ' ' || p->payload[3] == '-'))
		return !sender;          /* a greeting comes from the server */
	if (p->dport < 1024 && p->sport >= 1024)
		return sender;
	if (p->sport < 1024 && p->dport >= 1024)
		return !sender;
	return sender;                   /* first talker is the client */
}

static uint64_t make_flow_id(const struct flow_key *k, uint32_t hash,
			     uint64_t ts)
{
	uint64_t z = ((uint64_t)hash << 32) ^ ts ^ k->port[0];

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return z & ((1ULL << 51) - 1);  /* fits a JSON double exactly */
}

static struct eflow *flow_create(struct engine *e, const struct pkt *p,
				 const struct flow_key *k, uint32_t hash,
				 int sender)
{
	struct flow_link *l;
	struct eflow *f;
	int mid, tls;

	l = flow_insert(&e->flows, k, hash, p->ts_us);
	if (!l) {
		/* full: an embryonic flow (no payload yet: a SYN flood's)
		 * goes first, else the least recently active of all */
		struct flow_link *old = flow_coldest_in(&e->flows,
							FL_EMBRYONIC);
		if (old)
			ctr_inc(&e->ctr, CTR_FLOW_EVICT_EMBRYONIC);
		else
			old = flow_coldest(&e->flows);
		if (old)
			flow_close(e, (struct eflow *)old, CLOSE_EVICT);
		l = flow_insert(&e->flows, k, hash, p->ts_us);
		if (!l)
			return NULL;
	}
	f = (struct eflow *)l;
	f->first_ts = p->ts_us;
	f->flow_id = make_flow_id(k, flow_key_hash_stable(k), p->ts_us);
	f->cli = (uint8_t)pick_client(e, p, sender, &mid);
	f->midstream = (uint8_t)mid;
	ctr_inc(&e->ctr, CTR_FLOW_NEW);
	if (mid)
		ctr_inc(&e->ctr, CTR_FLOW_MIDSTREAM);
	f->app.flow = f;
	f->app.e = e;
	f->app.server_port = k->port[!f->cli];
	f->app.app = APP_UNKNOWN;
	f->app.port_app = app_by_port(&e->cfg, f->app.server_port, &tls);
	f->app.port_tls = (uint8_t)tls;
	return f;
}

/* Would the receiver take this RST? RFC 5961 3.2: only when its sequence
 * number is exactly the next one expected (RCV.NXT); anything else in the
 * window earns a challenge ACK and changes nothing (RFC 793 stacks took
 * any in-window RST, which let blind attackers reset connections). The
 * receiver's RCV.NXT is not known exactly: it lies between the sender's
 * bytes we delivered in order and the highest we saw, so a RST in that
 * range is believed. No state for the sender's side yet (a RST answering
 * a SYN, a flow picked up mid-stream): believed. */
static int rst_acceptable(const struct eflow *f, int dir,
			  const struct pkt *p)
{
	const struct reasm_dir *rd = &f->rd[dir];

	if (!rd->init || f->app.app == APP_NONE)
		return 1;
	return p->seq == rd->next_seq ||
	       (rd->peer_ack_set && p->seq == rd->peer_ack) ||
	       (rd->fin && p->seq == rd->fin_seq + 1);
}

static void csum_offload_note(struct engine *e, const struct pkt *p)
{
	ctr_inc(&e->ctr, CTR_CSUM_OFFLOAD_HOSTS);
	csum_say_offload(p->family, p->src);
}

/* Checksum policy (csum.h). *verified: in, the packet's flow direction
 * already carried a good checksum on a packet with payload or SYN; out,
 * set when this packet is such a one. 1: process the packet; 0: the
 * receiver would drop it (counted). */
static int csum_accept(struct engine *e, const struct pkt *p, int *verified)
{
	enum csum_result r;
	int now_offloaded, v;

	if (e->cfg.checksum == CSUM_OFF)
		return 1;
	r = csum_check_pkt(p);
	if (r == CSUM_UNKNOWN) {
		ctr_inc(&e->ctr, CTR_CSUM_UNVERIFIABLE);
		return 1;
	}
	if (r == CSUM_GOOD) {
		if (e->cfg.checksum == CSUM_AUTO)
			csum_table_note(&e->csum, p, r, CSUM_OFFLOAD_MIN, 1,
					&now_offloaded);
		*verified |= csum_evidence(p);
		return 1;
	}
	v = CSUM_DROP;
	if (e->cfg.checksum == CSUM_AUTO)
		v = csum_table_note(&e->csum, p, r, CSUM_OFFLOAD_MIN,
				    *verified, &now_offloaded);
	if (v == CSUM_KEEP_OFFLOAD) {
		if (now_offloaded)
			csum_offload_note(e, p);
		ctr_inc(&e->ctr, CTR_CSUM_OFFLOAD_ACCEPTED);
		return 1;
	}
	if (v == CSUM_KEEP_UNPROVEN) {
		ctr_inc(&e->ctr, CTR_CSUM_UNPROVEN_ACCEPTED);
		return 1;
	}
	ctr_inc(&e->ctr, r == CSUM_BAD_IP ? CTR_CSUM_BAD_IP : CTR_CSUM_BAD_TCP);
	return 0;
}

enum verdict engine_packet(struct engine *e, const struct pkt *p)
{
	struct flow_key k;
	struct eflow *f;
	uint32_t hash;
	int sender, dir, created = 0, verified = 0;
	struct reasm_out ro;

	e->now = p->ts_us;
	e->cur_index = p->index;
	e->pkt_flow = NULL;
	e->pkt_verdict = VERDICT_ACCEPT;
	/* idle flows: looked at once per millisecond of packet time (or at
	 * once again when the last look had more to close) */
	if (p->ts_us >= e->next_expire_us) {
		unsigned n = expire(e, p->ts_us, EXPIRE_PER_PACKET);
		e->next_expire_us = n < EXPIRE_PER_PACKET ? p->ts_us + 1000 : 0;
	}
	flow_key_from_pkt(p, &k, &sender);
	hash = flow_key_hash(&k);
	f = (struct eflow *)flow_lookup(&e->flows, &k, hash);
	if (!f) {
		if (!(p->tcp_flags & TCP_SYN) &&
		    !(p->payload_len + p->payload_missing)) {
			ctr_inc(&e->ctr, CTR_FLOW_NO_PAYLOAD_SKIP);
			return VERDICT_ACCEPT;
		}
		if (p->tcp_flags & TCP_RST) {
			ctr_inc(&e->ctr, CTR_FLOW_NO_PAYLOAD_SKIP);
			return VERDICT_ACCEPT;
		}
		if (!csum_accept(e, p, &verified))
			return VERDICT_ACCEPT;
		f = flow_create(e, p, &k, hash, sender);
		if (!f)
			return VERDICT_ACCEPT;
		created = 1;
		e->pkt_flow = f;
		engine_fact_flow(e, f, TRIG_FLOW_START, NULL);
	}
	dir = sender == f->cli ? DIR_TO_SERVER : DIR_TO_CLIENT;
	if (created)   /* checked above, before the flow existed */
		f->csum_good |= (uint8_t)(verified << dir);
	if (f->blocked && e->cfg.inline_mode) {
		/* Decided: every later packet drops, before the reassembly
		 * sees it. A retransmission of the dropped packet would
		 * otherwise be old data to the stream (consumed before its
		 * verdict) and pass. The flow stays (touched) until idle, so
		 * its retransmissions keep finding it; the capture's
		 * connmark drops the rest in the kernel. Passive modes go on
		 * parsing: there the server did get the bytes. */
		flow_touch(&e->flows, &f->link, p->ts_us);
		f->pkts[dir]++;
		f->bytes[dir] += p->wire_len;
		ctr_inc(&e->ctr, CTR_INLINE_BLOCKED_FLOW);
		return VERDICT_DROP;
	}
	if (!created && f->app.app != APP_NONE && !f->bypassed) {
		verified = f->csum_good >> dir & 1;
		if (!csum_accept(e, p, &verified)) {
			f->tcp_anom |= TCP_ANOM_BAD_CHECKSUM;
			return VERDICT_ACCEPT; /* the receiver drops it: so do we */
		}
		f->csum_good |= (uint8_t)(verified << dir);
	}
	if ((p->tcp_flags & TCP_RST) && !rst_acceptable(f, dir, p)) {
		/* the receiver ignores it (RFC 5961 3.2): so do we */
		ctr_inc(&e->ctr, CTR_TCP_RST_IGNORED);
		f->tcp_anom |= TCP_ANOM_RST_IGNORED;
		return VERDICT_ACCEPT;
	}
	e->pkt_flow = f;
	flow_touch(&e->flows, &f->link, p->ts_us);
	f->pkts[dir]++;
	f->bytes[dir] += p->wire_len;
	if (p->payload_len + p->payload_missing)
		f->payload_seen = 1;

	if (p->tcp_flags & TCP_SYN) {
		if (!(p->tcp_flags & TCP_ACK) && dir == DIR_TO_SERVER) {
			f->syn = 1;
			if (!f->rd[0].init)
				reasm_dir_start(&f->rd[0], p->seq + 1);
		} else if ((p->tcp_flags & TCP_ACK) && dir == DIR_TO_CLIENT) {
			f->synack = 1;
			if (!f->rd[1].init)
				reasm_dir_start(&f->rd[1], p->seq + 1);
		}
	}
	ro = (struct reasm_out){ f, ra_data, ra_gap };
	enum app_proto before = f->app.app;
	if (f->app.app != APP_NONE && !(p->tcp_flags & TCP_RST)) {
		/* the ACK speaks of bytes the other side sent before this
		 * segment: what it declares lost comes first */
		if (p->tcp_flags & TCP_ACK)
			reasm_ack(&e->ra, &f->rd[!dir], !dir, p->ack, p->ts_us,
				  &ro);
		reasm_segment(&e->ra, &f->rd[dir], dir, p->seq, p->payload,
			      p->payload_len, p->payload_missing,
			      p->tcp_flags & TCP_FIN, p->ts_us, &ro);
		if (!app_wants_data(&f->app)) {
			/* no parser needs more: drop buffered data, and tell
			 * the capture (eBPF bypasses the flow in the kernel) */
			reasm_release(&e->ra, &f->rd[0]);
			reasm_release(&e->ra, &f->rd[1]);
			if (!f->bypassed) {
				f->bypassed = 1;
				if (e->out.flow_inspect)
					e->out.flow_inspect(e->out.arg, p, 0);
			}
		} else if (before == APP_UNKNOWN && f->app.app != APP_UNKNOWN &&
			   e->out.flow_inspect) {
			e->out.flow_inspect(e->out.arg, p, 1); /* by content */
		}
		size_t rb = pool_bytes(&e->ra.segs);
		if (rb > e->reasm_peak)
			e->reasm_peak = rb;
	} else if (p->tcp_flags & TCP_FIN) {
		f->rd[dir].fin = 1;
	}
	if (p->tcp_flags & TCP_FIN)
		f->fin[dir] = 1;
	if (p->tcp_flags & TCP_RST) {
		f->rst = 1;
		flow_close(e, f, CLOSE_RST);
	} else if (f->fin[0] && f->fin[1]) {
		flow_close(e, f, CLOSE_FIN);
	} else {
		flow_relist(e, f);
	}
	e->pkt_flow = NULL;
	return e->pkt_verdict;
}

void engine_tick(struct engine *e, uint64_t now, uint64_t index)
{
	if (now > e->now)
		e->now = now;
	e->cur_index = index;
	expire(e, e->now, EXPIRE_PER_TICK);
}

void engine_finish(struct engine *e, uint64_t index)
{
	struct flow_link *l;

	e->cur_index = index;
	/* coldest first: records come out in order of last activity */
	while ((l = flow_coldest(&e->flows)))
		flow_close(e, (struct eflow *)l, CLOSE_SHUTDOWN);
}

/* ------------------------------------------------------------------ */

struct engine *engine_new(const struct engine_config *cfg,
			  const struct engine_output *out)
{
	struct engine *e = calloc(1, sizeof(*e));
	size_t ss = 0;

	if (!e)
		return NULL;
	e->cfg = *cfg;
	if (!e->cfg.detect_bytes || e->cfg.detect_bytes > DET_BYTES)
		e->cfg.detect_bytes = DET_BYTES;
	e->out = *out;
	for (size_t i = 0; i < sizeof(all_parsers) / sizeof(all_parsers[0]); i++)
		if (all_parsers[i]->state_size > ss)
			ss = all_parsers[i]->state_size;
	e->parser_state_size = ss;
	e->jbuf = malloc(RECORD_BUF);
	if (!e->jbuf ||
	    flow_table_init(&e->flows, cfg->max_flows, sizeof(struct eflow)) < 0 ||
	    reasm_ctx_init(&e->ra, cfg->reasm_mem, cfg->reasm_dir_cap, &e->ctr) < 0 ||
	    pool_init(&e->det_pool, sizeof(struct detect), cfg->max_parsers) < 0 ||
	    pool_init(&e->parser_pool, ss, cfg->max_parsers) < 0 ||
	    pool_init(&e->tunnel_pool, sizeof(struct tunnel_ctx), cfg->max_parsers) < 0) {
		engine_free(e);
		return NULL;
	}
	/* parsers' init() clears their own state (only state_size bytes of
	 * the largest parser's slot); detection clears its header below */
	e->parser_pool.no_zero = 1;
	csum_table_init(&e->csum, (uint64_t)(uintptr_t)e *
			0x9e3779b97f4a7c15ULL ^ (uint64_t)time(NULL));
	if (cfg->csum_seed)
		csum_table_merge(&e->csum, cfg->csum_seed);
	e->cfg.csum_seed = NULL;
	e->det_pool.no_zero = 1;
	json_init(&e->j, e->jbuf, RECORD_BUF);
	atomic_init(&e->rs_pub, NULL);
	atomic_init(&e->rs_gen, 0);
	atomic_init(&e->rs_seen, 0);
	if (cfg->rules && engine_set_ruleset(e, cfg->rules) < 0) {
		engine_free(e);
		return NULL;
	}
	e->cfg.rules = NULL;   /* the engine's reference is in rs_pub */
	return e;
}

void engine_free(struct engine *e)
{
	if (!e)
		return;
	engine_rules_free(e);
	flow_table_destroy(&e->flows);
	reasm_ctx_destroy(&e->ra);
	pool_destroy(&e->det_pool);
	pool_destroy(&e->parser_pool);
	pool_destroy(&e->tunnel_pool);
	free(e->jbuf);
	free(e);
}

struct rw_counters *engine_counters(struct engine *e)
{
	return &e->ctr;
}

void engine_mem(struct engine *e, struct engine_mem *m)
{
	memset(m, 0, sizeof(*m));
	m->flow_entry_bytes = sizeof(struct eflow);
	m->flows_max = e->flows.max;
	m->flows_peak = e->flows.hwm;
	m->parser_state_bytes = e->parser_state_size;
	m->parsers_peak = e->parser_pool.peak;
	m->reasm_bytes_peak = e->reasm_peak;
	for (int l = 0; l < FLOW_LISTS; l++)
		m->flows_active += e->flows.n_list[l];
}
