/* fields.h - what the rule engine may know about a record, and when.
 *
 * The rule evaluator never sees protocol structs. For each evaluation the
 * engine hands it a struct rule_fact: the trigger (which moment this is: an
 * SMTP command, a reply, a proxy response, a flow's first SYN...), the time,
 * an opaque object and a getter that answers "field F of this object".
 * Binding code (engine side) maps smtp_tx/http_tx/socks_tx/flows to the
 * field ids below; the rule parser maps field names to the same ids through
 * the registry (fields.c). Adding a field: one line in RULE_FIELDS and one
 * case in the binding's getter.
 *
 * Getter contract:
 *   get(obj, id, out)         scalar field: fill out (the union member for
 *                             the field's type), return 0; -ENOENT when the
 *                             field is absent at this moment (no HELO yet,
 *                             not a reply...). Strings are (p, n), need not
 *                             be NUL-terminated and must stay valid for the
 *                             duration of the evaluation.
 *   get_nth(obj, id, i, out)  list field (type FT_STRLIST): element i as a
 *                             string, 0; -ENOENT past the end. May be NULL
 *                             when the binding has no list fields.
 * Derived fields (FD_*) are computed by the evaluator from their base field
 * (e.g. smtp.rcpt.domain from smtp.rcpt, direction from src/dest ip and
 * HOME_NET): the getter is never called with a derived id.
 * The getter must never return credentials: there is no password field.
 */
#ifndef RW_FIELDS_H
#define RW_FIELDS_H

#include <stddef.h>
#include <stdint.h>

/* The moments at which rules are evaluated ("on" in a rule). */
#define RULE_TRIGGERS(X) \
	X(TRIG_SMTP_COMMAND, "smtp.command")  /* client command parsed, before the server answers */ \
	X(TRIG_SMTP_REPLY, "smtp.reply")      /* server reply paired with its command */ \
	X(TRIG_SMTP_RECORD, "smtp.record")    /* a transaction finished */ \
	X(TRIG_HTTP_REQUEST, "http.request")  /* request headers complete */ \
	X(TRIG_HTTP_RESPONSE, "http.response")/* response status line + headers */ \
	X(TRIG_SOCKS_REQUEST, "socks.request")/* SOCKS CONNECT/BIND/UDP request */ \
	X(TRIG_SOCKS_REPLY, "socks.reply")    /* SOCKS server's reply */ \
	X(TRIG_TUNNEL_OPEN, "tunnel.open")    /* a proxy granted a tunnel */ \
	X(TRIG_FLOW_START, "flow.start")      /* first SYN (or midstream pickup) */ \
	X(TRIG_FLOW_END, "flow.end")          /* flow closed */

enum rule_trigger {
#define RULE_TRIG_ENUM(id, name) id,
	RULE_TRIGGERS(RULE_TRIG_ENUM)
#undef RULE_TRIG_ENUM
	TRIG__COUNT
};

#define TM(t) (1u << (t))
#define TM_ALL ((1u << TRIG__COUNT) - 1)
#define TM_SMTP (TM(TRIG_SMTP_COMMAND) | TM(TRIG_SMTP_REPLY) | TM(TRIG_SMTP_RECORD))
#define TM_SMTP_CR (TM(TRIG_SMTP_COMMAND) | TM(TRIG_SMTP_REPLY))
#define TM_HTTP (TM(TRIG_HTTP_REQUEST) | TM(TRIG_HTTP_RESPONSE))
#define TM_SOCKS (TM(TRIG_SOCKS_REQUEST) | TM(TRIG_SOCKS_REPLY))
#define TM_PROXY (TM_HTTP | TM_SOCKS | TM(TRIG_TUNNEL_OPEN))

enum field_type {
	FT_IP = 1,   /* struct rule_ip */
	FT_INT,      /* int64 (ports, codes, counts) */
	FT_STR,      /* bytes (p, n) */
	FT_BOOL,     /* 0/1 */
	FT_STRLIST,  /* several strings: get_nth() */
};

