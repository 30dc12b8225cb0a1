/* rules_parse.c - the rule-file parser: the token helpers and error
 * reporting the whole parser shares, field names, key lists, durations
 * and numbers, [item, ...] lists, message templates, the statements of a
 * rule block, "set" statements, and the top level of a file.
 * Expressions are in rules_expr.c. Load time only.
 *
 * It collects every error with its position: after one it resynchronises
 * on the next statement keyword inside a rule, on the next "rule"/"set"
 * outside one, so a file's errors are all reported in one run. Checks
 * that need every file (set references, "after" names, duplicate ids and
 * sids) are the loader's (rules_load.c).
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "rules_int.h"

struct token *rl_peek(struct parser *p)
{
	if (!p->lx.have) {
		rl_lx_scan(&p->lx, p->b->d, p->ar);
		p->lx.have = 1;
	}
	return &p->lx.tok;
}

void rl_advance(struct parser *p)
{
	rl_peek(p);
	p->lx.have = 0;
}

int rl_tok_is(struct token *t, const char *w)
{
	return t->t == TK_WORD && strlen(w) == t->n && memcmp(t->p, w, t->n) == 0;
}

const char *rl_tok_desc(struct token *t, char *buf, size_t cap)
{
	if (t->t == TK_EOF)
		return "end of file";
	size_t n = t->n > 40 ? 40 : t->n;
	snprintf(buf, cap, "'%.*s'", (int)n, t->p);
	for (char *q = buf; *q; q++)
		if (!isprint((unsigned char)*q))
			*q = '?';
	return buf;
}

/* error at the current token; silent if the lexer already reported it */
int rl_perr(struct parser *p, const char *fmt, ...)
{
	struct token *t = rl_peek(p);
	if (t->t == TK_ERR)
		return -1;
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	rl_diag_at(p->b->d, p->lx.file, t->line, t->col, "%s", msg);
	return -1;
}

int rl_perr_at(struct parser *p, const struct token *t, const char *fmt, ...)
{
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	rl_diag_at(p->b->d, p->lx.file, t->line, t->col, "%s", msg);
	return -1;
}

int rl_expect(struct parser *p, enum tok t, const char *what)
{
	struct token *k = rl_peek(p);
	if (k->t != t) {
		char b[64];
		return rl_perr(p, "expected %s, found %s", what,
			       rl_tok_desc(k, b, sizeof(b)));
	}
	rl_advance(p);
	return 0;
}

void rl_use_field(struct parser *p, int field, const struct token *t)
{
	if (p->no_use)
		return;
	struct rule_aux *a = &p->b->aux[p->rule];
	struct field_use *u = rl_vec_push(&a->uses, &a->nuses, &a->capuses,
					  sizeof(*u));
	if (!u) {
		p->b->nomem = 1;
		return;
	}
	u->field = (uint16_t)field;
	u->line = t->line;
	u->col = t->col;
	u->file = p->lx.file;
}

/* a field name at the current token; returns the id or -1 */
int rl_parse_field(struct parser *p)
{
	struct token *t = rl_peek(p);
	char b[64];
	if (t->t != TK_WORD)
		return rl_perr(p, "expected a field name, found %s",
			       rl_tok_desc(t, b, sizeof(b)));
	int f = field_lookup(t->p, t->n);
	if (f < 0)
		return rl_perr(p, "unknown field %s", rl_tok_desc(t, b, sizeof(b)));
	rl_use_field(p, f, t);
	rl_advance(p);
	return f;
}

static int parse_keys(struct parser *p, struct rule_keys *k)
{
	memset(k, 0, sizeof(*k));
	int paren = rl_peek(p)->t == TK_LPAREN;
	if (paren)
		rl_advance(p);
	for (;;) {
		struct token at = *rl_peek(p);
		int f = rl_parse_field(p);
		if (f < 0)
			return -1;
		if (field_table[f].type == FT_STRLIST)
			return rl_perr_at(p, &at, "field '%s' has several values: "
					  "it cannot be a key",
					  field_table[f].name);
		if (k->n >= RULE_MAX_KEYS)
			return rl_perr_at(p, &at, "at most %d key fields",
					  RULE_MAX_KEYS);
		k->f[k->n++] = (uint16_t)f;
		if (!paren)
			return 0;
		if (rl_peek(p)->t == TK_COMMA) {
			rl_advance(p);
			continue;
		}
		return rl_expect(p, TK_RPAREN, "')' or ','");
	}
}

