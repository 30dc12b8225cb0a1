/* test_rule_bind.c - the engine's side of the rule engine: field getters
 * over SMTP/HTTP/SOCKS objects (formats, "not known at this moment"),
 * alert evidence without credentials, and in the engine: per-packet
 * verdicts of block rules, alert records, live ruleset swaps (references
 * released, also while a worker thread runs).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include "t.h"
#include "engine.h"
#include "http_proxy.h"
#include "json.h"
#include "rule_bind.h"
#include "rules.h"
#include "smtp.h"
#include "socks.h"

static const uint8_t CLI[16] = {203, 0, 113, 66}, SRV[16] = {10, 0, 0, 25};

static void view_base(struct rule_view *v, enum rule_trigger t)
{
	memset(v, 0, sizeof(*v));
	v->trigger = t;
	v->family = 4;
	v->src = CLI;
	v->dst = SRV;
	v->sport = 41000;
	v->dport = 25;
	v->app = APP_SMTP;
	v->flow_state = "established";
}

/* string field as a NUL-terminated copy, or "(absent)" */
static const char *gets(const struct rule_view *v, int field)
{
	static char buf[512];
	struct rule_value out;

	memset(&out, 0, sizeof(out));
	if (rule_view_get(v, field, &out) != 0)
		return "(absent)";
	snprintf(buf, sizeof(buf), "%.*s", (int)out.s.n, out.s.p);
	return buf;
}

static long long geti(const struct rule_view *v, int field)
{
	struct rule_value out;

	memset(&out, 0, sizeof(out));
	if (rule_view_get(v, field, &out) != 0)
		return -999;
	return field_table[field].type == FT_BOOL ? out.b : out.i;
}

static struct smtp_session sess;
static struct smtp_tx tx;

static void smtp_setup(void)
{
	memset(&sess, 0, sizeof(sess));
	memset(&tx, 0, sizeof(tx));
	strcpy(sess.helo, "client.inet.example");
	strcpy(sess.helo_verb, "EHLO");
	tx.session = &sess;
	tx.number = 1;
	tx.started = tx.has_mail = 1;
	strcpy(tx.mail_from, "spammer@inet.example");
	strcpy(tx.recipients[0].address, "bob@lan.example");
	tx.recipients[0].code = 250;
	tx.recipients[0].accepted = 1;
	strcpy(tx.recipients[1].address, "victim@foreign.example");
	tx.n_recipients = 2;
	tx.rcpt_total = 2;
}

