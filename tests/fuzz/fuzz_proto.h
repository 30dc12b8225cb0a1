/* fuzz_proto.h - the libFuzzer harness shared by the proxy parsers'
 * targets. A target defines, before including it:
 *   FZ_OPS            the parser's struct proto_ops
 *   FZ_RECORD_EV      its record event type
 *   FZ_PORT           the server port given to init()
 *   fz_fact(j, obj)   checks a fact's struct and writes a few of its
 *                     fields into j (traps on an insane struct)
 *
 * Input: a sequence of records  [ctl][len][len bytes of data]
 *   ctl bit 0   direction (0 client->server, 1 server->client)
 *   ctl bit 1   1 = a gap of len*16+1 bytes (no data follows)
 *   ctl bit 2   midstream pickup (first record only)
 *   ctl bit 3   roles reversed, as for reverse SOCKS (first record only)
 * Each record is fed twice over two parser instances: once whole and once
 * one byte at a time; the event logs (EVE JSON, tunnel bytes) must be the
 * same, or the parser is not resumable (trap).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "proto.h"
#include "json.h"

struct fz_log {
	uint64_t h;      /* running hash of everything the sink saw */
	size_t events;
};

static void fz_mix(struct fz_log *l, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		l->h = (l->h ^ b[i]) * 1099511628211ull;
}

static void fz_event(void *ctx, enum proto_event type, const void *obj,
		     uint64_t ts)
{
	struct fz_log *l = ctx;
	static char buf[16384];
	struct json j;

	(void)ts;
	json_init(&j, buf, sizeof(buf));
	json_obj_open(&j, NULL);
	if (type == FZ_RECORD_EV) {
		if (!FZ_OPS.eve(&j, type, obj))
			__builtin_trap();
	} else {
		fz_fact(&j, obj);   /* a fact: the request struct must be sane */
	}
	json_obj_close(&j);
	fz_mix(l, &type, sizeof(type));
	fz_mix(l, buf, j.len);
	l->events++;
}

static void fz_open(void *ctx, const struct tunnel_info *ti, uint64_t ts)
{
	struct fz_log *l = ctx;

	(void)ts;
	if (strnlen(ti->target_host, sizeof(ti->target_host)) ==
	    sizeof(ti->target_host))
		__builtin_trap();
	fz_mix(l, "O", 1);
	fz_mix(l, ti->target_host, strlen(ti->target_host));
	fz_mix(l, &ti->target_port, sizeof(ti->target_port));
}

static void fz_data(void *ctx, int dir, const uint8_t *d, size_t n,
		    uint64_t ts)
{
	struct fz_log *l = ctx;

	(void)ts;
	if (!n)
		__builtin_trap();
	/* bytes are hashed one at a time: chunking must not matter */
	for (size_t i = 0; i < n; i++) {
		fz_mix(l, dir ? "d" : "D", 1);
		fz_mix(l, d + i, 1);
	}
}

static void fz_gap(void *ctx, int dir, size_t n, uint64_t ts)
{
	struct fz_log *l = ctx;

	(void)ts;
	fz_mix(l, "G", 1);
	fz_mix(l, &dir, sizeof(dir));
	fz_mix(l, &n, sizeof(n));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static void *st[2];
	struct fz_log log[2] = { { 14695981039346656037ull, 0 },
				 { 14695981039346656037ull, 0 } };
	struct rw_counters ctr[2];
	struct proto_init pi = { .server_port = FZ_PORT };
	size_t i = 0;

	for (int k = 0; k < 2; k++) {
		if (!st[k])
			st[k] = malloc(FZ_OPS.state_size);
	}
	if (size && (data[0] & 4))
		pi.midstream = 1;
	if (size && (data[0] & 8))
		pi.reversed = 1;
	memset(ctr, 0, sizeof(ctr));
	for (int k = 0; k < 2; k++) {
		struct proto_sink sink = { &log[k], fz_event, fz_open, fz_data,
					   fz_gap };

		FZ_OPS.init(st[k], &sink, &ctr[k], &pi);
	}
	/* probe on the first records must not crash either */
	FZ_OPS.probe(data, size / 2, data + size / 2, size - size / 2);

	while (i + 2 <= size) {
		int dir = data[i] & 1, gap = data[i] & 2;
		size_t len = data[i + 1];

		i += 2;
		if (gap) {
			for (int k = 0; k < 2; k++)
				FZ_OPS.gap(st[k], dir, len * 16 + 1, i);
			continue;
		}
		if (len > size - i)
			len = size - i;
		FZ_OPS.feed(st[0], dir, data + i, len, i);
		for (size_t b = 0; b < len; b++)
			FZ_OPS.feed(st[1], dir, data + i + b, 1, i);
		i += len;
		if (FZ_OPS.wants_data(st[0]) !=
		    FZ_OPS.wants_data(st[1]))
			__builtin_trap();
	}
	for (int k = 0; k < 2; k++)
		FZ_OPS.end(st[k], size);
	if (log[0].h != log[1].h || log[0].events != log[1].events ||
	    memcmp(&ctr[0], &ctr[1], sizeof(ctr[0])))
		__builtin_trap();
	return 0;
}
