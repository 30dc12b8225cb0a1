/* fuzz_smtp.c - libFuzzer target for the SMTP parser.
 *
 * Input layout:
 *   byte 0      flags: bit0 midstream, bit1 implicit TLS, bit2 call end()
 *               twice, bit3 call gap/end on a fresh state with no data
 *   bytes 1..8  chunk pattern: each feed is split into chunks of
 *               pattern[i % 8] % 32 + 1 bytes (0 = whole record at once)
 *   then records: [ctl][len][len bytes]
 *               ctl bit0: direction (0 client, 1 server)
 *               ctl & 0x0e == 0x0e: a gap of len bytes (no data follows)
 *               len 0 means 256
 * Every record the parser emits is written as EVE JSON; the output must be
 * one line of printable bytes, reply events must name their recipient as
 * the parser kept it, the in-flight queue must stay in its rings (checked:
 * abort() otherwise). The seeds in
 * tests/fuzz/seeds/fuzz_smtp/ are SMTP sessions in this layout.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp.h"
#include "json.h"

static char jbuf[1 << 16];

/* the in-flight queue stays within its rings */
static void check_queue(const struct smtp_state *s)
{
	if (s->q.n > SMTP_QUEUE_RUNS || s->q.head >= SMTP_QUEUE_RUNS ||
	    s->q.abytes > SMTP_QUEUE_ARGS || s->q.ahead >= SMTP_QUEUE_ARGS)
		abort();
}

static void check_json(const struct json *j)
{
	if (j->overflow)
		return;
	for (size_t i = 0; i < j->len; i++)
		if ((unsigned char)j->buf[i] < 0x20 || j->buf[i] == 0x7f)
			abort();	/* raw control byte in the output */
}

static void ev(void *ctx, enum proto_event type, const void *obj, uint64_t ts)
{
	const struct smtp_tx *tx = obj;
	struct json j;
	const char *et;

	(void)ctx;
	(void)ts;
	if (!tx || !tx->session)
		abort();
	json_init(&j, jbuf, sizeof(jbuf));
	json_obj_open(&j, NULL);
	et = smtp_ops.eve(&j, type, obj);
	json_obj_close(&j);
	if ((type == EV_SMTP_RECORD) != (et != NULL))
		abort();
	if (tx->last_cmd.rcpt >= (int)tx->n_recipients &&
	    tx->last_cmd.rcpt != -1 && type == EV_SMTP_REPLY)
		abort();
	/* a RCPT whose address was not kept names no address; a kept
	 * domain is "@domain" */
	if (tx->last_cmd.verb == SMTP_CMD_RCPT &&
	    ((tx->last_cmd.addr == SMTP_ADDR_UNKNOWN && tx->last_cmd.arg[0]) ||
	     (tx->last_cmd.addr == SMTP_ADDR_DOMAIN &&
	      tx->last_cmd.arg[0] != '@')))
		abort();
	if (tx->n_recipients > SMTP_RCPT_MAX)
		abort();
	check_json(&j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct smtp_state st;
	static struct rw_counters ctr;
	struct proto_sink sink = { .ctx = NULL, .event = ev };
	struct proto_init pi = { .server_port = 25 };
	uint8_t pat[8];
	uint8_t first[2][64];
	size_t nfirst[2] = { 0, 0 };
	size_t i, k = 0;
	uint64_t ts = 0;

	if (size < 9)
		return 0;
	pi.midstream = data[0] & 1;
	pi.implicit_tls = (data[0] >> 1) & 1;
	memcpy(pat, data + 1, 8);
	memset(&st, data[1], sizeof(st)); /* pool memory is not zeroed */
	smtp_ops.init(&st, &sink, &ctr, &pi);
	if (data[0] & 8) {
		smtp_ops.gap(&st, 0, 10, ts);
		smtp_ops.gap(&st, 1, 10, ts);
	}
	i = 9;
	while (i + 2 <= size) {
		int dir = data[i] & 1;
		int gap = (data[i] & 0x0e) == 0x0e;
		size_t len = data[i + 1] ? data[i + 1] : 256;

		i += 2;
		ts++;
		if (gap) {
			smtp_ops.gap(&st, dir, len, ts);
			check_queue(&st);
			continue;
		}
		if (len > size - i)
			len = size - i;
		if (nfirst[dir] < sizeof(first[dir])) {
			size_t c = sizeof(first[dir]) - nfirst[dir];

			c = c < len ? c : len;
			memcpy(first[dir] + nfirst[dir], data + i, c);
			nfirst[dir] += c;
		}
		for (size_t o = 0; o < len;) {
			uint8_t p = pat[k++ % 8];
			size_t c = p ? (size_t)(p % 32) + 1 : len - o;

			if (c > len - o)
				c = len - o;
			smtp_ops.feed(&st, dir, data + i + o, c, ts);
			check_queue(&st);
			o += c;
		}
		(void)smtp_ops.wants_data(&st);
		i += len;
	}
	smtp_ops.end(&st, ts + 1);
	if (data[0] & 4)
		smtp_ops.end(&st, ts + 2);
	(void)smtp_ops.probe(first[0], nfirst[0], first[1], nfirst[1]);
	return 0;
}
