/* capture_nfq.c - inline mode over NFQUEUE: see capture_nfq.h */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#include "capture_nfq.h"
#include "decode.h"
#include "ring.h"
#include "rules.h"

#define NFQ_PROC "/proc/net/netfilter/nfnetlink_queue"
/* one message: a 64 KB GSO packet plus the netlink/nfqueue headers */
#define NFQ_BUF (0xffff + 4096)
/* messages read without blocking after one that blocked, whose accept
 * verdicts go back as one batch */
#define NFQ_BURST 64
/* control messages and verdicts */
#define NFQ_CTL_BUF 8192

struct rwnfq_queue {
	struct rwnfq *q;
	uint16_t num;
	struct mnl_socket *nl;
	unsigned portid;
	struct engine *e;
	struct ring rec;               /* records -> the writer thread */
	struct rw_counters ctr;        /* decode + nfqueue.* */
	uint64_t index;
	pthread_t th;
	int started;
	/* batch: accepted packet ids not yet told to the kernel */
	uint32_t batch_id;
	int batch_n;
	int direct;                    /* finishing: the writer is this thread */
	_Atomic uint64_t busy_since;   /* engine_packet started (us), 0: idle */
	_Atomic int abandoned;         /* unbound by the watchdog */
	int done;                      /* the engine bypassed this packet's
	                                * flow: accept it with NFQ_MARK_DONE */
	char *buf;
	char vbuf[NFQ_CTL_BUF];
};

struct rwnfq {
	struct rwnfq_opts o;
	struct line_sink sink;
	struct rule_state *rstate;
	int n;
	volatile sig_atomic_t *stop;
	uint32_t test_stall_ms;        /* RELAYWATCH_TEST_STALL_MS: the first
	                                * packet carrying "rwnfq-stall" sleeps
	                                * this long (tests/e2e_nfq.sh, one
	                                * queue: not synchronised) */
	_Atomic int quit;
	struct rwnfq_queue qs[NFQ_MAX_QUEUES];
};

void rwnfq_opts_default(struct rwnfq_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->queue_maxlen = 4096;
	o->rcvbuf = 8 << 20;
	o->mark_block = 1;
	o->record_ring = 4 << 20;
	o->stall_ms = 2000;
}

int rwnfq_parse_queues(const char *s, struct rwnfq_opts *o)
{
	char *end;
	unsigned long a, b;

	a = strtoul(s, &end, 10);
	if (end == s || a > 65535)
		return -EINVAL;
	b = a;
	if (*end == ':') {
		const char *t = end + 1;
		b = strtoul(t, &end, 10);
		if (end == t || b > 65535)
			return -EINVAL;
	}
	if (*end || b < a || b - a + 1 > NFQ_MAX_QUEUES)
		return -EINVAL;
	o->qfirst = (uint16_t)a;
	o->qlast = (uint16_t)b;
	return 0;
}

int rwnfq_parse_proc(const char *buf, unsigned qnum, uint64_t *queue_dropped,
		   uint64_t *user_dropped)
{
	/* queue_number peer_portid queue_total copy_mode copy_range
	 * queue_dropped user_dropped id_sequence 1 */
	for (const char *l = buf; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : l) {
		unsigned num, portid, total, mode, range;
		unsigned long long qd, ud;
		if (sscanf(l, "%u %u %u %u %u %llu %llu", &num, &portid, &total,
			   &mode, &range, &qd, &ud) == 7 && num == qnum) {
			*queue_dropped = qd;
			*user_dropped = ud;
			return 0;
		}
	}
	return -ENOENT;
}

static void read_kernel_drops(struct rwnfq_queue *qq, uint64_t *qd, uint64_t *ud)
{
	char buf[8192];
	FILE *f = fopen(NFQ_PROC, "r");
	size_t n;

	*qd = *ud = 0;
	if (!f)
		return;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	rwnfq_parse_proc(buf, qq->num, qd, ud);
}

