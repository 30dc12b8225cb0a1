/* rules.c - rule files: lexer, parser, checker, sets, compiled ruleset.
 *
 * Everything here runs at load time (startup, --check-rules, reload), never
 * per packet: it may allocate. Evaluation is in rule_eval.c.
 *
 * Loading is all-or-nothing: the parser collects every error with its
 * position (it resynchronises on the next statement keyword inside a rule,
 * on the next "rule"/"set" outside one), the checker adds the cross-rule
 * errors, and if there was any error the whole build is freed.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "rules_int.h"

struct token *peek(struct parser *p)
{
	if (!p->lx.have) {
		lx_scan(&p->lx, p->b->d, p->ar);
		p->lx.have = 1;
	}
	return &p->lx.tok;
}

void advance(struct parser *p)
{
	peek(p);
	p->lx.have = 0;
}

int tok_is(struct token *t, const char *w)
{
	return t->t == TK_WORD && strlen(w) == t->n && memcmp(t->p, w, t->n) == 0;
}

const char *tok_desc(struct token *t, char *buf, size_t cap)
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
int perr(struct parser *p, const char *fmt, ...)
{
	struct token *t = peek(p);
	if (t->t == TK_ERR)
		return -1;
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	diag_at(p->b->d, p->lx.file, t->line, t->col, "%s", msg);
	return -1;
}

int perr_at(struct parser *p, const struct token *t, const char *fmt, ...)
{
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	diag_at(p->b->d, p->lx.file, t->line, t->col, "%s", msg);
	return -1;
}

int expect(struct parser *p, enum tok t, const char *what)
{
	struct token *k = peek(p);
	if (k->t != t) {
		char b[64];
		return perr(p, "expected %s, found %s", what,
			    tok_desc(k, b, sizeof(b)));
	}
	advance(p);
	return 0;
}

void use_field(struct parser *p, int field, const struct token *t)
{
	if (p->no_use)
		return;
	struct rule_aux *a = &p->b->aux[p->rule];
	struct field_use *u = vec_push(&a->uses, &a->nuses, &a->capuses,
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
int parse_field(struct parser *p)
{
	struct token *t = peek(p);
	char b[64];
	if (t->t != TK_WORD)
		return perr(p, "expected a field name, found %s",
			    tok_desc(t, b, sizeof(b)));
	int f = field_lookup(t->p, t->n);
	if (f < 0)
		return perr(p, "unknown field %s", tok_desc(t, b, sizeof(b)));
	use_field(p, f, t);
	advance(p);
	return f;
}

static int parse_keys(struct parser *p, struct rule_keys *k)
{
	memset(k, 0, sizeof(*k));
	int paren = peek(p)->t == TK_LPAREN;
	if (paren)
		advance(p);
	for (;;) {
		struct token at = *peek(p);
		int f = parse_field(p);
		if (f < 0)
			return -1;
		if (field_table[f].type == FT_STRLIST)
			return perr_at(p, &at, "field '%s' has several values: "
				       "it cannot be a key",
				       field_table[f].name);
		if (k->n >= RULE_MAX_KEYS)
			return perr_at(p, &at, "at most %d key fields",
				       RULE_MAX_KEYS);
		k->f[k->n++] = (uint16_t)f;
		if (!paren)
			return 0;
		if (peek(p)->t == TK_COMMA) {
			advance(p);
			continue;
		}
		return expect(p, TK_RPAREN, "')' or ','");
	}
}

/* "60s", "2m", "1h", "1d", "500ms" */
static int parse_duration(struct parser *p, uint64_t *us)
{
	struct token *t = peek(p);
	char b[64];
	if (t->t != TK_WORD)
		return perr(p, "expected a duration (e.g. 60s, 5m, 1h), found %s",
			    tok_desc(t, b, sizeof(b)));
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
	if (!mul || parse_i64(t->p, i, 1, 1000000000, &v))
		return perr(p, "bad duration %s (a number and a unit: ms, s, m, h, d)",
			    tok_desc(t, b, sizeof(b)));
	if ((uint64_t)v * mul > 30 * 86400000000ULL)
		return perr(p, "duration %s is longer than 30 days",
			    tok_desc(t, b, sizeof(b)));
	*us = (uint64_t)v * mul;
	advance(p);
	return 0;
}

