/* proto_harness.h - the transcript runner shared by the proxy parsers'
 * unit tests (test_http_proxy.c, test_socks.c).
 *
 * Every transcript runs whole, one byte at a time and in random chunks (the
 * direction order kept); the event log (the EVE JSON of each record, a line
 * per request and tunnel event), the tunnel bytes and the counters must be
 * identical. A test file defines, before including it:
 *   PH_OPS, PH_TX          the parser's proto_ops and transaction struct
 *   PH_REQUEST_EV          its "request parsed" event
 *   PH_EVENT_TYPE, PH_PORT its EVE event_type and a server port
 *   ph_request_line()      one log line describing a request event
 */
#ifndef RW_PROTO_HARNESS_H
#define RW_PROTO_HARNESS_H

#include <stdlib.h>
#include <string.h>
#include "t.h"
#include "proto.h"
#include "json.h"

/* ------------------------------------------------------------------ */
/* transcript runner                                                   */

struct chunk {
	int dir;
	const char *d;  /* NULL: a gap of n bytes */
	size_t n;
};
#define C(s) { DIR_TO_SERVER, s, sizeof(s) - 1 }
#define S(s) { DIR_TO_CLIENT, s, sizeof(s) - 1 }
#define CB(p, len) { DIR_TO_SERVER, p, len }
#define SB(p, len) { DIR_TO_CLIENT, p, len }
#define GAP(dir, len) { dir, NULL, len }
#define N(a) (sizeof(a) / sizeof((a)[0]))

#define OUT_MAX (1024 * 1024)
#define REC_MAX 16

struct result {
	char log[OUT_MAX];
	size_t log_len;
	char tun[2][OUT_MAX];
	size_t tun_len[2];
	int n_req, n_rec, n_open;
	struct tunnel_info ti;
	PH_TX rec[REC_MAX];     /* the first records */
	PH_TX req[REC_MAX];
	PH_TX last_rec;         /* the last record */
	int log_full;           /* the log did not fit OUT_MAX */
	struct rw_counters ctr;
	int wants_data;
	int creds_in_state; /* a secret string found in the state block */
};

static const char *t_secret; /* must never appear in output or state */
/* optional: called with every record (deep transcripts check them all) */
static void (*t_on_record)(const PH_TX *tx);

static void logf_(struct result *r, const char *s, size_t n)
{
	if (r->log_len + n + 1 < OUT_MAX) {
		memcpy(r->log + r->log_len, s, n);
		r->log_len += n;
		r->log[r->log_len] = '\0';
	} else {
		r->log_full = 1;
	}
}

static void sk_event(void *ctx, enum proto_event type, const void *obj,
		     uint64_t ts)
{
	struct result *r = ctx;
	const PH_TX *tx = obj;
	char buf[8192], line[512];
	struct json j;

	(void)ts;
	if (type == PH_REQUEST_EV) {
		int n = ph_request_line(line, sizeof(line), tx);
		logf_(r, line, (size_t)n);
		if (r->n_req < REC_MAX)
			r->req[r->n_req] = *tx;
		r->n_req++;
		return;
	}
	json_init(&j, buf, sizeof(buf));
	json_obj_open(&j, NULL);
	const char *et = PH_OPS.eve(&j, type, obj);
	json_obj_close(&j);
	CHECK(et && !strcmp(et, PH_EVENT_TYPE));
	CHECK(!j.overflow);
	logf_(r, "RECORD ", 7);
	logf_(r, buf, j.len);
	logf_(r, "\n", 1);
	if (r->n_rec < REC_MAX)
		r->rec[r->n_rec] = *tx;
	r->last_rec = *tx;
	r->n_rec++;
	if (t_on_record)
		t_on_record(tx);
}

static void sk_open(void *ctx, const struct tunnel_info *ti, uint64_t ts)
{
	struct result *r = ctx;
	char line[512];
	int n = snprintf(line, sizeof(line), "TUNNEL_OPEN %d %s %u\n",
			 ti->type, ti->target_host, ti->target_port);

	(void)ts;
	logf_(r, line, (size_t)n);
	r->ti = *ti;
	r->n_open++;
}

static void sk_data(void *ctx, int dir, const uint8_t *d, size_t n,
		    uint64_t ts)
{
	struct result *r = ctx;

	(void)ts;
	CHECK(r->n_open == 1);
	CHECK(n > 0);
	if (r->tun_len[dir] + n < OUT_MAX) {
		memcpy(r->tun[dir] + r->tun_len[dir], d, n);
		r->tun_len[dir] += n;
	}
}