/* ---- records: queue thread -> writer (never blocks the verdict) ---- */

static void drain(struct rwnfq_queue *qq)
{
	size_t n;
	void *m;

	while ((m = ring_peek(&qq->rec, &n))) {
		qq->q->sink.write(qq->q->sink.arg, m, n);
		ring_release(&qq->rec);
	}
}

/* engine -> capture: the flow of p is no longer needed (inspect 0) */
static void nfq_inspect(void *arg, const struct pkt *p, int inspect)
{
	struct rwnfq_queue *qq = arg;

	(void)p;
	if (!inspect)
		qq->done = 1;
}

static void nfq_record(void *arg, uint64_t index, const char *line, size_t len)
{
	struct rwnfq_queue *qq = arg;
	void *m;

	(void)index;
	if (len > ring_max_entry(&qq->rec)) {
		ctr_inc(&qq->ctr, CTR_OUT_TOO_LARGE);
		return;
	}
	m = ring_reserve(&qq->rec, len);
	if (!m && qq->direct) {
		drain(qq);
		m = ring_reserve(&qq->rec, len);
	}
	if (!m) {
		/* the writer is behind: drop the record, never the verdict */
		ctr_inc(&qq->ctr, CTR_NFQ_REC_DROP);
		return;
	}
	memcpy(m, line, len);
	ring_commit(&qq->rec);
}

/* ---- netlink ---- */

static int send_cfg(struct rwnfq_queue *qq, struct nlmsghdr *nlh)
{
	if (mnl_socket_sendto(qq->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	/* the ack says whether the kernel took it (bind of a taken queue:
	 * EBUSY, not root: EPERM) */
	int n = (int)mnl_socket_recvfrom(qq->nl, qq->vbuf, sizeof(qq->vbuf));
	if (n < 0)
		return -errno;
	if (mnl_cb_run(qq->vbuf, (size_t)n, nlh->nlmsg_seq, qq->portid, NULL,
		       NULL) < 0)
		return -errno;
	return 0;
}

static int queue_bind(struct rwnfq_queue *qq, const struct rwnfq_opts *o,
		      char *err, size_t errlen)
{
	char buf[NFQ_CTL_BUF];
	struct nlmsghdr *nlh;
	uint32_t flags = NFQA_CFG_F_FAIL_OPEN | NFQA_CFG_F_GSO;
	int one = 1, rc;
	static _Atomic uint32_t seq = 1;

	qq->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!qq->nl) {
		snprintf(err, errlen, "nfqueue %u: netlink socket: %s", qq->num,
			 strerror(errno));
		return -1;
	}
	if (mnl_socket_bind(qq->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		snprintf(err, errlen, "nfqueue %u: netlink bind: %s", qq->num,
			 strerror(errno));
		return -1;
	}
	qq->portid = mnl_socket_get_portid(qq->nl);

	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, qq->num);
	nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = atomic_fetch_add(&seq, 1);
	nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
	if ((rc = send_cfg(qq, nlh)) < 0) {
		snprintf(err, errlen, "nfqueue %u: bind: %s%s", qq->num,
			 strerror(-rc), rc == -EPERM ? " (needs root or "
			 "CAP_NET_ADMIN)" : rc == -EBUSY ? " (another program "
			 "holds this queue)" : "");
		return -1;
	}
	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, qq->num);
	nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = atomic_fetch_add(&seq, 1);
	nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, 0xffff);
	nfq_nlmsg_cfg_put_qmaxlen(nlh, o->queue_maxlen);
	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(flags));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(flags));
	if ((rc = send_cfg(qq, nlh)) < 0) {
		snprintf(err, errlen, "nfqueue %u: configure (copy mode, "
			 "fail-open, GSO): %s", qq->num, strerror(-rc));
		return -1;
	}
	/* the kernel counts what it could not deliver (read from /proc):
	 * an ENOBUFS error on recv would only tell us the same, later */
	setsockopt(mnl_socket_get_fd(qq->nl), SOL_NETLINK, NETLINK_NO_ENOBUFS,
		   &one, sizeof(one));
	if (setsockopt(mnl_socket_get_fd(qq->nl), SOL_SOCKET, SO_RCVBUFFORCE,
		       &o->rcvbuf, sizeof(o->rcvbuf)) < 0)
		setsockopt(mnl_socket_get_fd(qq->nl), SOL_SOCKET, SO_RCVBUF,
			   &o->rcvbuf, sizeof(o->rcvbuf));
	/* wake up now and then: stop flag, idle flow expiry */
	struct timeval tv = { 0, 200000 };
	setsockopt(mnl_socket_get_fd(qq->nl), SOL_SOCKET, SO_RCVTIMEO, &tv,
		   sizeof(tv));
	return 0;
}

