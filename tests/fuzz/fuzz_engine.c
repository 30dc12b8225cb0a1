/* fuzz_engine.c - libFuzzer target for the whole engine.
 *
 * Input: a capture file (pcap or pcapng, any link type libpcap reads),
 * read from memory with pcap_fopen_offline(fmemopen()). Every frame goes
 * through decode_packet() and engine_packet() (flows, reassembly,
 * detection, the SMTP / HTTP-proxy / SOCKS parsers, tunnels, the shipped
 * rules), then engine_finish() closes what is left. The engine has small
 * caps (flows, parser states, reassembly memory) so the mutator reaches
 * the eviction and cap paths with a few dozen packets.
 *
 * Besides ASan/UBSan, each record the engine writes is checked to be one
 * line of strict JSON (RFC 8259: one object, valid UTF-8, no raw control
 * characters, escapes well formed): attacker bytes must never break the
 * output. A bad record aborts with the record on stderr.
 *
 * The rules are loaded once, from $RW_FUZZ_RULES, else rules/ in the
 * current directory, else ../../rules next to the binary (build/fuzz/),
 * with the fixtures' sets (Makefile RUN_SETS). No rules found: abort (a
 * run without them would silently skip the rule engine).
 */
#include <libgen.h>
#include <limits.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "decode.h"
#include "engine.h"
#include "reasm.h"
#include "rules.h"

#define FZ_MAX_PACKETS 4096
#define FZ_MAX_DEPTH 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static struct ruleset *g_rules;
static int g_verbose;     /* FUZZ_ENGINE_VERBOSE=1: records per input */

/* ---- strict JSON check ------------------------------------------------ */

struct jv {
	const unsigned char *p, *end;
};

static void ws(struct jv *v)
{
	while (v->p < v->end && (*v->p == ' ' || *v->p == '\t'))
		v->p++;
}

static int lit(struct jv *v, const char *s)
{
	size_t n = strlen(s);

	if ((size_t)(v->end - v->p) < n || memcmp(v->p, s, n))
		return -1;
	v->p += n;
	return 0;
}

static int hex4(struct jv *v, unsigned *cp)
{
	*cp = 0;
	if (v->end - v->p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		unsigned char c = *v->p++;
		unsigned d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		*cp = *cp << 4 | d;
	}
	return 0;
}

static int str(struct jv *v)
{
	if (v->p >= v->end || *v->p != '"')
		return -1;
	v->p++;
	while (v->p < v->end) {
		unsigned char c = *v->p;

		if (c == '"') {
			v->p++;
			return 0;
		}
		if (c < 0x20)
			return -1;          /* raw control character */
		if (c == '\\') {
			unsigned cp, lo;

			if (++v->p >= v->end)
				return -1;
			c = *v->p++;
			if (strchr("\"\\/bfnrt", c) && c)
				continue;
			if (c != 'u' || hex4(v, &cp) < 0)
				return -1;
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return -1;  /* lone low surrogate */
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (lit(v, "\\u") < 0 || hex4(v, &lo) < 0 ||
				    lo < 0xdc00 || lo > 0xdfff)
					return -1;
			}
			continue;
		}
		if (c < 0x80) {
			v->p++;
			continue;
		}
		/* UTF-8: no overlongs, no surrogates, <= U+10FFFF */
		{
			size_t len;
			unsigned cp;

			if (c >= 0xc2 && c <= 0xdf) {
				len = 2;
				cp = c & 0x1f;
			} else if (c >= 0xe0 && c <= 0xef) {
				len = 3;
				cp = c & 0x0f;
			} else if (c >= 0xf0 && c <= 0xf4) {
				len = 4;
				cp = c & 0x07;
			} else {
				return -1;
			}
			if ((size_t)(v->end - v->p) < len)
				return -1;
			for (size_t i = 1; i < len; i++) {
				if ((v->p[i] & 0xc0) != 0x80)
					return -1;
				cp = cp << 6 | (v->p[i] & 0x3f);
			}
			if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
			    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
				return -1;
			v->p += len;
		}
	}
	return -1;
}

