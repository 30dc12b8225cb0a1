/* test_rules.c - the rule language: parser errors, sets, operators,
 * thresholds, correlation, rate limits, pass, and every shipped rule
 * against synthetic facts (positive and negative).
 *
 * Facts come from a tiny binding over a table of field values (struct tf),
 * the same getter contract the engine's binding implements. Rule texts for
 * the parser tests are inline (short); the shipped rules load from rules/
 * (the tests run from the repository root, or RW_RULES_DIR says where).
 */
#include <errno.h>
#include <stdlib.h>
#include <arpa/inet.h>
#include "t.h"
#include "rules.h"

/* ---- a table-driven binding ---- */

struct tf {
	int has[F__COUNT];
	struct rule_value v[F__COUNT];
	const char *list[F__COUNT][16];
	int nlist[F__COUNT];
	struct rule_fact f;
	struct rule_flow flow;
};

static int tf_get(const void *obj, int id, struct rule_value *out)
{
	const struct tf *t = obj;
	if (id < 0 || id >= F__COUNT || !t->has[id])
		return -ENOENT;
	*out = t->v[id];
	return 0;
}

static int tf_nth(const void *obj, int id, unsigned i, struct rule_value *out)
{
	const struct tf *t = obj;
	if ((int)i >= t->nlist[id])
		return -ENOENT;
	out->s.p = t->list[id][i];
	out->s.n = strlen(t->list[id][i]);
	return 0;
}

static void tf_init(struct tf *t, enum rule_trigger trig, uint64_t ts_s)
{
	memset(t, 0, sizeof(*t));
	t->f.trigger = trig;
	t->f.ts_us = ts_s * 1000000ULL;
	t->f.obj = t;
	t->f.get = tf_get;
	t->f.get_nth = tf_nth;
	t->f.flow = &t->flow;
}

static void tf_ip(struct tf *t, int id, const char *s)
{
	t->has[id] = 1;
	memset(&t->v[id], 0, sizeof(t->v[id]));
	if (inet_pton(AF_INET, s, t->v[id].ip.a) == 1)
		t->v[id].ip.family = 4;
	else if (inet_pton(AF_INET6, s, t->v[id].ip.a) == 1)
		t->v[id].ip.family = 6;
	else
		abort();
}

static void tf_int(struct tf *t, int id, int64_t v)
{
	t->has[id] = 1;
	t->v[id].i = v;
}

static void tf_bool(struct tf *t, int id, int v)
{
	t->has[id] = 1;
	t->v[id].b = v;
}

static void tf_str(struct tf *t, int id, const char *s)
{
	t->has[id] = 1;
	t->v[id].s.p = s;
	t->v[id].s.n = strlen(s);
}

static void tf_conn(struct tf *t, const char *src, int sport, const char *dst,
		    int dport)
{
	tf_ip(t, F_SRC_IP, src);
	tf_ip(t, F_DEST_IP, dst);
	tf_int(t, F_SRC_PORT, sport);
	tf_int(t, F_DEST_PORT, dport);
	tf_bool(t, F_IN_TUNNEL, 0);
}

/* ---- match collection ---- */

#define MAXM 64
struct got {
	int n;
	char id[MAXM][64];
	char msg[MAXM][RULE_MSG_MAX];
	char key[MAXM][RULE_KEY_MAX];
	enum rule_action act[MAXM];
	uint32_t corr_sid[MAXM];
};

static void on_match(void *arg, const struct rule_match *m)
{
	struct got *g = arg;
	if (g->n >= MAXM)
		return;
	snprintf(g->id[g->n], sizeof(g->id[0]), "%s", m->rule->id);
	snprintf(g->msg[g->n], sizeof(g->msg[0]), "%s", m->msg);
	snprintf(g->key[g->n], sizeof(g->key[0]), "%s", m->key);
	g->act[g->n] = m->action;
	g->corr_sid[g->n] = m->corr_sid;
	g->n++;
}

static const char *got_msg(const struct got *g, const char *id)
{
	for (int i = 0; i < g->n; i++)
		if (!strcmp(g->id[i], id))
			return g->msg[i];
	return "";
}

static int got_has(const struct got *g, const char *id)
{
	for (int i = 0; i < g->n; i++)
		if (!strcmp(g->id[i], id))
			return 1;
	return 0;
}

static struct ruleset *load_text(const char *text, const struct rule_vars *v,
				 struct rule_diags *d)
{
	struct rule_source s = { "t.rules", text, strlen(text) };
	return ruleset_load_sources(&s, 1, v, d);
}

static void dump_diags(const struct rule_diags *d)
{
	for (int i = 0; i < d->n; i++)
		printf("#     diag: %s\n", d->msg[i]);
}

/* load text that must be valid; prints diagnostics if not */
static struct ruleset *load_ok(const char *text, const struct rule_vars *v)
{
	struct rule_diags d = { 0 };
	struct ruleset *rs = load_text(text, v, &d);
	if (!rs || d.nerrors)
		dump_diags(&d);
	rule_diags_free(&d);
	return rs;
}

static struct rw_counters ctr;

static struct rule_ctx *new_ctx(void)
{
	memset(&ctr, 0, sizeof(ctr));
	return rule_ctx_new(NULL, &ctr, NULL);
}

static enum rule_action eval(struct rule_ctx *c, const struct ruleset *rs,
			     struct tf *t, struct got *g)
{
	return rule_eval(c, rs, &t->f, on_match, g);
}

/* ---- parser and checker ---- */

TEST(errors_golden)
{
	/* every error, each at its exact position; nothing loads */
	const char *text =
		"rule a.one {\n"                                   /* 1 */
		"  sid 10\n"                                       /* 2 */
		"  on smtp.reply\n"                                /* 3 */
		"  when smtp.reply.code == \"x\"\n"                /* 4 */
		"  action alert\n"                                 /* 5 */
		"  msg \"m {nope}\"\n"                             /* 6 */
		"}\n"                                              /* 7 */
		"rule a.two {\n"                                   /* 8 */
		"  sid 10\n"                                       /* 9 */
		"  on smtp.command\n"                              /* 10 */
		"  when smtp.reply.code > 3 and src_ip in $NOPE\n" /* 11 */
		"  action shout\n"                                 /* 12 */
		"  msg \"x\"\n"                                    /* 13 */
		"}\n"                                              /* 14 */
		"rule a.three {\n"                                 /* 15 */
		"  sid 12 on flow.start action alert msg \"m\"\n"  /* 16 */
		"  when dest_port in [25, 7x] and smtp.helo matches /a(/\n" /* 17 */
		"  ratelimit 1 per 10y\n"                          /* 18 */
		"}\n"                                              /* 19 */
		"set HOME_NET domain [example.com]\n"              /* 20 */
		"set S cidr [10.0.0.0/33, ::1, bogus]\n"           /* 21 */
		"rule a.four { sid 13 on flow.start action alert msg \"y\" after a.none within 5s key src_ip == dest_ip }\n" /* 22 */
		"bogus\n";                                         /* 23 */
	static const char *want[] = {
		"t.rules:4:27: expected a number, found '\"x\"'",
		"t.rules:6:11: unknown field 'nope' in message",
		"t.rules:12:10: unknown action 'shout' (alert, block, pass, note)",
		"t.rules:11:8: field 'smtp.reply.code' is not known on this rule's triggers (it is on: smtp.reply)",
		"t.rules:17:26: '7x': not a number",
		"t.rules:17:55: bad regular expression at offset 2: missing closing parenthesis",
		"t.rules:18:19: bad duration '10y' (a number and a unit: ms, s, m, h, d)",
		"t.rules:17:34: field 'smtp.helo' is not known on this rule's triggers (it is on: smtp.command, smtp.reply, smtp.record)",
		"t.rules:20:14: set 'HOME_NET' is a cidr set",
		"t.rules:21:13: '10.0.0.0/33': prefix length too long",
		"t.rules:21:31: 'bogus': not an IPv4 or IPv6 address",
		"t.rules:23:1: expected 'rule' or 'set', found 'bogus'",
		"t.rules:11:42: unknown set '$NOPE' (known: HOME_NET, TRUSTED_NETS, SMTP_SERVERS, PROXY_SERVERS, LOCAL_DOMAINS, SMTP_PORTS, IRC_PORTS, S)",
		"t.rules:8:6: duplicate sid 10 in rule 'a.two' (also rule 'a.one' at t.rules:1)",
		"t.rules:22:63: 'after' names unknown rule 'a.none'",
	};
	int nwant = (int)(sizeof(want) / sizeof(want[0]));
	struct rule_diags d = { 0 };
	struct ruleset *rs = load_text(text, NULL, &d);
	CHECK(rs == NULL);
	CHECK_INT(d.nerrors, nwant);
	for (int i = 0; i < nwant && i < d.n; i++)
		CHECK_STR(d.msg[i], want[i]);
	if (d.nerrors != nwant)
		dump_diags(&d);
	rule_diags_free(&d);
}

