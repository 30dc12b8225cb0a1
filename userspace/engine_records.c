/* engine_records.c - the engine's records: the EVE header every record
 * shares (flow endpoints, community id), the protocol records of parser
 * events (alerts come first, from engine_facts.c), the proxy_tunnel object
 * and the flow record written when a flow ends.
 */
#include <string.h>

#include "community_id.h"
#include "engine_int.h"
#include "eve.h"
#include "http_proxy.h"

static void flow_community_id(struct engine *e, struct eflow *f)
{
	const struct flow_key *k = &f->link.key;
	int c = f->cli, s = !f->cli;

	if (f->community_id[0])
		return;
	if (community_id_v1_tuple(k->family, k->addr[c], k->addr[s],
				  k->port[c], k->port[s], 6,
				  e->cfg.community_seed, f->community_id,
				  sizeof(f->community_id)) < 0)
		f->community_id[0] = '\0';
}

void engine_record_begin(struct engine *e, struct eflow *f, uint64_t ts,
			 const char *event_type)
{
	const struct flow_key *k = &f->link.key;
	int c = f->cli, s = !f->cli;
	struct eve_endpoints ep = {
		.family = k->family,
		.src = k->addr[c], .dst = k->addr[s],
		.sport = k->port[c], .dport = k->port[s],
		.nvlan = k->nvlan, .vlan = k->vlan,
	};

	flow_community_id(e, f);
	json_reset(&e->j);
	eve_header(&e->j, ts, f->flow_id, event_type, &ep, f->community_id);
}

void engine_record_end(struct engine *e)
{
	json_obj_close(&e->j);
	if (e->j.overflow) {
		ctr_inc(&e->ctr, CTR_OUT_TOO_LARGE);
		return;
	}
	ctr_inc(&e->ctr, CTR_OUT_RECORDS);
	e->out.record(e->out.arg, e->cur_index, e->j.buf, e->j.len);
}

/* The proxy tunnel a record was parsed inside. Not "tunnel": in Suricata's
 * EVE that top-level object is the packet encapsulation (GRE, VXLAN: its
 * src_ip, depth...), and a pipeline would read ours as such. */
void engine_write_tunnel(struct engine *e, const struct app_ctx *a)
{
	if (!a->tun)
		return;
	json_obj_open(&e->j, "proxy_tunnel");
	json_str(&e->j, "type", eve_tunnel_type(a->tun->type));
	json_u64(&e->j, "parent_flow_id", a->flow->flow_id);
	json_str(&e->j, "target_host", a->tun->target_host);
	json_u64(&e->j, "target_port", a->tun->target_port);
	json_u64(&e->j, "depth", a->depth);
	json_obj_close(&e->j);
}

static const char *record_type(enum proto_event t)
{
	switch (t) {
	case EV_SMTP_RECORD: return "smtp";
	case EV_HTTP_RECORD: return "http";
	case EV_SOCKS_RECORD: return "socks";
	default: return NULL;
	}
}

void engine_sink_event(void *ctx, enum proto_event type, const void *obj,
		       uint64_t ts)
{
	struct app_ctx *a = ctx;
	struct engine *e = a->e;
	const char *et = record_type(type);

	engine_fact_event(a, type, obj, ts);   /* alerts come before the record */
	if (!et || !a->ops->eve)
		return;
	if (type == EV_HTTP_RECORD && !a->tun &&
	    !((const struct http_tx *)obj)->proxy) {
		/* a web server's transaction: a fact, not a record (only
		 * proxy traffic and tunnels' payload are, http_proxy.h) */
		ctr_inc(&e->ctr, CTR_HTTP_ORIGIN_NOT_RECORDED);
		return;
	}
	engine_record_begin(e, a->flow, ts, et);
	a->ops->eve(&e->j, type, obj);
	engine_write_tunnel(e, a);
	engine_record_end(e);
}

