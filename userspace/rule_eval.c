/* rule_eval.c - evaluate a compiled ruleset against one fact.
 *
 * Per evaluation: no allocation. Field values are fetched through the
 * fact's getter at most once per evaluation (a generation-stamped cache per
 * field id), expressions are walked over the precompiled node array, set
 * lookups are binary searches / hash probes, regexes use a per-context
 * match block.
 *
 * State (struct rule_state: one per engine group, shared by the workers'
 * contexts), three bounded tables of the same shape:
 *   thresholds   key = (sid, by-fields)      count / distinct values in a
 *                                            fixed window opened by the
 *                                            key's first fact
 *   rate limits  key = (sid, by-fields)      alerts emitted in the window
 *   correlation  key = (spec, A's fields)    when A last matched
 * Each is an open-addressing table probed over RULE_ST_PROBE slots. An
 * expired entry is free. When the probed slots are all live, the one that
 * expires first is evicted and the table's eviction counter counts it: under
 * pressure we forget the keys closest to forgetting anyway. Keys are 64-bit
 * hashes of the field values; a collision (odds ~n/2^64) merges two keys.
 * Distinct counting keeps up to RULE_DISTINCT_MAX 32-bit value hashes per
 * key (the checker rejects limits at or above that; past it the count
 * saturates and rules.threshold.distinct_cap counts).
 *
 * Sharing. The dispatcher shards flows by their 5-tuple, so the facts of
 * one key (a client's many connections, the inbound and outbound flows of
 * a relay) reach different workers. The tables are therefore shared and
 * guarded by one mutex, taken only for the stateful steps of a rule whose
 * condition has already matched (its correlation lookup, threshold, what
 * it remembers, its rate limit): a few per alert-worthy fact, never per
 * packet. Before its step a worker waits for its turn (rule_ctx_set_turn): the
 * other workers must have handled every packet of a lower index, so facts
 * meet the tables in packet order and several workers give the verdicts
 * of one (the tests compare them). The wait costs parallelism only at
 * matched stateful rules.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <pcre2.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "rules.h"

#define RULE_ST_PROBE 8

struct st_entry {
	uint64_t key;      /* 0: never used */
	uint64_t t0;       /* window start / when A matched */
	uint64_t expire;   /* live while now <= expire */
	uint32_t count;
	uint32_t aux;      /* threshold: fired in this window; corr: A's sid */
};

struct st_table {
	struct st_entry *e;
	uint32_t mask;
	enum rw_counter evict_ctr;
};

struct field_cache {
	uint32_t gen;
	int rc;
	struct rule_value v;
};

struct rule_state {
	pthread_mutex_t lock;
	struct st_table thr, rate, corr;
	uint32_t *distinct;   /* thr slots * RULE_DISTINCT_MAX value hashes */
};

struct rule_ctx {
	struct rw_counters *ctr;
	struct rule_state *st;
	int own_state;        /* created with the context (no sharing) */
	void (*turn)(void *arg);  /* before a stateful step, see rules.h */
	void *turn_arg;
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	uint32_t gen;
	struct field_cache cache[F__COUNT];
	const struct ruleset *rs;
	const struct rule_fact *f;
	char msg[RULE_MSG_MAX];
	char key[RULE_KEY_MAX];
};

void rule_ctx_config_default(struct rule_ctx_config *c)
{
	c->threshold_entries = 8192;    /* distinct store: 4 MiB */
	c->ratelimit_entries = 16384;
	c->correlation_entries = 16384;
	c->regex_match_limit = 100000;
}

static int st_init(struct st_table *t, uint32_t cap, enum rw_counter ctr)
{
	uint32_t n = 16;
	while (n < cap && n < (1u << 26))
		n <<= 1;
	t->e = calloc(n, sizeof(*t->e));
	t->mask = n - 1;
	t->evict_ctr = ctr;
	return t->e ? 0 : -ENOMEM;
}

