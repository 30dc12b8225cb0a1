/* http_proxy.c - HTTP forward-proxy parser (see http_proxy.h).
 *
 * Each direction is a small state machine (struct http_side). Line states
 * gather one line at a time into a capped buffer (struct http_line) and
 * hand complete lines to a handler; byte states (bodies, tunnel, early
 * data) consume runs of bytes. Nothing depends on how the stream is cut
 * into chunks: a line or a run is processed the same way whether it came
 * in one call or in many.
 *
 * Transactions live in a small ring (HTTP_PENDING_MAX): the client side
 * appends, the server side answers the oldest. A transaction leaves the
 * ring when its response is complete (EV_HTTP_RECORD).
 */
#include "http_proxy.h"

#include <stddef.h>
#include <string.h>
#include "json.h"

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
	HS_OPAQUE,      /* after 101 Switching Protocols: nothing to parse */
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
	uint64_t cl;
};

struct http_side {
	enum http_pstate state;
	uint8_t resync;       /* skip lines until a start line */
	int8_t tx;            /* ring slot of the message being parsed, -1 */
	uint64_t remaining;   /* body / chunk bytes still to skip */
	struct http_msg msg;
	struct http_line line;
};

struct http_proxy_state {
	struct proto_sink sink;
	struct rw_counters *ctr;
	uint8_t dead;         /* not HTTP after all: ignore the flow */
	uint8_t opaque;       /* 101 upgrade: nothing more to parse */
	uint8_t tunnel;       /* CONNECT granted */
	uint8_t seen_request;
	uint8_t early_overflow;
	uint32_t next_id;
	uint32_t early_len;   /* bytes stored in early[] */
	uint64_t early_lost;  /* early bytes over the cap or lost in a gap */
	struct http_side side[2];
	uint8_t q_head, q_count;
	struct http_tx q[HTTP_PENDING_MAX];
	uint8_t early[HTTP_EARLY_MAX];
};

/* ------------------------------------------------------------------ */
/* small string helpers                                                */