static void verdict_send(struct rwnfq_queue *qq, int type, uint32_t id,
			 int verdict, int with_mark, uint32_t mark)
{
	struct nlmsghdr *nlh = nfq_nlmsg_put(qq->vbuf, type, qq->num);

	nfq_nlmsg_verdict_put(nlh, (int)id, verdict);
	if (with_mark)
		nfq_nlmsg_verdict_put_mark(nlh, mark);
	if (mnl_socket_sendto(qq->nl, nlh, nlh->nlmsg_len) < 0)
		ctr_inc(&qq->ctr, CTR_NFQ_ERR);
}

/* every accepted id up to batch_id, in one message */
static void batch_flush(struct rwnfq_queue *qq)
{
	if (!qq->batch_n)
		return;
	if (qq->batch_n == 1)
		verdict_send(qq, NFQNL_MSG_VERDICT, qq->batch_id, NF_ACCEPT, 0, 0);
	else
		verdict_send(qq, NFQNL_MSG_VERDICT_BATCH, qq->batch_id,
			     NF_ACCEPT, 0, 0);
	ctr_inc(&qq->ctr, CTR_NFQ_BATCH);
	qq->batch_n = 0;
}

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000;
}

static int queue_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rwnfq_queue *qq = data;
	struct nlattr *attr[NFQA_MAX + 1] = { 0 };
	struct nfqnl_msg_packet_hdr *ph;
	enum verdict v = VERDICT_ACCEPT;
	uint32_t id, plen, wire, mark = 0, skbinfo = 0;
	const uint8_t *payload;
	struct pkt p;

	/* unbound by the watchdog: what is still in the socket buffer has
	 * been flushed by the kernel already; no verdict is wanted */
	if (atomic_load(&qq->abandoned))
		return MNL_CB_OK;
	if (nfq_nlmsg_parse(nlh, attr) < 0 || !attr[NFQA_PACKET_HDR]) {
		ctr_inc(&qq->ctr, CTR_NFQ_ERR);
		return MNL_CB_OK;
	}
	ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
	id = ntohl(ph->packet_id);
	ctr_inc(&qq->ctr, CTR_NFQ_PKTS);
	if (attr[NFQA_MARK])
		mark = ntohl(mnl_attr_get_u32(attr[NFQA_MARK]));
	if (attr[NFQA_SKB_INFO])
		skbinfo = ntohl(mnl_attr_get_u32(attr[NFQA_SKB_INFO]));
	if (mark & NFQ_MARK_DONE) {
		/* our NF_REPEAT came back: no chain saved the mark; accept */
		batch_flush(qq);
		verdict_send(qq, NFQNL_MSG_VERDICT, id, NF_ACCEPT, 0, 0);
		ctr_inc(&qq->ctr, CTR_NFQ_ACCEPT);
		return MNL_CB_OK;
	}
	if (mark & NFQ_MARK_BLOCK) {
		/* our own NF_REPEAT came back to the queue: no chain acts on
		 * the mark, so drop it here (never loop) */
		batch_flush(qq);
		verdict_send(qq, NFQNL_MSG_VERDICT, id, NF_DROP, 0, 0);
		ctr_inc(&qq->ctr, CTR_NFQ_DROP);
		return MNL_CB_OK;
	}
	if (attr[NFQA_PAYLOAD]) {
		payload = mnl_attr_get_payload(attr[NFQA_PAYLOAD]);
		plen = mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]);
		wire = attr[NFQA_CAP_LEN] ?
			ntohl(mnl_attr_get_u32(attr[NFQA_CAP_LEN])) : plen;
		ctr_inc(&qq->ctr, CTR_PKTS);
		ctr_add(&qq->ctr, CTR_BYTES, wire);
		if (decode_packet(DECODE_LINKTYPE_RAW, payload, plen, wire,
				  now_us(), &p, &qq->ctr) == 0) {
			/* checksum not computed yet (locally sent, GSO):
			 * nothing to check on this packet */
			if (skbinfo & NFQA_SKB_CSUMNOTREADY)
				p.l3 = NULL;
			p.index = ++qq->index;
			qq->done = 0;
			atomic_store(&qq->busy_since, now_us());
			if (qq->q->test_stall_ms && p.payload_len &&
			    memmem(p.payload, p.payload_len, "rwnfq-stall", 11)) {
				usleep(qq->q->test_stall_ms * 1000u);
				qq->q->test_stall_ms = 0;   /* once */
			}
			v = engine_packet(qq->e, &p);
			atomic_store(&qq->busy_since, 0);
		}
	}
	if (v == VERDICT_DROP && qq->q->o.monitor) {
		ctr_inc(&qq->ctr, CTR_NFQ_MONITOR_DROP);
		v = VERDICT_ACCEPT;
	}
	if (v == VERDICT_DROP) {
		batch_flush(qq);
		if (qq->q->o.mark_block) {
			verdict_send(qq, NFQNL_MSG_VERDICT, id, NF_REPEAT, 1,
				     mark | NFQ_MARK_BLOCK);
			ctr_inc(&qq->ctr, CTR_NFQ_REPEAT_DROP);
		} else {
			verdict_send(qq, NFQNL_MSG_VERDICT, id, NF_DROP, 0, 0);
		}
		ctr_inc(&qq->ctr, CTR_NFQ_DROP);
	} else if (qq->done && qq->q->o.mark_block) {
		/* this connection leaves the queue (the chain saves the
		 * mark to its connmark and returns early from then on) */
		batch_flush(qq);
		verdict_send(qq, NFQNL_MSG_VERDICT, id, NF_REPEAT, 1,
			     mark | NFQ_MARK_DONE);
		ctr_inc(&qq->ctr, CTR_NFQ_DONE_MARK);
		ctr_inc(&qq->ctr, CTR_NFQ_ACCEPT);
	} else {
		qq->batch_id = id;
		qq->batch_n++;
		ctr_inc(&qq->ctr, CTR_NFQ_ACCEPT);
	}
	return MNL_CB_OK;
}

