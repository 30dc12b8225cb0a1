/* rule_bind.c - field getters and alert evidence over a fact (rule_bind.h) */
#include "rule_bind.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "eve.h"
#include "http_proxy.h"
#include "json.h"
#include "rules.h"
#include "smtp.h"
#include "socks.h"

const char *rule_bind_app_name(enum app_proto a)
{
	switch (a) {
	case APP_SMTP: return "smtp";
	case APP_HTTP_PROXY: return "http";
	case APP_SOCKS: return "socks";
	default: return "unknown";
	}
}

static int put_str(struct rule_value *out, const char *s)
{
	out->s.p = s;
	out->s.n = strlen(s);
	return 0;
}

/* a present string, -ENOENT when empty */
static int put_nonempty(struct rule_value *out, const char *s)
{
	if (!s || !s[0])
		return -ENOENT;
	return put_str(out, s);
}

static int put_int(struct rule_value *out, int64_t v)
{
	out->i = v;
	return 0;
}

static int put_bool(struct rule_value *out, int b)
{
	out->b = !!b;
	return 0;
}

static int put_ip(struct rule_value *out, int family, const uint8_t *a)
{
	if (!a)
		return -ENOENT;
	memset(&out->ip, 0, sizeof(out->ip));
	out->ip.family = (uint8_t)(family == 6 ? 6 : 4);
	memcpy(out->ip.a, a, family == 6 ? 16 : 4);
	return 0;
}

/* ---- SMTP ---- */

static int smtp_is_cr(const struct rule_view *v)
{
	return v->trigger == TRIG_SMTP_COMMAND || v->trigger == TRIG_SMTP_REPLY;
}

static const char *smtp_cmd_name(const struct smtp_tx *tx)
{
	switch (tx->last_cmd.verb) {
	case SMTP_CMD_NONE:
		return NULL;
	case SMTP_CMD_AUTH_DATA:
		return "AUTH";  /* the exchange's lines belong to AUTH */
	case SMTP_CMD_UNKNOWN:
		return tx->last_cmd.name[0] ? tx->last_cmd.name : NULL;
	default:
		return smtp_verb_name(tx->last_cmd.verb);
	}
}

static int smtp_get(const struct rule_view *v, const struct smtp_tx *tx,
		    int field, struct rule_value *out)
{
	const struct smtp_session *ss = tx->session;
	const struct smtp_cmd *c = &tx->last_cmd;
	int is_reply = v->trigger == TRIG_SMTP_REPLY;

	switch (field) {
	case F_SMTP_HELO:
		if (!ss || !ss->helo_verb[0])
			return -ENOENT;
		return put_str(out, ss->helo);
	case F_SMTP_MAIL_FROM:
		if (!tx->has_mail)
			return -ENOENT;
		return put_str(out, tx->mail_from);  /* "" = null sender */
	case F_SMTP_RCPT:
		/* "@domain" when only the domain was kept (smtp.h) */
		if (!smtp_is_cr(v) || c->verb != SMTP_CMD_RCPT ||
		    c->addr == SMTP_ADDR_UNKNOWN)
			return -ENOENT;
		return put_nonempty(out, c->arg);
	case F_SMTP_RCPT_UNKNOWN:
		if (!smtp_is_cr(v) || c->verb != SMTP_CMD_RCPT)
			return -ENOENT;
		return put_bool(out, c->addr == SMTP_ADDR_UNKNOWN);
	case F_SMTP_COMMAND:
		if (!smtp_is_cr(v))
			return -ENOENT;
		return put_nonempty(out, smtp_cmd_name(tx));
	case F_SMTP_COMMAND_ARG:
		if (!smtp_is_cr(v) || c->verb == SMTP_CMD_AUTH_DATA)
			return -ENOENT;
		return put_nonempty(out, c->arg);
	case F_SMTP_REPLY_CODE:
		if (!is_reply || !tx->last_reply.code)
			return -ENOENT;
		return put_int(out, tx->last_reply.code);
	case F_SMTP_REPLY_TEXT:
		if (!is_reply || !tx->last_reply.code)
			return -ENOENT;
		return put_str(out, tx->last_reply.text);
	case F_SMTP_AUTH_MECH:
		if (!ss || !ss->auth.attempts)
			return -ENOENT;
		return put_nonempty(out, ss->auth.mechanism);
	case F_SMTP_AUTH_OK:
		/* the final reply of an AUTH exchange (334 continues it) */
		if (!is_reply || (c->verb != SMTP_CMD_AUTH &&
				  c->verb != SMTP_CMD_AUTH_DATA) ||
		    !tx->last_reply.code || tx->last_reply.code == 334)
			return -ENOENT;
		return put_bool(out, tx->last_reply.code == 235);
	case F_SMTP_AUTHENTICATED:
		return ss ? put_bool(out, ss->client_authenticated) : -ENOENT;
	case F_SMTP_TLS:
		return ss ? put_bool(out, ss->tls != SMTP_TLS_NONE) : -ENOENT;
	}
	return -ENOENT;
}

