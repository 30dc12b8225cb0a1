/* rules_load.c - loading a ruleset: reading the rule files (a file or a
 * directory's *.rules), the built-in sets and the config/--set values
 * (struct rule_vars), the checker (set references, "after" names,
 * duplicate ids and sids) and the indexes built once everything parsed
 * (per trigger, per SMTP verb), the ruleset's life cycle (ref/unref,
 * lookups) and --check-rules.
 *
 * Everything in rules_*.c runs at load time (startup, --check-rules,
 * reload), never per packet: it may allocate. Evaluation is in
 * rule_eval.c. The pieces: rules_lex.c (lexer), rules_parse.c and
 * rules_expr.c (parser), rules_sets.c (sets), rules_util.c (arena,
 * diagnostics); what they share is in rules_int.h.
 *
 * Loading is all-or-nothing: the parser collects every error with its
 * position (it resynchronises on the next statement keyword inside a rule,
 * on the next "rule"/"set" outside one), the checker adds the cross-rule
 * errors, and if there was any error the whole build is freed.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <dirent.h>
#include <errno.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "rules_int.h"

/* ------------------------------------------------------------------ */
/* the build's sets */

/* a set for the build; NULL (B->nomem set) when out of memory */
struct setb *rl_new_setb(struct build *b, const char *name,
			 enum set_kind kind)
{
	struct setb *s = calloc(1, sizeof(*s));
	if (!s) {
		b->nomem = 1;
		return NULL;
	}
	s->s.name = name;
	s->s.kind = kind;
	return s;
}

struct setb *rl_find_set(struct build *B, const char *name)
{
	int i = rl_namemap_get(&B->setmap, name);
	return i < 0 ? NULL : B->sets[i];
}

/* append a named set; 0 or -ENOMEM (B->nomem set) */
int rl_add_set(struct build *B, struct setb *s)
{
	struct setb **slot = rl_vec_push(&B->sets, &B->nsets, &B->capsets,
					 sizeof(*slot));
	if (!slot || rl_namemap_put(&B->setmap, s->s.name, B->nsets - 1, NULL)) {
		if (slot)
			B->nsets--;
		B->nomem = 1;
		return -ENOMEM;
	}
	*slot = s;
	return 0;
}

/* ------------------------------------------------------------------ */
/* built-in sets, variables, finalize */

static const struct {
	const char *name;
	enum set_kind kind;
	const char *defaults;
	const char *warn;     /* when empty */
} builtins[] = {
	{ "HOME_NET", SET_CIDR, "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7",
	  "HOME_NET is empty: no host counts as yours; set it with "
	  "--set HOME_NET=<your prefixes>" },
	{ "TRUSTED_NETS", SET_CIDR, "",
	  "TRUSTED_NETS is empty: every client counts as untrusted, so your "
	  "own LAN/VPN users relaying through your MTA or proxy will raise "
	  "relay.open/proxy.open.*; set it with --set TRUSTED_NETS=<LAN>,<VPN> "
	  "(e.g. 192.168.0.0/16,10.8.0.0/24)" },
	{ "SMTP_SERVERS", SET_CIDR, "",
	  "SMTP_SERVERS is empty: every HOME_NET host sending mail out raises "
	  "smtp.outbound.unauthorized; set it to your outgoing MTAs with "
	  "--set SMTP_SERVERS=<ip>,<ip>" },
	{ "PROXY_SERVERS", SET_CIDR, "",
	  "PROXY_SERVERS is empty: set it to your proxies with "
	  "--set PROXY_SERVERS=<ip>,<ip> (rules may use it to scope proxy checks)" },
	{ "LOCAL_DOMAINS", SET_DOMAIN, "",
	  "LOCAL_DOMAINS is empty: every recipient counts as foreign, so mail "
	  "to your own domains accepted from the internet looks like relaying; "
	  "set it with --set LOCAL_DOMAINS=example.com,example.org" },
	{ "SMTP_PORTS", SET_PORT, "25,465,587", NULL },
	{ "IRC_PORTS", SET_PORT, "6660-6669,6697,7000", NULL },
};