TEST(errors_syntax_recovery)
{
	/* one error per broken statement, the rest of the rule still checked */
	const char *text =
		"rule r1 {\n"
		"  sid 1\n"
		"  on smtp.command\n"
		"  when smtp.command == \"RCPT\" smtp.helo == \"x\"\n"
		"  when smtp.command = \"A\"\n"
		"  severity 4\n"
		"  action alert\n"
		"  msg \"unterminated\n"
		"}\n"
		"rule r2 { sid 2 on smtp.commandx action alert msg \"a\" }\n"
		"rule r3 { sid 3 action alert }\n"
		"rule r4 { sid 4 on flow.start action alert msg \"a\" when smtp.tls\n";
	static const char *want[] = {
		"t.rules:4:31: unexpected 'smtp.helo' after 'when' (missing 'and'/'or'?)",
		"t.rules:5:21: '=' is not an operator here (did you mean '=='?)",
		"t.rules:6:12: a severity (1..3) '4' out of range (1..3)",
		"t.rules:8:7: unterminated string",
		"t.rules:10:20: unknown trigger 'smtp.commandx' (one of: smtp.command, smtp.reply, smtp.record, http.request, http.response, socks.request, socks.reply, tunnel.open, flow.start, flow.end)",
		"t.rules:11:6: rule 'r3' has no 'on'",
		"t.rules:11:6: rule 'r3' has no 'msg' (alert and block rules need one)",
		"t.rules:12:9: rule 'r4': '{' is never closed",
		"t.rules:12:57: field 'smtp.tls' is not known on this rule's triggers (it is on: smtp.command, smtp.reply, smtp.record)",
	};
	int nwant = (int)(sizeof(want) / sizeof(want[0]));
	struct rule_diags d = { 0 };
	struct ruleset *rs = load_text(text, NULL, &d);
	CHECK(rs == NULL);
	CHECK_INT(d.nerrors, nwant);
	for (int i = 0; i < nwant && i < d.n; i++)
		CHECK_STR(d.msg[i], want[i]);
	if (d.nerrors != nwant)
		dump_diags(&d);
	rule_diags_free(&d);
}

TEST(never_half_loads)
{
	const char *text =
		"rule good { sid 1 on flow.start action alert msg \"g\" }\n"
		"rule bad { sid 2 on flow.start action alert msg \"b\" when dest_port > x }\n";
	struct rule_diags d = { 0 };
	struct ruleset *rs = load_text(text, NULL, &d);
	CHECK(rs == NULL);
	CHECK_INT(d.nerrors, 1);
	rule_diags_free(&d);
}

static const char *rules_dir(void)
{
	const char *e = getenv("RW_RULES_DIR");
	return e ? e : "rules";
}

TEST(shipped_rules_load_with_warnings)
{
	struct rule_diags d = { 0 };
	struct ruleset *rs = ruleset_load(rules_dir(), NULL, &d);
	CHECK(rs != NULL);
	CHECK_INT(d.nerrors, 0);
	/* the four sets an admin must fill, each named with what to set */
	CHECK_INT(d.nwarnings, 4);
	int seen = 0;
	for (int i = 0; i < d.n; i++)
		if (strstr(d.msg[i], "--set TRUSTED_NETS=") ||
		    strstr(d.msg[i], "--set SMTP_SERVERS=") ||
		    strstr(d.msg[i], "--set PROXY_SERVERS=") ||
		    strstr(d.msg[i], "--set LOCAL_DOMAINS="))
			seen++;
	CHECK_INT(seen, 4);
	if (d.nerrors)
		dump_diags(&d);
	static const char *ids[] = {
		"relay.open", "relay.attempt", "relay.confirmed", "relay.probe",
		"proxy.open.http", "proxy.open.socks", "proxy.smtp-tunnel",
		"proxy.egress", "proxy.probe", "smtp.outbound.unauthorized",
		"smtp.fanout", "smtp.dictionary", "smtp.blocklisted",
		"smtp.auth.bruteforce",
	};
	for (size_t i = 0; rs && i < sizeof(ids) / sizeof(ids[0]); i++) {
		int k = ruleset_find(rs, ids[i]);
		CHECK(k >= 0);
		if (k < 0)
			printf("#     missing rule %s\n", ids[i]);
	}
	rule_diags_free(&d);
	ruleset_unref(rs);
}

TEST(missing_path_is_an_error)
{
	struct rule_diags d = { 0 };
	CHECK(ruleset_load("/nonexistent/x.rules", NULL, &d) == NULL);
	CHECK_INT(d.nerrors, 1);
	CHECK(d.n == 1 && strstr(d.msg[0], "/nonexistent/x.rules:0:0: cannot open") == d.msg[0]);
	rule_diags_free(&d);
}

/* ---- sets ---- */

static int has_ip(const struct rule_set *s, const char *a)
{
	struct rule_ip ip = { 0 };
	if (inet_pton(AF_INET, a, ip.a) == 1)
		ip.family = 4;
	else if (inet_pton(AF_INET6, a, ip.a) == 1)
		ip.family = 6;
	return rule_set_has_ip(s, &ip);
}

TEST(sets_cidr_v4_v6_and_defaults)
{
	struct ruleset *rs = load_ok(
		"set NETS cidr [192.0.2.0/24, 198.51.100.7, 10.1.0.0/16, 10.0.0.0/8,"
		" 2001:db8::/32, ::1, 0.0.0.0/0]\n"
		"set NARROW cidr [203.0.113.128/25, 2001:db8:1::/48]\n", NULL);
	CHECK(rs != NULL);
	if (!rs)
		return;
	const struct rule_set *h = ruleset_set(rs, "HOME_NET");
	CHECK(has_ip(h, "10.2.3.4"));
	CHECK(has_ip(h, "172.31.255.255"));
	CHECK(!has_ip(h, "172.32.0.0"));
	CHECK(has_ip(h, "192.168.0.1"));
	CHECK(!has_ip(h, "8.8.8.8"));
	CHECK(has_ip(h, "fd12:3456::1"));   /* ULA */
	CHECK(!has_ip(h, "2001:db8::1"));
	CHECK(has_ip(h, "::ffff:10.0.0.1")); /* v4-mapped counts as v4 */
	const struct rule_set *n = ruleset_set(rs, "NARROW");
	CHECK(!has_ip(n, "203.0.113.127"));
	CHECK(has_ip(n, "203.0.113.128"));
	CHECK(has_ip(n, "203.0.113.255"));
	CHECK(!has_ip(n, "203.0.114.0"));
	CHECK(has_ip(n, "2001:db8:1:ffff::1"));
	CHECK(!has_ip(n, "2001:db8:2::1"));
	const struct rule_set *all = ruleset_set(rs, "NETS");
	CHECK(has_ip(all, "1.2.3.4"));       /* 0.0.0.0/0 */
	CHECK(has_ip(all, "::1"));
	CHECK(!has_ip(all, "::2"));
	CHECK(all->n4 == 1);                 /* merged into one interval */
	CHECK(ruleset_set(rs, "TRUSTED_NETS")->nitems == 0);
	ruleset_unref(rs);
}

TEST(sets_domain_string_port)
{
	struct ruleset *rs = load_ok(
		"set DOMS domain [example.com, *.Example.ORG, .net.example]\n"
		"set STRS string [\"Foo\", bar]\n"
		"set PORTS port [25, 1000-2000, 1500-2500, 8080]\n", NULL);
	CHECK(rs != NULL);
	if (!rs)
		return;
	const struct rule_set *d = ruleset_set(rs, "DOMS");
	CHECK(rule_set_has_str(d, "example.com", 11));
	CHECK(rule_set_has_str(d, "MX.Example.Com", 14));
	CHECK(rule_set_has_str(d, "a.b.example.com.", 16));
	CHECK(!rule_set_has_str(d, "notexample.com", 14));
	CHECK(!rule_set_has_str(d, "example.co", 10));
	CHECK(rule_set_has_str(d, "x.example.org", 13));
	CHECK(rule_set_has_str(d, "net.example", 11));
	const struct rule_set *s = ruleset_set(rs, "STRS");
	CHECK(rule_set_has_str(s, "foo", 3));
	CHECK(rule_set_has_str(s, "BAR", 3));
	CHECK(!rule_set_has_str(s, "fo", 2));
	CHECK(!rule_set_has_str(s, "x.foo", 5));
	const struct rule_set *p = ruleset_set(rs, "PORTS");
	CHECK(rule_set_has_int(p, 25));
	CHECK(!rule_set_has_int(p, 26));
	CHECK(rule_set_has_int(p, 1000));
	CHECK(rule_set_has_int(p, 2500));
	CHECK(!rule_set_has_int(p, 2501));
	CHECK(rule_set_has_int(p, 8080));
	CHECK_INT(p->nints, 3);
	ruleset_unref(rs);
}

TEST(sets_override_from_command_line)
{
	struct rule_vars v = { 0 };
	CHECK_INT(rule_vars_parse_arg(&v, "TRUSTED_NETS=192.0.2.0/24, 2001:db8::/32", 1), 0);
	CHECK_INT(rule_vars_parse_arg(&v, "HOME_NET=203.0.113.0/24", 2), 0);
	CHECK_INT(rule_vars_parse_arg(&v, "MYSET=a.example", 3), 0);
	CHECK_INT(rule_vars_parse_arg(&v, "noequals", 4), -EINVAL);
	/* the file's definition of MYSET is overridden too */
	struct ruleset *rs = load_ok("set MYSET domain [b.example]\n"
				     "set HOME_NET cidr [10.0.0.0/8]\n", &v);
	CHECK(rs != NULL);
	if (rs) {
		CHECK(has_ip(ruleset_set(rs, "TRUSTED_NETS"), "192.0.2.9"));
		CHECK(has_ip(ruleset_set(rs, "TRUSTED_NETS"), "2001:db8::9"));
		CHECK(has_ip(ruleset_set(rs, "HOME_NET"), "203.0.113.1"));
		CHECK(!has_ip(ruleset_set(rs, "HOME_NET"), "10.0.0.1"));
		CHECK(rule_set_has_str(ruleset_set(rs, "MYSET"), "x.a.example", 11));
		CHECK(!rule_set_has_str(ruleset_set(rs, "MYSET"), "b.example", 9));
	}
	ruleset_unref(rs);
	/* bad values and unknown names: errors with the argument's position */
	struct rule_vars bad = { 0 };
	rule_vars_parse_arg(&bad, "TRUSTED_NETS=10.0.0.0/8,300.1.1.1", 1);
	rule_vars_parse_arg(&bad, "NOSUCH=1", 2);
	rule_vars_set(&bad, "SMTP_PORTS", "25,x", "relaywatch.conf", 7);
	struct rule_diags d = { 0 };
	rs = load_text("", &bad, &d);
	CHECK(rs == NULL);
	CHECK_INT(d.nerrors, 3);
	if (d.n == 3) {
		CHECK_STR(d.msg[0], "--set:1:25: '300.1.1.1' in set TRUSTED_NETS: not an IPv4 or IPv6 address");
		CHECK(strstr(d.msg[1], "--set:2:1: unknown set 'NOSUCH'") == d.msg[1]);
		CHECK_STR(d.msg[2], "relaywatch.conf:7:15: 'x' in set SMTP_PORTS: not a number");
	} else {
		dump_diags(&d);
	}
	rule_diags_free(&d);
	/* an empty value empties a set */
	struct rule_vars e = { 0 };
	rule_vars_parse_arg(&e, "HOME_NET=", 1);
	d = (struct rule_diags){ 0 };
	rs = load_text("", &e, &d);
	CHECK(rs && ruleset_set(rs, "HOME_NET")->nitems == 0);
	CHECK_INT(d.nwarnings, 5);  /* HOME_NET now warns too */
	ruleset_unref(rs);
	rule_diags_free(&d);
	rule_vars_free(&v);
	rule_vars_free(&bad);
	rule_vars_free(&e);
}

