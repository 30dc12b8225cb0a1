/* dispatch.h - spread packets over N engine workers, merge their records.
 *
 * With one worker the engine runs in the caller's thread, synchronously
 * (engine verdicts available at once: inline mode). With N > 1 each worker
 * is a thread owning one engine and one shard of the flows, chosen by the
 * symmetric flow hash; packets reach it through its own SPSC ring (the
 * payload is copied in), records come back through another ring tagged with
 * the index of the packet that produced them, and the caller's thread
 * merges them into one stream ordered by that index. No lock and no shared
 * mutable state on the per-packet path.
 *
 * Cross-flow rule state (thresholds by client, relay.confirmed joining two
 * flows) is one struct rule_state that the dispatcher creates and all the
 * workers' engines share; a worker takes its turn on it in packet order
 * (engine_output.wait_turn), so N workers write what one would.
 */
#ifndef RW_DISPATCH_H
#define RW_DISPATCH_H

#include <stddef.h>
#include <stdint.h>
#include "engine.h"
#include "pkt.h"

#define DISPATCH_MAX_WORKERS 64

struct dispatch;

/* line sink: one JSON record without newline */
struct line_sink {
	void *arg;
	void (*write)(void *arg, const char *line, size_t len);
};

struct dispatch *dispatch_new(int nworkers, const struct engine_config *cfg,
			      const struct line_sink *sink,
			      void (*flow_inspect)(void *arg,
						   const struct pkt *p,
						   int inspect),
			      void *inspect_arg);
/* hand one decoded packet over (p->index is assigned here). Returns the
 * verdict with one worker; VERDICT_ACCEPT otherwise. */
enum verdict dispatch_packet(struct dispatch *d, struct pkt *p);
/* let workers expire idle flows even without traffic (live capture) */
void dispatch_tick(struct dispatch *d, uint64_t now_us);
/* write pending records (live capture: call when idle) */
void dispatch_drain(struct dispatch *d);
/* end of input: close all flows, wait for the workers, write everything */
void dispatch_finish(struct dispatch *d);
/* counters summed over workers (valid after dispatch_finish) */
void dispatch_counters(struct dispatch *d, struct rw_counters *sum);
void dispatch_mem(struct dispatch *d, struct engine_mem *m);
int dispatch_workers(const struct dispatch *d);
/* the capture's per-flow counters for flow records (see engine_output);
 * called with the inspect_arg given to dispatch_new; set before packets */
void dispatch_set_flow_counters(struct dispatch *d,
				int (*fn)(void *arg, const struct pkt *p,
					  uint64_t pkts[2], uint64_t bytes[2]));
void dispatch_free(struct dispatch *d);

#endif
