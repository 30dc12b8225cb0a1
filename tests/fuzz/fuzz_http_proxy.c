/* fuzz_http_proxy.c - libFuzzer target for the HTTP proxy parser
 * (harness and input format: fuzz_proto.h). */
#include <string.h>
#include "json.h"
#include "http_proxy.h"

#define FZ_OPS http_proxy_ops
#define FZ_RECORD_EV EV_HTTP_RECORD
#define FZ_PORT 3128

static void fz_fact(struct json *j, const void *obj)
{
	const struct http_tx *tx = obj;

	if (strnlen(tx->method, sizeof(tx->method)) == sizeof(tx->method) ||
	    strnlen(tx->target_host, sizeof(tx->target_host)) ==
		    sizeof(tx->target_host) ||
	    tx->meth > HTTP_METHOD_HEAD || tx->proxy > 1 ||
	    (tx->meth == HTTP_METHOD_CONNECT) !=
		    (http_method_of(tx->method, strlen(tx->method)) ==
		     HTTP_METHOD_CONNECT))
		__builtin_trap();
	json_str(j, "m", tx->method);
	json_str(j, "h", tx->target_host);
}

#include "fuzz_proto.h"