/* split "a,b, c" and add each item; errors at file:line:col */
static int set_fill_text(struct build *B, struct arena **ar, struct setb *s,
			 const char *text, const char *file, int line,
			 uint32_t col0)
{
	int rc = 0;
	const char *p = text;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		const char *e = p;
		while (*e && *e != ',')
			e++;
		const char *q = e;
		while (q > p && (q[-1] == ' ' || q[-1] == '\t'))
			q--;
		if (q > p) {
			const char *why = NULL;
			int r = rl_set_add_item(s, ar, p, (size_t)(q - p), &why);
			if (r == -ENOMEM) {
				B->nomem = 1;
				return -1;
			}
			if (r) {
				rl_diag_at(B->d, file, (uint32_t)line,
					   col0 + (uint32_t)(p - text),
					   "'%.*s' in set %s: %s", (int)(q - p), p,
					   s->s.name, why);
				rc = -1;
			}
		} else if (*e == ',') {
			rl_diag_at(B->d, file, (uint32_t)line,
				   col0 + (uint32_t)(p - text),
				   "empty item in set %s", s->s.name);
			rc = -1;
		}
		if (!*e)
			return rc;
		p = e + 1;
	}
}

int rule_vars_set(struct rule_vars *vars, const char *name,
		  const char *values, const char *file, int line)
{
	struct rule_var *nv = realloc(vars->v, sizeof(*nv) * (size_t)(vars->n + 1));
	if (!nv)
		return -ENOMEM;
	vars->v = nv;
	struct rule_var *v = &nv[vars->n];
	v->name = strdup(name);
	v->values = strdup(values);
	v->file = strdup(file ? file : "--set");
	v->line = line;
	if (!v->name || !v->values || !v->file) {
		free(v->name);
		free(v->values);
		free(v->file);
		return -ENOMEM;
	}
	vars->n++;
	return 0;
}

int rule_vars_parse_arg(struct rule_vars *vars, const char *arg, int argno)
{
	const char *eq = strchr(arg, '=');
	if (!eq || eq == arg)
		return -EINVAL;
	char name[128];
	size_t n = (size_t)(eq - arg);
	if (n >= sizeof(name))
		return -EINVAL;
	memcpy(name, arg, n);
	name[n] = 0;
	return rule_vars_set(vars, name, eq + 1, "--set", argno);
}

void rule_vars_free(struct rule_vars *vars)
{
	if (!vars)
		return;
	for (int i = 0; i < vars->n; i++) {
		free(vars->v[i].name);
		free(vars->v[i].values);
		free(vars->v[i].file);
	}
	free(vars->v);
	vars->v = NULL;
	vars->n = 0;
}

static void ruleset_free(struct ruleset *rs)
{
	if (!rs)
		return;
	for (int i = 0; i < rs->nregexes; i++)
		pcre2_code_free(rs->regexes[i]);
	free(rs->regexes);
	for (int i = 0; i < rs->nsets; i++)
		rl_setb_free((struct setb *)rs->sets[i]);
	free(rs->sets);
	for (int i = 0; i < TRIG__COUNT; i++) {
		free(rs->by_trigger[i]);
		for (int v = 0; v <= RULE_VERB_INDEX_MAX; v++)
			free(rs->by_verb[i].list[v]);
	}
	free(rs->rules);
	free(rs->exprs);
	free(rs->specs);
	rl_arena_free(rs->arena);
	free(rs);
}

struct ruleset *ruleset_ref(struct ruleset *rs)
{
	if (rs)
		atomic_fetch_add_explicit(&rs->refs, 1, memory_order_relaxed);
	return rs;
}

void ruleset_unref(struct ruleset *rs)
{
	if (rs && atomic_fetch_sub_explicit(&rs->refs, 1,
					    memory_order_acq_rel) == 1)
		ruleset_free(rs);
}