static void handle(struct rwnfq_queue *qq, int n)
{
	if (mnl_cb_run(qq->buf, (size_t)n, 0, qq->portid, queue_cb, qq) < 0)
		ctr_inc(&qq->ctr, CTR_NFQ_ERR);
}

static void *queue_thread(void *arg)
{
	struct rwnfq_queue *qq = arg;
	int fd = mnl_socket_get_fd(qq->nl);
	uint64_t last_tick = now_us();

	while (!atomic_load(&qq->q->quit)) {
		ssize_t n = recv(fd, qq->buf, NFQ_BUF, 0);
		if (n > 0) {
			handle(qq, (int)n);
			/* what else is already there, then one batch verdict */
			for (int i = 0; i < NFQ_BURST; i++) {
				n = recv(fd, qq->buf, NFQ_BUF, MSG_DONTWAIT);
				if (n <= 0)
					break;
				handle(qq, (int)n);
			}
			batch_flush(qq);
		} else if (n < 0 && errno != EAGAIN && errno != EINTR &&
			   errno != ENOBUFS) {
			ctr_inc(&qq->ctr, CTR_NFQ_ERR);
		}
		uint64_t t = now_us();
		if (t - last_tick >= 200000) {
			engine_tick(qq->e, t, qq->index);
			last_tick = t;
		}
	}
	/* stopping: answer what the socket still holds, so no queued packet
	 * is left for the unbind to drop */
	for (int i = 0; i < 4096; i++) {
		ssize_t n = recv(fd, qq->buf, NFQ_BUF, MSG_DONTWAIT);
		if (n <= 0)
			break;
		handle(qq, (int)n);
	}
	batch_flush(qq);
	return NULL;
}

