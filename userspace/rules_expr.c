/* rules_expr.c - the "when" expression parser: predicates (a field, an
 * operator, a literal, a $SET or a [list], a /regex/), "not", "and", "or"
 * and parentheses, type-checked against the fields' types and compiled
 * into the ruleset's expression array (regexes compiled and JIT-compiled
 * here). Load time only.
 *
 *   or    := and ("or" and)*
 *   and   := unary ("and" unary)*
 *   unary := "not" unary | "(" or ")" | pred
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <string.h>
#include "rules_int.h"

int32_t rl_new_expr(struct parser *p, int op, const struct token *at)
{
	struct ruleset *rs = p->b->rs;
	struct rule_expr *e = rl_vec_push(&rs->exprs, &rs->nexprs,
					  &p->b->ncap_exprs, sizeof(*e));
	if (!e) {
		p->b->nomem = 1;
		return -1;
	}
	e->op = (uint8_t)op;
	e->l = e->r = -1;
	e->line = at->line;
	e->col = at->col;
	return rs->nexprs - 1;
}

static enum set_kind kind_for_field(int f)
{
	switch (field_table[f].type) {
	case FT_IP: return SET_CIDR;
	case FT_INT: return SET_PORT;
	default: return SET_STRING;
	}
}

static int need_type(struct parser *p, const struct token *at, int f,
		     int ok_mask, const char *op)
{
	if ((1 << field_table[f].type) & ok_mask)
		return 0;
	return rl_perr_at(p, at, "operator '%s' does not apply to %s field '%s'",
			  op, field_table[f].type == FT_IP ? "an ip" :
			  field_table[f].type == FT_INT ? "an int" :
			  field_table[f].type == FT_BOOL ? "a bool" : "a string",
			  field_table[f].name);
}

#define M_IP (1 << FT_IP)
#define M_INT (1 << FT_INT)
#define M_STR ((1 << FT_STR) | (1 << FT_STRLIST))
#define M_BOOL (1 << FT_BOOL)

/* the literal after ==, != for field f */
static int parse_literal(struct parser *p, int f, struct rule_value *v)
{
	struct token *t = rl_peek(p);
	char b[64];
	switch (field_table[f].type) {
	case FT_IP: {
		const char *s = t->t == TK_STR ? t->s : t->p;
		size_t n = t->t == TK_STR ? t->sn : t->n;
		if ((t->t != TK_WORD && t->t != TK_STR) ||
		    rl_ip_parse(s, n, &v->ip))
			return rl_perr(p, "expected an IP address, found %s "
				       "(for a network use 'in [a.b.c.d/n]')",
				       rl_tok_desc(t, b, sizeof(b)));
		break;
	}
	case FT_INT:
		return rl_parse_int_tok(p, 0, INT32_MAX, &v->i, "a number");
	case FT_BOOL:
		if (rl_tok_is(t, "true"))
			v->b = 1;
		else if (rl_tok_is(t, "false"))
			v->b = 0;
		else
			return rl_perr(p, "expected true or false, found %s",
				       rl_tok_desc(t, b, sizeof(b)));
		break;
	case FT_STR:
	case FT_STRLIST:
		if (t->t != TK_STR)
			return rl_perr(p, "expected a quoted string, found %s",
				       rl_tok_desc(t, b, sizeof(b)));
		v->s.p = t->s;
		v->s.n = t->sn;
		break;
	}
	rl_advance(p);
	return 0;
}

