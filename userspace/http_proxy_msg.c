/* http_proxy_msg.c - HTTP proxy parser: header lines and line gathering
 * (see http_proxy.h, http_proxy.c).
 */
#include "http_proxy_int.h"

#include <stddef.h>
#include <string.h>

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
int http_on_header(struct http_proxy_state *s, int dir, char *b, size_t n,
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
	} else if (dir == DIR_TO_CLIENT && (ieq(b, nn, "proxy-agent") ||
					    ieq(b, nn, "proxy-authenticate"))) {
		/* the server says it is a proxy */
		m->proxy_hdr = 1;
		if (tx && ieq(b, nn, "proxy-authenticate") &&
		    !tx->has_proxy_authenticate) {
			/* a challenge (scheme, realm): no secret in it */
			tx->has_proxy_authenticate = 1;
			if (copy_field(tx->proxy_authenticate,
				       sizeof(tx->proxy_authenticate), v, vn) ||
			    cut)
				tx->anomalies |= HTTP_ANOM_FIELD_TRUNCATED;
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
	}
	return wipe;
}

/* ------------------------------------------------------------------ */
/* lines                                                               */

/* Gather bytes of a line. Returns the bytes consumed; *done is set when a
 * line is complete (LF seen, or cut at HTTP_LINE_MAX). */
size_t http_line_take(struct http_proxy_state *s, struct http_line *l,
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

void http_line_reset(struct http_line *l)
{
	l->total = 0;
	l->len = 0;
	l->tail_len = 0;
}