void rule_ctx_config_fill(struct rule_ctx_config *c)
{
	struct rule_ctx_config d;

	rule_ctx_config_default(&d);
	if (!c->threshold_entries)
		c->threshold_entries = d.threshold_entries;
	if (!c->ratelimit_entries)
		c->ratelimit_entries = d.ratelimit_entries;
	if (!c->correlation_entries)
		c->correlation_entries = d.correlation_entries;
	if (!c->regex_match_limit)
		c->regex_match_limit = d.regex_match_limit;
}

struct rule_state *rule_state_new(const struct rule_ctx_config *cfg)
{
	struct rule_ctx_config c = { 0 };
	struct rule_state *st = calloc(1, sizeof(*st));

	if (cfg)
		c = *cfg;
	rule_ctx_config_fill(&c);
	if (!st)
		return NULL;
	if (pthread_mutex_init(&st->lock, NULL)) {
		free(st);
		return NULL;
	}
	if (st_init(&st->thr, c.threshold_entries, CTR_RULE_THR_EVICT) ||
	    st_init(&st->rate, c.ratelimit_entries, CTR_RULE_RATE_EVICT) ||
	    st_init(&st->corr, c.correlation_entries, CTR_RULE_CORR_EVICT))
		goto fail;
	st->distinct = calloc((size_t)st->thr.mask + 1,
			      RULE_DISTINCT_MAX * sizeof(uint32_t));
	if (!st->distinct)
		goto fail;
	return st;
fail:
	rule_state_free(st);
	return NULL;
}

void rule_state_free(struct rule_state *st)
{
	if (!st)
		return;
	free(st->thr.e);
	free(st->rate.e);
	free(st->corr.e);
	free(st->distinct);
	pthread_mutex_destroy(&st->lock);
	free(st);
}

struct rule_ctx *rule_ctx_new(const struct rule_ctx_config *cfg,
			      struct rw_counters *ctr,
			      struct rule_state *shared)
{
	struct rule_ctx_config c = { 0 };
	struct rule_ctx *x = calloc(1, sizeof(*x));

	if (cfg)
		c = *cfg;
	rule_ctx_config_fill(&c);
	if (!x)
		return NULL;
	x->ctr = ctr;
	x->st = shared;
	if (!x->st) {
		x->st = rule_state_new(&c);
		x->own_state = 1;
	}
	x->md = pcre2_match_data_create(1, NULL);
	x->mctx = pcre2_match_context_create(NULL);
	if (!x->st || !x->md || !x->mctx)
		goto fail;
	pcre2_set_match_limit(x->mctx, c.regex_match_limit);
	pcre2_set_depth_limit(x->mctx, c.regex_match_limit);
	return x;
fail:
	rule_ctx_free(x);
	return NULL;
}

void rule_ctx_set_turn(struct rule_ctx *c, void (*wait)(void *arg),
		       void *arg)
{
	c->turn = wait;
	c->turn_arg = arg;
}

void rule_ctx_free(struct rule_ctx *c)
{
	if (!c)
		return;
	if (c->own_state)
		rule_state_free(c->st);
	pcre2_match_data_free(c->md);
	pcre2_match_context_free(c->mctx);
	free(c);
}

static struct st_entry *st_get(struct rule_ctx *c, struct st_table *t,
			       uint64_t key, uint64_t now, int create,
			       int *fresh)
{
	uint32_t i0 = (uint32_t)(key >> 32) & t->mask;
	struct st_entry *freeslot = NULL, *victim = NULL;
	for (uint32_t k = 0; k < RULE_ST_PROBE; k++) {
		struct st_entry *e = &t->e[(i0 + k) & t->mask];
		if (e->key == key) {
			if (now > e->expire) {
				if (!create)
					return NULL;
				memset(e, 0, sizeof(*e));
				e->key = key;
				*fresh = 1;
				return e;
			}
			*fresh = 0;
			return e;
		}
		if (!e->key || now > e->expire) {
			if (!freeslot)
				freeslot = e;
		} else if (!victim || e->expire < victim->expire) {
			victim = e;
		}
	}
	if (!create)
		return NULL;
	if (!freeslot) {
		freeslot = victim;
		ctr_inc(c->ctr, t->evict_ctr);
	}
	memset(freeslot, 0, sizeof(*freeslot));
	freeslot->key = key;
	*fresh = 1;
	return freeslot;
}

