/* engine.h - one worker's engine: packets in, records out.
 *
 * engine_packet() takes one decoded TCP segment and returns its verdict
 * synchronously (inline mode needs that). Records (EVE JSON lines) go to
 * the output callback as they are produced, tagged with the index of the
 * packet that produced them so several workers' outputs can be merged in
 * packet order. An engine owns its flows, reassembly, parsers and
 * counters: nothing of them is shared with other workers or locked.
 *
 * Rules: with a ruleset (engine_config.rules, engine_set_ruleset()) every
 * parser event, flow start/end and granted tunnel is also a fact for the
 * rule engine; each match writes an "alert" record (Suricata's alert
 * object plus rule id, trigger, evidence transcript, correlation) just
 * before the record of the same event. The rule state (thresholds, rate
 * limits, correlation) is the one thing engines share: with several
 * workers the dispatcher gives every engine the same struct rule_state
 * (engine_config.rule_shared), touched under its mutex only by a rule
 * whose condition matched, and only in packet order (output.wait_turn),
 * so counts keyed by client and correlations across two flows are those
 * of one worker wherever the flows land. Alone (rule_shared NULL) an
 * engine has its own.
 */
#ifndef RW_ENGINE_H
#define RW_ENGINE_H

#include <stddef.h>
#include <stdint.h>
#include "counters.h"
#include "csum.h"
#include "pkt.h"
#include "proto.h"
#include "rules.h"

#define ENGINE_MAX_PORTS 32

struct engine_config {
	uint16_t smtp_ports[ENGINE_MAX_PORTS];
	int n_smtp_ports;
	uint16_t smtp_tls_ports[ENGINE_MAX_PORTS];   /* implicit TLS (465) */
	int n_smtp_tls_ports;
	uint16_t http_proxy_ports[ENGINE_MAX_PORTS];
	int n_http_proxy_ports;
	uint16_t socks_ports[ENGINE_MAX_PORTS];
	int n_socks_ports;
	uint32_t max_flows;        /* per worker; LRU eviction when full */
	uint32_t max_parsers;      /* parser/detection states per worker */
	size_t reasm_mem;          /* out-of-order buffer bytes per worker */
	uint32_t reasm_dir_cap;    /* out-of-order bytes per direction */
	uint32_t flow_timeout_s;   /* idle timeout */
	uint32_t embryonic_timeout_s; /* idle timeout of a flow that carried
	                            * no payload yet (SYN, handshake only) */
	uint32_t detect_bytes;     /* content detection gives up after this
	                            * many bytes in one direction */
	int checksum;              /* enum csum_mode (csum.h): auto by default */
	const struct csum_table *csum_seed; /* offloaded sources known
	                            * before the first packet (a sampled
	                            * file), copied by engine_new(); NULL */
	int flow_records_all;      /* flow records for every flow, not only
	                            * those with a parsed protocol */
	uint16_t community_seed;
	/* Rules (rules.h). NULL: none. engine_new() takes its own reference;
	 * the caller keeps (and drops) its own. */
	struct ruleset *rules;
	struct rule_ctx_config rule_state;  /* zero fields: the defaults */
	/* thresholds/correlations shared with the other workers' engines
	 * (owned by the caller, outlives the engine); NULL: the engine's own */
	struct rule_state *rule_shared;
	int inline_mode;           /* verdicts are enforced: alerts of block
	                            * rules say "blocked" (else "allowed", as
	                            * Suricata in IDS mode) */
};

enum verdict {
	VERDICT_ACCEPT = 0,
	VERDICT_DROP,
};

struct engine_output {
	void *arg;
	/* one complete JSON line (no newline), valid during the call */
	void (*record)(void *arg, uint64_t pkt_index, const char *line,
		       size_t len);
	/* optional: the engine no longer needs (inspect=0) or needs
	 * (inspect=1) this flow's packets: the eBPF front-end bypasses it */
	void (*flow_inspect)(void *arg, const struct pkt *p, int inspect);
	/* optional, for several workers sharing one rule state: return once
	 * every packet with an index below `index` has been handled by every
	 * worker (see rule_ctx_set_turn) */
	void (*wait_turn)(void *arg, uint64_t index);
	/* optional: the capture's own per-flow counters for the flow of p
	 * (p from client to server), [0] to server, [1] to client; 0 if
	 * known. The eBPF front-end keeps counting packets it does not send
	 * up (pure ACKs, bypassed flows): flow records then use its figures
	 * (flow.counted_by "kernel", flow.bypass "capture"). */
	int (*flow_counters)(void *arg, const struct pkt *p, uint64_t pkts[2],
			     uint64_t bytes[2]);
};

struct engine;

void engine_config_default(struct engine_config *c);
/* parse "25,587,2525" into a port list; 0 or -EINVAL */
int engine_parse_ports(const char *s, uint16_t *ports, int *n);

struct engine *engine_new(const struct engine_config *cfg,
			  const struct engine_output *out);
void engine_free(struct engine *e);

/* Process one packet. The verdict is VERDICT_DROP when a rule with action
 * block matched a fact raised by this packet on its own flow (a block
 * silenced by its rate limit still drops); facts of other flows closed on
 * the way (idle timeout, eviction) do not count. */
enum verdict engine_packet(struct engine *e, const struct pkt *p);
/* advance the clock without a packet (expire idle flows) */
void engine_tick(struct engine *e, uint64_t now_us, uint64_t index);
/* end of input: close every flow (reason "shutdown") */
void engine_finish(struct engine *e, uint64_t index);

/* Publish a new ruleset (NULL: rules off) for this engine's worker, which
 * switches to it at its next fact. Live reload: call from one control
 * thread at a time; safe while the worker runs. The engine takes its own
 * reference. Sets replaced earlier are released once the worker has moved
 * past them (it acknowledges each switch with a generation number), so no
 * worker can be between reading the pointer and taking its reference on a
 * set being freed. Returns 0, -ENOMEM (no rule state), or -EBUSY when
 * ENGINE_RULES_RETIRED sets still wait for an idle worker (try later). */
#define ENGINE_RULES_RETIRED 8
int engine_set_ruleset(struct engine *e, struct ruleset *rs);

struct rw_counters *engine_counters(struct engine *e);
/* memory figures for the stats record */
struct engine_mem {
	size_t flow_entry_bytes;  /* bytes per flow table entry */
	uint32_t flows_active, flows_peak, flows_max;
	size_t parser_state_bytes, parsers_peak;
	size_t reasm_bytes_peak;
};
void engine_mem(struct engine *e, struct engine_mem *m);

#endif
