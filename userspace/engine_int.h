/* engine_int.h - what the engine's modules share (not an API).
 *
 * engine.c owns flows, reassembly, detection and parsers;
 * engine_records.c writes the records (protocol, flow); engine_facts.c
 * turns parser events, flow starts/ends and tunnels into facts for the
 * rule engine and writes the alerts. All see the same per-worker struct
 * engine, defined here.
 */
#ifndef RW_ENGINE_INT_H
#define RW_ENGINE_INT_H

#include <stdatomic.h>
#include <stdint.h>

#include "csum.h"
#include "engine.h"
#include "flow.h"
#include "json.h"
#include "pool.h"
#include "reasm.h"
#include "rule_bind.h"

#define DET_BYTES 1024
#define DET_CHUNKS 32

struct detect {
	uint16_t len[2];
	uint8_t nchunks;
	uint8_t full;
	uint8_t reversed;   /* the probe said PROBE_YES_REVERSED */
	struct { uint8_t dir; uint16_t len; } chunk[DET_CHUNKS];
	uint8_t buf[2][DET_BYTES];
};

struct eflow;

struct app_ctx {
	enum app_proto app;
	const struct proto_ops *ops;
	void *state;
	struct detect *det;
	struct app_ctx *child;
	const struct tunnel_info *tun;   /* set in a tunnel's context */
	struct eflow *flow;
	struct engine *e;
	struct proto_sink sink;
	uint16_t server_port;
	uint8_t depth;
	uint8_t reversed;       /* the parser gets dir ^ 1 (PROBE_YES_REVERSED) */
	uint8_t port_tls;       /* port_app is implicit TLS (SMTPS) */
	enum app_proto port_app;/* the server port's parser, not started yet
	                         * (APP_UNKNOWN: none, or started) */
};

struct tunnel_ctx {
	struct app_ctx app;
	struct tunnel_info ti;
};

enum close_reason {
	CLOSE_TIMEOUT, CLOSE_FIN, CLOSE_RST, CLOSE_EVICT, CLOSE_SHUTDOWN,
};

extern const char *const engine_close_reason_name[];

/* the flow table's LRU lists (flow.h): each has its own idle timeout and
 * eviction priority */
enum {
	FL_EMBRYONIC = 0,  /* no payload yet (SYN, handshake): short timeout,
	                    * evicted first when the table is full */
	FL_PARSED,         /* a parser or detection state is held: evicted
	                    * (least recently active) when states run out */
	FL_PLAIN,          /* nothing parsed any more (bypassed, none) */
};

/* the flow's own TCP anomalies; they continue the REASM_ANOM_* bits of
 * its two directions, so one bit set names every anomaly of the flow
 * record (engine_records.c) */
enum {
	TCP_ANOM_RST_IGNORED = 4,   /* a RST the receiver would ignore */
	TCP_ANOM_BAD_CHECKSUM = 8,  /* a segment with a wrong checksum */
};

struct eflow {
	struct flow_link link;          /* must stay first */
	uint64_t flow_id;
	uint64_t first_ts;
	uint64_t pkts[2], bytes[2];
	struct reasm_dir rd[2];
	struct app_ctx app;
	uint32_t gaps;
	uint8_t cli;                    /* key endpoint index of the client */
	uint8_t syn, synack, midstream;
	uint8_t fin[2];
	uint8_t rst;
	uint8_t bypassed;
	uint8_t ever_app;               /* a parser ran on this flow */
	uint8_t payload_seen;           /* not embryonic any more */
	uint8_t tcp_anom;               /* TCP_ANOM_* */
	uint8_t closing;                /* flow_close() is running on it */
	uint8_t csum_good;              /* bit dir: a good checksum on a
	                                 * packet with payload or SYN */
	uint8_t blocked;                /* a block rule decided on this flow:
	                                 * inline, every later packet drops */
	char community_id[40];
	struct rule_flow rf;            /* pass flag */
};

/* the fact being evaluated, for the match callback */
struct fact_ctx {
	struct eflow *f;
	const struct app_ctx *a;       /* context that raised it */
	const struct rule_view *v;
	enum proto_event ev;           /* 0 for flow and tunnel facts */
	const struct ruleset *rs;
	const struct rule_fact *fact;
};

struct engine {
	struct engine_config cfg;
	struct engine_output out;
	struct rw_counters ctr;
	struct flow_table flows;
	struct reasm_ctx ra;
	struct pool det_pool, parser_pool, tunnel_pool;
	size_t parser_state_size;
	uint64_t now, cur_index;
	struct json j;
	char *jbuf;
	struct reasm_out ra_out;
	size_t reasm_peak;
	/* rules: the worker's side */
	struct rule_ctx *rc;
	struct ruleset *rs_cur;         /* own reference, or NULL */
	uint64_t rs_cur_gen;
	struct fact_ctx fact;
	struct eflow *pkt_flow;         /* flow of the packet being processed */
	uint8_t evicting;               /* state_get() is closing a flow */
	uint64_t next_expire_us;        /* packet time of the next expiry */
	struct csum_table csum;         /* offload detection (csum.h) */
	enum verdict pkt_verdict;
	/* rules: the publisher's side (engine_set_ruleset) */
	_Atomic(struct ruleset *) rs_pub;   /* holds the publisher's ref */
	_Atomic uint64_t rs_gen;        /* bumped after each publication */
	_Atomic uint64_t rs_seen;       /* generation the worker switched to */
	struct { struct ruleset *rs; uint64_t gen; } retired[ENGINE_RULES_RETIRED];
	int nretired;
};

/* engine_records.c: records */
void engine_record_begin(struct engine *e, struct eflow *f, uint64_t ts,
			 const char *event_type);
void engine_record_end(struct engine *e);
void engine_write_tunnel(struct engine *e, const struct app_ctx *a);
/* the parsers' sink: a fact for the rules, then the record if any */
void engine_sink_event(void *ctx, enum proto_event type, const void *obj,
		       uint64_t ts);
/* the flow record of a flow that ends for reason why */
void engine_flow_record(struct engine *e, struct eflow *f,
			enum close_reason why);

/* engine_facts.c: rules and facts */
/* the set this worker evaluates with (NULL: rules off) */
const struct ruleset *engine_rules_current(struct engine *e);
void engine_rules_free(struct engine *e);
/* a parser event (command, reply, request, record) */
void engine_fact_event(struct app_ctx *a, enum proto_event type,
		       const void *obj, uint64_t ts);
/* TRIG_FLOW_START / TRIG_FLOW_END (reason: the close reason's name) */
void engine_fact_flow(struct engine *e, struct eflow *f, enum rule_trigger t,
		      const char *reason);
/* a tunnel granted in context a */
void engine_fact_tunnel(struct engine *e, struct app_ctx *a,
			const struct tunnel_info *ti, uint64_t ts);

#endif
