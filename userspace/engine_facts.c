/* engine_facts.c - the engine's side of the rule engine: which ruleset a
 * worker evaluates with (published by engine_set_ruleset(), switched to at
 * the next fact), the facts (parser events, flow start/end, granted
 * tunnels) turned into rule views, and the alert records of the matches.
 */
#include <errno.h>
#include <string.h>

#include "engine_int.h"

/* rules */

/* The set this worker evaluates with: re-read when the publisher bumped
 * the generation. The generation is read before the pointer, and the
 * publisher bumps it after the exchange (release): a worker that read an
 * old pointer read an old generation too, so it acknowledges (rs_seen) a
 * generation older than the set's retirement, and the publisher keeps its
 * reference on that set until a later acknowledgement, by which time the
 * worker holds (or has dropped) its own. */
const struct ruleset *engine_rules_current(struct engine *e)
{
	uint64_t g = atomic_load_explicit(&e->rs_gen, memory_order_acquire);

	if (g != e->rs_cur_gen) {
		struct ruleset *p = atomic_load_explicit(&e->rs_pub,
							 memory_order_acquire);
		if (p)
			ruleset_ref(p);
		ruleset_unref(e->rs_cur);
		e->rs_cur = p;
		e->rs_cur_gen = g;
		atomic_store_explicit(&e->rs_seen, g, memory_order_release);
	}
	return e->rc ? e->rs_cur : NULL;
}

/* publisher: drop the sets the worker has moved past */
static void rules_reclaim(struct engine *e)
{
	uint64_t seen = atomic_load_explicit(&e->rs_seen, memory_order_acquire);
	int k = 0;

	for (int i = 0; i < e->nretired; i++) {
		if (e->retired[i].gen <= seen)
			ruleset_unref(e->retired[i].rs);
		else
			e->retired[k++] = e->retired[i];
	}
	e->nretired = k;
}

/* the shared rule state takes this packet's facts in packet order */
static void rules_turn(void *arg)
{
	struct engine *e = arg;

	e->out.wait_turn(e->out.arg, e->cur_index);
}

int engine_set_ruleset(struct engine *e, struct ruleset *rs)
{
	struct ruleset *old;
	uint64_t g;

	rules_reclaim(e);
	if (e->nretired >= ENGINE_RULES_RETIRED)
		return -EBUSY;
	if (rs && !e->rc) {
		/* published before the set: the worker's acquire load of the
		 * generation makes it visible */
		e->rc = rule_ctx_new(&e->cfg.rule_state, &e->ctr,
				     e->cfg.rule_shared);
		if (!e->rc)
			return -ENOMEM;
		if (e->out.wait_turn)
			rule_ctx_set_turn(e->rc, rules_turn, e);
	}
	if (rs)
		ruleset_ref(rs);
	old = atomic_exchange(&e->rs_pub, rs);
	g = atomic_fetch_add(&e->rs_gen, 1) + 1;
	if (old) {
		e->retired[e->nretired].rs = old;
		e->retired[e->nretired].gen = g;
		e->nretired++;
	}
	rules_reclaim(e);
	return 0;
}

void engine_rules_free(struct engine *e)
{
	ruleset_unref(e->rs_cur);
	e->rs_cur = NULL;
	ruleset_unref(atomic_exchange(&e->rs_pub, NULL));
	for (int i = 0; i < e->nretired; i++)
		ruleset_unref(e->retired[i].rs);
	e->nretired = 0;
	rule_ctx_free(e->rc);
	e->rc = NULL;
}

static const char *app_name(const struct app_ctx *a)
{
	if (a->app == APP_NONE)
		return "none";
	return a->ops ? a->ops->name : "unknown";
}

/* the rule id of a sid (alerts only: a linear scan is fine) */
static const char *rule_id_of(const struct ruleset *rs, uint32_t sid)
{
	for (int i = 0; i < rs->nrules; i++)
		if (rs->rules[i].sid == sid)
			return rs->rules[i].id;
	return NULL;
}