/* ---- field access ---- */

static int domain_of(const struct rule_value *in, struct rule_value *out)
{
	const char *p = in->s.p;
	size_t n = p ? in->s.n : 0;
	const char *at = NULL;
	for (size_t i = 0; i < n; i++)
		if (p[i] == '@')
			at = p + i;
	if (!at)
		return -ENOENT;
	const char *d = at + 1, *e = p + n;
	while (e > d && (e[-1] == '>' || e[-1] == ' ' || e[-1] == '.'))
		e--;
	if (e == d)
		return -ENOENT;
	out->s.p = d;
	out->s.n = (size_t)(e - d);
	return 0;
}

static int raw_get(struct rule_ctx *c, int fid, struct rule_value *v)
{
	const struct rule_fact *f = c->f;
	memset(v, 0, sizeof(*v));
	if (!f->get || f->get(f->obj, fid, v) != 0)
		return -ENOENT;
	if (field_table[fid].type == FT_STR && !v->s.p)
		v->s.n = 0, v->s.p = "";
	return 0;
}

static int raw_nth(struct rule_ctx *c, int fid, unsigned i,
		   struct rule_value *v)
{
	const struct rule_fact *f = c->f;
	memset(v, 0, sizeof(*v));
	if (!f->get_nth || f->get_nth(f->obj, fid, i, v) != 0)
		return -ENOENT;
	if (!v->s.p)
		v->s.n = 0, v->s.p = "";
	return 0;
}

static int fetch(struct rule_ctx *c, int fid, struct rule_value *v);

/* element i of a list field (derived or not) */
static int nth(struct rule_ctx *c, int fid, unsigned i, struct rule_value *v)
{
	const struct field_info *fi = &field_table[fid];
	if (fi->derive == FD_DOMAIN) {
		struct rule_value b;
		/* skip elements without a domain rather than end the list */
		if (raw_nth(c, fi->base, i, &b))
			return -ENOENT;
		if (domain_of(&b, v)) {
			v->s.p = NULL;  /* present, but no domain */
			v->s.n = 0;
		}
		return 0;
	}
	return raw_nth(c, fid, i, v);
}

static int fetch_uncached(struct rule_ctx *c, int fid, struct rule_value *v)
{
	const struct field_info *fi = &field_table[fid];
	struct rule_value b;
	switch (fi->derive) {
	case FD_NONE:
		return raw_get(c, fid, v);
	case FD_DOMAIN:
		if (fetch(c, fi->base, &b))
			return -ENOENT;
		memset(v, 0, sizeof(*v));
		return domain_of(&b, v);
	case FD_CLASS:
		if (fetch(c, fi->base, &b))
			return -ENOENT;
		memset(v, 0, sizeof(*v));
		v->i = b.i / 100;
		return 0;
	case FD_COUNT: {
		memset(v, 0, sizeof(*v));
		unsigned i = 0;
		while (i < 65536 && raw_nth(c, fi->base, i, &b) == 0)
			i++;
		if (i == 0 && !c->f->get_nth)
			return -ENOENT;
		v->i = i;
		return 0;
	}
	case FD_FIRST: {
		int alt[4], na = field_alternatives(fid, alt);
		for (int k = 0; k < na; k++)
			if (fetch(c, alt[k], v) == 0)
				return 0;
		return -ENOENT;
	}
	case FD_DIRECTION: {
		struct rule_value s, d;
		const struct rule_set *h = c->rs->home_net;
		if (!h || fetch(c, F_SRC_IP, &s) || fetch(c, F_DEST_IP, &d))
			return -ENOENT;
		int si = rule_set_has_ip(h, &s.ip), di = rule_set_has_ip(h, &d.ip);
		memset(v, 0, sizeof(*v));
		v->s.p = si ? (di ? "internal" : "outbound")
			    : (di ? "inbound" : "external");
		v->s.n = strlen(v->s.p);
		return 0;
	}
	}
	return -ENOENT;
}