enum field_derive {
	FD_NONE = 0,
	FD_DOMAIN,     /* domain part of a mail address (after the last '@') */
	FD_CLASS,      /* reply/status class: code / 100 */
	FD_COUNT,      /* number of elements of a list */
	FD_DIRECTION,  /* inbound/outbound/internal/external from HOME_NET */
	FD_FIRST,      /* the first present of field_alternatives() */
};

/* X(ID, "name", type, trigger mask, derive, base ID)
 * The trigger mask says on which triggers the binding provides the field;
 * the rule checker rejects a rule that uses a field none of its triggers
 * provide. src_* is always the client (the side that opened the TCP
 * connection), dest_* the server. */
#define RULE_FIELDS(X) \
	X(F_SRC_IP, "src_ip", FT_IP, TM_ALL, FD_NONE, F_SRC_IP) \
	X(F_DEST_IP, "dest_ip", FT_IP, TM_ALL, FD_NONE, F_DEST_IP) \
	X(F_SRC_PORT, "src_port", FT_INT, TM_ALL, FD_NONE, F_SRC_PORT) \
	X(F_DEST_PORT, "dest_port", FT_INT, TM_ALL, FD_NONE, F_DEST_PORT) \
	X(F_DIRECTION, "direction", FT_STR, TM_ALL, FD_DIRECTION, F_SRC_IP) \
	X(F_IN_TUNNEL, "in_tunnel", FT_BOOL, TM_ALL, FD_NONE, F_IN_TUNNEL) \
	X(F_TUNNEL_TYPE, "tunnel.type", FT_STR, TM_ALL, FD_NONE, F_TUNNEL_TYPE) \
	X(F_TUNNEL_HOST, "tunnel.target_host", FT_STR, TM_ALL, FD_NONE, F_TUNNEL_HOST) \
	X(F_TUNNEL_PORT, "tunnel.target_port", FT_INT, TM_ALL, FD_NONE, F_TUNNEL_PORT) \
	X(F_FLOW_PROTO, "flow.app_proto", FT_STR, TM_ALL, FD_NONE, F_FLOW_PROTO) \
	X(F_FLOW_STATE, "flow.state", FT_STR, TM_ALL, FD_NONE, F_FLOW_STATE) \
	X(F_FLOW_REASON, "flow.end_reason", FT_STR, TM(TRIG_FLOW_END), FD_NONE, F_FLOW_REASON) \
	X(F_FLOW_BYTES_TS, "flow.bytes_toserver", FT_INT, TM_ALL, FD_NONE, F_FLOW_BYTES_TS) \
	X(F_FLOW_BYTES_TC, "flow.bytes_toclient", FT_INT, TM_ALL, FD_NONE, F_FLOW_BYTES_TC) \
	X(F_SMTP_HELO, "smtp.helo", FT_STR, TM_SMTP, FD_NONE, F_SMTP_HELO) \
	X(F_SMTP_MAIL_FROM, "smtp.mail_from", FT_STR, TM_SMTP, FD_NONE, F_SMTP_MAIL_FROM) \
	X(F_SMTP_MAIL_FROM_DOMAIN, "smtp.mail_from.domain", FT_STR, TM_SMTP, FD_DOMAIN, F_SMTP_MAIL_FROM) \
	X(F_SMTP_RCPT, "smtp.rcpt", FT_STR, TM_SMTP_CR, FD_NONE, F_SMTP_RCPT) \
	X(F_SMTP_RCPT_DOMAIN, "smtp.rcpt.domain", FT_STR, TM_SMTP_CR, FD_DOMAIN, F_SMTP_RCPT) \
	X(F_SMTP_RCPT_UNKNOWN, "smtp.rcpt.unknown", FT_BOOL, TM_SMTP_CR, FD_NONE, F_SMTP_RCPT_UNKNOWN) \
	X(F_SMTP_RCPT_TO, "smtp.rcpt_to", FT_STRLIST, TM_SMTP, FD_NONE, F_SMTP_RCPT_TO) \
	X(F_SMTP_RCPT_TO_DOMAIN, "smtp.rcpt_to.domain", FT_STRLIST, TM_SMTP, FD_DOMAIN, F_SMTP_RCPT_TO) \
	X(F_SMTP_RCPT_TO_COUNT, "smtp.rcpt_to.count", FT_INT, TM_SMTP, FD_COUNT, F_SMTP_RCPT_TO) \
	X(F_SMTP_RCPT_OK, "smtp.rcpt_accepted", FT_STRLIST, TM_SMTP, FD_NONE, F_SMTP_RCPT_OK) \
	X(F_SMTP_RCPT_OK_COUNT, "smtp.rcpt_accepted.count", FT_INT, TM_SMTP, FD_COUNT, F_SMTP_RCPT_OK) \
	X(F_SMTP_COMMAND, "smtp.command", FT_STR, TM_SMTP_CR, FD_NONE, F_SMTP_COMMAND) \
	X(F_SMTP_COMMAND_ARG, "smtp.command.arg", FT_STR, TM_SMTP_CR, FD_NONE, F_SMTP_COMMAND_ARG) \
	X(F_SMTP_REPLY_CODE, "smtp.reply.code", FT_INT, TM(TRIG_SMTP_REPLY), FD_NONE, F_SMTP_REPLY_CODE) \
	X(F_SMTP_REPLY_CLASS, "smtp.reply.class", FT_INT, TM(TRIG_SMTP_REPLY), FD_CLASS, F_SMTP_REPLY_CODE) \
	X(F_SMTP_REPLY_TEXT, "smtp.reply.text", FT_STR, TM(TRIG_SMTP_REPLY), FD_NONE, F_SMTP_REPLY_TEXT) \
	X(F_SMTP_AUTH_MECH, "smtp.auth.mech", FT_STR, TM_SMTP, FD_NONE, F_SMTP_AUTH_MECH) \
	X(F_SMTP_AUTH_OK, "smtp.auth.ok", FT_BOOL, TM(TRIG_SMTP_REPLY), FD_NONE, F_SMTP_AUTH_OK) \
	X(F_SMTP_AUTHENTICATED, "smtp.authenticated", FT_BOOL, TM_SMTP, FD_NONE, F_SMTP_AUTHENTICATED) \
	X(F_SMTP_TLS, "smtp.tls", FT_BOOL, TM_SMTP, FD_NONE, F_SMTP_TLS) \
	X(F_HTTP_METHOD, "http.method", FT_STR, TM_HTTP, FD_NONE, F_HTTP_METHOD) \
	X(F_HTTP_URI, "http.uri", FT_STR, TM_HTTP, FD_NONE, F_HTTP_URI) \
	X(F_HTTP_HOST, "http.host", FT_STR, TM_HTTP, FD_NONE, F_HTTP_HOST) \
	X(F_HTTP_UA, "http.user_agent", FT_STR, TM_HTTP, FD_NONE, F_HTTP_UA) \
	X(F_HTTP_PROXY_FORM, "http.proxy.form", FT_STR, TM_HTTP, FD_NONE, F_HTTP_PROXY_FORM) \
	X(F_HTTP_PROXY_HOST, "http.proxy.target_host", FT_STR, TM_HTTP, FD_NONE, F_HTTP_PROXY_HOST) \
	X(F_HTTP_PROXY_PORT, "http.proxy.target_port", FT_INT, TM_HTTP, FD_NONE, F_HTTP_PROXY_PORT) \
	X(F_HTTP_PROXY_AUTH, "http.proxy.auth", FT_BOOL, TM_HTTP, FD_NONE, F_HTTP_PROXY_AUTH) \
	X(F_HTTP_STATUS, "http.status", FT_INT, TM(TRIG_HTTP_RESPONSE), FD_NONE, F_HTTP_STATUS) \
	X(F_HTTP_STATUS_CLASS, "http.status.class", FT_INT, TM(TRIG_HTTP_RESPONSE), FD_CLASS, F_HTTP_STATUS) \
	X(F_SOCKS_VERSION, "socks.version", FT_INT, TM_SOCKS, FD_NONE, F_SOCKS_VERSION) \
	X(F_SOCKS_COMMAND, "socks.command", FT_STR, TM_SOCKS, FD_NONE, F_SOCKS_COMMAND) \
	X(F_SOCKS_HOST, "socks.target_host", FT_STR, TM_SOCKS, FD_NONE, F_SOCKS_HOST) \
	X(F_SOCKS_PORT, "socks.target_port", FT_INT, TM_SOCKS, FD_NONE, F_SOCKS_PORT) \
	X(F_SOCKS_USER, "socks.user", FT_STR, TM_SOCKS, FD_NONE, F_SOCKS_USER) \
	X(F_SOCKS_AUTH_METHOD, "socks.auth.method", FT_STR, TM_SOCKS, FD_NONE, F_SOCKS_AUTH_METHOD) \
	X(F_SOCKS_GRANTED, "socks.granted", FT_BOOL, TM(TRIG_SOCKS_REPLY), FD_NONE, F_SOCKS_GRANTED) \
	X(F_SOCKS_REVERSE, "socks.reverse", FT_BOOL, TM_SOCKS, FD_NONE, F_SOCKS_REVERSE) \
	X(F_SOCKS_REPLY_CODE, "socks.reply.code", FT_INT, TM(TRIG_SOCKS_REPLY), FD_NONE, F_SOCKS_REPLY_CODE) \
	X(F_PROXY_HOST, "proxy.target_host", FT_STR, TM_PROXY, FD_FIRST, F_HTTP_PROXY_HOST) \
	X(F_PROXY_PORT, "proxy.target_port", FT_INT, TM_PROXY, FD_FIRST, F_HTTP_PROXY_PORT)

