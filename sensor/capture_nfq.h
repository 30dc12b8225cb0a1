/* capture_nfq.h - inline mode: NFQUEUE (libnetfilter_queue over libmnl).
 *
 * One thread per queue, each with its own engine: a packet is decoded
 * (raw IP) and engine_packet() computes its verdict synchronously, which
 * goes straight back to the kernel (consecutive accepts as one batch
 * verdict). The engines share one rule state (its own mutex; no turn-wait:
 * the kernel's queue order is the only order inline). Records never wait on
 * the verdict path: each queue thread puts them on a bounded ring read by
 * the calling thread, which writes them; a full ring drops the record and
 * counts it (output.drop.inline_queue_full).
 *
 * Fail-safe: the queues are configured with NFQA_CFG_F_FAIL_OPEN (a full
 * kernel queue accepts instead of dropping) and NFQA_CFG_F_GSO (a GSO
 * packet is one verdict); the socket has NETLINK_NO_ENOBUFS, and the
 * kernel's own drop counts (/proc/net/netfilter/nfnetlink_queue) are read
 * into the stats. The iptables rules use --queue-bypass (relaywatch
 * firewall install), so traffic passes when no relaywatch listens.
 *
 * Blocking: a DROP verdict is given as NF_REPEAT with NFQ_MARK_BLOCK set in
 * the packet mark when opts.mark_block is set: relaywatch's chain then
 * copies the mark to the connection (connmark) and drops the packet, and
 * drops every later packet of that connection in the kernel. A packet that
 * comes back already marked (no such chain: it was queued again) gets a
 * plain NF_DROP, so a missing chain can never loop.
 *
 * Health: the writer thread watches the queue threads; one busy on a
 * single packet for longer than stall_ms has its queue unbound (the
 * kernel then passes the traffic itself, --queue-bypass), says so on
 * stderr once and counts it (nfqueue.stalled_unbound). The queue stays
 * unbound until relaywatch restarts: a stuck engine is a bug to look at,
 * and the gateway keeps forwarding meanwhile. (A backed-up kernel queue
 * needs no watchdog: fail-open accepts past queue_maxlen, counted.)
 *
 * Fast path: when the engine bypasses a flow (no parser wants its data:
 * plain web on a proxy port, a TLS session, a detection that gave up), the
 * packet's accept is NF_REPEAT with NFQ_MARK_DONE: the chain saves it to
 * the connmark and the connection's later packets skip the queue. Its
 * flow record then counts only what was queued.
 */
#ifndef RW_CAPTURE_NFQ_H
#define RW_CAPTURE_NFQ_H

#include <signal.h>
#include <stdint.h>
#include "counters.h"
#include "dispatch.h"
#include "engine.h"

#define NFQ_MAX_QUEUES 16
/* packet / connection mark bit of a blocked connection (firewall.c matches
 * it with this mask) */
#define NFQ_MARK_BLOCK 0x00400000u
/* mark of a connection the engine no longer needs (it bypassed it: no
 * parser wants its data): the chain lets it skip the queue from then on */
#define NFQ_MARK_DONE 0x00800000u

struct rwnfq_opts {
	uint16_t qfirst, qlast;      /* queues qfirst..qlast, one thread each */
	uint32_t queue_maxlen;       /* kernel queue length (default 4096) */
	int rcvbuf;                  /* netlink socket buffer bytes (default
	                              * 8 MB; SO_RCVBUFFORCE when root) */
	int mark_block;              /* drop through NF_REPEAT + mark (the
	                              * firewall chain); 0: plain NF_DROP */
	size_t record_ring;          /* bytes of record ring per queue
	                              * (default 4 MB) */
	uint32_t stall_ms;           /* an engine thread busy on one packet
	                              * longer than this: its queue is
	                              * unbound, traffic passes unseen
	                              * (--queue-bypass); default 2000 */
	int monitor;                 /* --inline-policy monitor: every
	                              * verdict is accept; block rules
	                              * alert as in passive mode ("allowed",
	                              * rule_action "block") and the would-be
	                              * drops are counted */
};

/* "N" or "N:M" (M >= N, at most NFQ_MAX_QUEUES); 0 or -EINVAL */
int rwnfq_parse_queues(const char *s, struct rwnfq_opts *o);
void rwnfq_opts_default(struct rwnfq_opts *o);

struct rwnfq;

/* Bind the queues (fails as a whole, the reason in err, when any queue
 * cannot be bound: not root, no nfnetlink_queue, a queue already taken)
 * and create one engine per queue (cfg->inline_mode is set). */
struct rwnfq *rwnfq_open(const struct rwnfq_opts *o, const struct engine_config *cfg,
		     const struct line_sink *sink, char *err, size_t errlen);
/* Run the queue threads until *stop; the calling thread writes records.
 * Then drain what the sockets still hold, unbind, close every flow. */
int rwnfq_run(struct rwnfq *q, volatile sig_atomic_t *stop);
/* counters of every queue and engine added into sum (kernel drops read
 * from /proc), memory figures summed into m */
void rwnfq_counters(struct rwnfq *q, struct rw_counters *sum);
void rwnfq_mem(struct rwnfq *q, struct engine_mem *m);
int rwnfq_queues(const struct rwnfq *q);
void rwnfq_close(struct rwnfq *q);

/* one line of /proc/net/netfilter/nfnetlink_queue for queue qnum, from the
 * text in buf: 0 with the kernel's queue_dropped and user_dropped, or
 * -ENOENT (exposed for the unit test) */
int rwnfq_parse_proc(const char *buf, unsigned qnum, uint64_t *queue_dropped,
		   uint64_t *user_dropped);

#endif