/* ---- operators ---- */

/* one rule "t" with the given condition on smtp.reply; does it match? */
static int cond(const char *when, struct tf *t)
{
	char text[2048];
	snprintf(text, sizeof(text),
		 "set DOMS domain [example.com]\n"
		 "rule t { sid 1 on smtp.reply action alert msg \"m\" when %s }\n",
		 when);
	struct ruleset *rs = load_ok(text, NULL);
	if (!rs) {
		printf("#     rule did not load: %s\n", when);
		return -1;
	}
	struct rule_ctx *c = new_ctx();
	struct got g = { 0 };
	enum rule_action a = eval(c, rs, t, &g);
	rule_ctx_free(c);
	ruleset_unref(rs);
	return a == RA_ALERT && g.n == 1;
}

TEST(operators)
{
	struct tf t;
	tf_init(&t, TRIG_SMTP_REPLY, 1000);
	tf_conn(&t, "198.51.100.9", 40000, "10.0.0.25", 25);
	tf_str(&t, F_SMTP_COMMAND, "RCPT");
	tf_str(&t, F_SMTP_RCPT, "Bob@Mail.Example.COM");
	tf_str(&t, F_SMTP_HELO, "nmap.scanme.org");
	tf_int(&t, F_SMTP_REPLY_CODE, 250);
	tf_str(&t, F_SMTP_REPLY_TEXT, "2.1.5 Ok");
	tf_bool(&t, F_SMTP_TLS, 1);
	tf_bool(&t, F_SMTP_AUTHENTICATED, 0);
	t.list[F_SMTP_RCPT_TO][0] = "a@local.test";
	t.list[F_SMTP_RCPT_TO][1] = "b@foreign.test";
	t.nlist[F_SMTP_RCPT_TO] = 2;

	CHECK_INT(cond("smtp.command == \"RCPT\"", &t), 1);
	CHECK_INT(cond("smtp.command == \"rcpt\"", &t), 0);     /* == is exact */
	CHECK_INT(cond("smtp.command is \"rcpt\"", &t), 1);     /* is: any case */
	CHECK_INT(cond("smtp.command != \"MAIL\"", &t), 1);
	CHECK_INT(cond("smtp.reply.code == 250", &t), 1);
	CHECK_INT(cond("smtp.reply.code >= 250 and smtp.reply.code < 251", &t), 1);
	CHECK_INT(cond("smtp.reply.code > 250", &t), 0);
	CHECK_INT(cond("smtp.reply.code <= 249", &t), 0);
	CHECK_INT(cond("smtp.reply.class == 2", &t), 1);
	CHECK_INT(cond("smtp.reply.code in [200-299, 354]", &t), 1);
	CHECK_INT(cond("smtp.reply.code not in [500-599]", &t), 1);
	CHECK_INT(cond("src_ip == 198.51.100.9", &t), 1);
	CHECK_INT(cond("src_ip != 198.51.100.9", &t), 0);
	CHECK_INT(cond("src_ip in [198.51.100.0/24]", &t), 1);
	CHECK_INT(cond("dest_ip in $HOME_NET and src_ip not in $HOME_NET", &t), 1);
	CHECK_INT(cond("direction == \"inbound\"", &t), 1);
	CHECK_INT(cond("smtp.rcpt.domain in $DOMS", &t), 1);    /* suffix, any case */
	CHECK_INT(cond("smtp.rcpt.domain in [\"example.com\"]", &t), 0); /* exact */
	CHECK_INT(cond("smtp.rcpt.domain in [\"mail.example.com\"]", &t), 1);
	CHECK_INT(cond("smtp.rcpt starts_with \"bob@\"", &t), 1);
	CHECK_INT(cond("smtp.rcpt ends_with \".com\"", &t), 1);
	CHECK_INT(cond("smtp.rcpt contains \"MAIL.example\"", &t), 1);
	CHECK_INT(cond("smtp.rcpt contains \"zzz\"", &t), 0);
	CHECK_INT(cond("smtp.rcpt matches /^bob@mail\\./i", &t), 1);
	CHECK_INT(cond("smtp.rcpt matches /^bob@mail\\./", &t), 0);   /* case */
	CHECK_INT(cond("smtp.reply.text matches /\\d\\.\\d\\.\\d/", &t), 1);
	CHECK_INT(cond("smtp.tls and not smtp.authenticated", &t), 1);
	CHECK_INT(cond("smtp.tls == false", &t), 0);
	CHECK_INT(cond("not (smtp.tls or smtp.authenticated)", &t), 0);
	CHECK_INT(cond("smtp.helo exists and not smtp.mail_from exists", &t), 1);
	/* absent fields: every predicate is false, so its negation is true */
	CHECK_INT(cond("smtp.mail_from == \"x\"", &t), 0);
	CHECK_INT(cond("smtp.mail_from != \"x\"", &t), 0);
	CHECK_INT(cond("not smtp.mail_from == \"x\"", &t), 1);
	CHECK_INT(cond("smtp.auth.ok", &t), 0);
	/* lists: true if any element matches */
	CHECK_INT(cond("smtp.rcpt_to.domain == \"foreign.test\"", &t), 1);
	CHECK_INT(cond("smtp.rcpt_to.domain not in [\"local.test\"]", &t), 1);
	CHECK_INT(cond("not smtp.rcpt_to.domain in [\"nope.test\"]", &t), 1);
	CHECK_INT(cond("smtp.rcpt_to.count == 2", &t), 1);
	CHECK_INT(cond("smtp.rcpt_to matches /^b@/", &t), 1);
	/* precedence: and binds tighter than or */
	CHECK_INT(cond("smtp.tls or smtp.authenticated and smtp.reply.code == 1", &t), 1);
	CHECK_INT(cond("(smtp.tls or smtp.authenticated) and smtp.reply.code == 1", &t), 0);
	/* IPv6 */
	tf_ip(&t, F_SRC_IP, "2001:db8::5");
	CHECK_INT(cond("src_ip in [2001:db8::/64] and src_ip == 2001:db8::5", &t), 1);
	CHECK_INT(cond("src_ip in [2001:db8:1::/48]", &t), 0);
}