/* "60s", "2m", "1h", "1d", "500ms" */
static int parse_duration(struct parser *p, uint64_t *us)
{
	struct token *t = rl_peek(p);
	char b[64];
	if (t->t != TK_WORD)
		return rl_perr(p, "expected a duration (e.g. 60s, 5m, 1h), found %s",
			       rl_tok_desc(t, b, sizeof(b)));
	size_t i = 0;
	while (i < t->n && isdigit((unsigned char)t->p[i]))
		i++;
	int64_t v;
	const char *u = t->p + i;
	size_t un = t->n - i;
	uint64_t mul = 0;
	if (un == 2 && !memcmp(u, "ms", 2)) mul = 1000;
	else if (un == 1 && *u == 's') mul = 1000000;
	else if (un == 1 && *u == 'm') mul = 60000000ULL;
	else if (un == 1 && *u == 'h') mul = 3600000000ULL;
	else if (un == 1 && *u == 'd') mul = 86400000000ULL;
	if (!mul || rl_parse_i64(t->p, i, 1, 1000000000, &v))
		return rl_perr(p, "bad duration %s (a number and a unit: ms, s, m, h, d)",
			       rl_tok_desc(t, b, sizeof(b)));
	if ((uint64_t)v * mul > 30 * 86400000000ULL)
		return rl_perr(p, "duration %s is longer than 30 days",
			       rl_tok_desc(t, b, sizeof(b)));
	*us = (uint64_t)v * mul;
	rl_advance(p);
	return 0;
}

int rl_parse_int_tok(struct parser *p, int64_t min, int64_t max,
		     int64_t *out, const char *what)
{
	struct token *t = rl_peek(p);
	char b[64];
	int rc = t->t == TK_WORD ? rl_parse_i64(t->p, t->n, min, max, out) : -EINVAL;
	if (rc == -ERANGE)
		return rl_perr(p, "%s %s out of range (%lld..%lld)", what,
			       rl_tok_desc(t, b, sizeof(b)), (long long)min,
			       (long long)max);
	if (rc)
		return rl_perr(p, "expected %s, found %s", what,
			       rl_tok_desc(t, b, sizeof(b)));
	rl_advance(p);
	return 0;
}

static int stmt_index(struct token *t);

/* "[" item, ... "]" into b; items are words or strings. Returns 0, -2 when
 * some items were bad but the list is well-formed (parsing can go on: the
 * errors are reported, the load fails anyway), -1 on a syntax error. */
int rl_parse_items(struct parser *p, struct setb *s)
{
	if (rl_expect(p, TK_LBRACK, "'['"))
		return -1;
	int rc = 0;
	for (;;) {
		struct token *t = rl_peek(p);
		if (t->t == TK_RBRACK) {
			rl_advance(p);
			return rc;
		}
		const char *v;
		size_t n;
		if (t->t == TK_WORD) {
			v = t->p;
			n = t->n;
		} else if (t->t == TK_STR) {
			v = t->s;
			n = t->sn;
		} else {
			char b[64];
			rl_perr(p, "expected a set item or ']', found %s",
				rl_tok_desc(t, b, sizeof(b)));
			goto resync;
		}
		const char *why = NULL;
		int r = rl_set_add_item(s, p->ar, v, n, &why);
		if (r == -ENOMEM) {
			p->b->nomem = 1;
			return -1;
		}
		if (r) {
			char b[64];
			rl_perr(p, "%s: %s", rl_tok_desc(t, b, sizeof(b)), why);
			rc = -2;  /* keep going: report every bad item */
		}
		rl_advance(p);
		t = rl_peek(p);
		if (t->t == TK_COMMA) {
			rl_advance(p);
		} else if (t->t != TK_RBRACK) {
			char b[64];
			rl_perr(p, "expected ',' or ']', found %s",
				rl_tok_desc(t, b, sizeof(b)));
			goto resync;
		}
	}
resync:
	/* skip to the closing ']' unless a block or statement starts first */
	for (;;) {
		struct token *t = rl_peek(p);
		if (t->t == TK_RBRACK) {
			rl_advance(p);
			return -1;
		}
		if (t->t == TK_EOF || t->t == TK_RBRACE || t->t == TK_LBRACE ||
		    rl_tok_is(t, "rule") || rl_tok_is(t, "set") || stmt_index(t) >= 0)
			return -1;
		rl_advance(p);
	}
}