static int fetch(struct rule_ctx *c, int fid, struct rule_value *v)
{
	struct field_cache *fc = &c->cache[fid];
	if (fc->gen != c->gen) {
		fc->rc = fetch_uncached(c, fid, &fc->v);
		fc->gen = c->gen;
	}
	*v = fc->v;
	return fc->rc;
}

/* ---- predicates ---- */

static int mem_ieq(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (tolower((unsigned char)a[i]) != tolower((unsigned char)b[i]))
			return 0;
	return 1;
}

static int mem_icontains(const char *h, size_t hn, const char *nd, size_t nn)
{
	if (nn == 0)
		return 1;
	for (size_t i = 0; i + nn <= hn; i++)
		if (tolower((unsigned char)h[i]) == tolower((unsigned char)nd[0]) &&
		    mem_ieq(h + i, nd, nn))
			return 1;
	return 0;
}

static int test(struct rule_ctx *c, const struct rule_expr *e,
		const struct rule_value *v)
{
	enum field_type ty = field_table[e->field].type;
	int r;
	switch (e->op) {
	case EX_TRUE:
		return v->b != 0;
	case EX_EXISTS:
		return 1;
	case EX_EQ:
		switch (ty) {
		case FT_IP:
			r = v->ip.family == e->lit.ip.family &&
			    !memcmp(v->ip.a, e->lit.ip.a,
				    v->ip.family == 4 ? 4 : 16);
			break;
		case FT_INT: r = v->i == e->lit.i; break;
		case FT_BOOL: r = !!v->b == !!e->lit.b; break;
		default:
			r = v->s.p && v->s.n == e->lit.s.n &&
			    !memcmp(v->s.p, e->lit.s.p, v->s.n);
		}
		return r ^ e->neg;
	case EX_LT: return v->i < e->lit.i;
	case EX_LE: return v->i <= e->lit.i;
	case EX_GT: return v->i > e->lit.i;
	case EX_GE: return v->i >= e->lit.i;
	case EX_IN:
		if (!e->set)
			return 0;
		switch (ty) {
		case FT_IP: r = rule_set_has_ip(e->set, &v->ip); break;
		case FT_INT: r = rule_set_has_int(e->set, v->i); break;
		default:
			if (!v->s.p)
				return 0;  /* list element without a domain */
			r = rule_set_has_str(e->set, v->s.p, v->s.n);
		}
		return r ^ e->neg;
	}
	if (!v->s.p)
		return 0;
	switch (e->op) {
	case EX_IS:
		return v->s.n == e->lit.s.n && mem_ieq(v->s.p, e->lit.s.p, v->s.n);
	case EX_STARTS:
		return v->s.n >= e->lit.s.n && mem_ieq(v->s.p, e->lit.s.p, e->lit.s.n);
	case EX_ENDS:
		return v->s.n >= e->lit.s.n &&
		       mem_ieq(v->s.p + v->s.n - e->lit.s.n, e->lit.s.p, e->lit.s.n);
	case EX_CONTAINS:
		return mem_icontains(v->s.p, v->s.n, e->lit.s.p, e->lit.s.n);
	case EX_MATCH: {
		int rc = pcre2_match(e->re, (PCRE2_SPTR)v->s.p, v->s.n, 0, 0,
				     c->md, c->mctx);
		if (rc >= 0)
			return 1;
		if (rc != PCRE2_ERROR_NOMATCH)
			ctr_inc(c->ctr, CTR_RULE_REGEX_ERR);
		return 0;
	}
	}
	return 0;
}

/* A predicate on an absent field is false (so "not P" is true). On a list
 * field it holds if it holds for at least one element. */
static int ev(struct rule_ctx *c, int32_t i)
{
	const struct rule_expr *e = &c->rs->exprs[i];
	switch (e->op) {
	case EX_AND: return ev(c, e->l) && ev(c, e->r);
	case EX_OR: return ev(c, e->l) || ev(c, e->r);
	case EX_NOT: return !ev(c, e->l);
	}
	struct rule_value v;
	if (field_table[e->field].type != FT_STRLIST)
		return fetch(c, e->field, &v) == 0 && test(c, e, &v);
	for (unsigned k = 0; k < RULE_LIST_MAX; k++) {
		if (nth(c, e->field, k, &v))
			return 0;
		if (test(c, e, &v))
			return 1;
	}
	ctr_inc(c->ctr, CTR_RULE_LIST_CAP);
	return 0;
}

