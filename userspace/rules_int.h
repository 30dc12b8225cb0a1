/* rules_int.h - private to the rule loader (userspace/rules_*.c): what its
 * pieces share. Nothing outside the rules_*.c files includes this; the
 * public interface is rules.h.
 *
 *   rules_util.c   arena, growable arrays, diagnostics, name map
 *   rules_sets.c   set building, finalizing and lookup
 *   rules_lex.c    the lexer
 *   rules_parse.c  the parser (rules, set statements, files)
 *   rules_expr.c   the "when" expression parser
 *   rules_load.c   loading: files, built-in sets, --set values, the
 *                  cross-rule checks, indexes, the ruleset's life cycle
 *
 * Everything declared here runs at load time only (startup,
 * --check-rules, reload) and may allocate; what evaluation uses is public,
 * in rules.h. The functions are global symbols of the binary, so they all
 * carry the rl_ prefix; everything else in rules_*.c is static.
 */
#ifndef RW_RULES_INT_H
#define RW_RULES_INT_H

#include <stddef.h>
#include <stdint.h>
#include "rules.h"

/* ---- rules_util.c ---- */

/* arena: strings and fixed-size pieces of one ruleset, freed at once;
 * memory comes back zeroed, NULL when out of memory */
void *rl_arena_alloc(struct arena **a, size_t n);
char *rl_arena_strndup(struct arena **a, const char *s, size_t n);
void rl_arena_free(struct arena *a);

/* growable array: *arr of *n elements, *cap allocated; returns the new
 * (zeroed) element or NULL */
void *rl_vec_push(void *arrp, int *n, int *cap, size_t elsz);

void __attribute__((format(printf, 2, 3)))
rl_diag_warn(struct rule_diags *d, const char *fmt, ...);
/* an error: "file:line:col: message" */
void __attribute__((format(printf, 5, 6)))
rl_diag_at(struct rule_diags *d, const char *file, uint32_t line, uint32_t col,
	   const char *fmt, ...);

/* name -> index map (set names, rule ids): load time must stay linear in
 * the file size even for hostile files */
struct namemap {
	const char **names;  /* borrowed */
	int *idx;
	uint32_t cap, n;     /* cap: power of two or 0 */
};

/* the index, or -1 */
int rl_namemap_get(const struct namemap *m, const char *name);
/* 0, -EEXIST (the existing index in *old), -ENOMEM */
int rl_namemap_put(struct namemap *m, const char *name, int idx, int *old);
void rl_namemap_free(struct namemap *m);

/* ---- rules_sets.c ---- */

/* a set being built (named or a literal list) */
struct setb {
	struct rule_set s;            /* first: ruleset->sets point here */
	uint32_t cap4, cap6, capi, caps;
	const char *file;             /* where it was defined (errors) */
	uint32_t line, col;
	int builtin;
	int file_defined;
};

void rl_setb_free(struct setb *b);
/* empty it (a built-in's defaults replaced, a --set value) */
void rl_setb_clear(struct setb *b);
/* add one item as written, parsed for b's kind: 0, -ENOMEM, or -EINVAL
 * with *why saying what is wrong */
int rl_set_add_item(struct setb *b, struct arena **ar, const char *s,
		    size_t n, const char **why);
/* sort and merge intervals, build the string hash: 0 or -ENOMEM */
int rl_set_finalize(struct setb *b);
const char *rl_kind_name(enum set_kind k);
/* an IPv4 or IPv6 address (no prefix): 0 or -EINVAL */
int rl_ip_parse(const char *s, size_t n, struct rule_ip *ip);
/* decimal digits only, at most 18, in [min, max]: 0, -EINVAL, -ERANGE */
int rl_parse_i64(const char *s, size_t n, int64_t min, int64_t max,
		 int64_t *out);

/* ---- rules_lex.c ---- */

enum tok {
	TK_EOF = 0, TK_ERR, TK_WORD, TK_VAR, TK_STR, TK_REGEX,
	TK_LBRACE, TK_RBRACE, TK_LPAREN, TK_RPAREN, TK_LBRACK, TK_RBRACK,
	TK_COMMA, TK_EQ, TK_NE, TK_LT, TK_LE, TK_GT, TK_GE,
};

struct token {
	enum tok t;
	const char *p;        /* source text */
	size_t n;
	uint32_t line, col;
	char *s;              /* TK_STR: decoded (arena), TK_REGEX: pattern */
	size_t sn;
	uint32_t flags;       /* TK_REGEX: PCRE2 options */
};