/* ---- message template ---- */

static int parse_template(struct parser *p, struct rule *r,
			  const struct token *t)
{
	const char *s = t->s;
	size_t n = t->sn;
	int cap = 0;
	struct tmpl_seg *segs = NULL;
	int nseg = 0, rc = 0;
	size_t lit0 = 0;
	/* literal runs are copied so {{ and }} can collapse */
	char *lit = rl_arena_alloc(p->ar, n + 1);
	size_t ln = 0;
	if (!lit) {
		p->b->nomem = 1;
		return -1;
	}
	for (size_t i = 0; i < n;) {
		if ((s[i] == '{' || s[i] == '}') && i + 1 < n && s[i + 1] == s[i]) {
			lit[ln++] = s[i];
			i += 2;
			continue;
		}
		if (s[i] == '}') {
			rl_perr_at(p, &(struct token){ .line = t->line,
				   .col = t->col + 1 + (uint32_t)i },
				   "unmatched '}' in message (write '}}')");
			rc = -1;
			i++;
			continue;
		}
		if (s[i] != '{') {
			lit[ln++] = s[i++];
			continue;
		}
		const char *close = memchr(s + i, '}', n - i);
		struct token at = { .line = t->line, .col = t->col + 2 + (uint32_t)i };
		if (!close) {
			rl_perr_at(p, &at, "unterminated '{' in message (write '{{' for a brace)");
			rc = -1;
			break;
		}
		int f = field_lookup(s + i + 1, (size_t)(close - s - i - 1));
		if (f < 0) {
			rl_perr_at(p, &at, "unknown field '%.*s' in message",
				   (int)(close - s - i - 1), s + i + 1);
			rc = -1;
		} else {
			rl_use_field(p, f, &at);
		}
		if (ln > lit0) {
			struct tmpl_seg *g = rl_vec_push(&segs, &nseg, &cap, sizeof(*g));
			if (!g)
				goto nomem;
			g->field = -1;
			g->text = lit + lit0;
			g->len = (uint32_t)(ln - lit0);
			lit0 = ln;
		}
		struct tmpl_seg *g = rl_vec_push(&segs, &nseg, &cap, sizeof(*g));
		if (!g)
			goto nomem;
		g->field = f;
		i = (size_t)(close - s) + 1;
	}
	if (ln > lit0) {
		struct tmpl_seg *g = rl_vec_push(&segs, &nseg, &cap, sizeof(*g));
		if (!g)
			goto nomem;
		g->field = -1;
		g->text = lit + lit0;
		g->len = (uint32_t)(ln - lit0);
	}
	/* move to the arena so the ruleset frees it with everything else */
	r->msg = rl_arena_alloc(p->ar, sizeof(*segs) * (size_t)(nseg ? nseg : 1));
	if (!r->msg)
		goto nomem;
	if (nseg)
		memcpy(r->msg, segs, sizeof(*segs) * (size_t)nseg);
	r->nmsg = nseg;
	free(segs);
	return rc;
nomem:
	free(segs);
	p->b->nomem = 1;
	return -1;
}

/* ---- rules ---- */

static const char *const stmt_words[] = {
	"sid", "on", "when", "action", "severity", "category", "msg",
	"threshold", "after", "ratelimit",
};
#define NSTMT ((int)(sizeof(stmt_words) / sizeof(stmt_words[0])))

static int stmt_index(struct token *t)
{
	for (int i = 0; i < NSTMT; i++)
		if (rl_tok_is(t, stmt_words[i]))
			return i;
	return -1;
}

static int valid_id(const char *s, size_t n)
{
	if (!n || n > 64 || !isalnum((unsigned char)s[0]))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '.' &&
		    s[i] != '-' && s[i] != '_')
			return 0;
	return 1;
}

