/* fuzz_rules.c - libFuzzer target for the rule parser, checker and
 * evaluator.
 *
 * Input: rule text, optionally followed by a line "%%" and set values
 * (NAME=V,V per line) fed through rule_vars as --set would. If the text
 * loads, every trigger is evaluated against a fact where every field is
 * present (strings from the input's tail, so regexes and sets see hostile
 * bytes), twice, to exercise thresholds, rate limits and correlation.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "rules.h"

static const uint8_t *g_tail;
static size_t g_tail_n;

static int fz_get(const void *obj, int id, struct rule_value *out)
{
	(void)obj;
	switch (field_table[id].type) {
	case FT_IP:
		out->ip.family = (id & 1) ? 6 : 4;
		memset(out->ip.a, 0, 16);
		out->ip.a[0] = 10;
		out->ip.a[3] = (uint8_t)id;
		return 0;
	case FT_INT:
		out->i = 25 + id;
		return 0;
	case FT_BOOL:
		out->b = id & 1;
		return 0;
	default:
		out->s.p = (const char *)g_tail;
		out->s.n = g_tail_n;
		return 0;
	}
}

static int fz_nth(const void *obj, int id, unsigned i, struct rule_value *out)
{
	(void)obj;
	(void)id;
	if (i >= 3)
		return -1;
	out->s.p = (const char *)g_tail + (i < g_tail_n ? i : 0);
	out->s.n = i < g_tail_n ? g_tail_n - i : 0;
	return 0;
}

static void fz_match(void *arg, const struct rule_match *m)
{
	size_t *n = arg;
	*n += m->msg_len + strlen(m->key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t tn = size;
	const char *sep = memmem(data, size, "\n%%\n", 4);
	struct rule_vars vars = { 0 };
	if (sep) {
		tn = (size_t)((const uint8_t *)sep - data);
		char *v = strndup(sep + 4, size - tn - 4);
		char *save = NULL;
		int n = 1;
		for (char *l = v ? strtok_r(v, "\n", &save) : NULL; l;
		     l = strtok_r(NULL, "\n", &save))
			rule_vars_parse_arg(&vars, l, n++);
		free(v);
	}
	g_tail = data + size - (size > 64 ? 64 : size);
	g_tail_n = size > 64 ? 64 : size;
	struct rule_source src = { "fuzz.rules", (const char *)data, tn };
	struct rule_diags d = { 0 };
	struct ruleset *rs = ruleset_load_sources(&src, 1, &vars, &d);
	if (rs) {
		static struct rule_ctx *c;
		static struct rw_counters ctr;
		if (!c) {
			struct rule_ctx_config cfg;
			rule_ctx_config_default(&cfg);
			cfg.threshold_entries = 64;
			cfg.ratelimit_entries = 64;
			cfg.correlation_entries = 64;
			c = rule_ctx_new(&cfg, &ctr, NULL);
		}
		size_t out = 0;
		for (int round = 0; round < 2; round++)
			for (int t = 0; t < TRIG__COUNT; t++) {
				struct rule_flow fl = { 0 };
				struct rule_fact f = {
					.trigger = (enum rule_trigger)t,
					.ts_us = 1000000ULL * (uint64_t)(round * 5 + t),
					.get = fz_get, .get_nth = fz_nth,
					.flow = &fl,
				};
				rule_eval(c, rs, &f, fz_match, &out);
			}
		ruleset_unref(rs);
	}
	rule_diags_free(&d);
	rule_vars_free(&vars);
	return 0;
}