TEST(operator_type_errors)
{
	static const struct { const char *when; const char *err; } cases[] = {
		{ "src_ip > 3", "t.rules:2:63: operator '>' does not apply to an ip field 'src_ip'" },
		{ "smtp.helo matches \"x\"", "t.rules:2:74: expected a regular expression /.../ after 'matches'" },
		{ "smtp.helo", "t.rules:2:56: field 'smtp.helo' is a string: compare it (==, in, matches, ...)" },
		{ "smtp.reply.code is \"x\"", "t.rules:2:72: operator 'is' does not apply to an int field 'smtp.reply.code'" },
		{ "src_ip in $DOMS", "t.rules:2:66: set '$DOMS' is a domain set: it cannot hold ip field 'src_ip'" },
		{ "src_ip == 10.0.0.0/8", "t.rules:2:66: expected an IP address, found '10.0.0.0/8' (for a network use 'in [a.b.c.d/n]')" },
		{ "smtp.helo == x", "t.rules:2:69: expected a quoted string, found 'x'" },
		{ "smtp.tls == yes", "t.rules:2:68: expected true or false, found 'yes'" },
		{ "smtp.helo matches /x/q", "t.rules:2:77: unknown regex flag 'q' (i, s, m, x)" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[512];
		snprintf(text, sizeof(text),
			 "set DOMS domain [example.com]\n"
			 "rule t { sid 1 on smtp.reply action alert msg \"m\" when %s }\n",
			 cases[i].when);
		struct rule_diags d = { 0 };
		struct ruleset *rs = load_text(text, NULL, &d);
		CHECK(rs == NULL);
		CHECK(d.n >= 1);
		if (d.n >= 1)
			CHECK_STR(d.msg[0], cases[i].err);
		ruleset_unref(rs);
		rule_diags_free(&d);
	}
}

TEST(template_rendering)
{
	struct ruleset *rs = load_ok(
		"rule t { sid 1 on smtp.reply action alert\n"
		"  msg \"{{x}} {src_ip}:{dest_port} rcpt={smtp.rcpt} from={smtp.mail_from} to={smtp.rcpt_to} tls={smtp.tls} {smtp.mail_from.domain}\" }\n",
		NULL);
	CHECK(rs != NULL);
	if (!rs)
		return;
	struct tf t;
	tf_init(&t, TRIG_SMTP_REPLY, 1);
	tf_conn(&t, "2001:db8::1", 1, "10.0.0.1", 25);
	tf_str(&t, F_SMTP_RCPT, "a@b");
	tf_bool(&t, F_SMTP_TLS, 0);
	t.list[F_SMTP_RCPT_TO][0] = "a@b";
	t.list[F_SMTP_RCPT_TO][1] = "c@d";
	t.nlist[F_SMTP_RCPT_TO] = 2;
	struct rule_ctx *c = new_ctx();
	char buf[RULE_MSG_MAX];
	rule_render(c, rs, &rs->rules[0], &t.f, buf, sizeof(buf));
	CHECK_STR(buf, "{x} 2001:db8::1:25 rcpt=a@b from=- to=a@b,c@d tls=false -");
	/* truncation keeps the buffer terminated */
	char small[8];
	CHECK_INT(rule_render(c, rs, &rs->rules[0], &t.f, small, sizeof(small)), 7);
	CHECK_STR(small, "{x} 200");
	rule_ctx_free(c);
	ruleset_unref(rs);
}

/* ---- thresholds, correlation, rate limits, pass ---- */

TEST(threshold_count_window)
{
	struct ruleset *rs = load_ok(
		"rule t { sid 7 on smtp.command action alert msg \"n={src_ip}\"\n"
		"  when smtp.command == \"RCPT\"\n"
		"  threshold count by src_ip > 3 within 10s }\n", NULL);
	CHECK(rs != NULL);
	if (!rs)
		return;
	struct rule_ctx *c = new_ctx();
	struct tf t;
	struct got g = { 0 };
	int fired_at[16] = { 0 };
	/* 4 RCPTs at t=0..3 from A: the 4th exceeds 3 -> one alert */
	for (int i = 0; i < 8; i++) {
		tf_init(&t, TRIG_SMTP_COMMAND, 100 + (uint64_t)i);
		tf_conn(&t, "198.51.100.1", 1, "10.0.0.1", 25);
		tf_str(&t, F_SMTP_COMMAND, "RCPT");
		int before = g.n;
		eval(c, rs, &t, &g);
		fired_at[i] = g.n > before;
	}
	CHECK(!fired_at[0] && !fired_at[1] && !fired_at[2]);
	CHECK(fired_at[3]);               /* the 4th */
	CHECK(!fired_at[4] && !fired_at[7]); /* once per window */
	CHECK_STR(g.key[0], "198.51.100.1");
	/* another key counts on its own */
	for (int i = 0; i < 3; i++) {
		tf_init(&t, TRIG_SMTP_COMMAND, 105);
		tf_conn(&t, "198.51.100.2", 1, "10.0.0.1", 25);
		tf_str(&t, F_SMTP_COMMAND, "RCPT");
		eval(c, rs, &t, &g);
	}
	CHECK_INT(g.n, 1);
	/* other commands don't count */
	tf_init(&t, TRIG_SMTP_COMMAND, 105);
	tf_conn(&t, "198.51.100.2", 1, "10.0.0.1", 25);
	tf_str(&t, F_SMTP_COMMAND, "MAIL");
	eval(c, rs, &t, &g);
	CHECK_INT(g.n, 1);
	/* after the window (opened at t=100, 10 s) A starts over */
	for (int i = 0; i < 4; i++) {
		tf_init(&t, TRIG_SMTP_COMMAND, 111 + (uint64_t)i);
		tf_conn(&t, "198.51.100.1", 1, "10.0.0.1", 25);
		tf_str(&t, F_SMTP_COMMAND, "RCPT");
		eval(c, rs, &t, &g);
		CHECK_INT(g.n, i == 3 ? 2 : 1);
	}
	/* spread out: 4 RCPTs, each 6 s apart never reach 4 in one window
	 * (windows start at t=200 and t=212) */
	struct got g2 = { 0 };
	for (int i = 0; i < 4; i++) {
		tf_init(&t, TRIG_SMTP_COMMAND, 200 + 6 * (uint64_t)i);
		tf_conn(&t, "198.51.100.3", 1, "10.0.0.1", 25);
		tf_str(&t, F_SMTP_COMMAND, "RCPT");
		eval(c, rs, &t, &g2);
	}
	CHECK_INT(g2.n, 0);
	rule_ctx_free(c);
	ruleset_unref(rs);
}

TEST(threshold_distinct)
{
	struct ruleset *rs = load_ok(
		"rule t { sid 8 on smtp.command action alert msg \"d\"\n"
		"  when smtp.command == \"RCPT\"\n"
		"  threshold distinct smtp.rcpt.domain by src_ip >= 3 within 60s }\n", NULL);
	CHECK(rs != NULL);
	if (!rs)
		return;
	struct rule_ctx *c = new_ctx();
	static const char *rcpts[] = { "a@one.test", "b@ONE.test", "c@one.test",
				       "a@two.test", "x@two.test", "z@three.test",
				       "q@four.test" };
	struct got g = { 0 };
	int fired = -1;
	for (int i = 0; i < 7; i++) {
		struct tf t;
		tf_init(&t, TRIG_SMTP_COMMAND, 10 + (uint64_t)i);
		tf_conn(&t, "198.51.100.1", 1, "10.0.0.1", 25);
		tf_str(&t, F_SMTP_COMMAND, "RCPT");
		tf_str(&t, F_SMTP_RCPT, rcpts[i]);
		eval(c, rs, &t, &g);
		if (g.n && fired < 0)
			fired = i;
	}
	CHECK_INT(fired, 5);   /* the third distinct domain (case-folded) */
	CHECK_INT(g.n, 1);
	rule_ctx_free(c);
	ruleset_unref(rs);
}

TEST(state_tables_are_bounded)
{
	struct ruleset *rs = load_ok(
		"rule t { sid 9 on flow.start action alert msg \"x\"\n"
		"  threshold count by src_port > 1 within 1h }\n", NULL);
	CHECK(rs != NULL);
	if (!rs)
		return;
	struct rule_ctx_config cfg;
	rule_ctx_config_default(&cfg);
	cfg.threshold_entries = 16;
	memset(&ctr, 0, sizeof(ctr));
	struct rule_ctx *c = rule_ctx_new(&cfg, &ctr, NULL);
	struct got g = { 0 };
	for (int i = 0; i < 1000; i++) {
		struct tf t;
		tf_init(&t, TRIG_FLOW_START, 1);
		tf_conn(&t, "198.51.100.1", 1000 + i, "10.0.0.1", 25);
		eval(c, rs, &t, &g);
	}
	CHECK(ctr.v[CTR_RULE_THR_EVICT] >= 1000 - 16);
	CHECK_INT(g.n, 0);
	rule_ctx_free(c);
	ruleset_unref(rs);
}

TEST(ratelimit)
{
	struct ruleset *rs = load_ok(
		"rule t { sid 10 on flow.start action block msg \"x\"\n"
		"  ratelimit 2 per 1m by dest_ip }\n", NULL);
	CHECK(rs != NULL);
	if (!rs)
		return;
	struct rule_ctx *c = new_ctx();
	struct got g = { 0 };
	enum rule_action last = RA_NONE;
	for (int i = 0; i < 5; i++) {
		struct tf t;
		tf_init(&t, TRIG_FLOW_START, 1000 + (uint64_t)i);
		tf_conn(&t, "198.51.100.1", 1000 + i, "10.0.0.1", 25);
		last = eval(c, rs, &t, &g);
	}
	CHECK_INT(g.n, 2);
	CHECK_INT(last, RA_BLOCK);  /* the verdict stands even when silenced */
	CHECK_INT(ctr.v[CTR_RULE_SUPP_RATE], 3);
	CHECK_INT(g.act[0], RA_BLOCK);
	/* another key, and the same key after the window */
	struct tf t;
	tf_init(&t, TRIG_FLOW_START, 1005);
	tf_conn(&t, "198.51.100.1", 1, "10.0.0.2", 25);
	eval(c, rs, &t, &g);
	CHECK_INT(g.n, 3);
	tf_init(&t, TRIG_FLOW_START, 1061);
	tf_conn(&t, "198.51.100.1", 1, "10.0.0.1", 25);
	eval(c, rs, &t, &g);
	CHECK_INT(g.n, 4);
	rule_ctx_free(c);
	ruleset_unref(rs);
}

static int turns;

static void count_turn(void *arg)
{
	(void)arg;
	turns++;
}

/* Two workers' contexts over one rule_state: a client's facts split across
 * them still cross the threshold once, a rate limit holds across both, and
 * an "after" rule on one sees the match remembered by the other. A
 * context with its own state sees none of it. */
TEST(shared_state_across_contexts)
{
	struct ruleset *rs = load_ok(
		"rule thr { sid 30 on smtp.command action alert msg \"t\"\n"
		"  when smtp.command == \"RCPT\"\n"
		"  threshold count by src_ip > 3 within 10s }\n"
		"rule rl { sid 31 on flow.start action alert msg \"r\"\n"
		"  when dest_port == 80 ratelimit 1 per 1m by src_ip }\n"
		"rule a { sid 32 on flow.start action note\n"
		"  when dest_port == 3128 }\n"
		"rule b { sid 33 on flow.start action alert msg \"b\"\n"
		"  when dest_port == 25\n"
		"  after a within 30s key (dest_ip) == (src_ip) }\n", NULL);
	CHECK(rs != NULL);
	if (!rs)
		return;
	memset(&ctr, 0, sizeof(ctr));
	struct rule_state *st = rule_state_new(NULL);
	struct rule_ctx *w[2] = { rule_ctx_new(NULL, &ctr, st),
				  rule_ctx_new(NULL, &ctr, st) };
	struct rule_ctx *alone = rule_ctx_new(NULL, &ctr, NULL);
	CHECK(st && w[0] && w[1] && alone);
	if (!st || !w[0] || !w[1] || !alone)
		return;
	rule_ctx_set_turn(w[0], count_turn, NULL);
	rule_ctx_set_turn(w[1], count_turn, NULL);
	turns = 0;
	struct got g = { 0 };
	struct tf t;
	int fired_at = -1;
	for (int i = 0; i < 6; i++) {      /* RCPTs alternate between them */
		int before = g.n;
		tf_init(&t, TRIG_SMTP_COMMAND, 100 + (uint64_t)i);
		tf_conn(&t, "198.51.100.1", 1000 + i, "10.0.0.1", 25);
		tf_str(&t, F_SMTP_COMMAND, "RCPT");
		eval(w[i & 1], rs, &t, &g);
		if (g.n > before && fired_at < 0)
			fired_at = i;
	}
	CHECK_INT(fired_at, 3);            /* the 4th overall, not per context */
	CHECK_INT(g.n, 1);
	CHECK(turns >= 6);                 /* a turn before each stateful step */
	/* rate limit: one alert per minute whichever context sees the flow */
	struct got gr = { 0 };
	for (int i = 0; i < 4; i++) {
		tf_init(&t, TRIG_FLOW_START, 200 + (uint64_t)i);
		tf_conn(&t, "198.51.100.2", 2000 + i, "10.0.0.80", 80);
		eval(w[i & 1], rs, &t, &gr);
	}
	CHECK_INT(gr.n, 1);
	/* correlation: the proxy request on one, the egress on the other */
	struct got gc = { 0 };
	tf_init(&t, TRIG_FLOW_START, 300);
	tf_conn(&t, "198.51.100.3", 3000, "10.0.0.5", 3128);
	eval(w[0], rs, &t, &gc);
	tf_init(&t, TRIG_FLOW_START, 301);
	tf_conn(&t, "10.0.0.5", 4000, "203.0.113.1", 25);
	eval(alone, rs, &t, &gc);
	CHECK_INT(gc.n, 0);                /* its own state: no earlier match */
	eval(w[1], rs, &t, &gc);
	CHECK_INT(gc.n, 1);
	CHECK(gc.n == 1 && gc.corr_sid[0] == 32);
	rule_ctx_free(w[0]);
	rule_ctx_free(w[1]);
	rule_ctx_free(alone);
	rule_state_free(st);
	ruleset_unref(rs);
}

TEST(pass_suppresses_later_rules_for_the_flow)
{
	struct ruleset *rs = load_ok(
		"rule a { sid 1 on smtp.command, smtp.reply action alert msg \"a\" when smtp.command exists }\n"
		"rule p { sid 2 on smtp.command action pass when smtp.helo is \"scanner.ours\" }\n"
		"rule n { sid 3 on smtp.command action note }\n"
		"rule a2 { sid 4 on smtp.reply, smtp.command action alert msg \"a2\" }\n"
		"rule b { sid 5 after n within 1m key src_ip == src_ip on smtp.reply action block msg \"b\" }\n",
		NULL);
	CHECK(rs != NULL);
	if (!rs)
		return;
	struct rule_ctx *c = new_ctx();
	struct got g = { 0 };
	struct tf t;
	/* a flow without the pass: a, a2 fire; the note feeds b on the reply */
	tf_init(&t, TRIG_SMTP_COMMAND, 1);
	tf_conn(&t, "198.51.100.1", 1, "10.0.0.1", 25);
	tf_str(&t, F_SMTP_COMMAND, "EHLO");
	tf_str(&t, F_SMTP_HELO, "x");
	CHECK_INT(eval(c, rs, &t, &g), RA_ALERT);
	CHECK_INT(g.n, 2);
	t.f.trigger = TRIG_SMTP_REPLY;
	CHECK_INT(eval(c, rs, &t, &g), RA_BLOCK);
	CHECK(got_has(&g, "b"));
	/* the pass rule runs first: nothing else fires, now or later */
	struct got g2 = { 0 };
	tf_init(&t, TRIG_SMTP_COMMAND, 2);
	tf_conn(&t, "198.51.100.2", 1, "10.0.0.1", 25);
	tf_str(&t, F_SMTP_COMMAND, "EHLO");
	tf_str(&t, F_SMTP_HELO, "SCANNER.ours");
	CHECK_INT(eval(c, rs, &t, &g2), RA_PASS);
	CHECK_INT(g2.n, 0);
	CHECK_INT(t.flow.pass_sid, 2);
	t.f.trigger = TRIG_SMTP_REPLY;
	tf_str(&t, F_SMTP_HELO, "other");
	CHECK_INT(eval(c, rs, &t, &g2), RA_PASS);
	CHECK_INT(g2.n, 0);
	CHECK(ctr.v[CTR_RULE_SUPP_PASS] >= 1);
	rule_ctx_free(c);
	ruleset_unref(rs);
}

/* ---- the shipped rules ---- */

static struct ruleset *shipped;
static struct rule_ctx *sctx;

static void shipped_setup(void)
{
	struct rule_vars v = { 0 };
	rule_vars_parse_arg(&v, "HOME_NET=10.0.0.0/8,192.168.0.0/16,fd00::/8", 1);
	rule_vars_parse_arg(&v, "TRUSTED_NETS=192.168.1.0/24", 2);
	rule_vars_parse_arg(&v, "SMTP_SERVERS=10.0.0.25", 3);
	rule_vars_parse_arg(&v, "LOCAL_DOMAINS=example.com", 4);
	struct rule_diags d = { 0 };
	shipped = ruleset_load(rules_dir(), &v, &d);
	if (!shipped)
		dump_diags(&d);
	rule_diags_free(&d);
	rule_vars_free(&v);
}

/* fresh state per case so cases don't feed each other */
static struct got run1(struct tf *t)
{
	struct got g = { 0 };
	rule_ctx_free(sctx);
	memset(&ctr, 0, sizeof(ctr));
	sctx = rule_ctx_new(NULL, &ctr, NULL);
	if (shipped)
		rule_eval(sctx, shipped, &t->f, on_match, &g);
	return g;
}

static void rcpt_reply(struct tf *t, const char *client, const char *rcpt,
		       int code)
{
	tf_init(t, TRIG_SMTP_REPLY, 1000);
	tf_conn(t, client, 40000, "10.0.0.25", 25);
	tf_str(t, F_SMTP_COMMAND, "RCPT");
	tf_str(t, F_SMTP_HELO, "client.example.net");
	tf_str(t, F_SMTP_MAIL_FROM, "someone@example.net");
	tf_str(t, F_SMTP_RCPT, rcpt);
	tf_int(t, F_SMTP_REPLY_CODE, code);
	tf_str(t, F_SMTP_REPLY_TEXT, code < 300 ? "2.1.5 Ok" : "5.7.1 Relaying denied");
	tf_bool(t, F_SMTP_AUTHENTICATED, 0);
	tf_bool(t, F_SMTP_TLS, 0);
}

TEST(verb_index_runs_only_matching_rules)
{
	/* rules guarded by smtp.command == "X" run only for that verb;
	 * unguarded and negated tests run for every verb, in file order */
	const char *text =
		"rule v.rcpt { sid 1 on smtp.reply when smtp.command == \"RCPT\" "
		"and smtp.reply.code == 250 action alert msg \"r\" }\n"
		"rule v.any { sid 2 on smtp.reply when smtp.reply.code == 250 "
		"action alert msg \"a\" }\n"
		"rule v.mail { sid 3 on smtp.reply when smtp.reply.code == 250 and "
		"smtp.command == \"MAIL\" action alert msg \"m\" }\n"
		"rule v.notrcpt { sid 4 on smtp.reply when smtp.command != \"RCPT\" "
		"action alert msg \"n\" }\n"
		"rule v.either { sid 5 on smtp.reply when smtp.command == \"RCPT\" "
		"or smtp.command == \"MAIL\" action alert msg \"e\" }\n";
	struct ruleset *rs = load_ok(text, NULL);
	struct rule_ctx *c = new_ctx();
	struct got g;
	struct tf t;

	CHECK(rs != NULL);
	if (!rs)
		return;
	CHECK_INT(rs->by_verb[TRIG_SMTP_REPLY].nverbs, 2);
	tf_init(&t, TRIG_SMTP_REPLY, 1);
	tf_str(&t, F_SMTP_COMMAND, "RCPT");
	tf_int(&t, F_SMTP_REPLY_CODE, 250);
	memset(&g, 0, sizeof(g));
	eval(c, rs, &t, &g);
	CHECK_INT(g.n, 3);
	CHECK_STR(g.id[0], "v.rcpt");
	CHECK_STR(g.id[1], "v.any");
	CHECK_STR(g.id[2], "v.either");
	tf_str(&t, F_SMTP_COMMAND, "QUIT");
	memset(&g, 0, sizeof(g));
	eval(c, rs, &t, &g);
	CHECK_INT(g.n, 2);
	CHECK(got_has(&g, "v.any") && got_has(&g, "v.notrcpt"));
	tf_str(&t, F_SMTP_COMMAND, "MAIL");
	memset(&g, 0, sizeof(g));
	eval(c, rs, &t, &g);
	CHECK(got_has(&g, "v.mail") && got_has(&g, "v.either") &&
	      got_has(&g, "v.notrcpt") && !got_has(&g, "v.rcpt"));
	rule_ctx_free(c);
	ruleset_unref(rs);
}

TEST(rule_relay_open)
{
	struct tf t;
	rcpt_reply(&t, "203.0.113.5", "victim@gmail.test", 250);
	struct got g = run1(&t);
	CHECK(got_has(&g, "relay.open"));
	CHECK(!got_has(&g, "relay.attempt"));
	CHECK(strstr(got_msg(&g, "relay.open"), "10.0.0.25 accepted RCPT TO:<victim@gmail.test> (250) from untrusted unauthenticated client 203.0.113.5"));
	/* negatives: local domain, trusted client, authenticated, refused */
	rcpt_reply(&t, "203.0.113.5", "user@mx.Example.com", 250);
	CHECK(!got_has(&(struct got){ 0 }, "x"));
	g = run1(&t);
	CHECK(!got_has(&g, "relay.open"));
	rcpt_reply(&t, "192.168.1.7", "victim@gmail.test", 250);
	g = run1(&t);
	CHECK(!got_has(&g, "relay.open"));
	rcpt_reply(&t, "203.0.113.5", "victim@gmail.test", 250);
	tf_bool(&t, F_SMTP_AUTHENTICATED, 1);
	g = run1(&t);
	CHECK(!got_has(&g, "relay.open"));
	rcpt_reply(&t, "203.0.113.5", "victim@gmail.test", 554);
	g = run1(&t);
	CHECK(!got_has(&g, "relay.open"));
}

TEST(rule_relay_attempt)
{
	struct tf t;
	rcpt_reply(&t, "203.0.113.5", "victim@gmail.test", 554);
	struct got g = run1(&t);
	CHECK(got_has(&g, "relay.attempt"));
	CHECK(!got_has(&g, "relay.open"));
	rcpt_reply(&t, "203.0.113.5", "user@example.com", 550);
	g = run1(&t);
	CHECK(!got_has(&g, "relay.attempt"));
	rcpt_reply(&t, "203.0.113.5", "victim@gmail.test", 451);
	g = run1(&t);
	CHECK(!got_has(&g, "relay.attempt"));
}

static void outbound_rcpt(struct tf *t, uint64_t ts, const char *server,
			  const char *rcpt)
{
	tf_init(t, TRIG_SMTP_COMMAND, ts);
	tf_conn(t, server, 50000, "198.51.100.77", 25);
	tf_str(t, F_SMTP_COMMAND, "RCPT");
	tf_str(t, F_SMTP_HELO, "mx.example.com");
	tf_str(t, F_SMTP_RCPT, rcpt);
}

TEST(rule_relay_confirmed)
{
	struct tf t;
	struct got g = { 0 };
	rule_ctx_free(sctx);
	memset(&ctr, 0, sizeof(ctr));
	sctx = rule_ctx_new(NULL, &ctr, NULL);
	if (!shipped)
		return;
	/* A: relay.open at t=1000 on server 10.0.0.25 for victim@gmail.test */
	rcpt_reply(&t, "203.0.113.5", "victim@gmail.test", 250);
	rule_eval(sctx, shipped, &t.f, on_match, &g);
	CHECK(got_has(&g, "relay.open"));
	/* B, negatives: other recipient; other server; too late */
	struct got gb = { 0 };
	outbound_rcpt(&t, 1010, "10.0.0.25", "other@gmail.test");
	rule_eval(sctx, shipped, &t.f, on_match, &gb);
	outbound_rcpt(&t, 1010, "10.0.0.26", "victim@gmail.test");
	rule_eval(sctx, shipped, &t.f, on_match, &gb);
	outbound_rcpt(&t, 1121, "10.0.0.25", "victim@gmail.test");
	rule_eval(sctx, shipped, &t.f, on_match, &gb);
	CHECK(!got_has(&gb, "relay.confirmed"));
	/* B within 120 s: confirmed, and it says which rule came first */
	outbound_rcpt(&t, 1119, "10.0.0.25", "Victim@gmail.test");
	rule_eval(sctx, shipped, &t.f, on_match, &gb);
	CHECK(got_has(&gb, "relay.confirmed"));
	CHECK(gb.n >= 1 && gb.corr_sid[gb.n - 1] == 1000001);
	CHECK(ctr.v[CTR_RULE_CORR_HITS] == 1);
	/* without relay.open first, nothing */
	outbound_rcpt(&t, 5000, "10.0.0.25", "victim@gmail.test");
	g = run1(&t);
	CHECK(!got_has(&g, "relay.confirmed"));
}

TEST(rule_relay_probe)
{
	struct tf t;
	/* nmap: EHLO nmap.scanme.org, refused %-hack */
	rcpt_reply(&t, "203.0.113.5", "relaytest%nmap.scanme.org@[10.0.0.25]", 550);
	tf_str(&t, F_SMTP_HELO, "nmap.scanme.org");
	struct got g = run1(&t);
	CHECK(got_has(&g, "relay.probe"));
	CHECK(strstr(got_msg(&g, "relay.probe"), "RCPT TO:<relaytest%nmap.scanme.org@[10.0.0.25]> got 550"));
	/* bang path, source route, quoted local, from a normal HELO */
	static const char *shapes[] = { "nmap.scanme.org!relaytest",
					"@[10.0.0.25]:relaytest@nmap.scanme.org",
					"\"relaytest@nmap.scanme.org\"@[10.0.0.25]",
					"victim%gmail.test@example.com" };
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		rcpt_reply(&t, "203.0.113.5", shapes[i], 250);
		g = run1(&t);
		CHECK(got_has(&g, "relay.probe"));
	}
	/* Metasploit: EHLO X */
	rcpt_reply(&t, "203.0.113.5", "target@example.com", 250);
	tf_str(&t, F_SMTP_HELO, "X");
	g = run1(&t);
	CHECK(got_has(&g, "relay.probe"));
	/* a refusal and then an acceptance from the same tester: both reported */
	rule_ctx_free(sctx);
	memset(&ctr, 0, sizeof(ctr));
	sctx = rule_ctx_new(NULL, &ctr, NULL);
	struct got both = { 0 };
	for (int i = 0; i < 4; i++) {
		rcpt_reply(&t, "203.0.113.5", "relaytest@nmap.scanme.org", i < 3 ? 550 : 250);
		tf_str(&t, F_SMTP_HELO, "nmap.scanme.org");
		rule_eval(sctx, shipped, &t.f, on_match, &both);
	}
	int probes = 0;
	for (int i = 0; i < both.n; i++)
		if (!strcmp(both.id[i], "relay.probe"))
			probes++;
	CHECK_INT(probes, 2);
	/* negative: ordinary mail */
	rcpt_reply(&t, "203.0.113.5", "user@example.com", 250);
	g = run1(&t);
	CHECK(!got_has(&g, "relay.probe"));
}