static int parse_stmt(struct parser *p, struct rule *r, int k,
		      const struct token *kw, uint32_t *seen)
{
	char b[64];
	struct build *B = p->b;
	if ((*seen & (1u << k)) && k != 2 /* when: repeats AND */)
		return rl_perr_at(p, kw, "duplicate '%s' in rule '%s'",
				  stmt_words[k], r->id);
	*seen |= 1u << k;
	switch (k) {
	case 0: { /* sid */
		int64_t v;
		if (rl_parse_int_tok(p, 1, UINT32_MAX, &v, "a sid"))
			return -1;
		r->sid = (uint32_t)v;
		return 0;
	}
	case 1: /* on T, T */
		for (;;) {
			struct token *t = rl_peek(p);
			int tr = t->t == TK_WORD ? trigger_lookup(t->p, t->n) : -1;
			if (tr < 0) {
				char list[512];
				size_t o = 0;
				for (int i = 0; i < TRIG__COUNT && o < sizeof(list); i++)
					o += (size_t)snprintf(list + o, sizeof(list) - o,
						      "%s%s", i ? ", " : "",
						      trigger_names[i]);
				return rl_perr(p, "unknown trigger %s (one of: %s)",
					       rl_tok_desc(t, b, sizeof(b)), list);
			}
			r->triggers |= TM(tr);
			rl_advance(p);
			if (rl_peek(p)->t != TK_COMMA)
				return 0;
			rl_advance(p);
		}
	case 2: { /* when */
		int32_t e = rl_parse_or(p);
		if (e < 0)
			return -1;
		if (r->expr >= 0) {
			struct token at = *kw;
			int32_t a = rl_new_expr(p, EX_AND, &at);
			if (a < 0)
				return -1;
			B->rs->exprs[a].l = r->expr;
			B->rs->exprs[a].r = e;
			e = a;
		}
		r->expr = e;
		return 0;
	}
	case 3: { /* action */
		struct token *t = rl_peek(p);
		if (rl_tok_is(t, "alert")) r->action = RA_ALERT;
		else if (rl_tok_is(t, "block")) r->action = RA_BLOCK;
		else if (rl_tok_is(t, "pass")) r->action = RA_PASS;
		else if (rl_tok_is(t, "note")) r->action = RA_NOTE;
		else
			return rl_perr(p, "unknown action %s (alert, block, pass, note)",
				       rl_tok_desc(t, b, sizeof(b)));
		rl_advance(p);
		return 0;
	}
	case 4: { /* severity */
		int64_t v;
		if (rl_parse_int_tok(p, 1, 3, &v, "a severity (1..3)"))
			return -1;
		r->severity = (int)v;
		return 0;
	}
	case 5: /* category */
	case 6: { /* msg */
		struct token *t = rl_peek(p);
		if (t->t != TK_STR)
			return rl_perr(p, "expected a quoted string, found %s",
				       rl_tok_desc(t, b, sizeof(b)));
		struct token st = *t;
		rl_advance(p);
		if (k == 5) {
			r->category = st.s;
			return 0;
		}
		return parse_template(p, r, &st);
	}
	case 7: { /* threshold count|distinct F by KEYS >|>= N within D */
		struct token *t = rl_peek(p);
		if (rl_tok_is(t, "count")) {
			r->thr.kind = THR_COUNT;
			rl_advance(p);
		} else if (rl_tok_is(t, "distinct")) {
			r->thr.kind = THR_DISTINCT;
			rl_advance(p);
			struct token at = *rl_peek(p);
			int f = rl_parse_field(p);
			if (f < 0)
				return -1;
			if (field_table[f].type == FT_STRLIST)
				return rl_perr_at(p, &at, "field '%s' has several "
						  "values: count distinct over a "
						  "single-valued field",
						  field_table[f].name);
			r->thr.field = (uint16_t)f;
		} else {
			return rl_perr(p, "expected 'count' or 'distinct', found %s",
				       rl_tok_desc(t, b, sizeof(b)));
		}
		if (!rl_tok_is(rl_peek(p), "by"))
			return rl_perr(p, "expected 'by', found %s",
				       rl_tok_desc(rl_peek(p), b, sizeof(b)));
		rl_advance(p);
		if (parse_keys(p, &r->thr.by))
			return -1;
		t = rl_peek(p);
		int ge = t->t == TK_GE;
		if (t->t != TK_GT && !ge)
			return rl_perr(p, "expected '>' or '>=', found %s",
				       rl_tok_desc(t, b, sizeof(b)));
		rl_advance(p);
		struct token nt = *rl_peek(p);
		int64_t v;
		if (rl_parse_int_tok(p, ge ? 1 : 0, 1000000, &v, "a count"))
			return -1;
		r->thr.limit = ge ? v - 1 : v;
		if (r->thr.kind == THR_DISTINCT && r->thr.limit >= RULE_DISTINCT_MAX)
			return rl_perr_at(p, &nt, "distinct counts are kept up to %d "
					  "values per key: use a limit below that",
					  RULE_DISTINCT_MAX);
		if (!rl_tok_is(rl_peek(p), "within"))
			return rl_perr(p, "expected 'within', found %s",
				       rl_tok_desc(rl_peek(p), b, sizeof(b)));
		rl_advance(p);
		return parse_duration(p, &r->thr.window_us);
	}
	case 8: { /* after RULE within D key KEYS == KEYS */
		struct token *t = rl_peek(p);
		if (t->t != TK_WORD || !valid_id(t->p, t->n))
			return rl_perr(p, "expected a rule id, found %s",
				       rl_tok_desc(t, b, sizeof(b)));
		struct after_ref a;
		memset(&a, 0, sizeof(a));
		a.rule = p->rule;
		a.name = rl_arena_strndup(p->ar, t->p, t->n);
		a.file = p->lx.file;
		a.line = t->line;
		a.col = t->col;
		rl_advance(p);
		if (!rl_tok_is(rl_peek(p), "within"))
			return rl_perr(p, "expected 'within', found %s",
				       rl_tok_desc(rl_peek(p), b, sizeof(b)));
		rl_advance(p);
		if (parse_duration(p, &a.window_us))
			return -1;
		if (!rl_tok_is(rl_peek(p), "key"))
			return rl_perr(p, "expected 'key' (e.g. key dest_ip == src_ip), found %s",
				       rl_tok_desc(rl_peek(p), b, sizeof(b)));
		rl_advance(p);
		struct token kt = *rl_peek(p);
		/* A's fields are checked against A's triggers in finalize() */
		p->no_use = 1;
		int rk = parse_keys(p, &a.ak);
		p->no_use = 0;
		if (rk || rl_expect(p, TK_EQ, "'=='") || parse_keys(p, &a.bk))
			return -1;
		if (a.ak.n != a.bk.n)
			return rl_perr_at(p, &kt, "key lists differ in length (%d and %d)",
					  a.ak.n, a.bk.n);
		for (int i = 0; i < a.ak.n; i++)
			if (field_table[a.ak.f[i]].type != field_table[a.bk.f[i]].type)
				return rl_perr_at(p, &kt, "key %d compares %s '%s' with %s '%s'",
						  i + 1,
						  field_type_name(field_table[a.ak.f[i]].type),
						  field_table[a.ak.f[i]].name,
						  field_type_name(field_table[a.bk.f[i]].type),
						  field_table[a.bk.f[i]].name);
		struct after_ref *slot = rl_vec_push(&B->afters, &B->nafters,
						     &B->capafters, sizeof(*slot));
		if (!slot) {
			B->nomem = 1;
			return -1;
		}
		*slot = a;
		return 0;
	}
	case 9: { /* ratelimit N per D [by KEYS] */
		int64_t v;
		if (rl_parse_int_tok(p, 1, 1000000, &v, "a count"))
			return -1;
		r->rate.n = (uint32_t)v;
		if (!rl_tok_is(rl_peek(p), "per"))
			return rl_perr(p, "expected 'per', found %s",
				       rl_tok_desc(rl_peek(p), b, sizeof(b)));
		rl_advance(p);
		if (parse_duration(p, &r->rate.window_us))
			return -1;
		if (rl_tok_is(rl_peek(p), "by")) {
			rl_advance(p);
			return parse_keys(p, &r->rate.by);
		}
		return 0;
	}
	}
	return -1;
}