TEST(smtp_command_and_reply_fields)
{
	struct rule_view v;

	smtp_setup();
	view_base(&v, TRIG_SMTP_COMMAND);
	v.obj_kind = RULE_OBJ_SMTP;
	v.obj = &tx;
	tx.last_cmd.verb = SMTP_CMD_RCPT;
	strcpy(tx.last_cmd.name, "RCPT");
	strcpy(tx.last_cmd.arg, "victim@foreign.example");
	CHECK_STR(gets(&v, F_SMTP_COMMAND), "RCPT");
	CHECK_STR(gets(&v, F_SMTP_RCPT), "victim@foreign.example");
	CHECK_STR(gets(&v, F_SMTP_HELO), "client.inet.example");
	CHECK_STR(gets(&v, F_SMTP_MAIL_FROM), "spammer@inet.example");
	/* a command has no reply yet */
	CHECK_INT(geti(&v, F_SMTP_REPLY_CODE), -999);
	CHECK_STR(gets(&v, F_SMTP_REPLY_TEXT), "(absent)");
	CHECK_INT(geti(&v, F_SMTP_AUTHENTICATED), 0);
	CHECK_INT(geti(&v, F_SMTP_TLS), 0);
	CHECK_STR(gets(&v, F_SMTP_AUTH_MECH), "(absent)");
	/* the reply */
	v.trigger = TRIG_SMTP_REPLY;
	tx.last_reply.code = 250;
	strcpy(tx.last_reply.enhanced, "2.1.5");
	strcpy(tx.last_reply.text, "Ok");
	CHECK_INT(geti(&v, F_SMTP_REPLY_CODE), 250);
	CHECK_STR(gets(&v, F_SMTP_REPLY_TEXT), "Ok");
	/* lists: every recipient / the accepted ones */
	struct rule_value out;
	CHECK_INT(rule_view_get_nth(&v, F_SMTP_RCPT_TO, 1, &out), 0);
	CHECK(out.s.n == 22 && !memcmp(out.s.p, "victim@foreign.example", 22));
	CHECK_INT(rule_view_get_nth(&v, F_SMTP_RCPT_TO, 2, &out), -ENOENT);
	CHECK_INT(rule_view_get_nth(&v, F_SMTP_RCPT_OK, 0, &out), 0);
	CHECK(out.s.n == 15 && !memcmp(out.s.p, "bob@lan.example", 15));
	CHECK_INT(rule_view_get_nth(&v, F_SMTP_RCPT_OK, 1, &out), -ENOENT);
	/* a record has no current command */
	v.trigger = TRIG_SMTP_RECORD;
	CHECK_STR(gets(&v, F_SMTP_COMMAND), "(absent)");
	CHECK_STR(gets(&v, F_SMTP_RCPT), "(absent)");
	CHECK_STR(gets(&v, F_SMTP_MAIL_FROM), "spammer@inet.example");
	/* the greeting is the reply to the pseudo-command CONNECT */
	v.trigger = TRIG_SMTP_REPLY;
	memset(&tx.last_cmd, 0, sizeof(tx.last_cmd));
	tx.last_cmd.verb = SMTP_CMD_CONNECT;
	strcpy(tx.last_cmd.name, "CONNECT");
	CHECK_STR(gets(&v, F_SMTP_COMMAND), "CONNECT");
	CHECK_STR(gets(&v, F_SMTP_RCPT), "(absent)");
	/* endpoints: src is the client */
	CHECK_INT(geti(&v, F_SRC_PORT), 41000);
	CHECK_INT(geti(&v, F_DEST_PORT), 25);
	memset(&out, 0, sizeof(out));
	CHECK_INT(rule_view_get(&v, F_SRC_IP, &out), 0);
	CHECK(out.ip.family == 4 && !memcmp(out.ip.a, CLI, 4));
	CHECK_STR(gets(&v, F_FLOW_PROTO), "smtp");
	CHECK_STR(gets(&v, F_FLOW_REASON), "(absent)");
	CHECK_INT(geti(&v, F_IN_TUNNEL), 0);
	CHECK_STR(gets(&v, F_TUNNEL_HOST), "(absent)");
	/* another protocol's fields are not known */
	CHECK_STR(gets(&v, F_HTTP_METHOD), "(absent)");
	CHECK_INT(geti(&v, F_SOCKS_PORT), -999);
}

TEST(smtp_auth_lines_count_as_auth)
{
	struct rule_view v;

	smtp_setup();
	view_base(&v, TRIG_SMTP_REPLY);
	v.obj_kind = RULE_OBJ_SMTP;
	v.obj = &tx;
	sess.auth.attempts = 1;
	strcpy(sess.auth.mechanism, "LOGIN");
	/* 334 to AUTH LOGIN: the exchange goes on, no outcome yet */
	tx.last_cmd.verb = SMTP_CMD_AUTH;
	strcpy(tx.last_cmd.name, "AUTH");
	strcpy(tx.last_cmd.arg, "LOGIN");
	tx.last_reply.code = 334;
	CHECK_STR(gets(&v, F_SMTP_COMMAND), "AUTH");
	CHECK_STR(gets(&v, F_SMTP_COMMAND_ARG), "LOGIN");
	CHECK_INT(geti(&v, F_SMTP_AUTH_OK), -999);
	/* 535 to the password line: an AUTH reply, failed, no argument */
	memset(&tx.last_cmd, 0, sizeof(tx.last_cmd));
	tx.last_cmd.verb = SMTP_CMD_AUTH_DATA;
	tx.last_reply.code = 535;
	strcpy(tx.last_reply.enhanced, "5.7.8");
	strcpy(tx.last_reply.text, "Error: authentication failed");
	CHECK_STR(gets(&v, F_SMTP_COMMAND), "AUTH");
	CHECK_STR(gets(&v, F_SMTP_COMMAND_ARG), "(absent)");
	CHECK_INT(geti(&v, F_SMTP_AUTH_OK), 0);
	CHECK_STR(gets(&v, F_SMTP_AUTH_MECH), "LOGIN");
	tx.last_reply.code = 235;
	CHECK_INT(geti(&v, F_SMTP_AUTH_OK), 1);

	/* evidence: the mechanism, never the exchange's content */
	char buf[4096];
	struct json j;
	json_init(&j, buf, sizeof(buf));
	json_obj_open(&j, NULL);
	tx.last_reply.code = 535;
	rule_bind_evidence(&j, &v);
	json_obj_close(&j);
	CHECK(!j.overflow);
	buf[j.len] = '\0';
	CHECK(strstr(buf, "\"AUTH LOGIN\",\"(credentials not shown)\","
		      "\"535 5.7.8 Error: authentication failed\"") != NULL);
	CHECK(strstr(buf, "\"EHLO client.inet.example\"") != NULL);
}