static void http_fact(struct tf *t, enum rule_trigger trig, const char *client,
		      const char *form, const char *method, const char *host,
		      int port, int status)
{
	tf_init(t, trig, 2000);
	tf_conn(t, client, 41000, "10.0.0.80", 3128);
	tf_str(t, F_HTTP_METHOD, method);
	tf_str(t, F_HTTP_PROXY_FORM, form);
	tf_str(t, F_HTTP_PROXY_HOST, host);
	tf_int(t, F_HTTP_PROXY_PORT, port);
	tf_str(t, F_HTTP_UA, "curl/8.0");
	if (trig == TRIG_HTTP_RESPONSE)
		tf_int(t, F_HTTP_STATUS, status);
}

TEST(rule_proxy_open_http)
{
	struct tf t;
	http_fact(&t, TRIG_HTTP_RESPONSE, "203.0.113.9", "connect", "CONNECT",
		  "example.net", 443, 200);
	struct got g = run1(&t);
	CHECK(got_has(&g, "proxy.open.http"));
	CHECK(strstr(got_msg(&g, "proxy.open.http"), "answered 200 to CONNECT example.net:443 from untrusted client 203.0.113.9"));
	http_fact(&t, TRIG_HTTP_RESPONSE, "203.0.113.9", "absolute", "GET",
		  "example.net", 80, 200);
	g = run1(&t);
	CHECK(got_has(&g, "proxy.open.http"));
	/* negatives: refused, trusted client, origin-form (not proxying) */
	http_fact(&t, TRIG_HTTP_RESPONSE, "203.0.113.9", "connect", "CONNECT",
		  "example.net", 443, 403);
	g = run1(&t);
	CHECK(!got_has(&g, "proxy.open.http"));
	http_fact(&t, TRIG_HTTP_RESPONSE, "192.168.1.3", "connect", "CONNECT",
		  "example.net", 443, 200);
	g = run1(&t);
	CHECK(!got_has(&g, "proxy.open.http"));
	http_fact(&t, TRIG_HTTP_RESPONSE, "203.0.113.9", "origin", "GET",
		  "example.net", 80, 200);
	g = run1(&t);
	CHECK(!got_has(&g, "proxy.open.http"));
}