int ruleset_find(const struct ruleset *rs, const char *id)
{
	for (int i = 0; i < rs->nrules; i++)
		if (!strcmp(rs->rules[i].id, id))
			return i;
	return -ENOENT;
}

const struct rule_set *ruleset_set(const struct ruleset *rs, const char *name)
{
	for (int i = 0; i < rs->nsets; i++)
		if (!strcmp(rs->sets[i]->name, name))
			return rs->sets[i];
	return NULL;
}

static int kind_fits(enum set_kind k, int field)
{
	switch (field_table[field].type) {
	case FT_IP: return k == SET_CIDR;
	case FT_INT: return k == SET_PORT;
	case FT_STR:
	case FT_STRLIST: return k == SET_DOMAIN || k == SET_STRING;
	default: return 0;
	}
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return a < b ? -1 : a > b;
}

static uint64_t spec_id(uint32_t a, uint32_t b)
{
	uint64_t x = (uint64_t)a << 32 | b;
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

/* The SMTP verb rule r requires, from a top-level AND chain containing
 * smtp.command == "LIT"; NULL if none. */
static const struct rule_expr *verb_guard(const struct ruleset *rs,
					  int32_t i)
{
	const struct rule_expr *e;

	if (i < 0)
		return NULL;
	e = &rs->exprs[i];
	if (e->op == EX_AND) {
		const struct rule_expr *g = verb_guard(rs, e->l);
		return g ? g : verb_guard(rs, e->r);
	}
	if (e->op == EX_EQ && !e->neg && e->field == F_SMTP_COMMAND &&
	    e->lit.s.n > 0 && e->lit.s.n < 16)
		return e;
	return NULL;
}

static int verb_slot(struct verb_index *vi, const struct rule_expr *g)
{
	for (int v = 0; v < vi->nverbs; v++)
		if (strlen(vi->verb[v]) == g->lit.s.n &&
		    !memcmp(vi->verb[v], g->lit.s.p, g->lit.s.n))
			return v;
	if (vi->nverbs == RULE_VERB_INDEX_MAX)
		return -1;
	memcpy(vi->verb[vi->nverbs], g->lit.s.p, g->lit.s.n);
	vi->verb[vi->nverbs][g->lit.s.n] = '\0';
	return vi->nverbs++;
}

/* Split trigger t's rule list by required verb (see struct verb_index).
 * Only for the SMTP command/reply triggers; more distinct verbs than the
 * index holds leave the index off (correct, just slower). */
static int verb_index_build(struct ruleset *rs, int t)
{
	struct verb_index *vi = &rs->by_verb[t];
	uint32_t n = rs->n_by_trigger[t];
	int slot_of[n ? n : 1];

	vi->nverbs = -1;
	if ((t != TRIG_SMTP_COMMAND && t != TRIG_SMTP_REPLY) || !n)
		return 0;
	vi->nverbs = 0;
	for (uint32_t i = 0; i < n; i++) {
		const struct rule *r = &rs->rules[rs->by_trigger[t][i]];
		const struct rule_expr *g = verb_guard(rs, r->expr);

		slot_of[i] = -1;
		if (g && r->action != RA_PASS &&
		    (slot_of[i] = verb_slot(vi, g)) < 0) {
			vi->nverbs = -1;   /* too many verbs: no index */
			return 0;
		}
	}
	for (int v = 0; v <= vi->nverbs; v++) {
		vi->list[v] = malloc(sizeof(uint32_t) * n);
		if (!vi->list[v])
			return -1;
		for (uint32_t i = 0; i < n; i++)
			if (slot_of[i] < 0 || slot_of[i] == v)
				vi->list[v][vi->n[v]++] = rs->by_trigger[t][i];
	}
	return 0;
}

static void finalize(struct build *B)
{
	struct ruleset *rs = B->rs;
	struct arena **ar = &rs->arena;
	/* config and --set values, in order (the last one wins) */
	/* sets */
	for (int i = 0; i < B->nsets; i++)
		if (rl_set_finalize(B->sets[i]))
			B->nomem = 1;
	for (int i = 0; i < B->nanon; i++)
		if (rl_set_finalize(B->anon[i]))
			B->nomem = 1;
	/* set references */
	for (int i = 0; i < B->nrefs; i++) {
		struct set_ref *r = &B->refs[i];
		struct setb *s = rl_find_set(B, r->name);
		struct rule_expr *e = &rs->exprs[r->expr];
		if (!s) {
			char known[512];
			size_t o = 0;
			for (int j = 0; j < B->nsets && o < sizeof(known); j++)
				o += (size_t)snprintf(known + o, sizeof(known) - o,
						      "%s%s", j ? ", " : "",
						      B->sets[j]->s.name);
			rl_diag_at(B->d, r->file, r->line, r->col,
				   "unknown set '$%s' (known: %s)", r->name, known);
			continue;
		}
		if (!kind_fits(s->s.kind, e->field)) {
			rl_diag_at(B->d, r->file, r->line, r->col,
				   "set '$%s' is a %s set: it cannot hold %s field '%s'",
				   r->name, rl_kind_name(s->s.kind),
				   field_type_name(field_table[e->field].type),
				   field_table[e->field].name);
			continue;
		}
		e->set = &s->s;
	}
	/* unique ids (hash) and sids (sort): linear-ish for any file */
	struct namemap ids = { 0 };
	for (int i = 0; i < rs->nrules; i++) {
		int first = -1;
		int rc = rl_namemap_put(&ids, rs->rules[i].id, i, &first);
		if (rc == -ENOMEM) {
			B->nomem = 1;
			rl_namemap_free(&ids);
			return;
		}
		if (rc == -EEXIST)
			rl_diag_at(B->d, rs->rules[i].file, rs->rules[i].line,
				   B->aux[i].col,
				   "duplicate rule id '%s' (first at %s:%u)",
				   rs->rules[i].id, rs->rules[first].file,
				   rs->rules[first].line);
	}
	uint64_t *bysid = malloc(sizeof(uint64_t) * (size_t)(rs->nrules + 1));
	if (!bysid) {
		B->nomem = 1;
		rl_namemap_free(&ids);
		return;
	}
	for (int i = 0; i < rs->nrules; i++)
		bysid[i] = (uint64_t)rs->rules[i].sid << 32 | (uint32_t)i;
	qsort(bysid, (size_t)rs->nrules, sizeof(uint64_t), cmp_u64);
	int first = 0;  /* lowest rule index of the current sid group */
	for (int k = 0; k < rs->nrules; k++) {
		uint32_t sid = (uint32_t)(bysid[k] >> 32);
		int j = (int)(uint32_t)bysid[k];
		if (k == 0 || sid != (uint32_t)(bysid[k - 1] >> 32)) {
			first = j;
			continue;
		}
		if (!sid)
			continue;  /* "no sid" is reported per rule */
		rl_diag_at(B->d, rs->rules[j].file, rs->rules[j].line, B->aux[j].col,
			   "duplicate sid %u in rule '%s' (also rule '%s' at %s:%u)",
			   sid, rs->rules[j].id, rs->rules[first].id,
			   rs->rules[first].file, rs->rules[first].line);
	}
	free(bysid);
	/* correlation specs */
	if (B->nafters) {
		rs->specs = calloc((size_t)B->nafters, sizeof(*rs->specs));
		if (!rs->specs) {
			B->nomem = 1;
			rl_namemap_free(&ids);
			return;
		}
	}
	for (int i = 0; i < B->nafters; i++) {
		struct after_ref *a = &B->afters[i];
		int ai = rl_namemap_get(&ids, a->name);
		if (ai < 0) {
			rl_diag_at(B->d, a->file, a->line, a->col,
				   "'after' names unknown rule '%s'", a->name);
			continue;
		}
		if (ai == a->rule) {
			rl_diag_at(B->d, a->file, a->line, a->col,
				   "rule '%s' cannot come 'after' itself", a->name);
			continue;
		}
		struct rule *ra = &rs->rules[ai], *rb = &rs->rules[a->rule];
		if (ra->action == RA_PASS) {
			rl_diag_at(B->d, a->file, a->line, a->col,
				   "'after %s': a pass rule never records a match",
				   a->name);
			continue;
		}
		for (int k = 0; k < a->ak.n; k++)
			if (ra->triggers && !(field_table[a->ak.f[k]].triggers & ra->triggers))
				rl_diag_at(B->d, a->file, a->line, a->col,
					   "key field '%s' is not known on the triggers of rule '%s'",
					   field_table[a->ak.f[k]].name, ra->id);
		struct corr_spec *s = &rs->specs[rs->nspecs];
		s->a = ai;
		s->b = a->rule;
		s->ak = a->ak;
		s->bk = a->bk;
		s->window_us = a->window_us;
		s->id = spec_id(ra->sid, rb->sid);
		rb->after = rs->nspecs;
		int *rem = rl_arena_alloc(ar, sizeof(int) * (size_t)(ra->nremember + 1));
		if (!rem) {
			B->nomem = 1;
			rl_namemap_free(&ids);
			return;
		}
		if (ra->nremember)
			memcpy(rem, ra->remember, sizeof(int) * (size_t)ra->nremember);
		rem[ra->nremember++] = rs->nspecs;
		ra->remember = rem;
		rs->nspecs++;
	}
	rl_namemap_free(&ids);
	/* trigger index: pass rules first (they decide whether the others
	 * run), then the file order */
	for (int t = 0; t < TRIG__COUNT; t++) {
		uint32_t n = 0;
		for (int i = 0; i < rs->nrules; i++)
			if (rs->rules[i].triggers & TM(t))
				n++;
		if (!n)
			continue;
		rs->by_trigger[t] = malloc(sizeof(uint32_t) * n);
		if (!rs->by_trigger[t]) {
			B->nomem = 1;
			return;
		}
		for (int pass = 1; pass >= 0; pass--)
			for (int i = 0; i < rs->nrules; i++)
				if ((rs->rules[i].triggers & TM(t)) &&
				    (rs->rules[i].action == RA_PASS) == pass)
					rs->by_trigger[t][rs->n_by_trigger[t]++] =
						(uint32_t)i;
	}
	for (int t = 0; t < TRIG__COUNT; t++)
		if (verb_index_build(rs, t) < 0) {
			B->nomem = 1;
			return;
		}
	/* the named sets move to the ruleset */
	rs->sets = malloc(sizeof(*rs->sets) * (size_t)(B->nsets ? B->nsets : 1));
	if (!rs->sets) {
		B->nomem = 1;
		return;
	}
	for (int i = 0; i < B->nsets; i++)
		rs->sets[rs->nsets++] = &B->sets[i]->s;
	B->nsets = 0;
	rs->home_net = ruleset_set(rs, "HOME_NET");
}

/* apply config/--set values after the files (they win) */
static void apply_vars(struct build *B, const struct rule_vars *vars)
{
	if (!vars)
		return;
	for (int i = 0; i < vars->n; i++) {
		const struct rule_var *v = &vars->v[i];
		struct setb *s = rl_find_set(B, v->name);
		if (!s) {
			char known[512];
			size_t o = 0;
			for (int j = 0; j < B->nsets && o < sizeof(known); j++)
				o += (size_t)snprintf(known + o, sizeof(known) - o,
						      "%s%s", j ? ", " : "",
						      B->sets[j]->s.name);
			rl_diag_at(B->d, v->file, (uint32_t)v->line, 1,
				   "unknown set '%s' (known: %s)", v->name, known);
			continue;
		}
		rl_setb_clear(s);
		set_fill_text(B, &B->rs->arena, s, v->values, v->file, v->line,
			      (uint32_t)strlen(v->name) + 2);
	}
}

static void build_free(struct build *B)
{
	for (int i = 0; i < B->naux; i++)
		free(B->aux[i].uses);
	free(B->aux);
	for (int i = 0; i < B->nsets; i++)
		rl_setb_free(B->sets[i]);
	free(B->sets);
	rl_namemap_free(&B->setmap);
	free(B->refs);
	free(B->afters);
	free(B->anon); /* the anonymous sets themselves: see ruleset_load_sources */
}

struct ruleset *ruleset_load_sources(const struct rule_source *src, int n,
				     const struct rule_vars *vars,
				     struct rule_diags *d)
{
	struct rule_diags local;
	memset(&local, 0, sizeof(local));
	if (!d)
		d = &local;
	int err0 = d->nerrors;
	struct build B;
	memset(&B, 0, sizeof(B));
	B.d = d;
	B.rs = calloc(1, sizeof(*B.rs));
	if (!B.rs)
		return NULL;
	atomic_init(&B.rs->refs, 1);
	struct arena **ar = &B.rs->arena;
	for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++) {
		struct setb *s = rl_new_setb(&B, builtins[i].name, builtins[i].kind);
		if (!s || rl_add_set(&B, s)) {
			rl_setb_free(s);
			B.nomem = 1;
			break;
		}
		s->builtin = 1;
		s->file = "(built-in)";
		set_fill_text(&B, ar, s, builtins[i].defaults, "(built-in)", 0, 1);
	}
	for (int i = 0; i < n && !B.nomem; i++)
		rl_parse_file(&B, ar, src[i].name, src[i].text, src[i].len);
	if (!B.nomem)
		apply_vars(&B, vars);
	if (!B.nomem)
		finalize(&B);
	/* anonymous sets are owned by the ruleset too: append them */
	if (B.nanon) {
		struct rule_set **ns = realloc(B.rs->sets, sizeof(*ns) *
					       (size_t)(B.rs->nsets + B.nanon + 1));
		if (!ns) {
			B.nomem = 1;
			for (int i = 0; i < B.nanon; i++)
				rl_setb_free(B.anon[i]);
		} else {
			B.rs->sets = ns;
			for (int i = 0; i < B.nanon; i++)
				ns[B.rs->nsets++] = &B.anon[i]->s;
		}
	}
	/* warnings for what the admin should set */
	if (!B.nomem && d->nerrors == err0) {
		for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++) {
			const struct rule_set *s = ruleset_set(B.rs, builtins[i].name);
			if (s && builtins[i].warn && !s->nitems)
				rl_diag_warn(d, "warning: %s", builtins[i].warn);
		}
		/* inline, a block decided after the server has acted stops
		 * nothing of what the rule is about: say so */
		const uint32_t late = TM(TRIG_SMTP_REPLY) | TM(TRIG_SMTP_RECORD) |
				      TM(TRIG_FLOW_END);
		for (int i = 0; i < B.rs->nrules; i++) {
			const struct rule *r = &B.rs->rules[i];
			if (r->action != RA_BLOCK || !(r->triggers & late))
				continue;
			for (int t = 0; t < TRIG__COUNT; t++)
				if (r->triggers & late & TM(t))
					rl_diag_warn(d, "warning: %s:%u: rule %s "
						     "blocks on %s: inline, the "
						     "server has already acted by "
						     "then (decide on the client's "
						     "request, e.g. smtp.command)",
						     r->file ? r->file : "?",
						     r->line, r->id,
						     trigger_names[t]);
		}
	}
	if (B.nomem)
		rl_diag_warn(d, "error: out of memory while loading rules");
	struct ruleset *rs = B.rs;
	int failed = B.nomem || d->nerrors != err0;
	if (B.nomem)
		d->nerrors++;
	build_free(&B);
	if (failed) {
		ruleset_free(rs);
		if (d == &local)
			rule_diags_free(&local);
		return NULL;
	}
	if (d == &local)
		rule_diags_free(&local);
	return rs;
}