/* what the TCP layer saw that an attacker on the wire may have sent:
 * REASM_ANOM_* of both directions, then TCP_ANOM_* */
static const char *const tcp_anom_names[] = {
	"overlap_conflict", "ack_beyond_sent", "rst_out_of_window",
	"bad_checksum",
};
_Static_assert(REASM_ANOM_OVERLAP_CONFLICT == 1 && REASM_ANOM_ACK_BEYOND == 2 &&
	       TCP_ANOM_RST_IGNORED == 4 && TCP_ANOM_BAD_CHECKSUM == 8,
	       "tcp_anom_names follows these bits");

static void write_tcp_anomalies(struct engine *e, const struct eflow *f)
{
	json_flags(&e->j, "anomalies",
		   f->rd[0].anomalies | f->rd[1].anomalies | f->tcp_anom,
		   tcp_anom_names, 4);
}

void engine_flow_record(struct engine *e, struct eflow *f,
			enum close_reason why)
{
	const char *app = "unknown";

	if (f->app.app == APP_NONE)
		app = "none";
	else if (f->app.ops)
		app = f->app.ops->name;
	uint64_t pk[2] = { f->pkts[0], f->pkts[1] };
	uint64_t by[2] = { f->bytes[0], f->bytes[1] };
	int kernel = 0;

	if (e->out.flow_counters) {
		const struct flow_key *k = &f->link.key;
		struct pkt p = { .family = k->family, .nvlan = k->nvlan };
		uint64_t kp[2], kb[2];

		memcpy(p.src, k->addr[f->cli], 16);
		memcpy(p.dst, k->addr[!f->cli], 16);
		p.sport = k->port[f->cli];
		p.dport = k->port[!f->cli];
		memcpy(p.vlan, k->vlan, sizeof(p.vlan));
		if (e->out.flow_counters(e->out.arg, &p, kp, kb) == 0) {
			memcpy(pk, kp, sizeof(pk));
			memcpy(by, kb, sizeof(by));
			kernel = 1;
		}
	}
	engine_record_begin(e, f, f->link.last_ts, "flow");
	json_str(&e->j, "app_proto", app);
	json_obj_open(&e->j, "flow");
	json_u64(&e->j, "pkts_toserver", pk[DIR_TO_SERVER]);
	json_u64(&e->j, "pkts_toclient", pk[DIR_TO_CLIENT]);
	json_u64(&e->j, "bytes_toserver", by[DIR_TO_SERVER]);
	json_u64(&e->j, "bytes_toclient", by[DIR_TO_CLIENT]);
	if (kernel)
		json_str(&e->j, "counted_by", "kernel");
	json_ts(&e->j, "start", f->first_ts);
	json_ts(&e->j, "end", f->link.last_ts);
	json_u64(&e->j, "age", (f->link.last_ts - f->first_ts) / 1000000);
	json_str(&e->j, "state", why == CLOSE_FIN || why == CLOSE_RST ?
		 "closed" : "established");
	json_str(&e->j, "reason", engine_close_reason_name[why]);
	json_bool(&e->j, "midstream", f->midstream);
	json_u64(&e->j, "gaps", f->gaps);
	/* Suricata's flow.bypass, only when bypassed: "capture" when the
	 * kernel's flow table counted the flow (eBPF: it stopped sending the
	 * packets up), "local" when they still reached the engine, which
	 * skipped them. (Suricata's flow.bypassed is an object of counters.) */
	if (f->bypassed)
		json_str(&e->j, "bypass", kernel ? "capture" : "local");
	json_obj_close(&e->j);
	json_obj_open(&e->j, "tcp");
	json_bool(&e->j, "syn", f->syn);
	json_bool(&e->j, "synack", f->synack);
	json_bool(&e->j, "fin", f->fin[0] || f->fin[1]);
	json_bool(&e->j, "rst", f->rst);
	write_tcp_anomalies(e, f);
	json_obj_close(&e->j);
	engine_record_end(e);
}
