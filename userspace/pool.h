/* pool.h - fixed-size object pool with a hard cap.
 *
 * Objects are carved from slabs allocated on demand (so an idle sensor stays
 * small) up to max_objs; after that pool_get() returns NULL and the caller
 * applies its cap policy and counts it. pool_get/pool_put are O(1) and never
 * call malloc once the slab that serves them exists: no malloc per packet.
 * A pool belongs to one worker: no locking.
 */
#ifndef RW_POOL_H
#define RW_POOL_H

#include <stddef.h>
#include <stdint.h>

struct pool {
	size_t obj_size;     /* rounded up to 16 */
	size_t max_objs;
	size_t per_slab;
	size_t n_objs;       /* carved so far */
	size_t in_use, peak;
	void *free_list;
	void **slabs;
	size_t n_slabs, cap_slabs;
	int no_zero;         /* pool_get skips zeroing: the owner initializes
	                      * every object it takes (large parser states) */
};

int pool_init(struct pool *p, size_t obj_size, size_t max_objs);
/* returns zeroed memory (unless no_zero) or NULL when the cap is reached
 * (or out of memory) */
void *pool_get(struct pool *p);
void pool_put(struct pool *p, void *obj);
void pool_destroy(struct pool *p);
/* bytes currently reserved by the pool (slabs) */
size_t pool_bytes(const struct pool *p);

#endif