/* after an error inside a rule: skip to the next statement or '}' */
static void resync_stmt(struct parser *p)
{
	for (;;) {
		struct token *t = rl_peek(p);
		if (t->t == TK_EOF || t->t == TK_RBRACE || stmt_index(t) >= 0)
			return;
		rl_advance(p);
	}
}

static void check_rule_fields(struct parser *p, struct rule *r,
			      const struct token *idt)
{
	struct rule_aux *a = &p->b->aux[p->rule];
	if (!r->triggers)
		return;
	for (int i = 0; i < a->nuses; i++) {
		const struct field_info *fi = &field_table[a->uses[i].field];
		if (fi->triggers & r->triggers)
			continue;
		char list[256];
		size_t o = 0;
		for (int t = 0; t < TRIG__COUNT && o < sizeof(list); t++)
			if (fi->triggers & TM(t))
				o += (size_t)snprintf(list + o, sizeof(list) - o,
						      "%s%s", o ? ", " : "",
						      trigger_names[t]);
		rl_diag_at(p->b->d, a->uses[i].file, a->uses[i].line,
			   a->uses[i].col, "field '%s' is not known on this rule's "
			   "triggers (it is on: %s)", fi->name, list);
	}
	(void)idt;
}

static void parse_rule(struct parser *p)
{
	char b[64];
	struct build *B = p->b;
	struct ruleset *rs = B->rs;
	struct token idt = *rl_peek(p);
	if (idt.t != TK_WORD || !valid_id(idt.p, idt.n)) {
		rl_perr(p, "expected a rule id (letters, digits, '.', '-', '_'), found %s",
			rl_tok_desc(&idt, b, sizeof(b)));
		/* skip the block if there is one: its errors would only
		 * be noise about a rule that has no name */
		while (rl_peek(p)->t != TK_EOF && rl_peek(p)->t != TK_LBRACE &&
		       !rl_tok_is(rl_peek(p), "rule") && !rl_tok_is(rl_peek(p), "set"))
			rl_advance(p);
		if (rl_peek(p)->t != TK_LBRACE)
			return;
		int depth = 0;
		do {
			if (rl_peek(p)->t == TK_LBRACE)
				depth++;
			else if (rl_peek(p)->t == TK_RBRACE)
				depth--;
			rl_advance(p);
		} while (depth > 0 && rl_peek(p)->t != TK_EOF);
		return;
	}
	rl_advance(p);
	struct rule *r = rl_vec_push(&rs->rules, &rs->nrules, &B->ncap_rules,
				     sizeof(*r));
	struct rule_aux *ax = rl_vec_push(&B->aux, &B->naux, &B->capaux,
					  sizeof(*ax));
	if (!r || !ax) {
		B->nomem = 1;
		return;
	}
	p->rule = rs->nrules - 1;
	int expr0 = rs->nexprs;
	r->id = rl_arena_strndup(p->ar, idt.p, idt.n);
	if (!r->id) {
		B->nomem = 1;
		return;
	}
	r->expr = -1;
	r->after = -1;
	r->severity = 2;
	r->category = "";
	r->file = p->lx.file;
	r->line = idt.line;
	ax->col = idt.col;
	struct token ob = *rl_peek(p);
	if (rl_expect(p, TK_LBRACE, "'{'")) {
		/* no body: skip to the next top-level statement */
		while (rl_peek(p)->t != TK_EOF && !rl_tok_is(rl_peek(p), "rule") &&
		       !rl_tok_is(rl_peek(p), "set"))
			rl_advance(p);
		return;
	}
	uint32_t seen = 0;
	for (;;) {
		struct token t = *rl_peek(p);
		if (t.t == TK_RBRACE) {
			rl_advance(p);
			break;
		}
		if (t.t == TK_EOF) {
			rl_perr_at(p, &ob, "rule '%s': '{' is never closed",
				   r->id);
			break;
		}
		int k = stmt_index(&t);
		if (k < 0) {
			if (t.t != TK_ERR)
				rl_perr(p, "unknown statement %s (sid, on, when, "
					"action, severity, category, msg, "
					"threshold, after, ratelimit)",
					rl_tok_desc(&t, b, sizeof(b)));
			rl_advance(p);
			resync_stmt(p);
			continue;
		}
		rl_advance(p);
		if (parse_stmt(p, r, k, &t, &seen))
			resync_stmt(p);
		else {
			/* a statement must end where the next one starts */
			struct token *n = rl_peek(p);
			if (n->t != TK_RBRACE && n->t != TK_EOF &&
			    stmt_index(n) < 0) {
				rl_perr(p, "unexpected %s after '%s' (missing "
					"'and'/'or'?)", rl_tok_desc(n, b, sizeof(b)),
					stmt_words[k]);
				resync_stmt(p);
			}
		}
	}
	/* what every rule needs */
	static const struct { int k; const char *what; } req[] = {
		{ 0, "sid" }, { 1, "on" }, { 3, "action" },
	};
	for (size_t i = 0; i < sizeof(req) / sizeof(req[0]); i++)
		if (!(seen & (1u << req[i].k)))
			rl_perr_at(p, &idt, "rule '%s' has no '%s'", r->id,
				   req[i].what);
	if ((r->action == RA_ALERT || r->action == RA_BLOCK) &&
	    !(seen & (1u << 6)))
		rl_perr_at(p, &idt, "rule '%s' has no 'msg' (alert and block "
			   "rules need one)", r->id);
	check_rule_fields(p, r, &idt);
	if (rs->nexprs - expr0 > RULE_EXPR_MAX)
		rl_perr_at(p, &idt, "rule '%s': expression too long (%d terms, "
			   "at most %d)", r->id, rs->nexprs - expr0, RULE_EXPR_MAX);
}