static int num(struct jv *v)
{
	const unsigned char *s = v->p;

	if (v->p < v->end && *v->p == '-')
		v->p++;
	if (v->p >= v->end)
		return -1;
	if (*v->p == '0') {
		v->p++;
	} else if (*v->p >= '1' && *v->p <= '9') {
		while (v->p < v->end && *v->p >= '0' && *v->p <= '9')
			v->p++;
	} else {
		return -1;
	}
	if (v->p < v->end && *v->p == '.') {
		v->p++;
		if (v->p >= v->end || *v->p < '0' || *v->p > '9')
			return -1;
		while (v->p < v->end && *v->p >= '0' && *v->p <= '9')
			v->p++;
	}
	if (v->p < v->end && (*v->p == 'e' || *v->p == 'E')) {
		v->p++;
		if (v->p < v->end && (*v->p == '+' || *v->p == '-'))
			v->p++;
		if (v->p >= v->end || *v->p < '0' || *v->p > '9')
			return -1;
		while (v->p < v->end && *v->p >= '0' && *v->p <= '9')
			v->p++;
	}
	return v->p > s ? 0 : -1;
}

static int value(struct jv *v, int depth)
{
	if (depth > FZ_MAX_DEPTH)
		return -1;
	ws(v);
	if (v->p >= v->end)
		return -1;
	switch (*v->p) {
	case '{':
	case '[': {
		unsigned char close = *v->p == '{' ? '}' : ']';
		int obj = close == '}';

		v->p++;
		ws(v);
		if (v->p < v->end && *v->p == close) {
			v->p++;
			return 0;
		}
		for (;;) {
			if (obj) {
				ws(v);
				if (str(v) < 0)
					return -1;
				ws(v);
				if (v->p >= v->end || *v->p++ != ':')
					return -1;
			}
			if (value(v, depth + 1) < 0)
				return -1;
			ws(v);
			if (v->p >= v->end)
				return -1;
			if (*v->p == ',') {
				v->p++;
				continue;
			}
			if (*v->p++ != close)
				return -1;
			return 0;
		}
	}
	case '"':
		return str(v);
	case 't':
		return lit(v, "true");
	case 'f':
		return lit(v, "false");
	case 'n':
		return lit(v, "null");
	default:
		return num(v);
	}
}

static int json_line_ok(const char *line, size_t len)
{
	struct jv v = { (const unsigned char *)line,
			(const unsigned char *)line + len };

	if (!len || line[0] != '{')
		return 0;
	if (value(&v, 0) < 0)
		return 0;
	ws(&v);
	return v.p == v.end;
}

/* ---- engine ------------------------------------------------------------ */

static void on_record(void *arg, uint64_t idx, const char *line, size_t len)
{
	size_t *n = arg;

	(void)idx;
	if (!json_line_ok(line, len)) {
		fprintf(stderr, "fuzz_engine: record %zu is not one line of "
			"strict JSON (%zu bytes):\n%.*s\n", *n, len, (int)len,
			line);
		abort();
	}
	(*n)++;
}