static void socks_fact(struct tf *t, enum rule_trigger trig, uint64_t ts,
		       const char *client, const char *host, int port,
		       int granted)
{
	tf_init(t, trig, ts);
	tf_conn(t, client, 42000, "10.0.0.81", 1080);
	tf_int(t, F_SOCKS_VERSION, 5);
	tf_str(t, F_SOCKS_COMMAND, "connect");
	tf_str(t, F_SOCKS_HOST, host);
	tf_int(t, F_SOCKS_PORT, port);
	if (trig == TRIG_SOCKS_REPLY) {
		tf_bool(t, F_SOCKS_GRANTED, granted);
		tf_int(t, F_SOCKS_REPLY_CODE, granted ? 0 : 2);
	}
}

TEST(rule_proxy_open_socks)
{
	struct tf t;
	socks_fact(&t, TRIG_SOCKS_REPLY, 1, "203.0.113.9", "example.net", 443, 1);
	struct got g = run1(&t);
	CHECK(got_has(&g, "proxy.open.socks"));
	CHECK(strstr(got_msg(&g, "proxy.open.socks"), "open SOCKS5 proxy: 10.0.0.81:1080 granted connect example.net:443"));
	socks_fact(&t, TRIG_SOCKS_REPLY, 1, "203.0.113.9", "example.net", 443, 0);
	g = run1(&t);
	CHECK(!got_has(&g, "proxy.open.socks"));
	socks_fact(&t, TRIG_SOCKS_REPLY, 1, "192.168.1.9", "example.net", 443, 1);
	g = run1(&t);
	CHECK(!got_has(&g, "proxy.open.socks"));
}

