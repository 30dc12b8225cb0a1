/* rules_util.c - the rule loader's plumbing: the arena that holds a
 * ruleset's strings and small pieces, growable arrays, diagnostics
 * ("file:line:col: message", capped at RULE_DIAG_MAX), the name -> index
 * map used for set names and rule ids; and rule_action_name().
 *
 * All but rule_action_name() run at load time only (startup,
 * --check-rules, reload) and may allocate.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "rules_int.h"

/* ------------------------------------------------------------------ */
/* arena: strings and fixed-size pieces of one ruleset, freed at once */

struct arena {
	struct arena *next;
	size_t used, cap;
	_Alignas(16) unsigned char data[];
};

void *rl_arena_alloc(struct arena **a, size_t n)
{
	n = (n + 15) & ~(size_t)15;
	if (!*a || (*a)->used + n > (*a)->cap) {
		size_t cap = n > 16384 ? n : 16384;
		struct arena *b = malloc(sizeof(*b) + cap);
		if (!b)
			return NULL;
		b->next = *a;
		b->used = 0;
		b->cap = cap;
		*a = b;
	}
	void *p = (*a)->data + (*a)->used;
	(*a)->used += n;
	memset(p, 0, n);
	return p;
}

char *rl_arena_strndup(struct arena **a, const char *s, size_t n)
{
	char *p = rl_arena_alloc(a, n + 1);
	if (p) {
		memcpy(p, s, n);
		p[n] = 0;
	}
	return p;
}

void rl_arena_free(struct arena *a)
{
	while (a) {
		struct arena *n = a->next;
		free(a);
		a = n;
	}
}

/* growable array: *arr of *n elements, *cap allocated */
void *rl_vec_push(void *arrp, int *n, int *cap, size_t elsz)
{
	void **arr = arrp;
	if (*n >= *cap) {
		int nc = *cap ? *cap * 2 : 16;
		void *na = realloc(*arr, (size_t)nc * elsz);
		if (!na)
			return NULL;
		*arr = na;
		*cap = nc;
	}
	void *p = (char *)*arr + (size_t)(*n)++ * elsz;
	memset(p, 0, elsz);
	return p;
}

/* ------------------------------------------------------------------ */
/* diagnostics */

static void diag_addv(struct rule_diags *d, int is_err, const char *fmt,
		      va_list ap)
{
	if (!d)
		return;
	if (is_err)
		d->nerrors++;
	else
		d->nwarnings++;
	if (d->n >= RULE_DIAG_MAX) {
		d->dropped++;
		return;
	}
	char buf[1024];
	vsnprintf(buf, sizeof(buf), fmt, ap);
	char **m = rl_vec_push(&d->msg, &d->n, &d->cap, sizeof(char *));
	if (!m)
		return;
	*m = strdup(buf);
	if (!*m)
		d->n--;
}

void rl_diag_warn(struct rule_diags *d, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	diag_addv(d, 0, fmt, ap);
	va_end(ap);
}

/* "file:line:col: message" */
void rl_diag_at(struct rule_diags *d, const char *file, uint32_t line,
		uint32_t col, const char *fmt, ...)
{
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!d)
		return;
	d->nerrors++;
	if (d->n >= RULE_DIAG_MAX) {
		d->dropped++;
		return;
	}
	char **m = rl_vec_push(&d->msg, &d->n, &d->cap, sizeof(char *));
	if (!m)
		return;
	if (asprintf(m, "%s:%u:%u: %s", file, line, col, msg) < 0)
		d->n--;
}

void rule_diags_free(struct rule_diags *d)
{
	if (!d)
		return;
	for (int i = 0; i < d->n; i++)
		free(d->msg[i]);
	free(d->msg);
	memset(d, 0, sizeof(*d));
}

void rule_diags_print(const struct rule_diags *d, FILE *out)
{
	for (int i = 0; i < d->n; i++)
		fprintf(out, "%s\n", d->msg[i]);
	if (d->dropped)
		fprintf(out, "(%d more diagnostics not shown)\n", d->dropped);
}

const char *rule_action_name(enum rule_action a)
{
	switch (a) {
	case RA_NONE: return "none";
	case RA_NOTE: return "note";
	case RA_ALERT: return "alert";
	case RA_BLOCK: return "block";
	case RA_PASS: return "pass";
	}
	return "?";
}

/* ------------------------------------------------------------------ */
/* name -> index map (set names, rule ids): load time must stay linear in
 * the file size even for hostile files */

static uint64_t name_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (; *s; s++) {
		h ^= (uint8_t)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

int rl_namemap_get(const struct namemap *m, const char *name)
{
	if (!m->cap)
		return -1;
	for (uint32_t j = (uint32_t)name_hash(name) & (m->cap - 1);;
	     j = (j + 1) & (m->cap - 1)) {
		if (!m->names[j])
			return -1;
		if (!strcmp(m->names[j], name))
			return m->idx[j];
	}
}

/* 0, -EEXIST (the existing index in *old), -ENOMEM */
int rl_namemap_put(struct namemap *m, const char *name, int idx, int *old)
{
	if ((m->n + 1) * 2 > m->cap) {
		uint32_t nc = m->cap ? m->cap * 2 : 64;
		struct namemap nm = { calloc(nc, sizeof(char *)),
				      calloc(nc, sizeof(int)), nc, 0 };
		if (!nm.names || !nm.idx) {
			free(nm.names);
			free(nm.idx);
			return -ENOMEM;
		}
		for (uint32_t i = 0; i < m->cap; i++)
			if (m->names[i])
				rl_namemap_put(&nm, m->names[i], m->idx[i], NULL);
		free(m->names);
		free(m->idx);
		*m = nm;
	}
	uint32_t j = (uint32_t)name_hash(name) & (m->cap - 1);
	while (m->names[j]) {
		if (!strcmp(m->names[j], name)) {
			if (old)
				*old = m->idx[j];
			return -EEXIST;
		}
		j = (j + 1) & (m->cap - 1);
	}
	m->names[j] = name;
	m->idx[j] = idx;
	m->n++;
	return 0;
}

void rl_namemap_free(struct namemap *m)
{
	free(m->names);
	free(m->idx);
	memset(m, 0, sizeof(*m));
}