TEST(http_fields_and_forms)
{
	struct http_tx h;
	struct rule_view v;

	memset(&h, 0, sizeof(h));
	view_base(&v, TRIG_HTTP_REQUEST);
	v.app = APP_HTTP_PROXY;
	v.dport = 3128;
	v.obj_kind = RULE_OBJ_HTTP;
	v.obj = &h;
	strcpy(h.method, "CONNECT");
	strcpy(h.protocol, "HTTP/1.1");
	strcpy(h.target, "mx.foreign.example:25");
	h.target_len = (uint16_t)strlen(h.target);
	h.form = HTTP_FORM_AUTHORITY;
	strcpy(h.target_host, "mx.foreign.example");
	h.target_port = 25;
	h.req_done = 1;
	CHECK_STR(gets(&v, F_HTTP_PROXY_FORM), "connect");  /* not "authority" */
	CHECK_STR(gets(&v, F_HTTP_PROXY_HOST), "mx.foreign.example");
	CHECK_INT(geti(&v, F_HTTP_PROXY_PORT), 25);
	CHECK_STR(gets(&v, F_HTTP_URI), "mx.foreign.example:25");
	CHECK_INT(geti(&v, F_HTTP_PROXY_AUTH), 0);
	CHECK_STR(gets(&v, F_HTTP_UA), "(absent)");
	CHECK_INT(geti(&v, F_HTTP_STATUS), -999);  /* not a response */
	CHECK_STR(gets(&v, F_FLOW_PROTO), "http");
	v.trigger = TRIG_HTTP_RESPONSE;
	h.status = 200;
	strcpy(h.resp_protocol, "HTTP/1.0");
	strcpy(h.reason, "Connection established");
	CHECK_INT(geti(&v, F_HTTP_STATUS), 200);

	char buf[2048];
	struct json j;
	json_init(&j, buf, sizeof(buf));
	json_obj_open(&j, NULL);
	rule_bind_evidence(&j, &v);
	json_obj_close(&j);
	buf[j.len] = '\0';
	CHECK_STR(buf, "{\"evidence\":[\"CONNECT mx.foreign.example:25 HTTP/1.1\","
		  "\"HTTP/1.0 200 Connection established\"]}");

	/* origin-form asks the proxy for itself: no proxy target */
	h.form = HTTP_FORM_ORIGIN;
	CHECK_STR(gets(&v, F_HTTP_PROXY_FORM), "origin");
	CHECK_STR(gets(&v, F_HTTP_PROXY_HOST), "(absent)");
	h.form = HTTP_FORM_ABSOLUTE;
	CHECK_STR(gets(&v, F_HTTP_PROXY_FORM), "absolute");
	h.form = HTTP_FORM_NONE;
	CHECK_STR(gets(&v, F_HTTP_PROXY_FORM), "(absent)");
}