static int smtp_nth(const struct smtp_tx *tx, int field, unsigned idx,
		    struct rule_value *out)
{
	uint32_t n = tx->n_recipients < SMTP_RCPT_MAX ? tx->n_recipients :
		     SMTP_RCPT_MAX;

	switch (field) {
	case F_SMTP_RCPT_TO:
		if (idx >= n)
			return -ENOENT;
		return put_str(out, tx->recipients[idx].address);
	case F_SMTP_RCPT_OK:
		for (uint32_t i = 0; i < n; i++)
			if (tx->recipients[i].accepted && idx-- == 0)
				return put_str(out, tx->recipients[i].address);
		return -ENOENT;
	}
	return -ENOENT;
}

/* ---- HTTP ---- */

static const char *http_form(enum http_form f)
{
	switch (f) {
	case HTTP_FORM_AUTHORITY: return "connect";
	case HTTP_FORM_ABSOLUTE: return "absolute";
	case HTTP_FORM_ORIGIN:
	case HTTP_FORM_ASTERISK: return "origin";
	default: return NULL;
	}
}

/* the request asked the proxy for another host (not "GET /") */
static int http_proxied(const struct http_tx *tx)
{
	return tx->form == HTTP_FORM_AUTHORITY || tx->form == HTTP_FORM_ABSOLUTE;
}

static int http_get(const struct rule_view *v, const struct http_tx *tx,
		    int field, struct rule_value *out)
{
	switch (field) {
	case F_HTTP_METHOD:
		return put_nonempty(out, tx->method);
	case F_HTTP_URI:
		if (tx->form == HTTP_FORM_NONE)
			return -ENOENT;
		out->s.p = tx->target;
		out->s.n = strnlen(tx->target, tx->target_len < HTTP_TARGET_MAX ?
				   tx->target_len : HTTP_TARGET_MAX);
		return 0;
	case F_HTTP_HOST:
		if (!tx->has_host_hdr)
			return -ENOENT;
		return put_str(out, tx->host_hdr);
	case F_HTTP_UA:
		if (!tx->has_user_agent)
			return -ENOENT;
		return put_str(out, tx->user_agent);
	case F_HTTP_PROXY_FORM:
		return put_nonempty(out, http_form(tx->form));
	case F_HTTP_PROXY_HOST:
		if (!http_proxied(tx))
			return -ENOENT;
		return put_nonempty(out, tx->target_host);
	case F_HTTP_PROXY_PORT:
		if (!http_proxied(tx) || !tx->target_port)
			return -ENOENT;
		return put_int(out, tx->target_port);
	case F_HTTP_PROXY_AUTH:
		if (!tx->req_done && !tx->method[0])
			return -ENOENT;
		return put_bool(out, tx->proxy_auth_present);
	case F_HTTP_STATUS:
		if (v->trigger != TRIG_HTTP_RESPONSE || !tx->status)
			return -ENOENT;
		return put_int(out, tx->status);
	}
	return -ENOENT;
}

/* ---- SOCKS ---- */

static const char *socks_command(uint8_t c)
{
	switch (c) {
	case SOCKS_CMD_NONE: return NULL;
	case SOCKS_CMD_CONNECT: return "connect";
	case SOCKS_CMD_BIND: return "bind";
	case SOCKS_CMD_UDP_ASSOCIATE: return "udp_associate";
	default: return "unknown";
	}
}

static const char *socks_method(int m)
{
	switch (m) {
	case 0x00: return "none";
	case 0x01: return "gssapi";
	case 0x02: return "userpass";
	case 0xff: return "no_acceptable";
	default: return "other";
	}
}

