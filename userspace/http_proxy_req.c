/* http_proxy_req.c - HTTP proxy parser: request lines and request-targets
 * (see http_proxy.h). Pure functions over one line: no parser state.
 */
#include "http_proxy_int.h"

#include <stddef.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* names                                                               */

const char *const http_anom_names[HTTP_ANOM__BITS] = {
	"target_no_port", "target_bad_port", "target_trailing_junk",
	"target_path", "target_ipv6_literal", "target_odd_ip",
	"target_bad_host", "target_userinfo", "line_too_long",
	"field_truncated", "bad_header", "early_data", "early_data_lost",
	"early_data_discarded", "response_without_request",
	"bad_status_line", "bad_request_line", "bad_content_length",
	"te_and_cl", "bad_chunk", "gap", "pipeline_overflow", "incomplete",
	"connect_target_from_host_header", "unpaired",
};

const char *http_anomaly_name(uint32_t bit)
{
	for (int i = 0; i < HTTP_ANOM__BITS; i++)
		if (bit == (1u << i))
			return http_anom_names[i];
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

/* One helper for every method test (framing, CONNECT, the probe): any
 * case, see http_proxy.h. */
enum http_method http_method_of(const char *m, size_t n)
{
	if (!n)
		return HTTP_METHOD_NONE;
	if (ieq(m, n, "CONNECT"))
		return HTTP_METHOD_CONNECT;
	if (ieq(m, n, "HEAD"))
		return HTTP_METHOD_HEAD;
	return HTTP_METHOD_OTHER;
}

/* ------------------------------------------------------------------ */
/* request-target                                                      */

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
void http_parse_authority(struct http_tx *tx, const char *a, size_t n,
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
size_t http_scheme_len(const char *t, size_t n)
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
void http_parse_target(struct http_tx *tx, const char *t, size_t n,
		       int is_connect)
{
	uint32_t an = 0;
	size_t sl = http_scheme_len(t, n);

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
		http_parse_authority(tx, auth, (size_t)(p - auth),
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
		http_parse_authority(tx, t, n, 0, 1, &an);
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

int http_tokenize(const char *b, size_t n, struct tok *t, int max)
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

int http_is_version(const char *p, size_t n)
{
	return n >= 5 && !memcmp(p, "HTTP/", 5);
}
