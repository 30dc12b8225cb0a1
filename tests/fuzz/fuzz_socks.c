/* fuzz_socks.c - libFuzzer target for the SOCKS parser (harness and input
 * format: fuzz_proto.h). */
#include <string.h>
#include "json.h"
#include "socks.h"

#define FZ_OPS socks_ops
#define FZ_RECORD_EV EV_SOCKS_RECORD
#define FZ_PORT 1080

static void fz_fact(struct json *j, const void *obj)
{
	const struct socks_tx *tx = obj;

	if (strnlen(tx->target_host, sizeof(tx->target_host)) ==
	    sizeof(tx->target_host) || tx->n_methods > SOCKS_METHODS_MAX)
		__builtin_trap();
	json_u64(j, "v", tx->version);
	json_str(j, "h", tx->target_host);
}

#include "fuzz_proto.h"
