/* http_proxy_eve.c - HTTP proxy parser: the EVE record and the content
 * probes (see http_proxy.h).
 */
#include "http_proxy_int.h"

#include <stddef.h>
#include <string.h>
#include "json.h"

/* ------------------------------------------------------------------ */
/* probe                                                               */

#define HTTP_PROBE_MAX 4096

static int is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Content detection. A request line: METHOD SP target SP HTTP/1.x, the
 * method in letters of any case (as Squid and Privoxy take it). The target
 * must be CONNECT's authority or an absolute URI (what a proxy is asked), or with
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
	while (i < cn && is_alpha(cli[i]) && i - ms < 20)
		i++;
	if (i == cn)
		return i - ms < 20 ? PROBE_MORE : PROBE_NO;
	me = i;
	if (cli[i] != ' ' || me == ms)
		return PROBE_NO;
	i++;
	ts = i;
	int connect = http_method_of((const char *)cli + ms, me - ms) ==
		      HTTP_METHOD_CONNECT;
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

enum probe_result http_probe(const uint8_t *cli, size_t cn,
			     const uint8_t *srv, size_t sn)
{
	return request_probe(cli, cn, srv, sn, 0);
}

enum probe_result http_probe_tunnel(const uint8_t *cli, size_t cn,
				    const uint8_t *srv, size_t sn)
{
	return request_probe(cli, cn, srv, sn, 1);
}

/* ------------------------------------------------------------------ */
/* eve                                                                 */

const char *http_eve(struct json *j, enum proto_event type, const void *obj)
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
	json_flags(j, "anomalies", tx->anomalies, http_anom_names, HTTP_ANOM__BITS);
	json_obj_close(j);
	json_obj_close(j);
	return "http";
}
