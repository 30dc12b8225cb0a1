/* http_proxy_int.h - what the HTTP proxy parser's files share (not an
 * interface: http_proxy.h is). http_proxy.c: the state machine, pipeline
 * and message framing; http_proxy_req.c: request lines and targets;
 * http_proxy_eve.c: records and content probes.
 */
#ifndef RW_HTTP_PROXY_INT_H
#define RW_HTTP_PROXY_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "http_proxy.h"
#include "proto.h"

/* ------------------------------------------------------------------ */
/* small string helpers                                                */

static inline int lc(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

/* a (an bytes) equals the NUL-terminated b, case-insensitively */
static inline int ieq(const char *a, size_t an, const char *b)
{
	size_t bn = strlen(b);

	if (an != bn)
		return 0;
	for (size_t i = 0; i < an; i++)
		if (lc((unsigned char)a[i]) != lc((unsigned char)b[i]))
			return 0;
	return 1;
}

static inline int is_tchar(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static inline int is_sp(int c)
{
	return c == ' ' || c == '\t';
}

static inline int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* Copy n bytes into a NUL-terminated field of cap bytes; returns 1 if it
 * had to be cut. */
static inline int copy_field(char *dst, size_t cap, const char *s, size_t n)
{
	int cut = 0;

	if (n > cap - 1) {
		n = cap - 1;
		cut = 1;
	}
	memcpy(dst, s, n);
	dst[n] = '\0';
	return cut;
}

static inline void trim(const char **s, size_t *n)
{
	while (*n && is_sp((unsigned char)**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n && is_sp((unsigned char)(*s)[*n - 1]))
		(*n)--;
}

/* ------------------------------------------------------------------ */
/* the parser's state (http_proxy.c)                                   */

enum http_pstate {
	HS_LINE = 0,    /* start line: request line / status line */
	HS_HEADERS,
	HS_BODY,        /* Content-Length bytes */
	HS_CHUNK_SIZE,  /* line */
	HS_CHUNK_DATA,
	HS_CHUNK_CRLF,  /* line: the CRLF after chunk data */
	HS_TRAILER,     /* lines up to the empty one */
	HS_TUNNEL_WAIT, /* client: after CONNECT, before its answer */
	HS_TUNNEL,
	HS_READ_CLOSE,  /* server: body delimited by the end of the flow */
	HS_OPAQUE,      /* after a 101 upgrade, or bypassed: nothing to parse */
};

struct http_line {
	uint32_t total;       /* bytes of the current line so far, w/o LF */
	uint16_t len;         /* bytes stored in buf */
	uint8_t tail_len;
	uint8_t discarding;   /* cut at HTTP_LINE_MAX: skipping to the LF */
	char buf[HTTP_LINE_BUF];
	char tail[HTTP_LINE_TAIL]; /* last bytes of a line longer than buf */
};

/* framing facts gathered from one message's headers */
struct http_msg {
	uint8_t has_cl, chunked, keep_alive, close;
	uint8_t proxy_hdr;    /* response: Proxy-Authenticate / Proxy-Agent */
	uint64_t cl;
};

/* server side: what the response being parsed answers (http_side.ans) */
enum {
	ANS_PAIRED  = 1,      /* a pending request: dropped when answered */
	ANS_RUN     = 2,      /* ...the oldest compact one (no transaction) */
	ANS_HEAD    = 4,      /* ...a HEAD: no body */
	ANS_CONNECT = 8,      /* ...a CONNECT: 2xx opens the tunnel */
};

struct http_side {
	enum http_pstate state;
	uint8_t resync;       /* skip lines until a start line */
	uint8_t ans;          /* server side: ANS_* of the current response */
	int8_t tx;            /* ring slot of the message being parsed, -1 */
	uint16_t code;        /* server side: status of the current response */
	uint64_t remaining;   /* body / chunk bytes still to skip */
	struct http_msg msg;
	struct http_line line;
};

/* a compact run of the pipeline: RUN_HEAD | count (>= 1) */
#define RUN_HEAD  0x80000000u
#define RUN_COUNT 0x7fffffffu

struct http_proxy_state {
	struct proto_sink sink;
	struct rw_counters *ctr;
	uint8_t dead;         /* not HTTP after all: ignore the flow */
	uint8_t opaque;       /* 101 upgrade: nothing more to parse */
	uint8_t tunnel;       /* CONNECT granted */
	uint8_t seen_request;
	uint8_t early_overflow;
	uint8_t in_tunnel;    /* parsing a tunnel's payload: never bypass */
	uint8_t bypass;       /* plain web: the flow is no longer followed */
	uint8_t proxy_flow;   /* proxy traffic seen on the flow */
	uint8_t not_web;      /* a first transaction was not plain web */
	uint8_t web_tx;       /* plain web transactions so far */
	uint8_t unpaired;     /* pipeline runs cap hit: responses unpaired */
	uint16_t server_port;
	uint32_t next_id;
	uint32_t early_len;   /* bytes stored in early[] */
	uint64_t early_lost;  /* early bytes over the cap or lost in a gap */
	struct http_side side[2];
	uint8_t run_head, run_count;
	uint8_t q_head, q_count;
	uint32_t run[HTTP_PIPE_RUNS];
	struct http_tx q[HTTP_PENDING_MAX];
	uint8_t early[HTTP_EARLY_MAX];
};

static inline struct http_tx *tx_at(struct http_proxy_state *s, int slot)
{
	return slot < 0 ? NULL : &s->q[slot];
}

static inline void anom(struct http_tx *tx, uint32_t bit)
{
	if (tx)
		tx->anomalies |= bit;
}

/* ------------------------------------------------------------------ */
/* http_proxy_msg.c                                                    */

/* A header line of a request (dir 0) or a response (dir 1). Returns 1 if
 * the line held credentials (the caller wipes the line buffer). */
int http_on_header(struct http_proxy_state *s, int dir, char *b, size_t n,
		   int cut, const char *tail, size_t tail_n);
/* Gather bytes of a line. Returns the bytes consumed; *done is set when a
 * line is complete (LF seen, or cut at HTTP_LINE_MAX). */
size_t http_line_take(struct http_proxy_state *s, struct http_line *l,
		      const uint8_t *d, size_t n, int *done);
void http_line_reset(struct http_line *l);

/* ------------------------------------------------------------------ */
/* http_proxy_req.c                                                    */

#define HTTP_ANOM_BAD_TARGET_MASK (HTTP_ANOM_TARGET_NO_PORT | \
	HTTP_ANOM_TARGET_BAD_PORT | HTTP_ANOM_TARGET_TRAILING | \
	HTTP_ANOM_TARGET_PATH | HTTP_ANOM_TARGET_ODD_IP | \
	HTTP_ANOM_TARGET_BAD_HOST)

extern const char *const http_anom_names[HTTP_ANOM__BITS];

struct tok {
	const char *p;
	size_t n;
};

int http_tokenize(const char *b, size_t n, struct tok *t, int max);
int http_is_version(const char *p, size_t n);
/* length of the scheme of "scheme://" at t, or 0 */
size_t http_scheme_len(const char *t, size_t n);
/* host[:port] or [v6][:port] into tx->target_host / target_port; the
 * anomalies found go to *an (the caller decides whether they count) */
void http_parse_authority(struct http_tx *tx, const char *a, size_t n,
			  uint16_t default_port, int port_required,
			  uint32_t *an);
/* store the raw request-target (capped, userinfo cut) and classify it */
void http_parse_target(struct http_tx *tx, const char *t, size_t n,
		       int is_connect);

/* ------------------------------------------------------------------ */
/* http_proxy_eve.c                                                    */

struct json;
const char *http_eve(struct json *j, enum proto_event type, const void *obj);
enum probe_result http_probe(const uint8_t *cli, size_t cn,
			     const uint8_t *srv, size_t sn);
enum probe_result http_probe_tunnel(const uint8_t *cli, size_t cn,
				    const uint8_t *srv, size_t sn);

#endif