int parse_int_tok(struct parser *p, int64_t min, int64_t max,
		  int64_t *out, const char *what)
{
	struct token *t = peek(p);
	char b[64];
	int rc = t->t == TK_WORD ? parse_i64(t->p, t->n, min, max, out) : -EINVAL;
	if (rc == -ERANGE)
		return perr(p, "%s %s out of range (%lld..%lld)", what,
			    tok_desc(t, b, sizeof(b)), (long long)min,
			    (long long)max);
	if (rc)
		return perr(p, "expected %s, found %s", what,
			    tok_desc(t, b, sizeof(b)));
	advance(p);
	return 0;
}

struct setb *new_setb(struct build *b, const char *name,
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

static int stmt_index(struct token *t);

/* "[" item, ... "]" into b; items are words or strings. Returns 0, -2 when
 * some items were bad but the list is well-formed (parsing can go on: the
 * errors are reported, the load fails anyway), -1 on a syntax error. */
int parse_items(struct parser *p, struct setb *s)
{
	if (expect(p, TK_LBRACK, "'['"))
		return -1;
	int rc = 0;
	for (;;) {
		struct token *t = peek(p);
		if (t->t == TK_RBRACK) {
			advance(p);
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
			perr(p, "expected a set item or ']', found %s",
			     tok_desc(t, b, sizeof(b)));
			goto resync;
		}
		const char *why = NULL;
		int r = set_add_item(s, p->ar, v, n, &why);
		if (r == -ENOMEM) {
			p->b->nomem = 1;
			return -1;
		}
		if (r) {
			char b[64];
			perr(p, "%s: %s", tok_desc(t, b, sizeof(b)), why);
			rc = -2;  /* keep going: report every bad item */
		}
		advance(p);
		t = peek(p);
		if (t->t == TK_COMMA) {
			advance(p);
		} else if (t->t != TK_RBRACK) {
			char b[64];
			perr(p, "expected ',' or ']', found %s",
			     tok_desc(t, b, sizeof(b)));
			goto resync;
		}
	}
resync:
	/* skip to the closing ']' unless a block or statement starts first */
	for (;;) {
		struct token *t = peek(p);
		if (t->t == TK_RBRACK) {
			advance(p);
			return -1;
		}
		if (t->t == TK_EOF || t->t == TK_RBRACE || t->t == TK_LBRACE ||
		    tok_is(t, "rule") || tok_is(t, "set") || stmt_index(t) >= 0)
			return -1;
		advance(p);
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
	char *lit = arena_alloc(p->ar, n + 1);
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
			perr_at(p, &(struct token){ .line = t->line,
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
			perr_at(p, &at, "unterminated '{' in message (write '{{' for a brace)");
			rc = -1;
			break;
		}
		int f = field_lookup(s + i + 1, (size_t)(close - s - i - 1));
		if (f < 0) {
			perr_at(p, &at, "unknown field '%.*s' in message",
				(int)(close - s - i - 1), s + i + 1);
			rc = -1;
		} else {
			use_field(p, f, &at);
		}
		if (ln > lit0) {
			struct tmpl_seg *g = vec_push(&segs, &nseg, &cap, sizeof(*g));
			if (!g)
				goto nomem;
			g->field = -1;
			g->text = lit + lit0;
			g->len = (uint32_t)(ln - lit0);
			lit0 = ln;
		}
		struct tmpl_seg *g = vec_push(&segs, &nseg, &cap, sizeof(*g));
		if (!g)
			goto nomem;
		g->field = f;
		i = (size_t)(close - s) + 1;
	}
	if (ln > lit0) {
		struct tmpl_seg *g = vec_push(&segs, &nseg, &cap, sizeof(*g));
		if (!g)
			goto nomem;
		g->field = -1;
		g->text = lit + lit0;
		g->len = (uint32_t)(ln - lit0);
	}
	/* move to the arena so the ruleset frees it with everything else */
	r->msg = arena_alloc(p->ar, sizeof(*segs) * (size_t)(nseg ? nseg : 1));
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
		if (tok_is(t, stmt_words[i]))
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
		return perr_at(p, kw, "duplicate '%s' in rule '%s'",
			       stmt_words[k], r->id);
	*seen |= 1u << k;
	switch (k) {
	case 0: { /* sid */
		int64_t v;
		if (parse_int_tok(p, 1, UINT32_MAX, &v, "a sid"))
			return -1;
		r->sid = (uint32_t)v;
		return 0;
	}
	case 1: /* on T, T */
		for (;;) {
			struct token *t = peek(p);
			int tr = t->t == TK_WORD ? trigger_lookup(t->p, t->n) : -1;
			if (tr < 0) {
				char list[512];
				size_t o = 0;
				for (int i = 0; i < TRIG__COUNT && o < sizeof(list); i++)
					o += (size_t)snprintf(list + o, sizeof(list) - o,
						      "%s%s", i ? ", " : "",
						      trigger_names[i]);
				return perr(p, "unknown trigger %s (one of: %s)",
					    tok_desc(t, b, sizeof(b)), list);
			}
			r->triggers |= TM(tr);
			advance(p);
			if (peek(p)->t != TK_COMMA)
				return 0;
			advance(p);
		}
	case 2: { /* when */
		int32_t e = parse_or(p);
		if (e < 0)
			return -1;
		if (r->expr >= 0) {
			struct token at = *kw;
			int32_t a = new_expr(p, EX_AND, &at);
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
		struct token *t = peek(p);
		if (tok_is(t, "alert")) r->action = RA_ALERT;
		else if (tok_is(t, "block")) r->action = RA_BLOCK;
		else if (tok_is(t, "pass")) r->action = RA_PASS;
		else if (tok_is(t, "note")) r->action = RA_NOTE;
		else
			return perr(p, "unknown action %s (alert, block, pass, note)",
				    tok_desc(t, b, sizeof(b)));
		advance(p);
		return 0;
	}
	case 4: { /* severity */
		int64_t v;
		if (parse_int_tok(p, 1, 3, &v, "a severity (1..3)"))
			return -1;
		r->severity = (int)v;
		return 0;
	}
	case 5: /* category */
	case 6: { /* msg */
		struct token *t = peek(p);
		if (t->t != TK_STR)
			return perr(p, "expected a quoted string, found %s",
				    tok_desc(t, b, sizeof(b)));
		struct token st = *t;
		advance(p);
		if (k == 5) {
			r->category = st.s;
			return 0;
		}
		return parse_template(p, r, &st);
	}
	case 7: { /* threshold count|distinct F by KEYS >|>= N within D */
		struct token *t = peek(p);
		if (tok_is(t, "count")) {
			r->thr.kind = THR_COUNT;
			advance(p);
		} else if (tok_is(t, "distinct")) {
			r->thr.kind = THR_DISTINCT;
			advance(p);
			struct token at = *peek(p);
			int f = parse_field(p);
			if (f < 0)
				return -1;
			if (field_table[f].type == FT_STRLIST)
				return perr_at(p, &at, "field '%s' has several "
					       "values: count distinct over a "
					       "single-valued field",
					       field_table[f].name);
			r->thr.field = (uint16_t)f;
		} else {
			return perr(p, "expected 'count' or 'distinct', found %s",
				    tok_desc(t, b, sizeof(b)));
		}
		if (!tok_is(peek(p), "by"))
			return perr(p, "expected 'by', found %s",
				    tok_desc(peek(p), b, sizeof(b)));
		advance(p);
		if (parse_keys(p, &r->thr.by))
			return -1;
		t = peek(p);
		int ge = t->t == TK_GE;
		if (t->t != TK_GT && !ge)
			return perr(p, "expected '>' or '>=', found %s",
				    tok_desc(t, b, sizeof(b)));
		advance(p);
		struct token nt = *peek(p);
		int64_t v;
		if (parse_int_tok(p, ge ? 1 : 0, 1000000, &v, "a count"))
			return -1;
		r->thr.limit = ge ? v - 1 : v;
		if (r->thr.kind == THR_DISTINCT && r->thr.limit >= RULE_DISTINCT_MAX)
			return perr_at(p, &nt, "distinct counts are kept up to %d "
				       "values per key: use a limit below that",
				       RULE_DISTINCT_MAX);
		if (!tok_is(peek(p), "within"))
			return perr(p, "expected 'within', found %s",
				    tok_desc(peek(p), b, sizeof(b)));
		advance(p);
		return parse_duration(p, &r->thr.window_us);
	}
	case 8: { /* after RULE within D key KEYS == KEYS */
		struct token *t = peek(p);
		if (t->t != TK_WORD || !valid_id(t->p, t->n))
			return perr(p, "expected a rule id, found %s",
				    tok_desc(t, b, sizeof(b)));
		struct after_ref a;
		memset(&a, 0, sizeof(a));
		a.rule = p->rule;
		a.name = arena_strndup(p->ar, t->p, t->n);
		a.file = p->lx.file;
		a.line = t->line;
		a.col = t->col;
		advance(p);
		if (!tok_is(peek(p), "within"))
			return perr(p, "expected 'within', found %s",
				    tok_desc(peek(p), b, sizeof(b)));
		advance(p);
		if (parse_duration(p, &a.window_us))
			return -1;
		if (!tok_is(peek(p), "key"))
			return perr(p, "expected 'key' (e.g. key dest_ip == src_ip), found %s",
				    tok_desc(peek(p), b, sizeof(b)));
		advance(p);
		struct token kt = *peek(p);
		/* A's fields are checked against A's triggers in finalize() */
		p->no_use = 1;
		int rk = parse_keys(p, &a.ak);
		p->no_use = 0;
		if (rk || expect(p, TK_EQ, "'=='") || parse_keys(p, &a.bk))
			return -1;
		if (a.ak.n != a.bk.n)
			return perr_at(p, &kt, "key lists differ in length (%d and %d)",
				       a.ak.n, a.bk.n);
		for (int i = 0; i < a.ak.n; i++)
			if (field_table[a.ak.f[i]].type != field_table[a.bk.f[i]].type)
				return perr_at(p, &kt, "key %d compares %s '%s' with %s '%s'",
					       i + 1,
					       field_type_name(field_table[a.ak.f[i]].type),
					       field_table[a.ak.f[i]].name,
					       field_type_name(field_table[a.bk.f[i]].type),
					       field_table[a.bk.f[i]].name);
		struct after_ref *slot = vec_push(&B->afters, &B->nafters,
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
		if (parse_int_tok(p, 1, 1000000, &v, "a count"))
			return -1;
		r->rate.n = (uint32_t)v;
		if (!tok_is(peek(p), "per"))
			return perr(p, "expected 'per', found %s",
				    tok_desc(peek(p), b, sizeof(b)));
		advance(p);
		if (parse_duration(p, &r->rate.window_us))
			return -1;
		if (tok_is(peek(p), "by")) {
			advance(p);
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
		struct token *t = peek(p);
		if (t->t == TK_EOF || t->t == TK_RBRACE || stmt_index(t) >= 0)
			return;
		advance(p);
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
		diag_at(p->b->d, a->uses[i].file, a->uses[i].line,
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
	struct token idt = *peek(p);
	if (idt.t != TK_WORD || !valid_id(idt.p, idt.n)) {
		perr(p, "expected a rule id (letters, digits, '.', '-', '_'), found %s",
		     tok_desc(&idt, b, sizeof(b)));
		/* skip the block if there is one: its errors would only
		 * be noise about a rule that has no name */
		while (peek(p)->t != TK_EOF && peek(p)->t != TK_LBRACE &&
		       !tok_is(peek(p), "rule") && !tok_is(peek(p), "set"))
			advance(p);
		if (peek(p)->t != TK_LBRACE)
			return;
		int depth = 0;
		do {
			if (peek(p)->t == TK_LBRACE)
				depth++;
			else if (peek(p)->t == TK_RBRACE)
				depth--;
			advance(p);
		} while (depth > 0 && peek(p)->t != TK_EOF);
		return;
	}
	advance(p);
	struct rule *r = vec_push(&rs->rules, &rs->nrules, &B->ncap_rules,
				  sizeof(*r));
	struct rule_aux *ax = vec_push(&B->aux, &B->naux, &B->capaux,
				       sizeof(*ax));
	if (!r || !ax) {
		B->nomem = 1;
		return;
	}
	p->rule = rs->nrules - 1;
	int expr0 = rs->nexprs;
	r->id = arena_strndup(p->ar, idt.p, idt.n);
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
	struct token ob = *peek(p);
	if (expect(p, TK_LBRACE, "'{'")) {
		/* no body: skip to the next top-level statement */
		while (peek(p)->t != TK_EOF && !tok_is(peek(p), "rule") &&
		       !tok_is(peek(p), "set"))
			advance(p);
		return;
	}
	uint32_t seen = 0;
	for (;;) {
		struct token t = *peek(p);
		if (t.t == TK_RBRACE) {
			advance(p);
			break;
		}
		if (t.t == TK_EOF) {
			perr_at(p, &ob, "rule '%s': '{' is never closed",
				r->id);
			break;
		}
		int k = stmt_index(&t);
		if (k < 0) {
			if (t.t != TK_ERR)
				perr(p, "unknown statement %s (sid, on, when, "
				     "action, severity, category, msg, "
				     "threshold, after, ratelimit)",
				     tok_desc(&t, b, sizeof(b)));
			advance(p);
			resync_stmt(p);
			continue;
		}
		advance(p);
		if (parse_stmt(p, r, k, &t, &seen))
			resync_stmt(p);
		else {
			/* a statement must end where the next one starts */
			struct token *n = peek(p);
			if (n->t != TK_RBRACE && n->t != TK_EOF &&
			    stmt_index(n) < 0) {
				perr(p, "unexpected %s after '%s' (missing "
				     "'and'/'or'?)", tok_desc(n, b, sizeof(b)),
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
			perr_at(p, &idt, "rule '%s' has no '%s'", r->id,
				req[i].what);
	if ((r->action == RA_ALERT || r->action == RA_BLOCK) &&
	    !(seen & (1u << 6)))
		perr_at(p, &idt, "rule '%s' has no 'msg' (alert and block "
			"rules need one)", r->id);
	check_rule_fields(p, r, &idt);
	if (rs->nexprs - expr0 > RULE_EXPR_MAX)
		perr_at(p, &idt, "rule '%s': expression too long (%d terms, "
			"at most %d)", r->id, rs->nexprs - expr0, RULE_EXPR_MAX);
}

static struct setb *find_set(struct build *B, const char *name)
{
	int i = namemap_get(&B->setmap, name);
	return i < 0 ? NULL : B->sets[i];
}

/* append a named set; 0 or -ENOMEM (B->nomem set) */
static int add_set(struct build *B, struct setb *s)
{
	struct setb **slot = vec_push(&B->sets, &B->nsets, &B->capsets,
				      sizeof(*slot));
	if (!slot || namemap_put(&B->setmap, s->s.name, B->nsets - 1, NULL)) {
		if (slot)
			B->nsets--;
		B->nomem = 1;
		return -ENOMEM;
	}
	*slot = s;
	return 0;
}

static const struct { const char *w; enum set_kind k; } kinds[] = {
	{ "cidr", SET_CIDR }, { "domain", SET_DOMAIN },
	{ "string", SET_STRING }, { "port", SET_PORT }, { "int", SET_PORT },
};

static void parse_set(struct parser *p)
{
	char b[64];
	struct build *B = p->b;
	struct token nt = *peek(p);
	if (nt.t != TK_WORD || !valid_id(nt.p, nt.n) || memchr(nt.p, '.', nt.n)) {
		perr(p, "expected a set name (letters, digits, '_'), found %s",
		     tok_desc(&nt, b, sizeof(b)));
		return;
	}
	advance(p);
	struct token kt = *peek(p);
	int kind = -1;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (tok_is(&kt, kinds[i].w))
			kind = (int)kinds[i].k;
	if (kind < 0) {
		perr(p, "expected a set type (cidr, domain, string, port), found %s",
		     tok_desc(&kt, b, sizeof(b)));
		return;
	}
	advance(p);
	char *name = arena_strndup(p->ar, nt.p, nt.n);
	if (!name) {
		B->nomem = 1;
		return;
	}
	struct setb *s = find_set(B, name);
	if (s && s->builtin && !s->file_defined &&
	    s->s.kind == (enum set_kind)kind) {
		/* a built-in: the file's items replace the defaults */
		setb_clear(s);
		s->file = p->lx.file;
		s->line = nt.line;
		s->col = nt.col;
		s->file_defined = 1;
		parse_items(p, s);
		return;
	}
	if (s && s->s.kind != (enum set_kind)kind)
		perr_at(p, &kt, "set '%s' is a %s set", name,
			kind_name(s->s.kind));
	else if (s)
		perr_at(p, &nt, "set '%s' is already defined at %s:%u", name,
			s->file, s->line);
	struct setb *n = new_setb(B, name, (enum set_kind)kind);
	if (!n)
		return;
	if (s) {
		/* still check the items, then drop them */
		parse_items(p, n);
		setb_free(n);
		return;
	}
	if (add_set(B, n)) {
		setb_free(n);
		return;
	}
	n->file = p->lx.file;
	n->line = nt.line;
	n->col = nt.col;
	n->file_defined = 1;
	parse_items(p, n);
}

static void parse_file(struct build *B, struct arena **ar, const char *file,
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
		struct token *t = peek(&p);
		if (t->t == TK_EOF)
			return;
		if (tok_is(t, "rule")) {
			advance(&p);
			parse_rule(&p);
			continue;
		}
		if (tok_is(t, "set")) {
			advance(&p);
			parse_set(&p);
			continue;
		}
		perr(&p, "expected 'rule' or 'set', found %s",
		     tok_desc(t, b, sizeof(b)));
		/* resync: next top-level keyword outside any block */
		int depth = 0;
		for (;;) {
			advance(&p);
			t = peek(&p);
			if (t->t == TK_EOF)
				break;
			if (t->t == TK_LBRACE)
				depth++;
			else if (t->t == TK_RBRACE && depth > 0)
				depth--;
			else if (depth == 0 &&
				 (tok_is(t, "rule") || tok_is(t, "set")))
				break;
		}
	}
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
			int r = set_add_item(s, ar, p, (size_t)(q - p), &why);
			if (r == -ENOMEM) {
				B->nomem = 1;
				return -1;
			}
			if (r) {
				diag_at(B->d, file, (uint32_t)line,
					col0 + (uint32_t)(p - text),
					"'%.*s' in set %s: %s", (int)(q - p), p,
					s->s.name, why);
				rc = -1;
			}
		} else if (*e == ',') {
			diag_at(B->d, file, (uint32_t)line,
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
		setb_free((struct setb *)rs->sets[i]);
	free(rs->sets);
	for (int i = 0; i < TRIG__COUNT; i++) {
		free(rs->by_trigger[i]);
		for (int v = 0; v <= RULE_VERB_INDEX_MAX; v++)
			free(rs->by_verb[i].list[v]);
	}
	free(rs->rules);
	free(rs->exprs);
	free(rs->specs);
	arena_free(rs->arena);
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
		if (set_finalize(B->sets[i]))
			B->nomem = 1;
	for (int i = 0; i < B->nanon; i++)
		if (set_finalize(B->anon[i]))
			B->nomem = 1;
	/* set references */
	for (int i = 0; i < B->nrefs; i++) {
		struct set_ref *r = &B->refs[i];
		struct setb *s = find_set(B, r->name);
		struct rule_expr *e = &rs->exprs[r->expr];
		if (!s) {
			char known[512];
			size_t o = 0;
			for (int j = 0; j < B->nsets && o < sizeof(known); j++)
				o += (size_t)snprintf(known + o, sizeof(known) - o,
						      "%s%s", j ? ", " : "",
						      B->sets[j]->s.name);
			diag_at(B->d, r->file, r->line, r->col,
				"unknown set '$%s' (known: %s)", r->name, known);
			continue;
		}
		if (!kind_fits(s->s.kind, e->field)) {
			diag_at(B->d, r->file, r->line, r->col,
				"set '$%s' is a %s set: it cannot hold %s field '%s'",
				r->name, kind_name(s->s.kind),
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
		int rc = namemap_put(&ids, rs->rules[i].id, i, &first);
		if (rc == -ENOMEM) {
			B->nomem = 1;
			namemap_free(&ids);
			return;
		}
		if (rc == -EEXIST)
			diag_at(B->d, rs->rules[i].file, rs->rules[i].line,
				B->aux[i].col,
				"duplicate rule id '%s' (first at %s:%u)",
				rs->rules[i].id, rs->rules[first].file,
				rs->rules[first].line);
	}
	uint64_t *bysid = malloc(sizeof(uint64_t) * (size_t)(rs->nrules + 1));
	if (!bysid) {
		B->nomem = 1;
		namemap_free(&ids);
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
		diag_at(B->d, rs->rules[j].file, rs->rules[j].line, B->aux[j].col,
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
			namemap_free(&ids);
			return;
		}
	}
	for (int i = 0; i < B->nafters; i++) {
		struct after_ref *a = &B->afters[i];
		int ai = namemap_get(&ids, a->name);
		if (ai < 0) {
			diag_at(B->d, a->file, a->line, a->col,
				"'after' names unknown rule '%s'", a->name);
			continue;
		}
		if (ai == a->rule) {
			diag_at(B->d, a->file, a->line, a->col,
				"rule '%s' cannot come 'after' itself", a->name);
			continue;
		}
		struct rule *ra = &rs->rules[ai], *rb = &rs->rules[a->rule];
		if (ra->action == RA_PASS) {
			diag_at(B->d, a->file, a->line, a->col,
				"'after %s': a pass rule never records a match",
				a->name);
			continue;
		}
		for (int k = 0; k < a->ak.n; k++)
			if (ra->triggers && !(field_table[a->ak.f[k]].triggers & ra->triggers))
				diag_at(B->d, a->file, a->line, a->col,
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
		int *rem = arena_alloc(ar, sizeof(int) * (size_t)(ra->nremember + 1));
		if (!rem) {
			B->nomem = 1;
			namemap_free(&ids);
			return;
		}
		if (ra->nremember)
			memcpy(rem, ra->remember, sizeof(int) * (size_t)ra->nremember);
		rem[ra->nremember++] = rs->nspecs;
		ra->remember = rem;
		rs->nspecs++;
	}
	namemap_free(&ids);
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
		struct setb *s = find_set(B, v->name);
		if (!s) {
			char known[512];
			size_t o = 0;
			for (int j = 0; j < B->nsets && o < sizeof(known); j++)
				o += (size_t)snprintf(known + o, sizeof(known) - o,
						      "%s%s", j ? ", " : "",
						      B->sets[j]->s.name);
			diag_at(B->d, v->file, (uint32_t)v->line, 1,
				"unknown set '%s' (known: %s)", v->name, known);
			continue;
		}
		setb_clear(s);
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
		setb_free(B->sets[i]);
	free(B->sets);
	namemap_free(&B->setmap);
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
		struct setb *s = new_setb(&B, builtins[i].name, builtins[i].kind);
		if (!s || add_set(&B, s)) {
			setb_free(s);
			B.nomem = 1;
			break;
		}
		s->builtin = 1;
		s->file = "(built-in)";
		set_fill_text(&B, ar, s, builtins[i].defaults, "(built-in)", 0, 1);
	}
	for (int i = 0; i < n && !B.nomem; i++)
		parse_file(&B, ar, src[i].name, src[i].text, src[i].len);
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
				setb_free(B.anon[i]);
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
				diag_warn(d, "warning: %s", builtins[i].warn);
		}
	}
	if (B.nomem)
		diag_warn(d, "error: out of memory while loading rules");
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
		diag_at(d, path, 0, 0, "cannot open: %s", strerror(errno));
		return NULL;
	}
	if (S_ISDIR(st.st_mode)) {
		DIR *dir = opendir(path);
		if (!dir) {
			diag_at(d, path, 0, 0, "cannot open directory: %s",
				strerror(errno));
			return NULL;
		}
		struct dirent *de;
		while ((de = readdir(dir))) {
			size_t l = strlen(de->d_name);
			if (l < 7 || strcmp(de->d_name + l - 6, ".rules") ||
			    de->d_name[0] == '.')
				continue;
			char **slot = vec_push(&names, &nn, &capn, sizeof(char *));
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
			diag_warn(d, "warning: %s: no *.rules files", path);
	} else {
		char **slot = vec_push(&names, &nn, &capn, sizeof(char *));
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
			diag_at(d, names[i], 0, 0, "cannot read: %s%s",
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
			char *c = arena_strndup(&rs->arena, rs->rules[i].file,
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
