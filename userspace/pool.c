/* pool.c - capped fixed-size object pool (see pool.h) */
#include "pool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int pool_init(struct pool *p, size_t obj_size, size_t max_objs)
{
	memset(p, 0, sizeof(*p));
	p->obj_size = (obj_size + 15) & ~(size_t)15;
	if (p->obj_size < sizeof(void *))
		p->obj_size = 16;
	p->max_objs = max_objs;
	p->per_slab = (256 * 1024) / p->obj_size;
	if (p->per_slab < 4)
		p->per_slab = 4;
	if (p->per_slab > max_objs)
		p->per_slab = max_objs ? max_objs : 1;
	return max_objs ? 0 : -EINVAL;
}

static int pool_grow(struct pool *p)
{
	size_t n = p->per_slab;
	char *slab;

	if (p->n_objs >= p->max_objs)
		return -ENOSPC;
	if (n > p->max_objs - p->n_objs)
		n = p->max_objs - p->n_objs;
	if (p->n_slabs == p->cap_slabs) {
		size_t nc = p->cap_slabs ? p->cap_slabs * 2 : 16;
		void **ns = realloc(p->slabs, nc * sizeof(*ns));
		if (!ns)
			return -ENOMEM;
		p->slabs = ns;
		p->cap_slabs = nc;
	}
	slab = malloc(n * p->obj_size);
	if (!slab)
		return -ENOMEM;
	p->slabs[p->n_slabs++] = slab;
	for (size_t i = 0; i < n; i++) {
		void **o = (void **)(slab + i * p->obj_size);
		*o = p->free_list;
		p->free_list = o;
	}
	p->n_objs += n;
	return 0;
}

void *pool_get(struct pool *p)
{
	void **o;

	if (!p->free_list && pool_grow(p) < 0)
		return NULL;
	o = p->free_list;
	p->free_list = *o;
	if (!p->no_zero)
		memset(o, 0, p->obj_size);
	if (++p->in_use > p->peak)
		p->peak = p->in_use;
	return o;
}

void pool_put(struct pool *p, void *obj)
{
	void **o = obj;

	if (!obj)
		return;
	*o = p->free_list;
	p->free_list = o;
	p->in_use--;
}

void pool_destroy(struct pool *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_slabs; i++)
		free(p->slabs[i]);
	free(p->slabs);
	memset(p, 0, sizeof(*p));
}

size_t pool_bytes(const struct pool *p)
{
	return p->n_objs * p->obj_size;
}