static const struct { const char *w; enum set_kind k; } kinds[] = {
	{ "cidr", SET_CIDR }, { "domain", SET_DOMAIN },
	{ "string", SET_STRING }, { "port", SET_PORT }, { "int", SET_PORT },
};

static void parse_set(struct parser *p)
{
	char b[64];
	struct build *B = p->b;
	struct token nt = *rl_peek(p);
	if (nt.t != TK_WORD || !valid_id(nt.p, nt.n) || memchr(nt.p, '.', nt.n)) {
		rl_perr(p, "expected a set name (letters, digits, '_'), found %s",
			rl_tok_desc(&nt, b, sizeof(b)));
		return;
	}
	rl_advance(p);
	struct token kt = *rl_peek(p);
	int kind = -1;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (rl_tok_is(&kt, kinds[i].w))
			kind = (int)kinds[i].k;
	if (kind < 0) {
		rl_perr(p, "expected a set type (cidr, domain, string, port), found %s",
			rl_tok_desc(&kt, b, sizeof(b)));
		return;
	}
	rl_advance(p);
	char *name = rl_arena_strndup(p->ar, nt.p, nt.n);
	if (!name) {
		B->nomem = 1;
		return;
	}
	struct setb *s = rl_find_set(B, name);
	if (s && s->builtin && !s->file_defined &&
	    s->s.kind == (enum set_kind)kind) {
		/* a built-in: the file's items replace the defaults */
		rl_setb_clear(s);
		s->file = p->lx.file;
		s->line = nt.line;
		s->col = nt.col;
		s->file_defined = 1;
		rl_parse_items(p, s);
		return;
	}
	if (s && s->s.kind != (enum set_kind)kind)
		rl_perr_at(p, &kt, "set '%s' is a %s set", name,
			   rl_kind_name(s->s.kind));
	else if (s)
		rl_perr_at(p, &nt, "set '%s' is already defined at %s:%u", name,
			   s->file, s->line);
	struct setb *n = rl_new_setb(B, name, (enum set_kind)kind);
	if (!n)
		return;
	if (s) {
		/* still check the items, then drop them */
		rl_parse_items(p, n);
		rl_setb_free(n);
		return;
	}
	if (rl_add_set(B, n)) {
		rl_setb_free(n);
		return;
	}
	n->file = p->lx.file;
	n->line = nt.line;
	n->col = nt.col;
	n->file_defined = 1;
	rl_parse_items(p, n);
}

