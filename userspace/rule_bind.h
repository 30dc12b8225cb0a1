/* rule_bind.h - what the engine tells the rule engine about one fact.
 *
 * The rule evaluator (rules.h) knows fields by id (fields.h) and asks a
 * getter for their values. This module is that getter: the engine fills a
 * struct rule_view for each fact (an SMTP command, a proxy response, a
 * flow's start...) and rule_bind_fact() turns it into the struct rule_fact
 * rule_eval() takes. Every field of fields.h is answered here, from the
 * view's endpoints/flow figures and from the protocol object of the fact
 * (struct smtp_tx, http_tx or socks_tx, by obj_kind).
 *
 * Formats (fields.h): smtp.command is the upper-case verb, "CONNECT" for
 * the greeting, "." for the end of a message, and "AUTH" also for the
 * client's lines inside an AUTH exchange (so a failed AUTH LOGIN's final
 * 535, which answers the password line, is an AUTH reply too); smtp.rcpt and
 * smtp.mail_from without <>; http.proxy.form "connect" for the parser's
 * authority-form (CONNECT host:port), "absolute", "origin" (OPTIONS * too);
 * socks.command "connect" | "bind" | "udp_associate"; socks.auth.method
 * "none" | "gssapi" | "userpass" | "no_acceptable" | "other".
 *
 * At flow.start flow.app_proto is what the server port says (content
 * detection has not run yet), "unknown" otherwise.
 * At tunnel.open the tunnel.* fields describe the tunnel being opened and
 * in_tunnel says whether the carrier itself is inside a tunnel; at every
 * other trigger tunnel.* describe the tunnel the fact happened in.
 *
 * A field not known at this moment (no HELO yet, not a reply, another
 * protocol's field) is -ENOENT. Nothing here can return a credential: the
 * parsers never keep one.
 */
#ifndef RW_RULE_BIND_H
#define RW_RULE_BIND_H

#include <stdint.h>
#include "fields.h"
#include "proto.h"

struct json;

enum rule_obj_kind {
	RULE_OBJ_NONE = 0,
	RULE_OBJ_SMTP,      /* obj: const struct smtp_tx * */
	RULE_OBJ_HTTP,      /* obj: const struct http_tx * */
	RULE_OBJ_SOCKS,     /* obj: const struct socks_tx * */
};

struct rule_view {
	enum rule_trigger trigger;
	uint64_t ts_us;
	/* endpoints of the TCP connection: src = the client */
	int family;                  /* 4 or 6 */
	const uint8_t *src, *dst;    /* 16 bytes each, IPv4 in the first 4 */
	uint16_t sport, dport;
	/* tunnel: see above */
	int in_tunnel;
	const struct tunnel_info *tun;  /* NULL: none */
	enum app_proto app;          /* of the context that raised the fact */
	const char *flow_state;      /* "new" | "established" | "closed" */
	const char *end_reason;      /* flow.end only, else NULL */
	uint64_t bytes_toserver, bytes_toclient;
	enum rule_obj_kind obj_kind;
	const void *obj;
};

/* the getter pair of fields.h over a const struct rule_view * */
int rule_view_get(const void *view, int field, struct rule_value *out);
int rule_view_get_nth(const void *view, int field, unsigned idx,
		      struct rule_value *out);

/* fill f for v (v must outlive the evaluation); fl: the flow's rule state */
void rule_bind_fact(const struct rule_view *v, struct rule_flow *fl,
		    struct rule_fact *f);

/* "smtp" | "http" | "socks" | "unknown" (flow.app_proto) */
const char *rule_bind_app_name(enum app_proto a);

#define RULE_EVIDENCE_MAX 12    /* lines per alert */
#define RULE_EVIDENCE_LINE 200  /* bytes per line, longer values cut */

/* Write the "evidence" array (a short transcript of what decided the fact:
 * the commands and replies, request and status lines, SOCKS request and
 * reply) into the open JSON object. Never a credential: AUTH shows the
 * mechanism, the exchange's lines as "(credentials not shown)". */
void rule_bind_evidence(struct json *j, const struct rule_view *v);

#endif