TEST(rule_proxy_smtp_tunnel)
{
	struct tf t;
	http_fact(&t, TRIG_HTTP_REQUEST, "203.0.113.9", "connect", "CONNECT",
		  "mx.victim.test", 25, 0);
	struct got g = run1(&t);
	CHECK(got_has(&g, "proxy.smtp-tunnel"));
	socks_fact(&t, TRIG_SOCKS_REQUEST, 1, "192.168.1.9", "mx.victim.test", 587, 0);
	g = run1(&t);
	CHECK(got_has(&g, "proxy.smtp-tunnel"));
	/* SMTP spoken inside a tunnel on port 443 */
	tf_init(&t, TRIG_SMTP_COMMAND, 1);
	tf_conn(&t, "203.0.113.9", 1, "10.0.0.80", 3128);
	tf_bool(&t, F_IN_TUNNEL, 1);
	tf_str(&t, F_TUNNEL_HOST, "mx.victim.test");
	tf_int(&t, F_TUNNEL_PORT, 443);
	tf_str(&t, F_SMTP_COMMAND, "EHLO");
	g = run1(&t);
	CHECK(got_has(&g, "proxy.smtp-tunnel"));
	/* negatives: a web port; SMTP not in a tunnel */
	http_fact(&t, TRIG_HTTP_REQUEST, "203.0.113.9", "connect", "CONNECT",
		  "www.example.net", 443, 0);
	g = run1(&t);
	CHECK(!got_has(&g, "proxy.smtp-tunnel"));
	tf_init(&t, TRIG_SMTP_COMMAND, 1);
	tf_conn(&t, "203.0.113.9", 1, "10.0.0.25", 25);
	tf_bool(&t, F_IN_TUNNEL, 0);
	tf_str(&t, F_SMTP_COMMAND, "EHLO");
	g = run1(&t);
	CHECK(!got_has(&g, "proxy.smtp-tunnel"));
}

TEST(rule_proxy_egress)
{
	struct tf t;
	rule_ctx_free(sctx);
	memset(&ctr, 0, sizeof(ctr));
	sctx = rule_ctx_new(NULL, &ctr, NULL);
	if (!shipped)
		return;
	struct got g = { 0 };
	/* untrusted CONNECT 198.51.100.20:8443 to proxy 10.0.0.80 (note) */
	http_fact(&t, TRIG_HTTP_REQUEST, "203.0.113.9", "connect", "CONNECT",
		  "198.51.100.20", 8443, 0);
	CHECK_INT(rule_eval(sctx, shipped, &t.f, on_match, &g), RA_NOTE);
	CHECK_INT(g.n, 0);
	/* the proxy opens 198.51.100.20:8443 a second later */
	tf_init(&t, TRIG_FLOW_START, 2001);
	tf_conn(&t, "10.0.0.80", 50001, "198.51.100.20", 8443);
	rule_eval(sctx, shipped, &t.f, on_match, &g);
	CHECK(got_has(&g, "proxy.egress"));
	/* negatives: another port; another host; after 30 s; trusted client */
	struct got gn = { 0 };
	tf_init(&t, TRIG_FLOW_START, 2002);
	tf_conn(&t, "10.0.0.80", 50002, "198.51.100.20", 9443);
	rule_eval(sctx, shipped, &t.f, on_match, &gn);
	tf_init(&t, TRIG_FLOW_START, 2002);
	tf_conn(&t, "10.0.0.99", 50002, "198.51.100.20", 8443);
	rule_eval(sctx, shipped, &t.f, on_match, &gn);
	tf_init(&t, TRIG_FLOW_START, 2031);
	tf_conn(&t, "10.0.0.80", 50003, "198.51.100.20", 8443);
	rule_eval(sctx, shipped, &t.f, on_match, &gn);
	CHECK(!got_has(&gn, "proxy.egress"));
	socks_fact(&t, TRIG_SOCKS_REQUEST, 3000, "192.168.1.5", "198.51.100.21", 8444, 0);
	rule_eval(sctx, shipped, &t.f, on_match, &gn);
	tf_init(&t, TRIG_FLOW_START, 3001);
	tf_conn(&t, "10.0.0.81", 50004, "198.51.100.21", 8444);
	rule_eval(sctx, shipped, &t.f, on_match, &gn);
	CHECK(!got_has(&gn, "proxy.egress"));
	/* SOCKS from an untrusted client: positive */
	socks_fact(&t, TRIG_SOCKS_REQUEST, 4000, "203.0.113.9", "198.51.100.21", 8444, 0);
	rule_eval(sctx, shipped, &t.f, on_match, &gn);
	tf_init(&t, TRIG_FLOW_START, 4001);
	tf_conn(&t, "10.0.0.81", 50005, "198.51.100.21", 8444);
	rule_eval(sctx, shipped, &t.f, on_match, &gn);
	CHECK(got_has(&gn, "proxy.egress"));
}

TEST(rule_proxy_probe)
{
	struct tf t;
	http_fact(&t, TRIG_HTTP_REQUEST, "203.0.113.9", "absolute", "GET",
		  "www.google.com", 80, 0);
	t.has[F_HTTP_UA] = 0;  /* nmap http-open-proxy sends none */
	struct got g = run1(&t);
	CHECK(got_has(&g, "proxy.probe"));
	http_fact(&t, TRIG_HTTP_REQUEST, "203.0.113.9", "connect", "CONNECT",
		  "irc.example.net", 6667, 0);
	g = run1(&t);
	CHECK(got_has(&g, "proxy.probe"));   /* HOPM-style */
	http_fact(&t, TRIG_HTTP_REQUEST, "203.0.113.9", "absolute", "GET",
		  "example.org", 80, 0);
	tf_str(&t, F_HTTP_UA, "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)");
	g = run1(&t);
	CHECK(got_has(&g, "proxy.probe"));
	socks_fact(&t, TRIG_SOCKS_REQUEST, 1, "203.0.113.9", "www.google.com", 80, 0);
	g = run1(&t);
	CHECK(got_has(&g, "proxy.probe"));
	/* negatives: a browser to google; SOCKS to google:443 */
	http_fact(&t, TRIG_HTTP_REQUEST, "203.0.113.9", "absolute", "GET",
		  "www.google.com", 80, 0);
	g = run1(&t);
	CHECK(!got_has(&g, "proxy.probe"));
	socks_fact(&t, TRIG_SOCKS_REQUEST, 1, "203.0.113.9", "www.google.com", 443, 0);
	g = run1(&t);
	CHECK(!got_has(&g, "proxy.probe"));
	/* nmap socks-open-proxy resolves the name: SOCKS4 to an address, with
	 * the user id "nmap"; another user id is an ordinary client */
	socks_fact(&t, TRIG_SOCKS_REQUEST, 1, "203.0.113.9", "198.51.100.80", 80, 0);
	tf_int(&t, F_SOCKS_VERSION, 4);
	tf_str(&t, F_SOCKS_USER, "nmap");
	g = run1(&t);
	CHECK(got_has(&g, "proxy.probe"));
	socks_fact(&t, TRIG_SOCKS_REQUEST, 1, "203.0.113.9", "198.51.100.80", 80, 0);
	tf_int(&t, F_SOCKS_VERSION, 4);
	tf_str(&t, F_SOCKS_USER, "alice");
	g = run1(&t);
	CHECK(!got_has(&g, "proxy.probe"));
}

TEST(rule_smtp_outbound_unauthorized)
{
	struct tf t;
	tf_init(&t, TRIG_FLOW_START, 1);
	tf_conn(&t, "10.0.5.17", 50000, "198.51.100.25", 25);
	struct got g = run1(&t);
	CHECK(got_has(&g, "smtp.outbound.unauthorized"));
	tf_conn(&t, "10.0.0.25", 50000, "198.51.100.25", 25);  /* our MTA */
	g = run1(&t);
	CHECK(!got_has(&g, "smtp.outbound.unauthorized"));
	tf_conn(&t, "10.0.5.17", 50000, "198.51.100.25", 587); /* submission */
	g = run1(&t);
	CHECK(!got_has(&g, "smtp.outbound.unauthorized"));
	tf_conn(&t, "10.0.5.17", 50000, "10.0.0.25", 25);      /* internal */
	g = run1(&t);
	CHECK(!got_has(&g, "smtp.outbound.unauthorized"));
}

static int rcpt_burst(const char *client, int n, int ndomains, int step_ms)
{
	rule_ctx_free(sctx);
	memset(&ctr, 0, sizeof(ctr));
	sctx = rule_ctx_new(NULL, &ctr, NULL);
	struct got g = { 0 };
	char rcpt[64];
	for (int i = 0; i < n; i++) {
		struct tf t;
		tf_init(&t, TRIG_SMTP_COMMAND, 0);
		t.f.ts_us = 1000000000ULL + (uint64_t)i * (uint64_t)step_ms * 1000;
		tf_conn(&t, client, 1, "198.51.100.25", 25);
		tf_str(&t, F_SMTP_COMMAND, "RCPT");
		snprintf(rcpt, sizeof(rcpt), "u%d@d%d.test", i, i % ndomains);
		tf_str(&t, F_SMTP_RCPT, rcpt);
		rule_eval(sctx, shipped, &t.f, on_match, &g);
	}
	int hits = 0;
	for (int i = 0; i < g.n; i++)
		hits |= (!strcmp(g.id[i], "smtp.fanout") ? 1 : 0) |
			(!strcmp(g.id[i], "smtp.fanout.rcpt") ? 2 : 0);
	return hits;
}