enum rule_field {
#define RULE_FIELD_ENUM(id, name, type, mask, derive, base) id,
	RULE_FIELDS(RULE_FIELD_ENUM)
#undef RULE_FIELD_ENUM
	F__COUNT
};

/* Values the binding fills in. Expected strings, as written by the binding:
 *   smtp.command      the verb in upper case ("RCPT", "EHLO", "AUTH"...)
 *   smtp.command.arg  the argument; for AUTH the mechanism only
 *   smtp.rcpt         the current RCPT address without <> (RCPT command and
 *                     its reply), smtp.mail_from likewise; on a reply whose
 *                     address the parser could not keep whole (in-flight
 *                     queue full) "@domain", or absent with
 *                     smtp.rcpt.unknown true (relay rules: foreign)
 *   smtp.rcpt_to / smtp.rcpt_accepted  all recipients of the transaction /
 *                     those the server accepted (2xx)
 *   http.proxy.form   "connect" | "absolute" | "origin"
 *   socks.command     "connect" | "bind" | "udp_associate"
 *   tunnel.type       "http_connect" | "socks4" | "socks5"
 *   flow.state        "new" | "established" | "closed"
 *   flow.app_proto    "smtp" | "http" | "socks" | "unknown"
 */
struct rule_ip {
	uint8_t family;   /* 4 or 6 */
	uint8_t a[16];    /* IPv4 in the first 4 bytes */
};