static int lc(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

static int ieq(const char *a, size_t an, const char *b)
{
	size_t bn = strlen(b);

	if (an != bn)
		return 0;
	for (size_t i = 0; i < an; i++)
		if (lc((unsigned char)a[i]) != lc((unsigned char)b[i]))
			return 0;
	return 1;
}

static int is_tchar(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int is_sp(int c)
{
	return c == ' ' || c == '\t';
}

static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* Copy n bytes into a NUL-terminated field of cap bytes; returns 1 if it
 * had to be cut. */
static int copy_field(char *dst, size_t cap, const char *s, size_t n)
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

static void trim(const char **s, size_t *n)
{
	while (*n && is_sp((unsigned char)**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n && is_sp((unsigned char)(*s)[*n - 1]))
		(*n)--;
}

/* does the comma-separated list contain the token tok (case-insensitive) */
static int list_has(const char *s, size_t n, const char *tok)
{
	size_t i = 0;

	while (i < n) {
		size_t st = i, e;

		while (i < n && s[i] != ',')
			i++;
		e = i;
		while (st < e && is_sp((unsigned char)s[st]))
			st++;
		while (e > st && is_sp((unsigned char)s[e - 1]))
			e--;
		if (ieq(s + st, e - st, tok))
			return 1;
		i++;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* transactions                                                        */

static struct http_tx *tx_at(struct http_proxy_state *s, int slot)
{
	return slot < 0 ? NULL : &s->q[slot];
}

static int q_slot(const struct http_proxy_state *s, int i)
{
	return (s->q_head + i) % HTTP_PENDING_MAX;
}

static void anom(struct http_tx *tx, uint32_t bit)
{
	if (tx)
		tx->anomalies |= bit;
}

static void emit(struct http_proxy_state *s, enum proto_event ev,
		 const struct http_tx *tx, uint64_t ts)
{
	if (s->sink.event)
		s->sink.event(s->sink.ctx, ev, tx, ts);
}

/* Emit the oldest transaction as a record and drop it from the ring. Any
 * side still pointing at it loses its tx (it keeps framing the message). */
static void q_pop_emit(struct http_proxy_state *s, uint64_t ts)
{
	int slot;

	if (!s->q_count)
		return;
	slot = s->q_head;
	emit(s, EV_HTTP_RECORD, &s->q[slot], ts);
	for (int d = 0; d < 2; d++)
		if (s->side[d].tx == slot)
			s->side[d].tx = -1;
	s->q_head = (uint8_t)((s->q_head + 1) % HTTP_PENDING_MAX);
	s->q_count--;
}

/* A new transaction at the tail; when the ring is full the oldest is
 * forced out as an unanswered record (pipelining cap). */
static int q_push(struct http_proxy_state *s, uint64_t ts)
{
	int slot;
	struct http_tx *tx;

	if (s->q_count == HTTP_PENDING_MAX) {
		s->q[s->q_head].anomalies |= HTTP_ANOM_PENDING_OVERFLOW;
		ctr_inc(s->ctr, CTR_HTTP_PENDING_CAP);
		q_pop_emit(s, ts);
	}
	slot = q_slot(s, s->q_count);
	s->q_count++;
	tx = &s->q[slot];
	memset(tx, 0, sizeof(*tx));
	tx->id = ++s->next_id;
	return slot;
}

/* ------------------------------------------------------------------ */
/* request-target                                                      */

static const char *const anom_names[HTTP_ANOM__BITS] = {
	"target_no_port", "target_bad_port", "target_trailing_junk",
	"target_path", "target_ipv6_literal", "target_odd_ip",
	"target_bad_host", "target_userinfo", "line_too_long",
	"field_truncated", "bad_header", "early_data", "early_data_lost",
	"early_data_discarded", "response_without_request",
	"bad_status_line", "bad_request_line", "bad_content_length",
	"te_and_cl", "bad_chunk", "gap", "pipeline_overflow", "incomplete",
	"connect_target_from_host_header",
};

#define HTTP_ANOM_BAD_TARGET_MASK (HTTP_ANOM_TARGET_NO_PORT | \
	HTTP_ANOM_TARGET_BAD_PORT | HTTP_ANOM_TARGET_TRAILING | \
	HTTP_ANOM_TARGET_PATH | HTTP_ANOM_TARGET_ODD_IP | \
	HTTP_ANOM_TARGET_BAD_HOST)

const char *http_anomaly_name(uint32_t bit)
{
	for (int i = 0; i < HTTP_ANOM__BITS; i++)
		if (bit == (1u << i))
			return anom_names[i];
	return "unknown";
}

const char *http_form_name(enum http_form f)
{
	switch (f) {
	case HTTP_FORM_ORIGIN: return "origin";
	case HTTP_FORM_AUTHORITY: return "authority";
	case HTTP_FORM_ABSOLUTE: return "absolute";
	case HTTP_FORM_ASTERISK: return "asterisk";
	default: return "none";
	}
}

/* One inet_aton() part: decimal, 0octal or 0xhex. Returns 0 if invalid. */
static int ip_part(const char *s, size_t n, uint64_t *v, int *odd)
{
	int base = 10;
	size_t i = 0;

	*v = 0;
	if (!n)
		return 0;
	if (n > 1 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		i = 2;
		*odd = 1;
		if (n == 2)
			return 1; /* "0x" is 0 for inet_aton */
	} else if (n > 1 && s[0] == '0') {
		base = 8;
		i = 1;
		*odd = 1;
	}
	for (; i < n; i++) {
		int c = lc((unsigned char)s[i]), d;

		if (is_digit(c))
			d = c - '0';
		else if (base == 16 && c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else
			return 0;
		if (d >= base)
			return 0;
		*v = *v * (uint64_t)base + (uint64_t)d;
		if (*v > 0xffffffffull)
			return 0;
	}
	return 1;
}

/* Numeric IPv4 the way inet_aton() (and so many proxies) reads it: 1 to 4
 * parts, the last filling the remaining bytes. Sets *odd when the form is
 * not the canonical dotted quad. Returns 1 and the address if numeric. */
static int ip_numeric(const char *h, size_t n, uint32_t *addr, int *odd)
{
	uint64_t part[4];
	int np = 0;
	size_t st = 0;

	*odd = 0;
	if (!n || !is_digit((unsigned char)h[0]))
		return 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || h[i] == '.') {
			if (np == 4 || !ip_part(h + st, i - st, &part[np], odd))
				return 0;
			np++;
			st = i + 1;
		}
	}
	if (np != 4)
		*odd = 1;
	uint64_t a = 0;
	for (int i = 0; i < np - 1; i++) {
		if (part[i] > 255)
			return 0;
		a |= part[i] << (24 - 8 * i);
	}
	if (part[np - 1] > (0xffffffffull >> (8 * (np - 1))))
		return 0;
	a |= part[np - 1];
	*addr = (uint32_t)a;
	return 1;
}

static void fmt_ipv4(char *out, size_t cap, uint32_t a)
{
	char tmp[16];
	size_t o = 0;

	for (int i = 0; i < 4; i++) {
		unsigned b = (a >> (24 - 8 * i)) & 255;
		char d[4];
		int nd = 0;

		do {
			d[nd++] = (char)('0' + b % 10);
			b /= 10;
		} while (b);
		while (nd)
			tmp[o++] = d[--nd];
		if (i < 3)
			tmp[o++] = '.';
	}
	copy_field(out, cap, tmp, o);
}

/* host[:port] or [v6][:port] into tx->target_host / target_port; the
 * anomalies found go to *an (the caller decides whether they count). */
static void parse_authority(struct http_tx *tx, const char *a, size_t n,
			    uint16_t default_port, int port_required,
			    uint32_t *an)
{
	const char *host = a, *port = NULL;
	size_t hn = n, pn = 0;
	int has_colon = 0;

	if (n && a[0] == '[') {
		const char *rb = memchr(a, ']', n);

		if (!rb) {
			*an |= HTTP_ANOM_TARGET_BAD_HOST;
			host = a + 1;
			hn = n - 1;
		} else {
			*an |= HTTP_ANOM_TARGET_IPV6;
			host = a + 1;
			hn = (size_t)(rb - host);
			size_t rest = n - (size_t)(rb + 1 - a);
			if (rest) {
				if (rb[1] == ':') {
					has_colon = 1;
					port = rb + 2;
					pn = rest - 1;
				} else {
					*an |= HTTP_ANOM_TARGET_BAD_HOST;
				}
			}
		}
	} else {
		const char *c = NULL;

		for (size_t i = 0; i < n; i++)
			if (a[i] == ':')
				c = a + i;
		if (c) {
			has_colon = 1;
			hn = (size_t)(c - a);
			port = c + 1;
			pn = n - hn - 1;
			if (memchr(a, ':', hn)) /* bare IPv6 or junk */
				*an |= HTTP_ANOM_TARGET_BAD_HOST;
		}
	}

	if (!hn)
		*an |= HTTP_ANOM_TARGET_BAD_HOST;
	for (size_t i = 0; i < hn; i++) {
		int c = (unsigned char)host[i];

		if (!(is_tchar(c) || c == ':') || c == '%' || c == '*' ||
		    c == '\'' || c == '`' || c == '|')
			*an |= HTTP_ANOM_TARGET_BAD_HOST;
	}

	int odd = 0;
	uint32_t ip;
	if (!(*an & HTTP_ANOM_TARGET_IPV6) && ip_numeric(host, hn, &ip, &odd) &&
	    odd) {
		*an |= HTTP_ANOM_TARGET_ODD_IP;
		/* what the proxy's inet_aton() will connect to */
		fmt_ipv4(tx->target_host, sizeof(tx->target_host), ip);
	} else if (copy_field(tx->target_host, sizeof(tx->target_host), host,
			      hn)) {
		*an |= HTTP_ANOM_FIELD_TRUNCATED;
	}

	tx->target_port = 0;
	tx->target_port_explicit = 0;
	if (!has_colon) {
		if (port_required)
			*an |= HTTP_ANOM_TARGET_NO_PORT;
		else
			tx->target_port = default_port;
		return;
	}
	uint32_t v = 0;
	int ok = pn > 0 && pn <= 5;
	for (size_t i = 0; ok && i < pn; i++) {
		if (!is_digit((unsigned char)port[i]))
			ok = 0;
		else
			v = v * 10 + (uint32_t)(port[i] - '0');
	}
	if (!ok || v == 0 || v > 65535) {
		*an |= HTTP_ANOM_TARGET_BAD_PORT;
		tx->target_port = default_port;
		return;
	}
	tx->target_port = (uint16_t)v;
	tx->target_port_explicit = 1;
}

static uint16_t scheme_port(const char *scheme)
{
	if (!strcmp(scheme, "http") || !strcmp(scheme, "ws"))
		return 80;
	if (!strcmp(scheme, "https") || !strcmp(scheme, "wss"))
		return 443;
	if (!strcmp(scheme, "ftp"))
		return 21;
	return 0;
}

/* length of "scheme://" at t, or 0 */
static size_t scheme_len(const char *t, size_t n)
{
	size_t i = 0;

	if (!n || !((lc((unsigned char)t[0]) >= 'a' && lc((unsigned char)t[0]) <= 'z')))
		return 0;
	while (i < n) {
		int c = (unsigned char)t[i];

		if (!(is_tchar(c) && c != '!' && c != '#' && c != '$' &&
		      c != '%' && c != '&' && c != '\'' && c != '*' &&
		      c != '^' && c != '_' && c != '`' && c != '|' && c != '~'))
			break;
		i++;
	}
	if (i + 3 <= n && t[i] == ':' && t[i + 1] == '/' && t[i + 2] == '/')
		return i;
	return 0;
}

/* Store the raw target (capped; userinfo cut) and classify it. */
static void parse_target(struct http_tx *tx, const char *t, size_t n,
			 int is_connect)
{
	uint32_t an = 0;
	size_t sl = scheme_len(t, n);

	if (sl) {
		const char *auth = t + sl + 3, *end = t + n, *p = auth;
		size_t i;

		tx->form = HTTP_FORM_ABSOLUTE;
		if (copy_field(tx->scheme, sizeof(tx->scheme), t, sl))
			an |= HTTP_ANOM_FIELD_TRUNCATED;
		for (i = 0; tx->scheme[i]; i++)
			tx->scheme[i] = (char)lc((unsigned char)tx->scheme[i]);
		while (p < end && *p != '/' && *p != '?' && *p != '#')
			p++;
		/* userinfo: never store it (may hold a password) */
		const char *at = NULL;
		for (const char *q = auth; q < p; q++)
			if (*q == '@')
				at = q;
		size_t o = 0;
		char *dst = tx->target;
		size_t cap = sizeof(tx->target) - 1;
#define APPEND(src, len) do { size_t l_ = (len); \
		if (l_ > cap - o) { l_ = cap - o; an |= HTTP_ANOM_FIELD_TRUNCATED; } \
		memcpy(dst + o, (src), l_); o += l_; } while (0)
		APPEND(t, sl + 3);
		if (at) {
			an |= HTTP_ANOM_TARGET_USERINFO;
			auth = at + 1;
		}
		APPEND(auth, (size_t)(end - auth));
#undef APPEND
		dst[o] = '\0';
		tx->target_len = (uint16_t)o;
		parse_authority(tx, auth, (size_t)(p - auth),
				scheme_port(tx->scheme), 0, &an);
		if (p < end) {
			if (copy_field(tx->path, sizeof(tx->path), p,
				       (size_t)(end - p)))
				an |= HTTP_ANOM_FIELD_TRUNCATED;
		} else {
			strcpy(tx->path, "/");
		}
		if (is_connect && strcmp(tx->path, "/"))
			an |= HTTP_ANOM_TARGET_PATH;
		goto out;
	}

	if (copy_field(tx->target, sizeof(tx->target), t, n))
		an |= HTTP_ANOM_FIELD_TRUNCATED;
	tx->target_len = (uint16_t)strlen(tx->target);
	if (is_connect) {
		const char *sl2 = memchr(t, '/', n);

		tx->form = HTTP_FORM_AUTHORITY;
		if (sl2 == t) {
			/* "CONNECT / HTTP/1.1": the Host header may say */
			an |= HTTP_ANOM_TARGET_PATH;
			tx->form = HTTP_FORM_ORIGIN;
			copy_field(tx->path, sizeof(tx->path), t, n);
			goto out;
		}
		if (sl2) {
			an |= HTTP_ANOM_TARGET_PATH;
			n = (size_t)(sl2 - t);
		}
		parse_authority(tx, t, n, 0, 1, &an);
	} else if (n == 1 && t[0] == '*') {
		tx->form = HTTP_FORM_ASTERISK;
	} else {
		tx->form = HTTP_FORM_ORIGIN;
		if (copy_field(tx->path, sizeof(tx->path), t, n))
			an |= HTTP_ANOM_FIELD_TRUNCATED;
	}
out:
	tx->anomalies |= an;
}

/* ------------------------------------------------------------------ */
/* start lines                                                         */

struct tok {
	const char *p;
	size_t n;
};

static int tokenize(const char *b, size_t n, struct tok *t, int max)
{
	int nt = 0;
	size_t i = 0;

	while (i < n && nt < max) {
		while (i < n && is_sp((unsigned char)b[i]))
			i++;
		if (i == n)
			break;
		t[nt].p = b + i;
		while (i < n && !is_sp((unsigned char)b[i]))
			i++;
		t[nt].n = (size_t)(b + i - t[nt].p);
		nt++;
	}
	return nt;
}

static int is_version(const char *p, size_t n)
{
	return n >= 5 && !memcmp(p, "HTTP/", 5);
}

/* The request line. Returns 0 if the line is not a request line. */
static int on_request_line(struct http_proxy_state *s, struct http_side *sd,
			   const char *b, size_t n, int cut,
			   const char *tail, size_t tail_n, uint64_t ts)
{
	struct tok t[8];
	int nt = tokenize(b, n, t, 8), is_connect;
	struct tok ver = { NULL, 0 };
	struct http_tx *tx;

	if (nt < 2 || t[0].n >= HTTP_METHOD_MAX)
		return 0;
	for (size_t i = 0; i < t[0].n; i++)
		if (!is_tchar((unsigned char)t[0].p[i]))
			return 0;
	is_connect = ieq(t[0].p, t[0].n, "CONNECT");

	if (cut) {
		/* the version is at the end of the line: in the tail */
		size_t i = tail_n;

		while (i && !is_sp((unsigned char)tail[i - 1]))
			i--;
		if (is_version(tail + i, tail_n - i)) {
			ver.p = tail + i;
			ver.n = tail_n - i;
		}
	} else if (nt >= 3 && is_version(t[nt - 1].p, t[nt - 1].n)) {
		ver = t[nt - 1];
	} else if (nt == 2 && !(is_connect || t[1].p[0] == '/' ||
				scheme_len(t[1].p, t[1].n))) {
		return 0;
	} else if (nt >= 3) {
		return 0;
	}

	ctr_inc(s->ctr, CTR_HTTP_REQUESTS);
	s->seen_request = 1;
	sd->tx = (int8_t)q_push(s, ts);
	tx = tx_at(s, sd->tx);
	copy_field(tx->method, sizeof(tx->method), t[0].p, t[0].n);
	if (ver.p) {
		if (copy_field(tx->protocol, sizeof(tx->protocol), ver.p, ver.n))
			tx->anomalies |= HTTP_ANOM_BAD_REQUEST_LINE;
	} else {
		tx->anomalies |= HTTP_ANOM_BAD_REQUEST_LINE;
	}
	/* the target token may run into the part of the line we did not keep */
	if (cut && t[1].p + t[1].n == b + n)
		tx->anomalies |= HTTP_ANOM_FIELD_TRUNCATED;
	parse_target(tx, t[1].p, t[1].n, is_connect);
	if (!cut && nt > 3)
		tx->anomalies |= HTTP_ANOM_TARGET_TRAILING;
	return 1;
}

/* "HTTP/1.1 200 OK". Returns 0 if the line is not a status line. */
static int on_status_line(struct http_proxy_state *s, struct http_side *sd,
			  const char *b, size_t n, uint64_t ts)
{
	struct tok t[2];
	size_t i;
	struct http_tx *tx;
	unsigned code = 0;

	if (tokenize(b, n, t, 2) < 2 || !is_version(t[0].p, t[0].n) ||
	    t[1].n != 3)
		return 0;
	for (i = 0; i < 3; i++) {
		if (!is_digit((unsigned char)t[1].p[i]))
			return 0;
		code = code * 10 + (unsigned)(t[1].p[i] - '0');
	}
	ctr_inc(s->ctr, CTR_HTTP_RESPONSES);
	if (!s->q_count) {
		/* a response with no request we know of (midstream, gap) */
		q_push(s, ts);
		s->q[s->q_head].anomalies |= HTTP_ANOM_NO_REQUEST;
	}
	sd->tx = (int8_t)s->q_head;
	tx = &s->q[s->q_head];
	tx->resp_started = 1;
	tx->status = (uint16_t)code;
	copy_field(tx->resp_protocol, sizeof(tx->resp_protocol), t[0].p,
		   t[0].n);
	/* reason: everything after the code */
	const char *r = t[1].p + 3;
	size_t rn = (size_t)(b + n - r);
	trim(&r, &rn);
	if (copy_field(tx->reason, sizeof(tx->reason), r, rn))
		tx->anomalies |= HTTP_ANOM_FIELD_TRUNCATED;
	return 1;
}

/* ------------------------------------------------------------------ */
/* headers                                                             */

static void on_length(struct http_tx *tx, struct http_msg *m, const char *v,
		      size_t vn)
{
	uint64_t cl = 0;
	int ok = vn > 0 && vn <= 18;

	for (size_t i = 0; ok && i < vn; i++) {
		if (!is_digit((unsigned char)v[i]))
			ok = 0;
		else
			cl = cl * 10 + (uint64_t)(v[i] - '0');
	}
	if (!ok || (m->has_cl && m->cl != cl)) {
		anom(tx, HTTP_ANOM_BAD_LENGTH);
		if (!ok)
			return;
	}
	m->has_cl = 1;
	m->cl = cl;
}

static void on_connection(struct http_msg *m, const char *v, size_t vn)
{
	if (list_has(v, vn, "close"))
		m->close = 1;
	if (list_has(v, vn, "keep-alive"))
		m->keep_alive = 1;
}

/* A header line of a request (dir 0) or a response (dir 1). Returns 1 if
 * the line held credentials (the caller wipes the line buffer). */
static int on_header(struct http_proxy_state *s, int dir, char *b, size_t n,
		      int cut, const char *tail, size_t tail_n)
{
	struct http_side *sd = &s->side[dir];
	struct http_tx *tx = tx_at(s, sd->tx);
	struct http_msg *m = &sd->msg;
	char *colon = memchr(b, ':', n);
	const char *v;
	size_t nn, vn;
	int wipe = 0;


	if (is_sp((unsigned char)b[0]))
		return 0; /* obs-fold continuation: nothing we use */
	if (!colon) {
		anom(tx, HTTP_ANOM_BAD_HEADER);
		return 0;
	}
	nn = (size_t)(colon - b);
	while (nn && is_sp((unsigned char)b[nn - 1]))
		nn--;
	v = colon + 1;
	vn = (size_t)(b + n - v);
	trim(&v, &vn);

	if (ieq(b, nn, "content-length")) {
		on_length(tx, m, v, vn);
	} else if (ieq(b, nn, "transfer-encoding")) {
		/* chunked framing applies if chunked is the last coding; for a
		 * cut line the end of the value is in the tail */
		const char *e = cut ? tail : v;
		size_t en = cut ? tail_n : vn;

		while (en && is_sp((unsigned char)e[en - 1]))
			en--;
		m->chunked = en >= 7 && ieq(e + en - 7, 7, "chunked");
		if (!m->chunked && vn)
			anom(tx, HTTP_ANOM_BAD_LENGTH);
	} else if (ieq(b, nn, "connection")) {
		on_connection(m, v, vn);
	} else if (ieq(b, nn, "proxy-connection")) {
		on_connection(m, v, vn);
		if (tx && dir == DIR_TO_SERVER)
			tx->proxy_connection = 1;
	} else if (ieq(b, nn, "proxy-authorization") ||
		   ieq(b, nn, "authorization")) {
		wipe = 1;
		if (tx && dir == DIR_TO_SERVER &&
		    ieq(b, nn, "proxy-authorization")) {
			size_t k = 0;

			while (k < vn && is_tchar((unsigned char)v[k]))
				k++;
			tx->proxy_auth_present = 1;
			copy_field(tx->proxy_auth_scheme,
				   sizeof(tx->proxy_auth_scheme), v, k);
		}
	} else if (!tx) {
		/* the message lost its transaction: framing only */
	} else if (dir == DIR_TO_SERVER) {
		if (ieq(b, nn, "host")) {
			if (!tx->has_host_hdr) {
				tx->has_host_hdr = 1;
				if (copy_field(tx->host_hdr, sizeof(tx->host_hdr),
					       v, vn) || cut)
					tx->anomalies |= HTTP_ANOM_FIELD_TRUNCATED;
			}
		} else if (ieq(b, nn, "user-agent")) {
			tx->has_user_agent = 1;
			if (copy_field(tx->user_agent, sizeof(tx->user_agent), v,
				       vn) || cut)
				tx->anomalies |= HTTP_ANOM_FIELD_TRUNCATED;
		} else if (ieq(b, nn, "via")) {
			tx->via = 1;
		} else if (ieq(b, nn, "forwarded")) {
			tx->forwarded = 1;
		} else if (ieq(b, nn, "x-forwarded-for")) {
			tx->xff = 1;
		}
	} else if (ieq(b, nn, "proxy-authenticate") &&
		   !tx->has_proxy_authenticate) {
		/* a challenge (scheme, realm): no secret in it */
		tx->has_proxy_authenticate = 1;
		if (copy_field(tx->proxy_authenticate,
			       sizeof(tx->proxy_authenticate), v, vn) || cut)
			tx->anomalies |= HTTP_ANOM_FIELD_TRUNCATED;
	}
	return wipe;
}

/* ------------------------------------------------------------------ */
/* message ends                                                        */

static void side_resync(struct http_proxy_state *s, struct http_side *sd)
{
	(void)s;
	sd->state = HS_LINE;
	sd->resync = 1;
	sd->tx = -1;
}

static void request_done(struct http_proxy_state *s, struct http_side *sd)
{
	(void)s;
	sd->state = HS_LINE;
	sd->tx = -1;
}

/* The response to the oldest transaction is complete: record it. */
static void response_done(struct http_proxy_state *s, struct http_side *sd,
			  uint64_t ts)
{
	if (sd->tx >= 0 && sd->tx == s->q_head && s->q_count) {
		s->q[sd->tx].resp_done = 1;
		q_pop_emit(s, ts);
	}
	sd->tx = -1;
	sd->state = HS_LINE;
}

/* Hand buffered early data to the just-opened tunnel. */
static void early_flush(struct http_proxy_state *s, uint64_t ts)
{
	if (s->early_len && s->sink.tunnel_data)
		s->sink.tunnel_data(s->sink.ctx, DIR_TO_SERVER, s->early,
				    s->early_len, ts);
	if (s->early_lost && s->sink.tunnel_gap)
		s->sink.tunnel_gap(s->sink.ctx, DIR_TO_SERVER,
				   (size_t)s->early_lost, ts);
	s->early_len = 0;
	s->early_lost = 0;
	s->early_overflow = 0;
}

static void early_discard(struct http_proxy_state *s, struct http_tx *tx)
{
	if (tx && tx->early_data_len)
		tx->anomalies |= HTTP_ANOM_EARLY_DATA_DISCARDED;
	s->early_len = 0;
	s->early_lost = 0;
	s->early_overflow = 0;
}

static void request_headers_done(struct http_proxy_state *s,
				 struct http_side *sd, uint64_t ts)
{
	struct http_tx *tx = tx_at(s, sd->tx);
	struct http_msg *m = &sd->msg;
	int is_connect = tx && !strcmp(tx->method, "CONNECT");

	if (tx) {
		if (tx->form == HTTP_FORM_ORIGIN && !tx->target_host[0] &&
		    tx->has_host_hdr) {
			/* origin form: the Host header names the server; for a
			 * CONNECT without a target it is the best guess */
			uint32_t an = 0;

			parse_authority(tx, tx->host_hdr, strlen(tx->host_hdr),
					is_connect ? 0 : 80, is_connect, &an);
			if (is_connect)
				tx->anomalies |= HTTP_ANOM_CONNECT_HOST_HDR |
					(an & ~HTTP_ANOM_TARGET_IPV6);
		}
		if (m->chunked && m->has_cl)
			tx->anomalies |= HTTP_ANOM_TE_AND_CL;
		if (tx->anomalies & HTTP_ANOM_BAD_TARGET_MASK)
			ctr_inc(s->ctr, CTR_HTTP_BAD_TARGET);
		tx->req_done = 1;
		emit(s, EV_HTTP_REQUEST, tx, ts);
	}
	if (is_connect && !tx->resp_done) {
		sd->state = HS_TUNNEL_WAIT;
		s->early_len = 0;
		s->early_lost = 0;
		s->early_overflow = 0;
	} else if (m->chunked) {
		sd->state = HS_CHUNK_SIZE;
	} else if (m->has_cl && m->cl) {
		sd->state = HS_BODY;
		sd->remaining = m->cl;
	} else {
		request_done(s, sd);
	}
}

static void response_headers_done(struct http_proxy_state *s,
				  struct http_side *sd, uint64_t ts)
{
	struct http_tx *tx = tx_at(s, sd->tx);
	struct http_side *cl = &s->side[DIR_TO_SERVER];
	struct http_msg *m = &sd->msg;
	unsigned st = tx ? tx->status : 0;
	int head = tx && !strcmp(tx->method, "HEAD");
	int connect = tx && !strcmp(tx->method, "CONNECT");

	if (st >= 100 && st < 200 && st != 101) {
		sd->state = HS_LINE; /* interim: the final response follows */
		return;
	}
	if (st == 101) {
		s->opaque = 1;
		response_done(s, sd, ts);
		sd->state = HS_OPAQUE;
		cl->state = HS_OPAQUE;
		return;
	}
	if (connect && st >= 200 && st < 300) {
		struct tunnel_info ti;

		tx->tunnel_granted = 1;
		memset(&ti, 0, sizeof(ti));
		ti.type = TUNNEL_HTTP_CONNECT;
		memcpy(ti.target_host, tx->target_host, sizeof(ti.target_host));
		ti.target_port = tx->target_port;
		response_done(s, sd, ts);
		s->tunnel = 1;
		if (s->sink.tunnel_open)
			s->sink.tunnel_open(s->sink.ctx, &ti, ts);
		early_flush(s, ts);
		sd->state = HS_TUNNEL;
		cl->state = HS_TUNNEL;
		cl->tx = -1;
		return;
	}
	if (connect && cl->state == HS_TUNNEL_WAIT && cl->tx == sd->tx) {
		/* refused: the client's early bytes never reach a tunnel */
		early_discard(s, tx);
		request_done(s, cl);
	}
	if (m->chunked && m->has_cl)
		anom(tx, HTTP_ANOM_TE_AND_CL);
	if (head || st == 204 || st == 304 || (st >= 100 && st < 200)) {
		response_done(s, sd, ts);
	} else if (m->chunked) {
		sd->state = HS_CHUNK_SIZE;
	} else if (m->has_cl) {
		if (m->cl) {
			sd->state = HS_BODY;
			sd->remaining = m->cl;
		} else {
			response_done(s, sd, ts);
		}
	} else if (m->keep_alive && !m->close) {
		/* no length but explicitly kept alive: nothing can follow as
		 * a body without framing, so there is none */
		response_done(s, sd, ts);
	} else {
		sd->state = HS_READ_CLOSE;
	}
}

/* the body (or the chunked trailer) of a message ended */
static void body_done(struct http_proxy_state *s, int dir, uint64_t ts)
{
	if (dir == DIR_TO_SERVER)
		request_done(s, &s->side[dir]);
	else
		response_done(s, &s->side[dir], ts);
}

/* framing broke (bad chunk, gap in headers): flag and resync */
static void side_lost(struct http_proxy_state *s, int dir, uint32_t bit,
		      uint64_t ts)
{
	struct http_side *sd = &s->side[dir];
	struct http_tx *tx = tx_at(s, sd->tx);

	anom(tx, bit);
	if (dir == DIR_TO_CLIENT && tx && tx->resp_started) {
		/* keep the pairing: the response is as done as it will get */
		response_done(s, sd, ts);
	}
	side_resync(s, sd);
}

/* ------------------------------------------------------------------ */
/* lines                                                               */

static void on_line(struct http_proxy_state *s, int dir, uint64_t ts)
{
	struct http_side *sd = &s->side[dir];
	struct http_line *l = &sd->line;
	struct http_tx *tx = tx_at(s, sd->tx);
	char *b = l->buf;
	size_t n = l->len;
	const char *tail = l->tail;
	size_t tail_n = l->tail_len;
	int cut = l->total > HTTP_LINE_BUF;

	/* strip the CR of CRLF (bare LF is accepted) */
	if (cut) {
		if (tail_n && tail[tail_n - 1] == '\r')
			tail_n--;
	} else if (n && b[n - 1] == '\r') {
		n--;
	}
	if (l->total >= HTTP_LINE_MAX)
		anom(tx, HTTP_ANOM_LINE_TOO_LONG);

	switch (sd->state) {
	case HS_LINE:
		if (!n)
			break; /* empty lines between messages are allowed */
		memset(&sd->msg, 0, sizeof(sd->msg));
		if (dir == DIR_TO_SERVER) {
			if (on_request_line(s, sd, b, n, cut, tail, tail_n, ts)) {
				struct http_tx *nt = tx_at(s, sd->tx);

				sd->resync = 0;
				sd->state = HS_HEADERS;
				if (l->total >= HTTP_LINE_MAX)
					anom(nt, HTTP_ANOM_LINE_TOO_LONG);
				if (nt->anomalies & HTTP_ANOM_TARGET_USERINFO) {
					memset(l->buf, 0, sizeof(l->buf));
					memset(l->tail, 0, sizeof(l->tail));
				}
			} else if (!s->seen_request && !sd->resync) {
				/* the first thing the client says is not HTTP:
				 * picked by port, but not ours */
				ctr_inc(s->ctr, CTR_HTTP_MALFORMED);
				s->dead = 1;
			} else if (!sd->resync) {
				ctr_inc(s->ctr, CTR_HTTP_MALFORMED);
				sd->resync = 1;
			}
		} else {
			if (on_status_line(s, sd, b, n, ts)) {
				sd->resync = 0;
				sd->state = HS_HEADERS;
			} else if (!sd->resync) {
				ctr_inc(s->ctr, CTR_HTTP_MALFORMED);
				if (s->q_count)
					s->q[s->q_head].anomalies |=
						HTTP_ANOM_BAD_STATUS_LINE;
				sd->resync = 1;
			}
		}
		break;
	case HS_HEADERS:
		if (!n && !cut) {
			if (dir == DIR_TO_SERVER)
				request_headers_done(s, sd, ts);
			else
				response_headers_done(s, sd, ts);
		} else if (on_header(s, dir, b, n, cut, tail, tail_n)) {
			/* the credentials must not stay in the state */
			memset(l->buf, 0, sizeof(l->buf));
			memset(l->tail, 0, sizeof(l->tail));
		}
		break;
	case HS_CHUNK_SIZE: {
		uint64_t v = 0;
		size_t i = 0;

		while (i < n && is_sp((unsigned char)b[i]))
			i++;
		size_t st = i;
		while (i < n && i - st < 15) {
			int c = lc((unsigned char)b[i]);

			if (is_digit(c))
				v = v * 16 + (uint64_t)(c - '0');
			else if (c >= 'a' && c <= 'f')
				v = v * 16 + (uint64_t)(c - 'a' + 10);
			else
				break;
			i++;
		}
		if (i == st || (i < n && !is_sp((unsigned char)b[i]) &&
				b[i] != ';')) {
			side_lost(s, dir, HTTP_ANOM_BAD_CHUNK, ts);
			break;
		}
		if (v) {
			sd->remaining = v;
			sd->state = HS_CHUNK_DATA;
		} else {
			sd->state = HS_TRAILER;
		}
		break;
	}
	case HS_CHUNK_CRLF:
		if (n || cut)
			side_lost(s, dir, HTTP_ANOM_BAD_CHUNK, ts);
		else
			sd->state = HS_CHUNK_SIZE;
		break;
	case HS_TRAILER:
		if (!n && !cut)
			body_done(s, dir, ts);
		break;
	default:
		break;
	}
}

/* Gather bytes of a line. Returns the bytes consumed; *done is set when a
 * line is complete (LF seen, or cut at HTTP_LINE_MAX). */
static size_t line_take(struct http_proxy_state *s, struct http_line *l,
			const uint8_t *d, size_t n, int *done)
{
	const uint8_t *lf;
	size_t k, take;

	*done = 0;
	if (l->discarding) {
		lf = memchr(d, '\n', n);
		if (!lf)
			return n;
		l->discarding = 0;
		return (size_t)(lf - d) + 1;
	}
	lf = memchr(d, '\n', n);
	k = lf ? (size_t)(lf - d) : n;
	/* never let a line grow past HTTP_LINE_MAX */
	if (l->total + k >= HTTP_LINE_MAX) {
		k = HTTP_LINE_MAX - l->total;
		lf = NULL;
	}
	take = k;
	if (l->len < HTTP_LINE_BUF) {
		size_t room = HTTP_LINE_BUF - l->len, c = k < room ? k : room;

		memcpy(l->buf + l->len, d, c);
		l->len = (uint16_t)(l->len + c);
		d += c;
		k -= c;
	}
	if (k) {
		/* beyond the buffer: keep the last HTTP_LINE_TAIL bytes */
		if (k >= HTTP_LINE_TAIL) {
			memcpy(l->tail, d + k - HTTP_LINE_TAIL, HTTP_LINE_TAIL);
			l->tail_len = HTTP_LINE_TAIL;
		} else {
			size_t keep = HTTP_LINE_TAIL - k;

			if (keep > l->tail_len)
				keep = l->tail_len;
			memmove(l->tail, l->tail + l->tail_len - keep, keep);
			memcpy(l->tail + keep, d, k);
			l->tail_len = (uint8_t)(keep + k);
		}
	}
	l->total += (uint32_t)take;
	if (lf) {
		*done = 1;
		return take + 1;
	}
	if (l->total >= HTTP_LINE_MAX) {
		/* cut: parse what we have, drop the rest of the line */
		ctr_inc(s->ctr, CTR_HTTP_LINE_TOO_LONG);
		l->discarding = 1;
		*done = 1;
	}
	return take;
}

static void line_reset(struct http_line *l)
{
	l->total = 0;
	l->len = 0;
	l->tail_len = 0;
}

/* ------------------------------------------------------------------ */
/* feed                                                                */

static void body_bytes(struct http_proxy_state *s, int dir, uint64_t k)
{
	struct http_tx *tx = tx_at(s, s->side[dir].tx);

	if (!tx)
		return;
	if (dir == DIR_TO_SERVER)
		tx->req_body_len += k;
	else
		tx->resp_body_len += k;
}

static void early_bytes(struct http_proxy_state *s, struct http_tx *tx,
			const uint8_t *d, size_t n)
{
	size_t room = HTTP_EARLY_MAX - s->early_len, c;

	if (tx) {
		if (!tx->early_data_len)
			ctr_inc(s->ctr, CTR_HTTP_EARLY_DATA);
		tx->anomalies |= HTTP_ANOM_EARLY_DATA;
		tx->early_data_len += (uint32_t)n;
	}
	/* after a loss, later bytes cannot be passed in order: count them */
	c = (s->early_lost || n > room) ? (s->early_lost ? 0 : room) : n;
	memcpy(s->early + s->early_len, d, c);
	s->early_len += (uint32_t)c;
	if (c < n) {
		s->early_lost += n - c;
		anom(tx, HTTP_ANOM_EARLY_DATA_LOST);
		if (!s->early_overflow) {
			s->early_overflow = 1;
			ctr_inc(s->ctr, CTR_HTTP_EARLY_DATA_CAP);
		}
	}
}

static void http_feed(void *st, int dir, const uint8_t *d, size_t n,
		      uint64_t ts)
{
	struct http_proxy_state *s = st;
	struct http_side *sd;

	if (dir != DIR_TO_SERVER && dir != DIR_TO_CLIENT)
		return;
	sd = &s->side[dir];
	while (n && !s->dead) {
		size_t k;
		int done;

		switch (sd->state) {
		case HS_LINE:
		case HS_HEADERS:
		case HS_CHUNK_SIZE:
		case HS_CHUNK_CRLF:
		case HS_TRAILER:
			k = line_take(s, &sd->line, d, n, &done);
			if (done) {
				on_line(s, dir, ts);
				line_reset(&sd->line);
			}
			break;
		case HS_BODY:
		case HS_CHUNK_DATA:
			k = n < sd->remaining ? n : (size_t)sd->remaining;
			body_bytes(s, dir, k);
			sd->remaining -= k;
			if (!sd->remaining) {
				if (sd->state == HS_CHUNK_DATA)
					sd->state = HS_CHUNK_CRLF;
				else
					body_done(s, dir, ts);
			}
			break;
		case HS_READ_CLOSE:
			k = n;
			body_bytes(s, dir, k);
			break;
		case HS_TUNNEL_WAIT:
			k = n;
			early_bytes(s, tx_at(s, sd->tx), d, n);
			break;
		case HS_TUNNEL:
			k = n;
			if (s->sink.tunnel_data)
				s->sink.tunnel_data(s->sink.ctx, dir, d, n, ts);
			break;
		case HS_OPAQUE:
		default:
			k = n;
			break;
		}
		d += k;
		n -= k;
	}
}

static void http_gap(void *st, int dir, size_t n, uint64_t ts)
{
	struct http_proxy_state *s = st;
	struct http_side *sd;
	struct http_tx *tx;

	if ((dir != DIR_TO_SERVER && dir != DIR_TO_CLIENT) || !n || s->dead)
		return;
	sd = &s->side[dir];
	tx = tx_at(s, sd->tx);
	switch (sd->state) {
	case HS_TUNNEL:
		if (s->sink.tunnel_gap)
			s->sink.tunnel_gap(s->sink.ctx, dir, n, ts);
		return;
	case HS_OPAQUE:
		return;
	case HS_TUNNEL_WAIT:
		ctr_inc(s->ctr, CTR_HTTP_GAP);
		anom(tx, HTTP_ANOM_GAP);
		if (tx)
			tx->early_data_len += (uint32_t)n;
		s->early_lost += n;
		anom(tx, HTTP_ANOM_EARLY_DATA_LOST);
		return;
	case HS_READ_CLOSE:
		anom(tx, HTTP_ANOM_GAP);
		return;
	case HS_BODY:
	case HS_CHUNK_DATA:
		anom(tx, HTTP_ANOM_GAP);
		if (n < sd->remaining) {
			/* the body just gets shorter; framing still holds */
			sd->remaining -= n;
			return;
		}
		break;
	default:
		break;
	}
	ctr_inc(s->ctr, CTR_HTTP_GAP);
	int between = sd->state == HS_LINE && !sd->line.total &&
		      !sd->line.discarding;
	line_reset(&sd->line);
	sd->line.discarding = 0;
	if (between) {
		sd->resync = 1; /* between messages: just resync */
		return;
	}
	side_lost(s, dir, HTTP_ANOM_GAP, ts);
}

static void http_end(void *st, uint64_t ts)
{
	struct http_proxy_state *s = st;

	if (s->dead)
		return;
	/* a tx whose response reads to the close is complete now */
	struct http_side *sv = &s->side[DIR_TO_CLIENT];
	if (sv->state == HS_READ_CLOSE) {
		response_done(s, sv, ts);
	}
	while (s->q_count) {
		struct http_tx *tx = &s->q[s->q_head];

		if (s->side[DIR_TO_SERVER].state == HS_TUNNEL_WAIT &&
		    s->side[DIR_TO_SERVER].tx == s->q_head)
			early_discard(s, tx);
		if (!tx->req_done && !(tx->anomalies & HTTP_ANOM_NO_REQUEST))
			tx->anomalies |= HTTP_ANOM_INCOMPLETE;
		if (tx->resp_started && !tx->resp_done)
			tx->anomalies |= HTTP_ANOM_INCOMPLETE;
		q_pop_emit(s, ts);
	}
	s->dead = 1; /* nothing after end */
}

static void http_init(void *st, const struct proto_sink *sink,
		      struct rw_counters *ctr, const struct proto_init *pi)
{
	struct http_proxy_state *s = st;

	/* not zeroed by the pool: q[] entries are cleared when a request
	 * takes them, early[] is read only up to early_len */
	memset(s, 0, offsetof(struct http_proxy_state, q));
	if (sink)
		s->sink = *sink;
	s->ctr = ctr;
	for (int d = 0; d < 2; d++) {
		s->side[d].tx = -1;
		/* picked up midstream: wait for a start line */
		s->side[d].resync = pi && pi->midstream;
	}
	if (pi && pi->implicit_tls)
		s->opaque = 1, s->side[0].state = s->side[1].state = HS_OPAQUE;
}

static int http_wants_data(const void *st)
{
	const struct http_proxy_state *s = st;

	return !s->dead && !s->opaque;
}

/* ------------------------------------------------------------------ */
/* probe                                                               */

#define HTTP_PROBE_MAX 4096

/* Content detection: a request line with CONNECT or an absolute URI. */
/* A request line: METHOD SP target SP HTTP/1.x. The target must be
 * CONNECT's authority or an absolute URI (what a proxy is asked), or with
 * `origin` also an origin-form path (what a web server is asked: inside a
 * tunnel). */
static enum probe_result request_probe(const uint8_t *cli, size_t cn,
				       const uint8_t *srv, size_t sn,
				       int origin)
{
	size_t i = 0, ms, me, ts;

	(void)srv;
	if (!cn)
		return sn ? PROBE_NO : PROBE_MORE; /* server spoke first */
	while (i < cn && (cli[i] == '\r' || cli[i] == '\n'))
		i++;
	if (i > 8)
		return PROBE_NO;
	ms = i;
	while (i < cn && cli[i] >= 'A' && cli[i] <= 'Z' && i - ms < 20)
		i++;
	if (i == cn)
		return i - ms < 20 ? PROBE_MORE : PROBE_NO;
	me = i;
	if (cli[i] != ' ' || me == ms)
		return PROBE_NO;
	i++;
	ts = i;
	int connect = me - ms == 7 && !memcmp(cli + ms, "CONNECT", 7);
	if (ts == cn)
		return PROBE_MORE;
	if (origin && !connect && cli[ts] == '/') {
		/* origin form: the path, then the version below */
	} else if (!connect) {
		/* the target must be scheme:// (any case) */
		size_t j = ts;

		while (j < cn && j - ts < 16 &&
		       ((lc(cli[j]) >= 'a' && lc(cli[j]) <= 'z') ||
			(j > ts && (is_digit(cli[j]) || cli[j] == '+' ||
				    cli[j] == '-' || cli[j] == '.'))))
			j++;
		if (j == cn)
			return PROBE_MORE;
		if (j == ts || cli[j] != ':')
			return PROBE_NO;
		for (size_t k = 1; k < 3; k++) {
			if (j + k == cn)
				return PROBE_MORE;
			if (cli[j + k] != '/')
				return PROBE_NO;
		}
	}
	/* the line must end in an HTTP version */
	const uint8_t *lf = memchr(cli + ts, '\n', cn - ts);
	if (!lf)
		return cn < HTTP_PROBE_MAX ? PROBE_MORE : PROBE_NO;
	size_t e = (size_t)(lf - cli);
	if (e > ts && cli[e - 1] == '\r')
		e--;
	size_t v = e;
	while (v > ts && cli[v - 1] != ' ')
		v--;
	if (v <= ts + 1 || e - v < 8 || memcmp(cli + v, "HTTP/1.", 7))
		return PROBE_NO;
	return PROBE_YES;
}

static enum probe_result http_probe(const uint8_t *cli, size_t cn,
				    const uint8_t *srv, size_t sn)
{
	return request_probe(cli, cn, srv, sn, 0);
}

static enum probe_result http_probe_tunnel(const uint8_t *cli, size_t cn,
					   const uint8_t *srv, size_t sn)
{
	return request_probe(cli, cn, srv, sn, 1);
}

/* ------------------------------------------------------------------ */
/* eve                                                                 */

static const char *http_eve(struct json *j, enum proto_event type,
			    const void *obj)
{
	const struct http_tx *tx = obj;
	const char *hostname = tx->target_host;

	if (type != EV_HTTP_RECORD || !tx)
		return NULL;
	json_obj_open(j, "http");
	if (hostname[0])
		json_str(j, "hostname", hostname);
	if (tx->target_port_explicit)
		json_u64(j, "http_port", tx->target_port);
	if (tx->form != HTTP_FORM_NONE)
		json_strn(j, "url", tx->target, tx->target_len);
	if (tx->has_user_agent)
		json_str(j, "http_user_agent", tx->user_agent);
	if (tx->method[0])
		json_str(j, "http_method", tx->method);
	if (tx->protocol[0])
		json_str(j, "protocol", tx->protocol);
	else if (tx->resp_protocol[0])
		json_str(j, "protocol", tx->resp_protocol);
	if (tx->status)
		json_u64(j, "status", tx->status);
	json_u64(j, "length", tx->resp_body_len);

	json_obj_open(j, "proxy");
	json_u64(j, "tx_id", tx->id);
	json_str(j, "form", http_form_name(tx->form));
	if (tx->target_host[0])
		json_str(j, "target_host", tx->target_host);
	else
		json_null(j, "target_host");
	if (tx->target_port)
		json_u64(j, "target_port", tx->target_port);
	else
		json_null(j, "target_port");
	if (tx->scheme[0])
		json_str(j, "scheme", tx->scheme);
	if (tx->path[0])
		json_str(j, "path", tx->path);
	if (tx->has_host_hdr)
		json_str(j, "host_header", tx->host_hdr);
	if (tx->proxy_auth_present)
		json_str(j, "proxy_auth", tx->proxy_auth_scheme);
	else
		json_null(j, "proxy_auth");
	if (tx->has_proxy_authenticate)
		json_str(j, "proxy_authenticate", tx->proxy_authenticate);
	else
		json_null(j, "proxy_authenticate");
	json_bool(j, "via", tx->via);
	json_bool(j, "forwarded", tx->forwarded);
	json_bool(j, "x_forwarded_for", tx->xff);
	json_bool(j, "proxy_connection", tx->proxy_connection);
	if (tx->status)
		json_str(j, "reason", tx->reason);
	json_bool(j, "tunnel", tx->tunnel_granted);
	json_u64(j, "request_body_length", tx->req_body_len);
	if (tx->early_data_len)
		json_u64(j, "early_data", tx->early_data_len);
	json_flags(j, "anomalies", tx->anomalies, anom_names, HTTP_ANOM__BITS);
	json_obj_close(j);
	json_obj_close(j);
	return "http";
}

const struct proto_ops http_proxy_ops = {
	.name = "http_proxy",
	.id = APP_HTTP_PROXY,
	.state_size = sizeof(struct http_proxy_state),
	.init = http_init,
	.feed = http_feed,
	.gap = http_gap,
	.end = http_end,
	.probe = http_probe,
	.probe_tunnel = http_probe_tunnel,
	.wants_data = http_wants_data,
	.eve = http_eve,
};