TEST(rule_smtp_fanout)
{
	if (!shipped)
		return;
	CHECK_INT(rcpt_burst("10.0.5.17", 21, 21, 100), 1);   /* 21 domains */
	CHECK_INT(rcpt_burst("10.0.5.17", 20, 20, 100), 0);   /* 20: not more */
	CHECK_INT(rcpt_burst("10.0.5.17", 21, 21, 3100), 0);  /* spread over >60 s */
	CHECK_INT(rcpt_burst("10.0.5.17", 101, 5, 100), 2);   /* 101 recipients */
	CHECK_INT(rcpt_burst("10.0.0.25", 150, 150, 10), 0);  /* our MTA */
}

static void reply_burst(struct got *g, const char *cmd, int n, int code,
			const char *text)
{
	rule_ctx_free(sctx);
	memset(&ctr, 0, sizeof(ctr));
	sctx = rule_ctx_new(NULL, &ctr, NULL);
	for (int i = 0; i < n; i++) {
		struct tf t;
		tf_init(&t, TRIG_SMTP_REPLY, 5000 + (uint64_t)i);
		tf_conn(&t, "203.0.113.5", 1, "10.0.0.25", 25);
		tf_str(&t, F_SMTP_COMMAND, cmd);
		tf_str(&t, F_SMTP_RCPT, "guess@example.com");
		tf_str(&t, F_SMTP_AUTH_MECH, "LOGIN");
		tf_int(&t, F_SMTP_REPLY_CODE, code);
		tf_str(&t, F_SMTP_REPLY_TEXT, text);
		tf_bool(&t, F_SMTP_AUTH_OK, code < 300);
		rule_eval(sctx, shipped, &t.f, on_match, g);
	}
}

TEST(rule_smtp_dictionary)
{
	if (!shipped)
		return;
	struct got g = { 0 };
	reply_burst(&g, "RCPT", 11, 550, "5.1.1 <guess@example.com>: Recipient address rejected: User unknown");
	CHECK(got_has(&g, "smtp.dictionary"));
	g = (struct got){ 0 };
	reply_burst(&g, "RCPT", 10, 550, "5.1.1 User unknown");
	CHECK(!got_has(&g, "smtp.dictionary"));
	g = (struct got){ 0 };
	reply_burst(&g, "RCPT", 30, 554, "5.7.1 Relay access denied");
	CHECK(!got_has(&g, "smtp.dictionary"));
}

TEST(rule_smtp_auth_bruteforce)
{
	if (!shipped)
		return;
	struct got g = { 0 };
	reply_burst(&g, "AUTH", 6, 535, "5.7.8 Authentication credentials invalid");
	CHECK(got_has(&g, "smtp.auth.bruteforce"));
	CHECK(strstr(got_msg(&g, "smtp.auth.bruteforce"), "failed AUTH LOGIN from 203.0.113.5"));
	g = (struct got){ 0 };
	reply_burst(&g, "AUTH", 5, 535, "5.7.8 Authentication credentials invalid");
	CHECK(!got_has(&g, "smtp.auth.bruteforce"));
	g = (struct got){ 0 };
	reply_burst(&g, "AUTH", 20, 334, "VXNlcm5hbWU6");  /* challenges */
	CHECK(!got_has(&g, "smtp.auth.bruteforce"));
}

TEST(rule_smtp_blocklisted)
{
	struct tf t;
	tf_init(&t, TRIG_SMTP_REPLY, 1);
	tf_conn(&t, "10.0.0.25", 50000, "198.51.100.25", 25);
	tf_str(&t, F_SMTP_COMMAND, "RCPT");
	tf_int(&t, F_SMTP_REPLY_CODE, 554);
	tf_str(&t, F_SMTP_REPLY_TEXT, "5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org");
	struct got g = run1(&t);
	CHECK(got_has(&g, "smtp.blocklisted"));
	tf_str(&t, F_SMTP_REPLY_TEXT, "5.7.1 rejected by SORBS, see http://www.sorbs.net");
	g = run1(&t);
	CHECK(got_has(&g, "smtp.blocklisted"));
	/* negatives: an ordinary refusal; the same text to an outside client */
	tf_str(&t, F_SMTP_REPLY_TEXT, "5.1.1 User unknown");
	g = run1(&t);
	CHECK(!got_has(&g, "smtp.blocklisted"));
	tf_str(&t, F_SMTP_REPLY_TEXT, "blocked using zen.spamhaus.org");
	tf_conn(&t, "203.0.113.5", 50000, "10.0.0.25", 25);
	g = run1(&t);
	CHECK(!got_has(&g, "smtp.blocklisted"));
}

TEST(evaluation_allocates_nothing_and_scales)
{
	/* 1,000 extra synthetic rules on the same trigger: the shipped rules
	 * still decide the same, and every rule is evaluated */
	char *text = malloc(1 << 20);
	size_t o = 0;
	for (int i = 0; i < 1000; i++)
		o += (size_t)snprintf(text + o, (1 << 20) - o,
			"rule syn.%d { sid %d on smtp.reply action alert msg \"s\"\n"
			"  when smtp.command == \"RCPT\" and smtp.rcpt.domain in [\"d%d.test\"]"
			" and smtp.reply.text matches /^%d /\n}\n",
			i, 2000000 + i, i, i);
	struct rule_source src[2] = { { "syn.rules", text, o } };
	struct rule_diags d = { 0 };
	struct ruleset *rs = ruleset_load_sources(src, 1, NULL, &d);
	CHECK(rs != NULL);
	CHECK_INT(d.nerrors, 0);
	rule_diags_free(&d);
	if (rs) {
		CHECK_INT(rs->n_by_trigger[TRIG_SMTP_REPLY], 1000);
		struct rule_ctx *c = new_ctx();
		struct tf t;
		struct got g = { 0 };
		tf_init(&t, TRIG_SMTP_REPLY, 1);
		tf_conn(&t, "203.0.113.5", 1, "10.0.0.25", 25);
		tf_str(&t, F_SMTP_COMMAND, "RCPT");
		tf_str(&t, F_SMTP_RCPT, "a@d517.test");
		tf_str(&t, F_SMTP_REPLY_TEXT, "517 x");
		tf_int(&t, F_SMTP_REPLY_CODE, 250);
		for (int i = 0; i < 1000; i++)
			rule_eval(c, rs, &t.f, on_match, &g);
		CHECK_INT(g.n, MAXM);  /* every evaluation matched syn.517 */
		CHECK_STR(g.id[0], "syn.517");
		CHECK_INT(ctr.v[CTR_RULE_ALERTS], 1000);
		rule_ctx_free(c);
	}
	ruleset_unref(rs);
	free(text);
}

/* a block decided after the server acted is too late inline: warned once
 * per late trigger, with the rule's place; a block on the request is not */
TEST(late_block_triggers_warned)
{
	struct rule_diags d = { 0 };
	struct ruleset *rs = load_text(
		"rule t.late { sid 9 on smtp.reply, flow.end action block msg \"x\" }\n"
		"rule t.rec { sid 11 on smtp.record action block msg \"x\" }\n"
		"rule t.req { sid 10 on smtp.command action block msg \"y\" }\n"
		"rule t.alert { sid 12 on flow.end action alert msg \"z\" }\n",
		NULL, &d);
	int late = 0;

	CHECK(rs != NULL);
	CHECK_INT(d.nerrors, 0);
	for (int i = 0; i < d.n; i++) {
		if (!strstr(d.msg[i], "has already acted"))
			continue;
		late++;
		CHECK(strstr(d.msg[i], "t.req") == NULL);
		CHECK(strstr(d.msg[i], "t.alert") == NULL);
	}
	CHECK_INT(late, 3);
	int found = 0;
	for (int i = 0; i < d.n; i++)
		found += strstr(d.msg[i], "t.rules:1: rule t.late blocks on smtp.reply") != NULL;
	CHECK_INT(found, 1);
	rule_diags_free(&d);
	ruleset_unref(rs);
}

int main(void)
{
	RUN(errors_golden);
	RUN(late_block_triggers_warned);
	RUN(errors_syntax_recovery);
	RUN(never_half_loads);
	RUN(shipped_rules_load_with_warnings);
	RUN(missing_path_is_an_error);
	RUN(sets_cidr_v4_v6_and_defaults);
	RUN(sets_domain_string_port);
	RUN(sets_override_from_command_line);
	RUN(operators);
	RUN(operator_type_errors);
	RUN(template_rendering);
	RUN(threshold_count_window);
	RUN(threshold_distinct);
	RUN(state_tables_are_bounded);
	RUN(ratelimit);
	RUN(shared_state_across_contexts);
	RUN(pass_suppresses_later_rules_for_the_flow);
	shipped_setup();
	RUN(verb_index_runs_only_matching_rules);
	RUN(rule_relay_open);
	RUN(rule_relay_attempt);
	RUN(rule_relay_confirmed);
	RUN(rule_relay_probe);
	RUN(rule_proxy_open_http);
	RUN(rule_proxy_open_socks);
	RUN(rule_proxy_smtp_tunnel);
	RUN(rule_proxy_egress);
	RUN(rule_proxy_probe);
	RUN(rule_smtp_outbound_unauthorized);
	RUN(rule_smtp_fanout);
	RUN(rule_smtp_dictionary);
	RUN(rule_smtp_auth_bruteforce);
	RUN(rule_smtp_blocklisted);
	RUN(evaluation_allocates_nothing_and_scales);
	rule_ctx_free(sctx);
	ruleset_unref(shipped);
	return t_done();
}