TEST(socks_fields)
{
	struct socks_tx s;
	struct rule_view v;

	memset(&s, 0, sizeof(s));
	view_base(&v, TRIG_SOCKS_REQUEST);
	v.app = APP_SOCKS;
	v.obj_kind = RULE_OBJ_SOCKS;
	v.obj = &s;
	s.version = 5;
	s.command = SOCKS_CMD_CONNECT;
	s.req_seen = 1;
	strcpy(s.target_host, "mx.foreign.example");
	s.target_host_len = (uint16_t)strlen(s.target_host);
	s.target_port = 25;
	s.method_chosen = 2;
	s.greet_seen = s.auth_sent = 1;
	s.has_user = 1;
	strcpy(s.user, "alice");
	s.user_len = 5;
	s.auth_ok = 1;
	s.reply_code = -1;
	CHECK_STR(gets(&v, F_SOCKS_COMMAND), "connect");
	CHECK_STR(gets(&v, F_SOCKS_HOST), "mx.foreign.example");
	CHECK_INT(geti(&v, F_SOCKS_PORT), 25);
	CHECK_STR(gets(&v, F_SOCKS_AUTH_METHOD), "userpass");
	CHECK_STR(gets(&v, F_SOCKS_USER), "alice");
	CHECK_INT(geti(&v, F_SOCKS_GRANTED), -999);   /* request: no answer */
	v.trigger = TRIG_SOCKS_REPLY;
	CHECK_INT(geti(&v, F_SOCKS_GRANTED), 0);
	CHECK_INT(geti(&v, F_SOCKS_REPLY_CODE), -999);
	s.reply_code = 0;
	s.granted = 1;
	CHECK_INT(geti(&v, F_SOCKS_GRANTED), 1);
	CHECK_INT(geti(&v, F_SOCKS_REPLY_CODE), 0);
	s.version = 4;
	s.command = SOCKS_CMD_UDP_ASSOCIATE;
	CHECK_STR(gets(&v, F_SOCKS_AUTH_METHOD), "(absent)");
	CHECK_STR(gets(&v, F_SOCKS_COMMAND), "udp_associate");
}

TEST(tunnel_fields)
{
	struct tunnel_info ti;
	struct rule_view v;

	memset(&ti, 0, sizeof(ti));
	ti.type = TUNNEL_SOCKS5;
	strcpy(ti.target_host, "mx.foreign.example");
	ti.target_port = 25;
	view_base(&v, TRIG_SMTP_COMMAND);
	v.in_tunnel = 1;
	v.tun = &ti;
	CHECK_INT(geti(&v, F_IN_TUNNEL), 1);
	CHECK_STR(gets(&v, F_TUNNEL_TYPE), "socks5");
	CHECK_STR(gets(&v, F_TUNNEL_HOST), "mx.foreign.example");
	CHECK_INT(geti(&v, F_TUNNEL_PORT), 25);
}

/* ---- the engine ---- */

struct sinkbuf {
	int records, alerts, blocked;
	char last_alert[8192];
};

static void sink_record(void *arg, uint64_t idx, const char *line, size_t len)
{
	struct sinkbuf *s = arg;
	(void)idx;
	s->records++;
	if (memmem(line, len, "\"event_type\":\"alert\"", 20)) {
		s->alerts++;
		if (memmem(line, len, "\"action\":\"blocked\"", 18))
			s->blocked++;
		snprintf(s->last_alert, sizeof(s->last_alert), "%.*s",
			 (int)len, line);
	}
}

static struct ruleset *load(const char *text)
{
	struct rule_source src = { "test.rules", text, strlen(text) };
	struct rule_diags d = {0};
	struct ruleset *rs = ruleset_load_sources(&src, 1, NULL, &d);
	if (!rs)
		rule_diags_print(&d, stdout);
	rule_diags_free(&d);
	return rs;
}

static const char *BLOCK_SMTP =
	"rule t.block-smtp { sid 9000001 on flow.start when dest_port == 25 "
	"action block category \"test\" msg \"block {src_ip}:{src_port}\" }";
static const char *ALERT_ALL =
	"rule t.every-flow { sid 9000002 on flow.start action alert "
	"msg \"flow from {src_ip}\" }";

static struct pkt syn(uint16_t sport, uint16_t dport, uint64_t ts)
{
	struct pkt p;

	memset(&p, 0, sizeof(p));
	p.family = 4;
	memcpy(p.src, CLI, 4);
	memcpy(p.dst, SRV, 4);
	p.sport = sport;
	p.dport = dport;
	p.seq = 1000;
	p.tcp_flags = TCP_SYN;
	p.ts_us = ts;
	p.wire_len = 60;
	return p;
}

static int refs(struct ruleset *rs)
{
	return atomic_load(&rs->refs);
}