/* The values of the fields an "after" rule joined on ("10.0.0.25,
 * victim@example.com"), rendered by the rule engine itself from a template
 * of those fields, so derived fields come out as the rule saw them. */
static void corr_key(struct engine *e, const struct rule *r, char *buf,
		     size_t cap)
{
	const struct corr_spec *cs = &e->fact.rs->specs[r->after];
	struct tmpl_seg seg[2 * RULE_MAX_KEYS];
	struct rule tmp;
	int n = 0;

	for (int i = 0; i < cs->bk.n && i < RULE_MAX_KEYS; i++) {
		if (i)
			seg[n++] = (struct tmpl_seg){ -1, ",", 1 };
		seg[n++] = (struct tmpl_seg){ cs->bk.f[i], NULL, 0 };
	}
	memset(&tmp, 0, sizeof(tmp));
	tmp.msg = seg;
	tmp.nmsg = n;
	rule_render(e->rc, e->fact.rs, &tmp, e->fact.fact, buf, cap);
}

/* One match: an alert record. Same header as the event's records, then
 * Suricata's alert object (action "allowed", or "blocked" when an inline
 * engine enforced a block rule), relaywatch's additions (rule, trigger,
 * evidence, key, count, correlation), app_proto, the protocol object as
 * it is at this moment, and the tunnel. */
static void on_match(void *arg, const struct rule_match *m)
{
	struct engine *e = arg;
	const struct fact_ctx *fc = &e->fact;
	const struct rule *r = m->rule;
	const struct rule_view *v = fc->v;
	struct json *j = &e->j;

	engine_record_begin(e, fc->f, v->ts_us, "alert");
	json_obj_open(j, "alert");
	json_str(j, "action", m->action == RA_BLOCK && e->cfg.inline_mode ?
		 "blocked" : "allowed");
	json_u64(j, "gid", 1);
	json_u64(j, "signature_id", r->sid);
	json_u64(j, "rev", 1);
	json_strn(j, "signature", m->msg, m->msg_len);
	json_str(j, "category", r->category ? r->category : "");
	json_u64(j, "severity", (uint64_t)r->severity);
	json_str(j, "rule", r->id);
	json_str(j, "rule_action", rule_action_name(r->action));
	json_str(j, "trigger", trigger_names[v->trigger]);
	rule_bind_evidence(j, v);
	if (m->key && m->key[0])
		json_str(j, "key", m->key);
	if (r->thr.kind != THR_NONE)
		json_u64(j, "count", m->count);
	if (r->after >= 0 && m->corr_sid) {
		const char *id = rule_id_of(fc->rs, m->corr_sid);
		char key[RULE_KEY_MAX];

		corr_key(e, r, key, sizeof(key));
		json_obj_open(j, "correlation");
		if (id)
			json_str(j, "rule", id);
		json_u64(j, "signature_id", m->corr_sid);
		json_ts(j, "timestamp", m->corr_ts_us);
		json_str(j, "key", key);
		json_obj_close(j);
	}
	json_obj_close(j);
	json_str(j, "app_proto", app_name(fc->a));
	if (fc->ev && fc->a->ops && fc->a->ops->eve && v->obj) {
		/* command/reply/request facts: the transaction so far */
		enum proto_event rec = fc->ev < EV_HTTP_RECORD ? EV_SMTP_RECORD :
				       fc->ev < EV_SOCKS_RECORD ? EV_HTTP_RECORD :
				       EV_SOCKS_RECORD;
		fc->a->ops->eve(j, rec, v->obj);
	}
	engine_write_tunnel(e, fc->a);
	engine_record_end(e);
	if (!j->overflow)
		ctr_inc(&e->ctr, CTR_RULE_ALERTS_WRITTEN);
}