static int32_t parse_pred(struct parser *p)
{
	struct token ft = *rl_peek(p);
	char b[64];
	int f = rl_parse_field(p);
	if (f < 0)
		return -1;
	struct token ot = *rl_peek(p);
	int32_t e;
	if (ot.t == TK_ERR)
		return -1;  /* the lexer said what is wrong */
	if (ot.t == TK_EQ || ot.t == TK_NE) {
		rl_advance(p);
		if ((e = rl_new_expr(p, EX_EQ, &ft)) < 0)
			return -1;
		p->b->rs->exprs[e].neg = ot.t == TK_NE;
		p->b->rs->exprs[e].field = (uint16_t)f;
		struct rule_value v;
		memset(&v, 0, sizeof(v));
		if (parse_literal(p, f, &v))
			return -1;
		p->b->rs->exprs[e].lit = v;
		return e;
	}
	if (ot.t == TK_LT || ot.t == TK_LE || ot.t == TK_GT || ot.t == TK_GE) {
		static const char *nm[] = { [TK_LT] = "<", [TK_LE] = "<=",
					    [TK_GT] = ">", [TK_GE] = ">=" };
		if (need_type(p, &ot, f, M_INT, nm[ot.t]))
			return -1;
		rl_advance(p);
		int op = ot.t == TK_LT ? EX_LT : ot.t == TK_LE ? EX_LE :
			 ot.t == TK_GT ? EX_GT : EX_GE;
		if ((e = rl_new_expr(p, op, &ft)) < 0)
			return -1;
		p->b->rs->exprs[e].field = (uint16_t)f;
		int64_t v;
		if (rl_parse_int_tok(p, 0, INT32_MAX, &v, "a number"))
			return -1;
		p->b->rs->exprs[e].lit.i = v;
		return e;
	}
	int neg = 0;
	if (rl_tok_is(&ot, "not")) {
		rl_advance(p);
		if (!rl_tok_is(rl_peek(p), "in"))
			return rl_perr(p, "expected 'in' after 'not', found %s",
				       rl_tok_desc(rl_peek(p), b, sizeof(b)));
		neg = 1;
	}
	if (rl_tok_is(rl_peek(p), "in")) {
		if (need_type(p, &ot, f, M_IP | M_INT | M_STR,
			      neg ? "not in" : "in"))
			return -1;
		rl_advance(p);
		if ((e = rl_new_expr(p, EX_IN, &ft)) < 0)
			return -1;
		p->b->rs->exprs[e].field = (uint16_t)f;
		p->b->rs->exprs[e].neg = (uint8_t)neg;
		struct token *t = rl_peek(p);
		if (t->t == TK_VAR) {
			struct set_ref *r = rl_vec_push(&p->b->refs, &p->b->nrefs,
							&p->b->caprefs, sizeof(*r));
			if (!r) {
				p->b->nomem = 1;
				return -1;
			}
			r->expr = e;
			r->name = rl_arena_strndup(p->ar, t->p + 1, t->n - 1);
			r->file = p->lx.file;
			r->line = t->line;
			r->col = t->col;
			rl_advance(p);
			return e;
		}
		if (t->t != TK_LBRACK)
			return rl_perr(p, "expected $SET or [list] after 'in', found %s",
				       rl_tok_desc(t, b, sizeof(b)));
		struct setb *s = rl_new_setb(p->b, "", kind_for_field(f));
		if (!s)
			return -1;
		struct setb **slot = rl_vec_push(&p->b->anon, &p->b->nanon,
						 &p->b->capanon, sizeof(*slot));
		if (!slot) {
			rl_setb_free(s);
			p->b->nomem = 1;
			return -1;
		}
		*slot = s;
		p->b->rs->exprs[e].set = &s->s;
		if (rl_parse_items(p, s) == -1)
			return -1;
		return e;
	}
	static const struct { const char *w; int op; } strops[] = {
		{ "is", EX_IS }, { "starts_with", EX_STARTS },
		{ "ends_with", EX_ENDS }, { "contains", EX_CONTAINS },
		{ "matches", EX_MATCH },
	};
	for (size_t i = 0; i < sizeof(strops) / sizeof(strops[0]); i++) {
		if (!rl_tok_is(&ot, strops[i].w))
			continue;
		if (need_type(p, &ot, f, M_STR, strops[i].w))
			return -1;
		rl_advance(p);
		if ((e = rl_new_expr(p, strops[i].op, &ft)) < 0)
			return -1;
		p->b->rs->exprs[e].field = (uint16_t)f;
		if (strops[i].op == EX_MATCH) {
			rl_lx_scan_regex(&p->lx, p->b->d, p->ar);
			struct token *t = rl_peek(p);
			if (t->t != TK_REGEX)
				return -1;  /* reported by the lexer */
			int ec;
			PCRE2_SIZE eo;
			pcre2_code *re = pcre2_compile((PCRE2_SPTR)t->s, t->sn,
						       t->flags, &ec, &eo, NULL);
			if (!re) {
				PCRE2_UCHAR m[256];
				pcre2_get_error_message(ec, m, sizeof(m));
				/* point at the offending character (exact
				 * unless the pattern holds an escaped '/') */
				struct token at = *t;
				at.col += 1 + (uint32_t)eo;
				rl_perr_at(p, &at, "bad regular expression at offset %zu: %s",
					   (size_t)eo, (char *)m);
				rl_advance(p);
				return -1;
			}
			pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* else interpreted */
			struct ruleset *rs = p->b->rs;
			void **slot = rl_vec_push(&rs->regexes, &rs->nregexes,
						  &p->b->capregex, sizeof(void *));
			if (!slot) {
				pcre2_code_free(re);
				p->b->nomem = 1;
				return -1;
			}
			*slot = re;
			rs->exprs[e].re = re;
			rl_advance(p);
			return e;
		}
		struct token *t = rl_peek(p);
		if (t->t != TK_STR)
			return rl_perr(p, "expected a quoted string after '%s', found %s",
				       strops[i].w, rl_tok_desc(t, b, sizeof(b)));
		p->b->rs->exprs[e].lit.s.p = t->s;
		p->b->rs->exprs[e].lit.s.n = t->sn;
		rl_advance(p);
		return e;
	}
	if (rl_tok_is(&ot, "exists")) {
		rl_advance(p);
		if ((e = rl_new_expr(p, EX_EXISTS, &ft)) < 0)
			return -1;
		p->b->rs->exprs[e].field = (uint16_t)f;
		return e;
	}
	/* a bare field: only a bool can stand alone */
	if (field_table[f].type != FT_BOOL)
		return rl_perr_at(p, &ft, "field '%s' is %s %s: compare it "
				  "(==, in, matches, ...)", field_table[f].name,
				  field_table[f].type == FT_IP ? "an" : "a",
				  field_type_name(field_table[f].type));
	if ((e = rl_new_expr(p, EX_TRUE, &ft)) < 0)
		return -1;
	p->b->rs->exprs[e].field = (uint16_t)f;
	return e;
}