static int socks_get(const struct rule_view *v, const struct socks_tx *tx,
		     int field, struct rule_value *out)
{
	switch (field) {
	case F_SOCKS_VERSION:
		if (!tx->version)
			return -ENOENT;
		return put_int(out, tx->version);
	case F_SOCKS_COMMAND:
		if (!tx->req_seen)
			return -ENOENT;
		return put_nonempty(out, socks_command(tx->command));
	case F_SOCKS_HOST:
		if (!tx->req_seen || !tx->target_host_len)
			return -ENOENT;
		out->s.p = tx->target_host;
		out->s.n = strnlen(tx->target_host, tx->target_host_len);
		return 0;
	case F_SOCKS_PORT:
		if (!tx->req_seen)
			return -ENOENT;
		return put_int(out, tx->target_port);
	case F_SOCKS_USER:
		if (!tx->has_user)
			return -ENOENT;
		out->s.p = tx->user;
		out->s.n = strnlen(tx->user, tx->user_len);
		return 0;
	case F_SOCKS_AUTH_METHOD:
		if (tx->version != 5 || tx->method_chosen < 0)
			return -ENOENT;
		return put_str(out, socks_method(tx->method_chosen));
	case F_SOCKS_GRANTED:
		if (v->trigger != TRIG_SOCKS_REPLY)
			return -ENOENT;
		return put_bool(out, tx->granted);
	case F_SOCKS_REVERSE:
		return put_bool(out, tx->reverse);
	case F_SOCKS_REPLY_CODE:
		if (v->trigger != TRIG_SOCKS_REPLY || tx->reply_code < 0)
			return -ENOENT;
		return put_int(out, tx->reply_code);
	}
	return -ENOENT;
}

/* ---- the getters ---- */

int rule_view_get(const void *view, int field, struct rule_value *out)
{
	const struct rule_view *v = view;

	switch (field) {
	case F_SRC_IP: return put_ip(out, v->family, v->src);
	case F_DEST_IP: return put_ip(out, v->family, v->dst);
	case F_SRC_PORT: return put_int(out, v->sport);
	case F_DEST_PORT: return put_int(out, v->dport);
	case F_IN_TUNNEL: return put_bool(out, v->in_tunnel);
	case F_TUNNEL_TYPE:
		if (!v->tun)
			return -ENOENT;
		return put_str(out, eve_tunnel_type(v->tun->type));
	case F_TUNNEL_HOST:
		if (!v->tun)
			return -ENOENT;
		out->s.p = v->tun->target_host;
		out->s.n = strnlen(v->tun->target_host, TUNNEL_HOST_MAX);
		return out->s.n ? 0 : -ENOENT;
	case F_TUNNEL_PORT:
		if (!v->tun)
			return -ENOENT;
		return put_int(out, v->tun->target_port);
	case F_FLOW_PROTO: return put_str(out, rule_bind_app_name(v->app));
	case F_FLOW_STATE: return put_nonempty(out, v->flow_state);
	case F_FLOW_REASON: return put_nonempty(out, v->end_reason);
	case F_FLOW_BYTES_TS: return put_int(out, (int64_t)v->bytes_toserver);
	case F_FLOW_BYTES_TC: return put_int(out, (int64_t)v->bytes_toclient);
	}
	if (!v->obj)
		return -ENOENT;
	switch (v->obj_kind) {
	case RULE_OBJ_SMTP: return smtp_get(v, v->obj, field, out);
	case RULE_OBJ_HTTP: return http_get(v, v->obj, field, out);
	case RULE_OBJ_SOCKS: return socks_get(v, v->obj, field, out);
	default: return -ENOENT;
	}
}

int rule_view_get_nth(const void *view, int field, unsigned idx,
		      struct rule_value *out)
{
	const struct rule_view *v = view;

	if (!v->obj || v->obj_kind != RULE_OBJ_SMTP)
		return -ENOENT;
	return smtp_nth(v->obj, field, idx, out);
}

void rule_bind_fact(const struct rule_view *v, struct rule_flow *fl,
		    struct rule_fact *f)
{
	memset(f, 0, sizeof(*f));
	f->trigger = v->trigger;
	f->ts_us = v->ts_us;
	f->obj = v;
	f->get = rule_view_get;
	f->get_nth = rule_view_get_nth;
	f->flow = fl;
}

/* ---- evidence ---- */

struct ev_out {
	struct json *j;
	int n;
};

static void __attribute__((format(printf, 2, 3)))
ev_line(struct ev_out *o, const char *fmt, ...)
{
	char buf[RULE_EVIDENCE_LINE];
	va_list ap;
	int len;

	if (o->n >= RULE_EVIDENCE_MAX)
		return;
	va_start(ap, fmt);
	len = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (len < 0)
		return;
	if ((size_t)len >= sizeof(buf))
		len = sizeof(buf) - 1;
	json_strn(o->j, NULL, buf, (size_t)len);
	o->n++;
}

/* first line of a (multi-line, \n-joined) reply text; the line cap
 * (RULE_EVIDENCE_LINE) cuts the rest */
static int first_line_len(const char *t)
{
	const char *nl = strchr(t, '\n');
	size_t n = nl ? (size_t)(nl - t) : strlen(t);
	return n > RULE_EVIDENCE_LINE ? RULE_EVIDENCE_LINE : (int)n;
}

