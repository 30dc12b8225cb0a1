/* rules_lex.c - the rule-file lexer: words, $SET references, quoted
 * strings (decoded into the arena: \" \\ \n \t \r \xHH), operators and
 * punctuation, '#' comments; and /regex/flags, scanned only where the
 * parser expects one (after "matches": '/' is otherwise a word character).
 *
 * Errors go to the diagnostics with their file:line:col and give a TK_ERR
 * token, which the parser skips without a second message.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <pcre2.h>
#include <string.h>
#include "rules_int.h"

static int is_word_char(int c)
{
	return isalnum(c) || c == '_' || c == '.' || c == ':' || c == '/' ||
	       c == '-' || c == '*' || c == '@' || c == '+' || c == '%';
}

static void lx_adv(struct lexer *lx)
{
	if (lx->src[lx->pos] == '\n') {
		lx->line++;
		lx->col = 1;
	} else {
		lx->col++;
	}
	lx->pos++;
}

static void lx_skip_ws(struct lexer *lx)
{
	while (lx->pos < lx->len) {
		char c = lx->src[lx->pos];
		if (c == '#') {
			while (lx->pos < lx->len && lx->src[lx->pos] != '\n')
				lx_adv(lx);
		} else if (isspace((unsigned char)c)) {
			lx_adv(lx);
		} else {
			break;
		}
	}
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9') return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	return -1;
}

void rl_lx_scan(struct lexer *lx, struct rule_diags *d, struct arena **ar)
{
	struct token *t = &lx->tok;
	lx_skip_ws(lx);
	memset(t, 0, sizeof(*t));
	t->line = lx->line;
	t->col = lx->col;
	t->p = lx->src + lx->pos;
	if (lx->pos >= lx->len) {
		t->t = TK_EOF;
		return;
	}
	char c = lx->src[lx->pos];
	size_t start = lx->pos;
	if (c == '"') {
		/* decoded into the arena; escapes: \" \\ \n \t \r \xHH */
		size_t end = lx->pos + 1;
		while (end < lx->len && lx->src[end] != '"' &&
		       lx->src[end] != '\n')
			end += lx->src[end] == '\\' ? 2 : 1;
		char *out = rl_arena_alloc(ar, end - lx->pos + 1);
		size_t on = 0;
		lx_adv(lx);
		for (;;) {
			if (lx->pos >= lx->len || lx->src[lx->pos] == '\n') {
				rl_diag_at(d, lx->file, t->line, t->col,
					   "unterminated string");
				t->t = TK_ERR;
				goto done;
			}
			char ch = lx->src[lx->pos];
			if (ch == '"') {
				lx_adv(lx);
				break;
			}
			if (ch == '\\' && lx->pos + 1 < lx->len) {
				uint32_t el = lx->line, ec = lx->col;
				lx_adv(lx);
				char e = lx->src[lx->pos];
				lx_adv(lx);
				switch (e) {
				case 'n': ch = '\n'; break;
				case 't': ch = '\t'; break;
				case 'r': ch = '\r'; break;
				case '\\': ch = '\\'; break;
				case '"': ch = '"'; break;
				case 'x': {
					int h1 = lx->pos < lx->len ? hexval(lx->src[lx->pos]) : -1;
					int h2 = lx->pos + 1 < lx->len ? hexval(lx->src[lx->pos + 1]) : -1;
					if (h1 < 0 || h2 < 0) {
						rl_diag_at(d, lx->file, el, ec,
							   "bad \\x escape (expected two hex digits)");
						t->t = TK_ERR;
						ch = '?';
						break;
					}
					lx_adv(lx);
					lx_adv(lx);
					ch = (char)(h1 * 16 + h2);
					break;
				}
				default:
					rl_diag_at(d, lx->file, el, ec,
						   "unknown escape '\\%c' in string",
						   isprint((unsigned char)e) ? e : '?');
					t->t = TK_ERR;
					ch = e;
				}
				if (out)
					out[on++] = ch;
				continue;
			}
			if (out)
				out[on++] = ch;
			lx_adv(lx);
		}
		if (!out) {
			t->t = TK_ERR;
			goto done;
		}
		out[on] = 0;
		t->s = out;
		t->sn = on;
		if (t->t != TK_ERR)
			t->t = TK_STR;
		goto done;
	}
	if (c == '$') {
		lx_adv(lx);
		while (lx->pos < lx->len &&
		       (isalnum((unsigned char)lx->src[lx->pos]) ||
			lx->src[lx->pos] == '_'))
			lx_adv(lx);
		t->t = TK_VAR;
		if (lx->pos - start == 1) {
			rl_diag_at(d, lx->file, t->line, t->col,
				   "expected a set name after '$'");
			t->t = TK_ERR;
		}
		goto done;
	}
	if (is_word_char((unsigned char)c)) {
		while (lx->pos < lx->len &&
		       is_word_char((unsigned char)lx->src[lx->pos]))
			lx_adv(lx);
		t->t = TK_WORD;
		goto done;
	}
	char c2 = lx->pos + 1 < lx->len ? lx->src[lx->pos + 1] : 0;
	lx_adv(lx);
	switch (c) {
	case '{': t->t = TK_LBRACE; break;
	case '}': t->t = TK_RBRACE; break;
	case '(': t->t = TK_LPAREN; break;
	case ')': t->t = TK_RPAREN; break;
	case '[': t->t = TK_LBRACK; break;
	case ']': t->t = TK_RBRACK; break;
	case ',': t->t = TK_COMMA; break;
	case '=':
		if (c2 == '=') {
			lx_adv(lx);
			t->t = TK_EQ;
		} else {
			rl_diag_at(d, lx->file, t->line, t->col,
				   "'=' is not an operator here (did you mean '=='?)");
			t->t = TK_ERR;
		}
		break;
	case '!':
		if (c2 == '=') {
			lx_adv(lx);
			t->t = TK_NE;
		} else {
			rl_diag_at(d, lx->file, t->line, t->col,
				   "unexpected '!' (use 'not' or '!=')");
			t->t = TK_ERR;
		}
		break;
	case '<':
		if (c2 == '=') {
			lx_adv(lx);
			t->t = TK_LE;
		} else {
			t->t = TK_LT;
		}
		break;
	case '>':
		if (c2 == '=') {
			lx_adv(lx);
			t->t = TK_GE;
		} else {
			t->t = TK_GT;
		}
		break;
	default:
		rl_diag_at(d, lx->file, t->line, t->col,
			   isprint((unsigned char)c) ? "unexpected character '%c'"
						  : "unexpected byte 0x%02x",
			isprint((unsigned char)c) ? c : (unsigned char)c);
		t->t = TK_ERR;
	}