static int read_file(const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -errno;
	char *buf = malloc(RULE_FILE_MAX + 1);
	if (!buf) {
		fclose(f);
		return -ENOMEM;
	}
	size_t n = fread(buf, 1, RULE_FILE_MAX + 1, f);
	int err = ferror(f);
	fclose(f);
	if (err) {
		free(buf);
		return -EIO;
	}
	if (n > RULE_FILE_MAX) {
		free(buf);
		return -EFBIG;
	}
	buf[n] = 0;
	*out = buf;
	*len = n;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct ruleset *ruleset_load(const char *path, const struct rule_vars *vars,
			     struct rule_diags *d)
{
	struct stat st;
	char **names = NULL;
	int nn = 0, capn = 0;
	struct ruleset *rs = NULL;
	struct rule_source *src = NULL;
	int nsrc = 0, failed = 0;
	if (stat(path, &st) < 0) {
		rl_diag_at(d, path, 0, 0, "cannot open: %s", strerror(errno));
		return NULL;
	}
	if (S_ISDIR(st.st_mode)) {
		DIR *dir = opendir(path);
		if (!dir) {
			rl_diag_at(d, path, 0, 0, "cannot open directory: %s",
				   strerror(errno));
			return NULL;
		}
		struct dirent *de;
		while ((de = readdir(dir))) {
			size_t l = strlen(de->d_name);
			if (l < 7 || strcmp(de->d_name + l - 6, ".rules") ||
			    de->d_name[0] == '.')
				continue;
			char **slot = rl_vec_push(&names, &nn, &capn, sizeof(char *));
			if (!slot || asprintf(slot, "%s/%s", path, de->d_name) < 0) {
				if (slot)
					nn--;
				failed = 1;
				break;
			}
		}
		closedir(dir);
		qsort(names, (size_t)nn, sizeof(char *), cmp_str);
		if (!nn && !failed)
			rl_diag_warn(d, "warning: %s: no *.rules files", path);
	} else {
		char **slot = rl_vec_push(&names, &nn, &capn, sizeof(char *));
		if (!slot || !(*slot = strdup(path))) {
			if (slot)
				nn--;
			failed = 1;
		}
	}
	src = calloc((size_t)(nn ? nn : 1), sizeof(*src));
	if (!src)
		failed = 1;
	for (int i = 0; i < nn && !failed; i++) {
		char *text = NULL;
		size_t len = 0;
		int rc = read_file(names[i], &text, &len);
		if (rc) {
			rl_diag_at(d, names[i], 0, 0, "cannot read: %s%s",
				   strerror(-rc), rc == -EFBIG ? " (over 4 MiB)" : "");
			failed = 1;
			continue;
		}
		src[nsrc].name = names[i];
		src[nsrc].text = text;
		src[nsrc].len = len;
		nsrc++;
	}
	if (!failed)
		rs = ruleset_load_sources(src, nsrc, vars, d);
	/* rules keep file names: copy them into the ruleset's arena */
	if (rs) {
		for (int i = 0; i < rs->nrules; i++) {
			char *c = rl_arena_strndup(&rs->arena, rs->rules[i].file,
						   strlen(rs->rules[i].file));
			if (c)
				rs->rules[i].file = c;
		}
	}
	for (int i = 0; i < nsrc; i++)
		free((char *)src[i].text);
	free(src);
	for (int i = 0; i < nn; i++)
		free(names[i]);
	free(names);
	return rs;
}

int rules_check(const char *path, const struct rule_vars *vars, FILE *out)
{
	struct rule_diags d = { 0 };
	struct ruleset *rs = ruleset_load(path, vars, &d);
	rule_diags_print(&d, out);
	if (rs)
		fprintf(out, "%s: %d rules OK (%d warnings)\n", path, rs->nrules,
			d.nwarnings);
	else
		fprintf(out, "%s: %d errors, nothing loaded\n", path, d.nerrors);
	rule_diags_free(&d);
	int rc = rs ? 0 : 1;
	ruleset_unref(rs);
	return rc;
}
