/* smtp_queue.c - SMTP commands waiting for their reply.
 *
 * A ring of runs (struct smtp_qent) and a ring of argument bytes, both
 * FIFO: run i's argument follows run i-1's. A run is one command, or
 * several identical ones in a row (same verb, flags and argument: a client
 * padding with 10,000 "RCPT TO:<x@local>" that no longer fit as whole
 * addresses costs one run, see smtp.c). One run is always kept free for a
 * mixed run, so that a command never goes unaccounted: replies are paired
 * by count even when the queue is full.
 */
#include "smtp_int.h"

#include <string.h>

void q_reset(struct smtp_queue *q)
{
	q->head = q->n = 0;
	q->ahead = q->abytes = 0;
}

struct smtp_qent *q_run(struct smtp_queue *q, unsigned i)
{
	return &q->run[(q->head + i) % SMTP_QUEUE_RUNS];
}

static unsigned arg_off(const struct smtp_queue *q, unsigned i)
{
	unsigned off = q->ahead;

	for (unsigned k = 0; k < i; k++)
		off += q->run[(q->head + k) % SMTP_QUEUE_RUNS].alen;
	return off % SMTP_QUEUE_ARGS;
}

size_t q_arg(const struct smtp_queue *q, unsigned i, void *out, size_t cap)
{
	const struct smtp_qent *r = &q->run[(q->head + i) % SMTP_QUEUE_RUNS];
	unsigned off = arg_off(q, i);
	size_t n = r->alen < cap ? r->alen : cap;

	for (size_t k = 0; k < n; k++)
		((uint8_t *)out)[k] = q->args[(off + k) % SMTP_QUEUE_ARGS];
	return n;
}

void q_arg_write(struct smtp_queue *q, unsigned i, const void *d, size_t n)
{
	const struct smtp_qent *r = &q->run[(q->head + i) % SMTP_QUEUE_RUNS];
	unsigned off = arg_off(q, i);

	for (size_t k = 0; k < n && k < r->alen; k++)
		q->args[(off + k) % SMTP_QUEUE_ARGS] = ((const uint8_t *)d)[k];
}

static int arg_equal(const struct smtp_queue *q, unsigned i,
		     const uint8_t *a, size_t n)
{
	const struct smtp_qent *r = &q->run[(q->head + i) % SMTP_QUEUE_RUNS];
	unsigned off = arg_off(q, i);

	if (r->alen != n)
		return 0;
	for (size_t k = 0; k < n; k++)
		if (q->args[(off + k) % SMTP_QUEUE_ARGS] != a[k])
			return 0;
	return 1;
}

int q_push(struct smtp_queue *q, uint8_t verb, uint16_t flags,
	   const void *arg, size_t alen, int reserve, int name_blind)
{
	struct smtp_qent *t;

	/* DATA, "." and BDAT runs carry per-command arguments (offsets,
	 * sizes) that are read or patched one by one: never shared */
	if (q->n && verb != SMTP_CMD_DATA && verb != SMTP_CMD_DATA_END &&
	    verb != SMTP_CMD_BDAT) {
		t = q_run(q, q->n - 1u);
		if (t->verb == verb && t->flags == flags &&
		    t->count < UINT32_MAX &&
		    ((name_blind && verb == SMTP_CMD_UNKNOWN) ||
		     arg_equal(q, q->n - 1u, arg, alen))) {
			t->count++;
			return 1;
		}
	}
	/* the last free run is the mixed run's */
	if (q->n + 2u > SMTP_QUEUE_RUNS ||
	    q->abytes + alen + (size_t)reserve > SMTP_QUEUE_ARGS)
		return 0;
	t = q_run(q, q->n);
	memset(t, 0, sizeof(*t));
	t->verb = verb;
	t->flags = flags;
	t->alen = (uint16_t)alen;
	t->count = 1;
	for (size_t k = 0; k < alen; k++)
		q->args[(q->ahead + q->abytes + k) % SMTP_QUEUE_ARGS] =
			((const uint8_t *)arg)[k];
	q->abytes = (uint16_t)(q->abytes + alen);
	q->n++;
	return 1;
}

static uint8_t mixed_bits(uint8_t verb, uint16_t flags)
{
	uint8_t x = 0;

	switch (verb) {
	case SMTP_CMD_NONE:	/* a barrier */
		x |= SMTP_QX_BARRIER;
		break;
	case SMTP_CMD_HELO:
	case SMTP_CMD_EHLO:
	case SMTP_CMD_LHLO:
	case SMTP_CMD_MAIL:
	case SMTP_CMD_DATA:
	case SMTP_CMD_DATA_END:
	case SMTP_CMD_BDAT:
	case SMTP_CMD_RSET:
	case SMTP_CMD_QUIT:
	case SMTP_CMD_STARTTLS:
	case SMTP_CMD_AUTH:
	case SMTP_CMD_AUTH_DATA:
	case SMTP_Q_MIXED:
		x |= SMTP_QX_STATE;
		break;
	default:
		break;
	}
	if (flags & (SMTP_QF_WIN | SMTP_QF_COND))
		x |= SMTP_QX_WIN;
	if (flags & SMTP_QF_BARRIER)
		x |= SMTP_QX_BARRIER;
	return x;
}

void q_push_mixed(struct smtp_queue *q, uint8_t verb, uint16_t flags)
{
	struct smtp_qent *t = q->n ? q_run(q, q->n - 1u) : NULL;

	if (!t || t->verb != SMTP_Q_MIXED || t->count == UINT32_MAX) {
		/* q_push() leaves a run free, and a full mixed run (4e9
		 * commands) cannot be reached before the flow ends */
		if (q->n >= SMTP_QUEUE_RUNS)
			return;
		t = q_run(q, q->n);
		memset(t, 0, sizeof(*t));
		t->verb = SMTP_Q_MIXED;
		q->n++;
	}
	t->count++;
	if (verb == SMTP_CMD_RCPT)
		t->nrcpt++;
	t->mixed |= mixed_bits(verb, flags);
}

static void free_head(struct smtp_queue *q)
{
	struct smtp_qent *r = &q->run[q->head];

	q->ahead = (uint16_t)((q->ahead + r->alen) % SMTP_QUEUE_ARGS);
	q->abytes = (uint16_t)(q->abytes - r->alen);
	q->head = (uint16_t)((q->head + 1) % SMTP_QUEUE_RUNS);
	q->n--;
}

void q_pop(struct smtp_queue *q, struct smtp_qcmd *out)
{
	struct smtp_qent *r = &q->run[q->head];

	out->verb = r->verb;
	out->mixed = r->mixed;
	out->flags = r->flags;
	out->alen = (uint16_t)q_arg(q, 0, out->arg, sizeof(out->arg));
	out->nrcpt = r->nrcpt;
	r->count--;
	out->left = r->count;
	/* a mixed run: which of its commands were RCPTs is not known, so
	 * nrcpt only shrinks when fewer commands than that are left */
	if (r->nrcpt > r->count)
		r->nrcpt = r->count;
	if (!r->count)
		free_head(q);
}

void q_drop_run(struct smtp_queue *q)
{
	if (q->n)
		free_head(q);
}