done:
	t->n = (size_t)(lx->src + lx->pos - t->p);
}

/* /pattern/flags, read right after "matches" (so '/' is not a word) */
void rl_lx_scan_regex(struct lexer *lx, struct rule_diags *d,
		      struct arena **ar)
{
	struct token *t = &lx->tok;
	lx_skip_ws(lx);
	memset(t, 0, sizeof(*t));
	t->line = lx->line;
	t->col = lx->col;
	t->p = lx->src + lx->pos;
	lx->have = 1;
	if (lx->pos >= lx->len || lx->src[lx->pos] != '/') {
		rl_diag_at(d, lx->file, t->line, t->col,
			   "expected a regular expression /.../ after 'matches'");
		t->t = TK_ERR;
		/* leave the offending token for the parser's resync */
		lx->have = 0;
		return;
	}
	lx_adv(lx);
	size_t end = lx->pos;
	while (end < lx->len && lx->src[end] != '/' && lx->src[end] != '\n')
		end += lx->src[end] == '\\' ? 2 : 1;
	char *out = rl_arena_alloc(ar, end - lx->pos + 1);
	size_t on = 0;
	for (;;) {
		if (lx->pos >= lx->len || lx->src[lx->pos] == '\n') {
			rl_diag_at(d, lx->file, t->line, t->col,
				   "unterminated regular expression");
			t->t = TK_ERR;
			t->n = (size_t)(lx->src + lx->pos - t->p);
			return;
		}
		char ch = lx->src[lx->pos];
		if (ch == '/')
			break;
		if (ch == '\\' && lx->pos + 1 < lx->len &&
		    lx->src[lx->pos + 1] == '/') {
			lx_adv(lx);     /* \/ is a slash; other escapes are PCRE2's */
			ch = '/';
		}
		if (out)
			out[on++] = ch;
		lx_adv(lx);
	}
	lx_adv(lx);
	uint32_t fl = 0;
	while (lx->pos < lx->len && isalpha((unsigned char)lx->src[lx->pos])) {
		char f = lx->src[lx->pos];
		if (f == 'i') fl |= PCRE2_CASELESS;
		else if (f == 's') fl |= PCRE2_DOTALL;
		else if (f == 'm') fl |= PCRE2_MULTILINE;
		else if (f == 'x') fl |= PCRE2_EXTENDED;
		else {
			rl_diag_at(d, lx->file, lx->line, lx->col,
				   "unknown regex flag '%c' (i, s, m, x)", f);
			t->t = TK_ERR;
		}
		lx_adv(lx);
	}
	t->n = (size_t)(lx->src + lx->pos - t->p);
	if (!out) {
		t->t = TK_ERR;
		return;
	}
	out[on] = 0;
	t->s = out;
	t->sn = on;
	t->flags = fl;
	if (t->t != TK_ERR)
		t->t = TK_REGEX;
}