struct lexer {
	const char *file;
	const char *src;
	size_t len, pos;
	uint32_t line, col;
	struct token tok;
	int have;
};

/* the next token into lx->tok; errors reported to d */
void rl_lx_scan(struct lexer *lx, struct rule_diags *d, struct arena **ar);
/* /pattern/flags into lx->tok (TK_REGEX, flags as PCRE2 options), read
 * right after "matches", and made the current token (lx->have); when no
 * '/' follows, the error is reported and the token there is left to be
 * scanned again for the parser's resync */
void rl_lx_scan_regex(struct lexer *lx, struct rule_diags *d,
		      struct arena **ar);

/* ---- build state (across all files of one load; rules_load.c owns it) ---- */

/* a field a rule reads, checked against the rule's triggers */
struct field_use {
	uint16_t field;
	uint32_t line, col;
	const char *file;
};

/* "in $NAME": resolved once every file and --set value is in */
struct set_ref {
	int32_t expr;
	const char *name;
	const char *file;
	uint32_t line, col;
};

/* "after NAME ...": resolved by the checker (the rule may come later) */
struct after_ref {
	int rule;
	const char *name;      /* A's id */
	const char *file;
	uint32_t line, col;
	struct rule_keys ak, bk;
	uint64_t window_us;
};

/* what the build keeps per rule beside struct rule */
struct rule_aux {
	uint32_t col;
	struct field_use *uses;
	int nuses, capuses;
};

struct build {
	struct ruleset *rs;
	struct rule_diags *d;
	int ncap_rules, ncap_exprs;
	struct rule_aux *aux;
	int naux, capaux;
	struct setb **sets;    /* named */
	int nsets, capsets;
	struct namemap setmap; /* name -> index in sets */
	struct setb **anon;    /* literal lists */
	int nanon, capanon;
	struct set_ref *refs;
	int nrefs, caprefs;
	struct after_ref *afters;
	int nafters, capafters;
	int capregex;
	int nomem;
};

struct parser {
	struct lexer lx;
	struct build *b;
	struct arena **ar;
	int rule;              /* index of the rule being parsed */
	int depth;
	int no_use;            /* fields parsed now belong to another rule */
};

/* ---- rules_parse.c ---- */

/* the current token (scanned on first look) */
struct token *rl_peek(struct parser *p);
/* consume the current token */
void rl_advance(struct parser *p);
/* t is the word w */
int rl_tok_is(struct token *t, const char *w);
/* t as quoted in messages ('text', at most 40 bytes, or "end of file") */
const char *rl_tok_desc(struct token *t, char *buf, size_t cap);
/* an error at the current token (silent if the lexer already reported
 * it) or at t; both return -1 */
int __attribute__((format(printf, 2, 3)))
rl_perr(struct parser *p, const char *fmt, ...);
int __attribute__((format(printf, 3, 4)))
rl_perr_at(struct parser *p, const struct token *t, const char *fmt, ...);
/* consume a token of type t, or report "expected WHAT" and return -1 */
int rl_expect(struct parser *p, enum tok t, const char *what);
/* remember that the rule being parsed reads field (checked against its
 * triggers once the rule is complete) */
void rl_use_field(struct parser *p, int field, const struct token *t);
/* a field name: its id, or -1 (reported) */
int rl_parse_field(struct parser *p);
/* a decimal number in [min, max]: 0 or -1 (reported) */
int rl_parse_int_tok(struct parser *p, int64_t min, int64_t max,
		     int64_t *out, const char *what);
/* "[" item, ... "]" into s: 0; -2 when some items were bad but the list
 * is well-formed; -1 on a syntax error */
int rl_parse_items(struct parser *p, struct setb *s);
/* parse one file into the build (errors to B->d) */
void rl_parse_file(struct build *B, struct arena **ar, const char *file,
		   const char *text, size_t len);

/* ---- rules_expr.c ---- */

/* a new node at the end of the expression array: its index, or -1 */
int32_t rl_new_expr(struct parser *p, int op, const struct token *at);
/* an expression ("or" is the loosest operator): its root, or -1 */
int32_t rl_parse_or(struct parser *p);

/* ---- rules_load.c: the build's sets ---- */

/* a set for the build; NULL (b->nomem set) when out of memory */
struct setb *rl_new_setb(struct build *b, const char *name, enum set_kind kind);
/* the named set, or NULL */
struct setb *rl_find_set(struct build *B, const char *name);
/* append a named set; 0 or -ENOMEM (B->nomem set) */
int rl_add_set(struct build *B, struct setb *s);

#endif