TEST(block_rule_drops_the_packet)
{
	struct engine_config cfg;
	struct sinkbuf sb = {0};
	struct engine_output out = { .arg = &sb, .record = sink_record };
	struct ruleset *rs = load(BLOCK_SMTP);

	CHECK(rs != NULL);
	if (!rs)
		return;
	engine_config_default(&cfg);
	cfg.max_flows = 64;
	cfg.max_parsers = 16;
	cfg.reasm_mem = 1 << 20;
	cfg.rules = rs;
	struct engine *e = engine_new(&cfg, &out);
	CHECK(e != NULL);
	if (!e) {
		ruleset_unref(rs);
		return;
	}
	CHECK_INT(refs(rs), 2);               /* ours + the engine's */
	struct pkt p = syn(40001, 25, 1000000);
	CHECK_INT(engine_packet(e, &p), VERDICT_DROP);
	CHECK_INT(sb.alerts, 1);
	CHECK_INT(sb.blocked, 0);              /* passive: "allowed" */
	CHECK(strstr(sb.last_alert, "\"signature_id\":9000001") != NULL);
	CHECK(strstr(sb.last_alert, "\"rule\":\"t.block-smtp\"") != NULL);
	CHECK(strstr(sb.last_alert, "\"rule_action\":\"block\"") != NULL);
	CHECK(strstr(sb.last_alert, "\"signature\":\"block 203.0.113.66:40001\"") != NULL);
	/* the same flow's next packet raises no fact: accepted */
	p.tcp_flags = TCP_ACK;
	p.ts_us += 10;
	CHECK_INT(engine_packet(e, &p), VERDICT_ACCEPT);
	/* another port: no match */
	p = syn(40002, 80, 1000100);
	CHECK_INT(engine_packet(e, &p), VERDICT_ACCEPT);
	CHECK_INT(sb.alerts, 1);
	CHECK_INT(engine_counters(e)->v[CTR_RULE_ALERTS_WRITTEN], 1);
	engine_free(e);
	CHECK_INT(refs(rs), 1);               /* the engine let go */

	/* inline: the alert says what happened */
	cfg.inline_mode = 1;
	memset(&sb, 0, sizeof(sb));
	e = engine_new(&cfg, &out);
	CHECK(e != NULL);
	if (e) {
		p = syn(40003, 25, 2000000);
		CHECK_INT(engine_packet(e, &p), VERDICT_DROP);
		CHECK_INT(sb.blocked, 1);
		engine_free(e);
	}
	ruleset_unref(rs);
}

static const char *BLOCK_RCPT =
	"rule t.block-rcpt { sid 9000003 on smtp.command "
	"when smtp.command == \"RCPT\" action block msg \"rcpt {smtp.rcpt}\" }";

/* one segment of the SMTP test session (client 203.0.113.66:40100) */
static enum verdict seg(struct engine *e, int to_server, uint8_t flags,
			uint32_t seq, uint32_t ack, const char *data,
			uint64_t ts)
{
	static uint64_t index;
	struct pkt p;

	memset(&p, 0, sizeof(p));
	p.family = 4;
	memcpy(p.src, to_server ? CLI : SRV, 4);
	memcpy(p.dst, to_server ? SRV : CLI, 4);
	p.sport = to_server ? 40100 : 25;
	p.dport = to_server ? 25 : 40100;
	p.seq = seq;
	p.ack = ack;
	p.tcp_flags = flags;
	p.payload = (const uint8_t *)data;
	p.payload_len = data ? (uint32_t)strlen(data) : 0;
	p.wire_len = 54 + p.payload_len;
	p.ts_us = ts;
	p.index = ++index;
	return engine_packet(e, &p);
}

/* Inline: the RCPT a block rule decides on drops, and so do its
 * retransmission (old data to the stream, which consumed it) and every
 * later packet of the flow, both ways; passive, the flow goes on. */