void rl_parse_file(struct build *B, struct arena **ar, const char *file,
		   const char *text, size_t len)
{
	struct parser p;
	memset(&p, 0, sizeof(p));
	p.lx.file = file;
	p.lx.src = text;
	p.lx.len = len;
	p.lx.line = 1;
	p.lx.col = 1;
	p.b = B;
	p.ar = ar;
	char b[64];
	for (;;) {
		if (B->nomem)
			return;
		struct token *t = rl_peek(&p);
		if (t->t == TK_EOF)
			return;
		if (rl_tok_is(t, "rule")) {
			rl_advance(&p);
			parse_rule(&p);
			continue;
		}
		if (rl_tok_is(t, "set")) {
			rl_advance(&p);
			parse_set(&p);
			continue;
		}
		rl_perr(&p, "expected 'rule' or 'set', found %s",
			rl_tok_desc(t, b, sizeof(b)));
		/* resync: next top-level keyword outside any block */
		int depth = 0;
		for (;;) {
			rl_advance(&p);
			t = rl_peek(&p);
			if (t->t == TK_EOF)
				break;
			if (t->t == TK_LBRACE)
				depth++;
			else if (t->t == TK_RBRACE && depth > 0)
				depth--;
			else if (depth == 0 &&
				 (rl_tok_is(t, "rule") || rl_tok_is(t, "set")))
				break;
		}
	}
}