/* ---- keys ---- */

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t fin(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x ? x : 1;
}

/* typed, case-folded value hash: equal values of equal type hash alike */
static uint64_t value_hash(struct rule_ctx *c, int fid, uint64_t h)
{
	struct rule_value v;
	uint8_t tag = (uint8_t)field_table[fid].type;
	if (fetch(c, fid, &v)) {
		tag = 0xff;
		return mix(h, &tag, 1);
	}
	h = mix(h, &tag, 1);
	switch (field_table[fid].type) {
	case FT_IP:
		h = mix(h, &v.ip.family, 1);
		return mix(h, v.ip.a, v.ip.family == 4 ? 4 : 16);
	case FT_INT:
		return mix(h, &v.i, sizeof(v.i));
	case FT_BOOL: {
		uint8_t b = !!v.b;
		return mix(h, &b, 1);
	}
	default:
		for (size_t i = 0; i < v.s.n; i++) {
			h ^= (uint8_t)tolower((unsigned char)v.s.p[i]);
			h *= 0x100000001b3ULL;
		}
		return mix(h, "", 1);
	}
}

static uint64_t key_hash(struct rule_ctx *c, uint64_t seed,
			 const struct rule_keys *k)
{
	uint64_t h = mix(0xcbf29ce484222325ULL, &seed, sizeof(seed));
	for (int i = 0; i < k->n; i++)
		h = value_hash(c, k->f[i], h);
	return fin(h);
}

/* ---- rendering ---- */

struct out {
	char *b;
	size_t n, cap;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->n + 1 >= o->cap)
		return;
	size_t room = o->cap - 1 - o->n;
	if (n > room)
		n = room;
	memcpy(o->b + o->n, s, n);
	o->n += n;
	o->b[o->n] = 0;
}

static void put_value(struct out *o, enum field_type ty,
		      const struct rule_value *v)
{
	char tmp[64];
	switch (ty) {
	case FT_IP:
		if (!inet_ntop(v->ip.family == 4 ? AF_INET : AF_INET6, v->ip.a,
			       tmp, sizeof(tmp)))
			strcpy(tmp, "?");
		put(o, tmp, strlen(tmp));
		return;
	case FT_INT:
		put(o, tmp, (size_t)snprintf(tmp, sizeof(tmp), "%lld",
					     (long long)v->i));
		return;
	case FT_BOOL:
		put(o, v->b ? "true" : "false", v->b ? 4 : 5);
		return;
	default:
		if (v->s.p)
			put(o, v->s.p, v->s.n);
		else
			put(o, "-", 1);
	}
}

static void put_field(struct rule_ctx *c, struct out *o, int fid)
{
	struct rule_value v;
	const struct field_info *fi = &field_table[fid];
	if (fi->type != FT_STRLIST) {
		if (fetch(c, fid, &v))
			put(o, "-", 1);
		else
			put_value(o, fi->type, &v);
		return;
	}
	unsigned k = 0;
	for (; k < RULE_LIST_MAX && nth(c, fid, k, &v) == 0; k++) {
		if (k)
			put(o, ",", 1);
		put_value(o, FT_STR, &v);
	}
	if (!k)
		put(o, "-", 1);
}

static size_t render(struct rule_ctx *c, const struct rule *r, char *buf,
		     size_t cap)
{
	struct out o = { buf, 0, cap };
	if (!cap)
		return 0;
	buf[0] = 0;
	for (int i = 0; i < r->nmsg; i++) {
		const struct tmpl_seg *s = &r->msg[i];
		if (s->field < 0)
			put(&o, s->text, s->len);
		else
			put_field(c, &o, s->field);
	}
	return o.n;
}

static void begin(struct rule_ctx *c, const struct ruleset *rs,
		  const struct rule_fact *f)
{
	if (++c->gen == 0) {
		for (int i = 0; i < F__COUNT; i++)
			c->cache[i].gen = 0;
		c->gen = 1;
	}
	c->rs = rs;
	c->f = f;
}