static void ev_smtp_reply(struct ev_out *o, int code, const char *enh,
			  const char *text)
{
	char e[SMTP_ENH_MAX + 1] = "";

	if (!code)
		return;
	if (enh && enh[0])
		snprintf(e, sizeof(e), " %s", enh);
	if (text && text[0])
		ev_line(o, "%d%s %.*s", code, e, first_line_len(text), text);
	else
		ev_line(o, "%d%s", code, e);
}

/* the client's command line as it can be told without a credential */
static void ev_smtp_cmd(struct ev_out *o, const struct smtp_tx *tx)
{
	const struct smtp_cmd *c = &tx->last_cmd;
	const struct smtp_session *ss = tx->session;

	switch (c->verb) {
	case SMTP_CMD_NONE:
	case SMTP_CMD_CONNECT:
		return;
	case SMTP_CMD_MAIL:
		ev_line(o, "MAIL FROM:<%s>", c->arg);
		return;
	case SMTP_CMD_RCPT:
		if (c->addr == SMTP_ADDR_UNKNOWN)
			ev_line(o, "RCPT TO:<?> (address not kept)");
		else if (c->addr == SMTP_ADDR_DOMAIN)
			ev_line(o, "RCPT TO:<?%s> (local part not kept)", c->arg);
		else
			ev_line(o, "RCPT TO:<%s>", c->arg);
		return;
	case SMTP_CMD_AUTH:
		ev_line(o, "AUTH %s", c->arg);  /* mechanism only */
		return;
	case SMTP_CMD_AUTH_DATA:
		ev_line(o, "AUTH %s", ss ? ss->auth.mechanism : "");
		ev_line(o, "(credentials not shown)");
		return;
	case SMTP_CMD_DATA_END:
		ev_line(o, "(message: %llu bytes)",
			(unsigned long long)tx->data.body_bytes);
		ev_line(o, ".");
		return;
	default:
		if (c->arg[0])
			ev_line(o, "%s %s", smtp_cmd_name(tx) ? smtp_cmd_name(tx) :
				"?", c->arg);
		else
			ev_line(o, "%s", smtp_cmd_name(tx) ? smtp_cmd_name(tx) :
				"?");
	}
}

#define EV_RCPT_SHOWN 4

static void ev_smtp(struct ev_out *o, const struct rule_view *v,
		    const struct smtp_tx *tx)
{
	const struct smtp_session *ss = tx->session;
	enum smtp_verb cv = tx->last_cmd.verb;
	int cr = smtp_is_cr(v);
	int is_helo = cv == SMTP_CMD_HELO || cv == SMTP_CMD_EHLO ||
		      cv == SMTP_CMD_LHLO;
	int is_auth = cv == SMTP_CMD_AUTH || cv == SMTP_CMD_AUTH_DATA;

	/* context: what the session said before this command */
	if (ss && ss->helo_verb[0] && !(cr && is_helo))
		ev_line(o, "%s %s", ss->helo_verb, ss->helo);
	if (ss && ss->auth.attempts && !(cr && is_auth)) {
		ev_line(o, "AUTH %s", ss->auth.mechanism);
		ev_smtp_reply(o, ss->auth.code, ss->auth.enhanced, NULL);
	}
	if (tx->has_mail && !(cr && cv == SMTP_CMD_MAIL))
		ev_line(o, "MAIL FROM:<%s>", tx->mail_from);
	if (cr) {
		ev_smtp_cmd(o, tx);
		if (v->trigger == TRIG_SMTP_REPLY)
			ev_smtp_reply(o, tx->last_reply.code,
				      tx->last_reply.enhanced,
				      tx->last_reply.text);
		return;
	}
	/* a finished transaction: its recipients and the data outcome */
	uint32_t n = tx->n_recipients < SMTP_RCPT_MAX ? tx->n_recipients :
		     SMTP_RCPT_MAX;
	for (uint32_t i = 0; i < n && i < EV_RCPT_SHOWN; i++) {
		const struct smtp_rcpt *r = &tx->recipients[i];
		ev_line(o, "RCPT TO:<%s>", r->address);
		ev_smtp_reply(o, r->code, r->enhanced, NULL);
	}
	if (tx->rcpt_total > EV_RCPT_SHOWN)
		ev_line(o, "(%u more recipients, %u accepted in all)",
			tx->rcpt_total - EV_RCPT_SHOWN, tx->rcpt_accepted);
	if (tx->data.command != SMTP_DATA_NONE) {
		ev_line(o, "%s (%llu bytes)",
			tx->data.command == SMTP_DATA_BDAT ? "BDAT" : "DATA",
			(unsigned long long)tx->data.body_bytes);
		ev_smtp_reply(o, tx->data.code, tx->data.enhanced,
			      tx->data.text);
	}
}