static void view_init(struct rule_view *v, const struct eflow *f,
		      const struct app_ctx *a, enum rule_trigger t,
		      uint64_t ts)
{
	const struct flow_key *k = &f->link.key;
	int c = f->cli, s = !f->cli;

	memset(v, 0, sizeof(*v));
	v->trigger = t;
	v->ts_us = ts;
	v->family = k->family;
	v->src = k->addr[c];
	v->dst = k->addr[s];
	v->sport = k->port[c];
	v->dport = k->port[s];
	v->in_tunnel = a->tun != NULL;
	v->tun = a->tun;
	v->app = a->app;
	v->flow_state = f->synack || f->pkts[DIR_TO_CLIENT] ? "established" :
			"new";
	v->bytes_toserver = f->bytes[DIR_TO_SERVER];
	v->bytes_toclient = f->bytes[DIR_TO_CLIENT];
}

/* Evaluate one fact. A block on the current packet's flow makes the
 * packet's verdict DROP. */
static enum rule_action fact_eval(struct engine *e, struct eflow *f,
				  const struct app_ctx *a,
				  const struct rule_view *v, enum proto_event ev)
{
	const struct ruleset *rs = engine_rules_current(e);
	struct rule_fact fact;
	enum rule_action act;

	if (!rs)
		return RA_NONE;
	rule_bind_fact(v, &f->rf, &fact);
	e->fact = (struct fact_ctx){ f, a, v, ev, rs, &fact };
	act = rule_eval(e->rc, rs, &fact, on_match, e);
	if (act == RA_BLOCK && f == e->pkt_flow) {
		e->pkt_verdict = VERDICT_DROP;
		f->blocked = 1;
	}
	return act;
}

static enum rule_trigger event_trigger(enum proto_event t)
{
	switch (t) {
	case EV_SMTP_COMMAND: return TRIG_SMTP_COMMAND;
	case EV_SMTP_REPLY: return TRIG_SMTP_REPLY;
	case EV_SMTP_RECORD: return TRIG_SMTP_RECORD;
	case EV_HTTP_REQUEST: return TRIG_HTTP_REQUEST;
	case EV_HTTP_RECORD: return TRIG_HTTP_RESPONSE;
	case EV_SOCKS_REQUEST: return TRIG_SOCKS_REQUEST;
	case EV_SOCKS_RECORD: return TRIG_SOCKS_REPLY;
	}
	return TRIG__COUNT;
}

void engine_fact_event(struct app_ctx *a, enum proto_event type,
		       const void *obj, uint64_t ts)
{
	struct engine *e = a->e;
	enum rule_trigger t = event_trigger(type);
	struct rule_view v;

	if (t == TRIG__COUNT || !engine_rules_current(e))
		return;
	view_init(&v, a->flow, a, t, ts);
	v.obj = obj;
	v.obj_kind = type < EV_HTTP_RECORD ? RULE_OBJ_SMTP :
		     type < EV_SOCKS_RECORD ? RULE_OBJ_HTTP : RULE_OBJ_SOCKS;
	fact_eval(e, a->flow, a, &v, type);
}

void engine_fact_flow(struct engine *e, struct eflow *f, enum rule_trigger t,
		      const char *reason)
{
	struct rule_view v;

	if (!engine_rules_current(e))
		return;
	view_init(&v, f, &f->app, t, t == TRIG_FLOW_START ? f->first_ts :
		  f->link.last_ts);
	if (t == TRIG_FLOW_END) {
		v.flow_state = "closed";
		v.end_reason = reason;
	}
	fact_eval(e, f, &f->app, &v, 0);
}

void engine_fact_tunnel(struct engine *e, struct app_ctx *a,
			const struct tunnel_info *ti, uint64_t ts)
{
	struct rule_view v;

	if (!engine_rules_current(e))
		return;
	/* tunnel.* describe the tunnel being opened (rule_bind.h) */
	view_init(&v, a->flow, a, TRIG_TUNNEL_OPEN, ts);
	v.in_tunnel = a->tun != NULL;
	v.tun = ti;
	fact_eval(e, a->flow, a, &v, 0);
}