static int is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const sets[] = {
		"HOME_NET=10.0.0.0/24,203.0.113.25/32,203.0.113.26/32",
		"TRUSTED_NETS=10.0.0.0/24",
		"LOCAL_DOMAINS=lan.example",
		"SMTP_SERVERS=10.0.0.25/32,198.51.100.1/32",
		"PROXY_SERVERS=203.0.113.25/32",
	};
	char exe[PATH_MAX], cand[PATH_MAX + 32];
	const char *path = getenv("RW_FUZZ_RULES");
	struct rule_vars vars = { 0 };
	struct rule_diags d = { 0 };
	ssize_t n;

	(void)argc;
	(void)argv;
	g_verbose = getenv("FUZZ_ENGINE_VERBOSE") != NULL;
	/* the checker itself: a check that passes everything finds nothing */
	static const char *const good[] = {
		"{}", "{\"a\":[1,-2.5e3,0,true,false,null,{}],\"b\":\"\\u00e9"
		"\\ud83d\\ude00\xc3\xa9\\n\"}",
	};
	static const char *const bad[] = {
		"{\"a\":1", "{\"a\":\"x\ny\"}", "{\"a\":\"\xff\"}", "{\"a\":01}",
		"[1]", "{} {}", "{\"a\":\"\xed\xa0\x80\"}", "{\"a\":\"\\x\"}",
		"{\"a\":\"\\udc00\"}", "{\"a\":1,}", "{a:1}",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!json_line_ok(good[i], strlen(good[i])))
			abort();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (json_line_ok(bad[i], strlen(bad[i])))
			abort();
	if (!path && is_dir("rules"))
		path = "rules";
	if (!path && (n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) > 0) {
		exe[n] = '\0';
		snprintf(cand, sizeof(cand), "%s/../../rules", dirname(exe));
		if (is_dir(cand))
			path = cand;
	}
	if (!path) {
		fprintf(stderr, "fuzz_engine: no rules directory (run from the "
			"source tree or set RW_FUZZ_RULES)\n");
		abort();
	}
	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++)
		if (rule_vars_parse_arg(&vars, sets[i], (int)i + 1) < 0)
			abort();
	g_rules = ruleset_load(path, &vars, &d);
	rule_diags_print(&d, stderr);
	rule_diags_free(&d);
	rule_vars_free(&vars);
	if (!g_rules) {
		fprintf(stderr, "fuzz_engine: the rules in %s do not load\n", path);
		abort();
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char ebuf[PCAP_ERRBUF_SIZE];
	struct engine_config cfg;
	struct engine_output out = { 0 };
	struct pcap_pkthdr *h;
	const u_char *bytes;
	struct engine *e;
	size_t records = 0;
	uint64_t idx = 0;
	pcap_t *pc;
	FILE *f;
	int lt;

	if (size < 24 || size > (1u << 20))
		return 0;
	f = fmemopen((void *)data, size, "rb");
	if (!f)
		return 0;
	pc = pcap_fopen_offline_with_tstamp_precision(f,
			PCAP_TSTAMP_PRECISION_MICRO, ebuf);
	if (!pc) {
		fclose(f);      /* pcap did not take it */
		return 0;
	}
	lt = pcap_datalink(pc);

	engine_config_default(&cfg);
	cfg.max_flows = 16;
	cfg.max_parsers = 4;
	cfg.reasm_mem = 16 * sizeof(struct reasm_seg);
	cfg.reasm_dir_cap = 4096;
	cfg.flow_timeout_s = 30;
	cfg.rules = g_rules;
	cfg.rule_state.threshold_entries = 8;
	cfg.rule_state.ratelimit_entries = 8;
	cfg.rule_state.correlation_entries = 8;
	out.arg = &records;
	out.record = on_record;
	e = engine_new(&cfg, &out);
	if (!e)
		abort();

	while (idx < FZ_MAX_PACKETS && pcap_next_ex(pc, &h, &bytes) == 1) {
		struct pkt p;
		uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000u +
			      (uint64_t)h->ts.tv_usec;

		memset(&p, 0, sizeof(p));
		if (decode_packet(lt, bytes, h->caplen, h->len, ts, &p,
				  engine_counters(e)) < 0)
			continue;
		p.index = ++idx;
		engine_packet(e, &p);
	}
	engine_finish(e, idx + 1);
	engine_free(e);
	if (g_verbose)
		fprintf(stderr, "fuzz_engine: %llu packets, %zu records\n",
			(unsigned long long)idx, records);
	pcap_close(pc);          /* closes f */
	return 0;
}