static void rcpt_session(int inline_mode, enum verdict v[4], uint64_t *ctr)
{
	struct engine_config cfg;
	struct sinkbuf sb = {0};
	struct engine_output out = { .arg = &sb, .record = sink_record };
	struct ruleset *rs = load(BLOCK_RCPT);
	const char *rcpt = "RCPT TO:<v@foreign.example>\r\n";
	uint32_t c = 1001, s = 5001;   /* next client / server seq */
	uint64_t ts = 1000000;

	CHECK(rs != NULL);
	if (!rs)
		return;
	engine_config_default(&cfg);
	cfg.max_flows = 64;
	cfg.max_parsers = 16;
	cfg.reasm_mem = 1 << 20;
	cfg.rules = rs;
	cfg.inline_mode = inline_mode;
	cfg.checksum = CSUM_OFF;
	struct engine *e = engine_new(&cfg, &out);
	ruleset_unref(rs);
	CHECK(e != NULL);
	if (!e)
		return;
	CHECK_INT(seg(e, 1, TCP_SYN, c - 1, 0, NULL, ts++), VERDICT_ACCEPT);
	CHECK_INT(seg(e, 0, TCP_SYN | TCP_ACK, s - 1, c, NULL, ts++), VERDICT_ACCEPT);
	CHECK_INT(seg(e, 1, TCP_ACK, c, s, NULL, ts++), VERDICT_ACCEPT);
#define S2C(str) do { CHECK_INT(seg(e, 0, TCP_ACK | TCP_PSH, s, c, str, ts++), \
			       VERDICT_ACCEPT); s += (uint32_t)strlen(str); } while (0)
#define C2S(str) do { CHECK_INT(seg(e, 1, TCP_ACK | TCP_PSH, c, s, str, ts++), \
			       VERDICT_ACCEPT); c += (uint32_t)strlen(str); } while (0)
	S2C("220 mx.lan.example ESMTP\r\n");
	C2S("EHLO client.inet.example\r\n");
	S2C("250 mx.lan.example\r\n");
	C2S("MAIL FROM:<a@inet.example>\r\n");
	S2C("250 2.1.0 Ok\r\n");
#undef S2C
#undef C2S
	v[0] = seg(e, 1, TCP_ACK | TCP_PSH, c, s, rcpt, ts++);
	v[1] = seg(e, 1, TCP_ACK | TCP_PSH, c, s, rcpt, ts++);   /* again */
	v[2] = seg(e, 0, TCP_ACK, s, c + (uint32_t)strlen(rcpt), NULL, ts++);
	v[3] = seg(e, 1, TCP_ACK | TCP_PSH, c + (uint32_t)strlen(rcpt), s,
		   "DATA\r\n", ts++);
	CHECK_INT(sb.alerts, 1);
	CHECK_INT(sb.blocked, inline_mode);
	*ctr = engine_counters(e)->v[CTR_INLINE_BLOCKED_FLOW];
	engine_free(e);
}

TEST(blocked_flow_drops_retransmissions)
{
	enum verdict v[4];
	uint64_t n = 99;

	rcpt_session(1, v, &n);
	CHECK_INT(v[0], VERDICT_DROP);
	CHECK_INT(v[1], VERDICT_DROP);    /* the retransmitted RCPT */
	CHECK_INT(v[2], VERDICT_DROP);    /* the server's side too */
	CHECK_INT(v[3], VERDICT_DROP);
	CHECK_INT(n, 3);
	rcpt_session(0, v, &n);
	CHECK_INT(v[0], VERDICT_DROP);    /* the verdict is still computed */
	CHECK_INT(v[1], VERDICT_ACCEPT);  /* passive: the flow goes on */
	CHECK_INT(v[3], VERDICT_ACCEPT);
	CHECK_INT(n, 0);
}