static void sk_gap(void *ctx, int dir, size_t n, uint64_t ts)
{
	struct result *r = ctx;
	char line[64];
	int k = snprintf(line, sizeof(line), "TUNNEL_GAP %d %zu\n", dir, n);

	(void)ts;
	logf_(r, line, (size_t)k);
}

enum mode { WHOLE, BYTES, RANDOM };

static void run(const struct chunk *c, size_t nc, enum mode m, unsigned seed,
		const struct proto_init *pi, struct result *r)
{
	struct proto_sink sink = { r, sk_event, sk_open, sk_data, sk_gap };
	void *st = malloc(PH_OPS.state_size);

	memset(r, 0, sizeof(*r));
	memset(st, 0xa5, PH_OPS.state_size);
	PH_OPS.init(st, &sink, &r->ctr, pi);
	srand(seed);
	for (size_t i = 0; i < nc; i++) {
		uint64_t ts = 1000 * (i + 1);
		size_t off = 0;

		if (!c[i].d) {
			PH_OPS.gap(st, c[i].dir, c[i].n, ts);
			continue;
		}
		while (off < c[i].n) {
			size_t k = c[i].n - off;

			if (m == BYTES)
				k = 1;
			else if (m == RANDOM && k > 1)
				k = 1 + (size_t)rand() % (k < 40 ? k : 40);
			PH_OPS.feed(st, c[i].dir,
					    (const uint8_t *)c[i].d + off, k, ts);
			off += k;
		}
	}
	r->wants_data = PH_OPS.wants_data(st);
	if (t_secret)
		r->creds_in_state = memmem(st, PH_OPS.state_size,
					   t_secret, strlen(t_secret)) != NULL;
	PH_OPS.end(st, 1000 * (nc + 1));
	free(st);
}

static struct result r_whole, r_other;

/* run_all() runs a transcript this many times (whole, byte by byte,
 * random chunks): what t_on_record counts comes this many times */
#define PH_RUNS 7

/* Run whole, byte by byte and in random chunks; all must agree. Returns
 * the whole-stream result. */
static struct result *run_all_pi(const struct chunk *c, size_t nc,
				 const struct proto_init *pi)
{
	run(c, nc, WHOLE, 0, pi, &r_whole);
	for (int m = 0; m < PH_RUNS - 1; m++) {
		run(c, nc, m == 0 ? BYTES : RANDOM, (unsigned)m * 7919u, pi,
		    &r_other);
		CHECK_STR(r_other.log, r_whole.log);
		for (int d = 0; d < 2; d++) {
			CHECK_INT(r_other.tun_len[d], r_whole.tun_len[d]);
			CHECK(!memcmp(r_other.tun[d], r_whole.tun[d],
				      r_whole.tun_len[d]));
		}
		CHECK(!memcmp(&r_other.ctr, &r_whole.ctr, sizeof(r_whole.ctr)));
		CHECK_INT(r_other.creds_in_state, r_whole.creds_in_state);
	}
	CHECK(!r_whole.log_full);
	if (getenv("T_VERBOSE"))
		printf("%s", r_whole.log);
	if (t_secret) {
		CHECK(!strstr(r_whole.log, t_secret));
		CHECK(!r_whole.creds_in_state);
	}
	return &r_whole;
}

static struct result *run_all(const struct chunk *c, size_t nc)
{
	static const struct proto_init pi = { .server_port = PH_PORT };

	return run_all_pi(c, nc, &pi);
}

#define CHECK_HAS(hay, needle) do { \
	if (!strstr((hay), (needle))) { \
		printf("#   %s:%d: missing %s in:\n%s\n", __FILE__, __LINE__, \
		       needle, hay); \
		t_cur_fail = 1; \
	} \
} while (0)
#define CHECK_HASNT(hay, needle) do { \
	if (strstr((hay), (needle))) { \
		printf("#   %s:%d: unexpected %s in:\n%s\n", __FILE__, __LINE__, \
		       needle, hay); \
		t_cur_fail = 1; \
	} \
} while (0)
#define CHECK_TUN(r, dir, s) do { \
	CHECK_INT((r)->tun_len[dir], sizeof(s) - 1); \
	CHECK(!memcmp((r)->tun[dir], s, sizeof(s) - 1)); \
} while (0)

#endif