size_t rule_render(struct rule_ctx *c, const struct ruleset *rs,
		   const struct rule *r, const struct rule_fact *f, char *buf,
		   size_t cap)
{
	begin(c, rs, f);
	return render(c, r, buf, cap);
}

static const struct rule_keys *shown_keys(const struct rule *r,
					  const struct ruleset *rs)
{
	if (r->rate.by.n)
		return &r->rate.by;
	if (r->thr.by.n)
		return &r->thr.by;
	if (r->after >= 0)
		return &rs->specs[r->after].bk;
	return NULL;
}

/* ---- thresholds, rate limits, correlation ---- */

#define SEED_THR 0x7468726573686f6cULL
#define SEED_RATE 0x726174656c696d69ULL

/* count this fact; 1 when the count first exceeds the limit in the window */
static int threshold_hit(struct rule_ctx *c, const struct rule *r,
			 uint64_t now, uint32_t *count)
{
	int fresh;
	uint64_t key = key_hash(c, SEED_THR ^ r->sid, &r->thr.by);
	struct st_entry *e = st_get(c, &c->st->thr, key, now, 1, &fresh);
	if (fresh) {
		e->t0 = now;
		e->expire = now + r->thr.window_us;
	}
	if (r->thr.kind == THR_DISTINCT) {
		struct rule_value v;
		if (fetch(c, r->thr.field, &v))
			return 0;  /* nothing to count */
		uint32_t vh = (uint32_t)fin(value_hash(c, r->thr.field,
							0xcbf29ce484222325ULL));
		uint32_t *d = c->st->distinct +
			      (size_t)(e - c->st->thr.e) * RULE_DISTINCT_MAX;
		uint32_t k;
		for (k = 0; k < e->count; k++)
			if (d[k] == vh)
				break;
		if (k == e->count) {
			if (e->count < RULE_DISTINCT_MAX)
				d[e->count++] = vh;
			else
				ctr_inc(c->ctr, CTR_RULE_DISTINCT_CAP);
		}
	} else if (e->count < UINT32_MAX) {
		e->count++;
	}
	*count = e->count;
	if (!e->aux && e->count > r->thr.limit) {
		e->aux = 1;
		return 1;
	}
	return 0;
}

/* 1: suppressed */
static int ratelimited(struct rule_ctx *c, const struct rule *r, uint64_t now,
		       uint64_t *key)
{
	int fresh;
	*key = key_hash(c, SEED_RATE ^ r->sid, &r->rate.by);
	struct st_entry *e = st_get(c, &c->st->rate, *key, now, 1, &fresh);
	if (fresh) {
		e->t0 = now;
		e->expire = now + r->rate.window_us;
	}
	if (e->count < UINT32_MAX)
		e->count++;
	return e->count > r->rate.n;
}

static int is_stateful(const struct rule *r)
{
	return r->after >= 0 || r->thr.kind != THR_NONE || r->nremember ||
	       (r->rate.n && r->action != RA_PASS && r->action != RA_NOTE);
}

/* The steps of matched rule r that read or write the shared tables, under
 * their lock: the earlier match it needs ("after"), its threshold, what it
 * leaves for the rules that come after it, its rate limit (*limited).
 * 0: the rule does not fire for this fact. */