static void queue_unbind(struct rwnfq_queue *qq)
{
	char buf[NFQ_CTL_BUF];
	struct nlmsghdr *nlh;

	if (!qq->nl)
		return;
	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, qq->num);
	nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_UNBIND);
	mnl_socket_sendto(qq->nl, nlh, nlh->nlmsg_len);
	mnl_socket_close(qq->nl);
	qq->nl = NULL;
}

/* watchdog: the queue thread is stuck on one packet. Unbind its queue
 * (sendto on its socket is safe from this thread): the kernel drops what
 * waits in the queue (TCP resends it) and passes the rest itself
 * (--queue-bypass). */
static void abandon(struct rwnfq_queue *qq, uint64_t busy_us)
{
	char buf[NFQ_CTL_BUF];
	struct nlmsghdr *nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, qq->num);

	nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_UNBIND);
	mnl_socket_sendto(qq->nl, nlh, nlh->nlmsg_len);
	ctr_inc(&qq->ctr, CTR_NFQ_STALL);
	fprintf(stderr, "relaywatch: nfqueue %u: engine busy on one packet "
		"for %llu ms: queue unbound, traffic passes unseen "
		"(--queue-bypass) until relaywatch restarts\n", qq->num,
		(unsigned long long)(busy_us / 1000));
}

struct rwnfq *rwnfq_open(const struct rwnfq_opts *o, const struct engine_config *cfg,
		     const struct line_sink *sink, char *err, size_t errlen)
{
	struct rwnfq *q = calloc(1, sizeof(*q));
	struct engine_config ecfg = *cfg;

	if (!q) {
		snprintf(err, errlen, "nfqueue: out of memory");
		return NULL;
	}
	q->o = *o;
	q->sink = *sink;
	q->n = o->qlast - o->qfirst + 1;
	{
		const char *t = getenv("RELAYWATCH_TEST_STALL_MS");
		q->test_stall_ms = t ? (uint32_t)strtoul(t, NULL, 10) : 0;
	}
	/* monitor: the engine runs as passive (alerts say "allowed", the
	 * flow is not cut), the verdicts are all accept */
	ecfg.inline_mode = !o->monitor;
	if (!ecfg.rule_shared) {
		/* one set of thresholds and correlations for every queue,
		 * under its mutex; no turns: the kernel's order is the order */
		q->rstate = rule_state_new(&cfg->rule_state);
		if (!q->rstate) {
			snprintf(err, errlen, "nfqueue: out of memory");
			free(q);
			return NULL;
		}
		ecfg.rule_shared = q->rstate;
	}
	for (int i = 0; i < q->n; i++) {
		struct rwnfq_queue *qq = &q->qs[i];
		struct engine_output out = { .arg = qq, .record = nfq_record,
					     .flow_inspect = nfq_inspect };

		qq->q = q;
		qq->num = (uint16_t)(o->qfirst + i);
		qq->buf = malloc(NFQ_BUF);
		if (!qq->buf || ring_init(&qq->rec, o->record_ring) < 0 ||
		    !(qq->e = engine_new(&ecfg, &out))) {
			snprintf(err, errlen, "nfqueue %u: cannot allocate the "
				 "engine (--max-flows %u): out of memory",
				 qq->num, cfg->max_flows);
			rwnfq_close(q);
			return NULL;
		}
		if (queue_bind(qq, o, err, errlen) < 0) {
			rwnfq_close(q);
			return NULL;
		}
	}
	return q;
}