TEST(ruleset_swap_releases_old_sets)
{
	struct engine_config cfg;
	struct sinkbuf sb = {0};
	struct engine_output out = { .arg = &sb, .record = sink_record };
	struct ruleset *a = load(BLOCK_SMTP), *b = load(ALERT_ALL);

	CHECK(a && b);
	if (!a || !b)
		return;
	engine_config_default(&cfg);
	cfg.max_flows = 64;
	cfg.max_parsers = 16;
	cfg.reasm_mem = 1 << 20;
	struct engine *e = engine_new(&cfg, &out);   /* no rules */
	CHECK(e != NULL);
	if (!e)
		return;
	struct pkt p = syn(41001, 25, 1000000);
	CHECK_INT(engine_packet(e, &p), VERDICT_ACCEPT);
	CHECK_INT(sb.alerts, 0);
	CHECK_INT(engine_set_ruleset(e, a), 0);
	p = syn(41002, 25, 1000010);
	CHECK_INT(engine_packet(e, &p), VERDICT_DROP);
	CHECK_INT(refs(a), 3);   /* ours, the published one, the worker's */
	CHECK_INT(engine_set_ruleset(e, b), 0);
	/* retired, but the worker has not acknowledged: both refs held */
	CHECK_INT(refs(a), 3);
	p = syn(41003, 25, 1000020);
	CHECK_INT(engine_packet(e, &p), VERDICT_ACCEPT);   /* b: alert only */
	CHECK(strstr(sb.last_alert, "t.every-flow") != NULL);
	CHECK_INT(refs(a), 2);   /* the worker dropped its own */
	CHECK_INT(engine_set_ruleset(e, NULL), 0);
	CHECK_INT(refs(a), 1);   /* the retired one, reclaimed on publish */
	int before = sb.alerts;
	p = syn(41004, 25, 1000030);
	CHECK_INT(engine_packet(e, &p), VERDICT_ACCEPT);
	CHECK_INT(sb.alerts, before);           /* rules off */
	engine_free(e);
	CHECK_INT(refs(a), 1);
	CHECK_INT(refs(b), 1);
	ruleset_unref(a);
	ruleset_unref(b);
}

/* a worker thread processing packets while another thread swaps sets */
struct race {
	struct engine *e;
	_Atomic int stop;
	_Atomic int packets;
	int drops;
};

static void *race_worker(void *arg)
{
	struct race *r = arg;
	uint64_t ts = 5000000;

	while (!atomic_load(&r->stop)) {
		struct pkt p = syn((uint16_t)(1024 + r->packets % 60000), 25, ts++);
		if (engine_packet(r->e, &p) == VERDICT_DROP)
			r->drops++;
		p.tcp_flags = TCP_RST | TCP_ACK;    /* close it again */
		engine_packet(r->e, &p);
		r->packets++;
	}
	return NULL;
}

TEST(ruleset_swap_while_the_worker_runs)
{
	struct engine_config cfg;
	struct sinkbuf sb = {0};
	struct engine_output out = { .arg = &sb, .record = sink_record };
	struct ruleset *a = load(BLOCK_SMTP), *b = load(ALERT_ALL);
	struct race r = {0};
	pthread_t th;
	int swaps = 0, busy = 0;

	CHECK(a && b);
	if (!a || !b)
		return;
	engine_config_default(&cfg);
	cfg.max_flows = 256;
	cfg.max_parsers = 16;
	cfg.reasm_mem = 1 << 20;
	cfg.rules = a;
	r.e = engine_new(&cfg, &out);
	CHECK(r.e != NULL);
	if (!r.e)
		return;
	pthread_create(&th, NULL, race_worker, &r);
	/* until the worker has handled 20000 packets (or ~5 s) */
	for (long i = 0; atomic_load(&r.packets) < 20000 && i < 5000000; i++) {
		int rc = engine_set_ruleset(r.e, (i & 1) ? a : b);
		if (rc == -EBUSY) {
			busy++;
			sched_yield();
		} else if (rc == 0) {
			swaps++;
		}
	}
	atomic_store(&r.stop, 1);
	pthread_join(th, NULL);
	CHECK(swaps > 0);
	CHECK(r.packets > 0);
	printf("# %d swaps (%d busy), %d packets, %d dropped\n", swaps, busy,
	       atomic_load(&r.packets), r.drops);
	engine_free(r.e);
	CHECK_INT(refs(a), 1);
	CHECK_INT(refs(b), 1);
	ruleset_unref(a);
	ruleset_unref(b);
}

int main(void)
{
	RUN(smtp_command_and_reply_fields);
	RUN(smtp_auth_lines_count_as_auth);
	RUN(http_fields_and_forms);
	RUN(socks_fields);
	RUN(tunnel_fields);
	RUN(block_rule_drops_the_packet);
	RUN(blocked_flow_drops_retransmissions);
	RUN(ruleset_swap_releases_old_sets);
	RUN(ruleset_swap_while_the_worker_runs);
	return t_done();
}