static int32_t parse_unary(struct parser *p)
{
	struct token t = *rl_peek(p);
	if (++p->depth > 64) {
		p->depth--;
		return rl_perr(p, "expression nested too deeply (64 levels)");
	}
	int32_t e;
	if (rl_tok_is(&t, "not")) {
		rl_advance(p);
		int32_t c = parse_unary(p);
		e = c < 0 ? -1 : rl_new_expr(p, EX_NOT, &t);
		if (e >= 0)
			p->b->rs->exprs[e].l = c;
	} else if (t.t == TK_LPAREN) {
		rl_advance(p);
		e = rl_parse_or(p);
		if (e >= 0 && rl_expect(p, TK_RPAREN, "')'"))
			e = -1;
	} else {
		e = parse_pred(p);
	}
	p->depth--;
	return e;
}

static int32_t parse_binary(struct parser *p, int is_or)
{
	int32_t l = is_or ? parse_binary(p, 0) : parse_unary(p);
	while (l >= 0) {
		struct token t = *rl_peek(p);
		if (!rl_tok_is(&t, is_or ? "or" : "and"))
			break;
		rl_advance(p);
		int32_t r = is_or ? parse_binary(p, 0) : parse_unary(p);
		if (r < 0)
			return -1;
		int32_t e = rl_new_expr(p, is_or ? EX_OR : EX_AND, &t);
		if (e < 0)
			return -1;
		p->b->rs->exprs[e].l = l;
		p->b->rs->exprs[e].r = r;
		l = e;
	}
	return l;
}

int32_t rl_parse_or(struct parser *p)
{
	return parse_binary(p, 1);
}
