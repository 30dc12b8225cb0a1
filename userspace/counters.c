/* counters.c - counter names and aggregation (see counters.h) */
#include "counters.h"

const char *const rw_counter_names[CTR__COUNT] = {
#define RW_CTR_NAME(id, name) [CTR_##id] = name,
	RW_COUNTERS(RW_CTR_NAME)
#undef RW_CTR_NAME
};

void counters_sum(struct rw_counters *dst, const struct rw_counters *src)
{
	for (int i = 0; i < CTR__COUNT; i++)
		dst->v[i] += src->v[i];
}