struct rule_value {
	union {
		struct rule_ip ip;
		int64_t i;
		int b;
		struct {
			const char *p;
			size_t n;
		} s;
	};
};

struct rule_flow; /* rules.h: per-flow rule state owned by the engine */

struct rule_fact {
	enum rule_trigger trigger;
	uint64_t ts_us;
	const void *obj;
	int (*get)(const void *obj, int field, struct rule_value *out);
	int (*get_nth)(const void *obj, int field, unsigned idx,
		       struct rule_value *out);
	/* the flow's rule state (pass flag); NULL: nothing to remember */
	struct rule_flow *flow;
};

struct field_info {
	const char *name;
	enum field_type type;
	uint32_t triggers;       /* TM() mask */
	enum field_derive derive;
	enum rule_field base;    /* the field the getter is asked for */
};

extern const struct field_info field_table[F__COUNT];
extern const char *const trigger_names[TRIG__COUNT];

/* field id by name (n bytes), or -ENOENT */
int field_lookup(const char *name, size_t n);
/* trigger by name, or -ENOENT */
int trigger_lookup(const char *name, size_t n);
const char *field_type_name(enum field_type t);
/* FD_FIRST fields: the fields tried in order (proxy.target_host is
 * http.proxy.target_host, else socks.target_host, else tunnel.target_host);
 * returns how many (at most 4) */
int field_alternatives(int field, int out[4]);

#endif