static void ev_http(struct ev_out *o, const struct rule_view *v,
		    const struct http_tx *tx)
{
	if (tx->method[0]) {
		int tl = (int)strnlen(tx->target, tx->target_len < HTTP_TARGET_MAX ?
				      tx->target_len : HTTP_TARGET_MAX);
		if (tl > 120)
			tl = 120;
		ev_line(o, "%s %.*s%s%s", tx->method, tl, tx->target,
			tx->protocol[0] ? " " : "", tx->protocol);
	}
	if (v->trigger == TRIG_HTTP_RESPONSE && tx->status)
		ev_line(o, "%s %u %.60s", tx->resp_protocol[0] ?
			tx->resp_protocol : "HTTP/1.x", tx->status, tx->reason);
}

static const char *socks_reply_text(int version, int code)
{
	static const char *const v5[] = {
		"succeeded", "general failure", "not allowed by ruleset",
		"network unreachable", "host unreachable", "connection refused",
		"TTL expired", "command not supported",
		"address type not supported",
	};

	if (version == 5 && code >= 0 && code <= 8)
		return v5[code];
	switch (code) {
	case 90: return "granted";
	case 91: return "rejected or failed";
	case 92: return "rejected: no identd";
	case 93: return "rejected: identd mismatch";
	}
	return "unknown";
}

static void ev_socks(struct ev_out *o, const struct rule_view *v,
		     const struct socks_tx *tx)
{
	const char *ver = tx->version == 5 ? "SOCKS5" :
			  tx->is_4a ? "SOCKS4a" : tx->version == 4 ? "SOCKS4" :
			  "SOCKS";

	if (tx->version == 5 && tx->greet_seen && tx->method_chosen >= 0)
		ev_line(o, "%s method %s", ver, socks_method(tx->method_chosen));
	if (tx->version == 5 && tx->auth_sent)
		ev_line(o, "%s auth user %.*s (password not shown): %s", ver,
			(int)strnlen(tx->user, tx->user_len), tx->user,
			tx->auth_ok > 0 ? "ok" : tx->auth_ok == 0 ? "failed" :
			"no answer");
	if (tx->req_seen) {
		const char *cmd = socks_cmd_name(tx->command);
		ev_line(o, "%s %s %.*s:%u", ver, cmd ? cmd : "?",
			(int)strnlen(tx->target_host, tx->target_host_len),
			tx->target_host, tx->target_port);
	}
	if (v->trigger == TRIG_SOCKS_REPLY && tx->reply_code >= 0)
		ev_line(o, "reply %d (%s)", tx->reply_code,
			socks_reply_text(tx->version, tx->reply_code));
	else if (v->trigger == TRIG_SOCKS_REPLY)
		ev_line(o, "no reply%s", tx->method_chosen == 0xff ?
			": no acceptable method" : "");
}

void rule_bind_evidence(struct json *j, const struct rule_view *v)
{
	struct ev_out o = { j, 0 };
	char a[64], b[64];

	json_arr_open(j, "evidence");
	if (v->obj) {
		switch (v->obj_kind) {
		case RULE_OBJ_SMTP: ev_smtp(&o, v, v->obj); break;
		case RULE_OBJ_HTTP: ev_http(&o, v, v->obj); break;
		case RULE_OBJ_SOCKS: ev_socks(&o, v, v->obj); break;
		default: break;
		}
	} else if (v->trigger == TRIG_TUNNEL_OPEN && v->tun) {
		ev_line(&o, "%s tunnel to %.*s:%u granted",
			eve_tunnel_type(v->tun->type), 120, v->tun->target_host,
			v->tun->target_port);
	} else if (v->trigger == TRIG_FLOW_START || v->trigger == TRIG_FLOW_END) {
		eve_addr(v->family, v->src, a, sizeof(a));
		eve_addr(v->family, v->dst, b, sizeof(b));
		if (v->trigger == TRIG_FLOW_START)
			ev_line(&o, "connection %s:%u -> %s:%u (%s)", a, v->sport,
				b, v->dport, rule_bind_app_name(v->app));
		else
			ev_line(&o, "connection %s:%u -> %s:%u ended (%s): %llu "
				"bytes to server, %llu to client", a, v->sport,
				b, v->dport, v->end_reason ? v->end_reason : "?",
				(unsigned long long)v->bytes_toserver,
				(unsigned long long)v->bytes_toclient);
	}
	json_arr_close(j);
}
