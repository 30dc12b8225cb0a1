/* rules_int.h - private to the rule loader (userspace/rules_*.c): what its
 * pieces share. Nothing outside the rules_*.c files includes this; the
 * public interface is rules.h.
 *
 *   rules_util.c   arena, growable arrays, diagnostics, name map
 *
 * Everything here runs at load time, never per packet.
 */
#ifndef RW_RULES_INT_H
#define RW_RULES_INT_H

#include <stddef.h>
#include <stdint.h>
#include "rules.h"

/* ---- rules_util.c ---- */

/* arena: strings and fixed-size pieces of one ruleset, freed at once;
 * memory comes back zeroed, NULL when out of memory */
void *arena_alloc(struct arena **a, size_t n);
char *arena_strndup(struct arena **a, const char *s, size_t n);
void arena_free(struct arena *a);

/* growable array: *arr of *n elements, *cap allocated; returns the new
 * (zeroed) element or NULL */
void *vec_push(void *arrp, int *n, int *cap, size_t elsz);

void __attribute__((format(printf, 2, 3)))
diag_warn(struct rule_diags *d, const char *fmt, ...);
/* an error: "file:line:col: message" */
void __attribute__((format(printf, 5, 6)))
diag_at(struct rule_diags *d, const char *file, uint32_t line, uint32_t col,
	const char *fmt, ...);

/* name -> index map (set names, rule ids): load time must stay linear in
 * the file size even for hostile files */
struct namemap {
	const char **names;  /* borrowed */
	int *idx;
	uint32_t cap, n;     /* cap: power of two or 0 */
};

/* the index, or -1 */
int namemap_get(const struct namemap *m, const char *name);
/* 0, -EEXIST (the existing index in *old), -ENOMEM */
int namemap_put(struct namemap *m, const char *name, int idx, int *old);
void namemap_free(struct namemap *m);

#endif