static int stateful_steps(struct rule_ctx *c, const struct ruleset *rs,
			  const struct rule *r, uint64_t now,
			  uint64_t *corr_ts, uint32_t *corr_sid,
			  uint32_t *count, uint64_t *key, int *limited)
{
	int fire = 0;

	if (c->turn)
		c->turn(c->turn_arg);
	pthread_mutex_lock(&c->st->lock);
	if (r->after >= 0) {
		const struct corr_spec *s = &rs->specs[r->after];
		int fresh;
		struct st_entry *e = st_get(c, &c->st->corr,
					    key_hash(c, s->id, &s->bk),
					    now, 0, &fresh);
		if (!e)
			goto out;
		*corr_ts = e->t0;
		*corr_sid = e->aux;
		ctr_inc(c->ctr, CTR_RULE_CORR_HITS);
	}
	if (r->thr.kind != THR_NONE && !threshold_hit(c, r, now, count))
		goto out;
	/* remember the match for the rules that come "after" it */
	for (int k = 0; k < r->nremember; k++) {
		const struct corr_spec *s = &rs->specs[r->remember[k]];
		int fresh;
		struct st_entry *e = st_get(c, &c->st->corr,
					    key_hash(c, s->id, &s->ak),
					    now, 1, &fresh);
		e->t0 = now;
		e->expire = now + s->window_us;
		e->aux = r->sid;
	}
	if (r->rate.n && r->action != RA_PASS && r->action != RA_NOTE)
		*limited = ratelimited(c, r, now, key);
	fire = 1;
out:
	pthread_mutex_unlock(&c->st->lock);
	return fire;
}

enum rule_action rule_eval(struct rule_ctx *c, const struct ruleset *rs,
			   const struct rule_fact *f, rule_match_fn cb,
			   void *arg)
{
	if (!rs || (unsigned)f->trigger >= TRIG__COUNT)
		return RA_NONE;
	ctr_inc(c->ctr, CTR_RULE_EVALS);
	if (f->flow && f->flow->pass_sid) {
		ctr_inc(c->ctr, CTR_RULE_SUPP_PASS);
		return RA_PASS;
	}
	begin(c, rs, f);
	uint64_t now = f->ts_us;
	enum rule_action verdict = RA_NONE;
	const uint32_t *idx = rs->by_trigger[f->trigger];
	uint32_t n = rs->n_by_trigger[f->trigger];
	const struct verb_index *vi = &rs->by_verb[f->trigger];
	if (vi->nverbs >= 0 && n) {
		/* only the rules that can match this command's verb */
		struct rule_value cv;
		int v = vi->nverbs;   /* unguarded rules */
		if (fetch(c, F_SMTP_COMMAND, &cv) == 0)
			for (int k = 0; k < vi->nverbs; k++)
				if (strlen(vi->verb[k]) == cv.s.n &&
				    !memcmp(vi->verb[k], cv.s.p, cv.s.n)) {
					v = k;
					break;
				}
		idx = vi->list[v];
		n = vi->n[v];
	}
	for (uint32_t i = 0; i < n; i++) {
		const struct rule *r = &rs->rules[idx[i]];
		if (r->expr >= 0 && !ev(c, r->expr))
			continue;
		uint64_t corr_ts = 0, key = 0;
		uint32_t corr_sid = 0, count = 0;
		int limited = 0;
		if (is_stateful(r) &&
		    !stateful_steps(c, rs, r, now, &corr_ts, &corr_sid, &count,
				    &key, &limited))
			continue;
		ctr_inc(c->ctr, CTR_RULE_MATCHES);
		if (r->action == RA_PASS) {
			if (f->flow)
				f->flow->pass_sid = r->sid;
			return RA_PASS;  /* nothing after it runs */
		}
		if (r->action > verdict)
			verdict = r->action;
		if (r->action == RA_NOTE)
			continue;
		if (limited) {
			ctr_inc(c->ctr, CTR_RULE_SUPP_RATE);
			continue;
		}
		ctr_inc(c->ctr, CTR_RULE_ALERTS);
		if (!cb)
			continue;
		struct rule_match m = {
			.rule = r,
			.action = r->action,
			.corr_ts_us = corr_ts,
			.corr_sid = corr_sid,
			.count = count,
		};
		m.msg_len = render(c, r, c->msg, sizeof(c->msg));
		m.msg = c->msg;
		const struct rule_keys *ks = shown_keys(r, rs);
		struct out o = { c->key, 0, sizeof(c->key) };
		c->key[0] = 0;
		for (int k = 0; ks && k < ks->n; k++) {
			if (k)
				put(&o, ",", 1);
			put_field(c, &o, ks->f[k]);
		}
		m.key = c->key;
		m.key_hash = key ? key : (ks ? key_hash(c, 0, ks) : 0);
		cb(arg, &m);
	}
	return verdict;
}