int rwnfq_run(struct rwnfq *q, volatile sig_atomic_t *stop)
{
	int rc = 0;

	q->stop = stop;
	for (int i = 0; i < q->n; i++) {
		if (pthread_create(&q->qs[i].th, NULL, queue_thread,
				   &q->qs[i]) != 0) {
			fprintf(stderr, "relaywatch: nfqueue %u: cannot start "
				"its thread\n", q->qs[i].num);
			atomic_store(&q->quit, 1);
			rc = -1;
			break;
		}
		q->qs[i].started = 1;
	}
	/* the writer, and the watchdog */
	while (!*stop && !atomic_load(&q->quit)) {
		uint64_t t = now_us();
		for (int i = 0; i < q->n; i++) {
			struct rwnfq_queue *qq = &q->qs[i];
			uint64_t b = atomic_load(&qq->busy_since);
			drain(qq);
			if (b && t > b && t - b > (uint64_t)q->o.stall_ms * 1000 &&
			    !atomic_exchange(&qq->abandoned, 1))
				abandon(qq, t - b);
		}
		usleep(2000);
	}
	atomic_store(&q->quit, 1);
	for (int i = 0; i < q->n; i++) {
		if (q->qs[i].started)
			pthread_join(q->qs[i].th, NULL);
		q->qs[i].started = 0;
		drain(&q->qs[i]);
	}
	/* unbind before closing the flows: from here on the kernel passes
	 * packets itself (--queue-bypass) */
	for (int i = 0; i < q->n; i++) {
		struct rwnfq_queue *qq = &q->qs[i];
		uint64_t qd, ud;
		read_kernel_drops(qq, &qd, &ud);
		ctr_add(&qq->ctr, CTR_NFQ_KERNEL_DROP, qd);
		ctr_add(&qq->ctr, CTR_NFQ_USER_DROP, ud);
		queue_unbind(qq);
		qq->direct = 1;
		engine_finish(qq->e, qq->index + 1);
		drain(qq);
	}
	return rc;
}

void rwnfq_counters(struct rwnfq *q, struct rw_counters *sum)
{
	for (int i = 0; i < q->n; i++) {
		const struct rw_counters *c = engine_counters(q->qs[i].e);
		for (int k = 0; k < CTR__COUNT; k++)
			sum->v[k] += c->v[k] + q->qs[i].ctr.v[k];
	}
}

void rwnfq_mem(struct rwnfq *q, struct engine_mem *m)
{
	memset(m, 0, sizeof(*m));
	for (int i = 0; i < q->n; i++) {
		struct engine_mem one;
		engine_mem(q->qs[i].e, &one);
		m->flow_entry_bytes = one.flow_entry_bytes;
		m->parser_state_bytes = one.parser_state_bytes;
		m->flows_active += one.flows_active;
		m->flows_peak += one.flows_peak;
		m->flows_max += one.flows_max;
		m->parsers_peak += one.parsers_peak;
		m->reasm_bytes_peak += one.reasm_bytes_peak;
	}
}

int rwnfq_queues(const struct rwnfq *q)
{
	return q->n;
}

void rwnfq_close(struct rwnfq *q)
{
	if (!q)
		return;
	for (int i = 0; i < q->n; i++) {
		struct rwnfq_queue *qq = &q->qs[i];
		queue_unbind(qq);
		if (qq->e)
			engine_free(qq->e);
		if (qq->rec.buf)
			ring_destroy(&qq->rec);
		free(qq->buf);
	}
	rule_state_free(q->rstate);   /* after the engines that use it */
	free(q);
}
