/* smtp_int.h - what the parts of the SMTP parser share (not an API).
 *
 *   smtp.c        ops, client side: lines, commands, message bodies, gaps
 *   smtp_auth.c   AUTH on the client side (user names, never passwords)
 *   smtp_queue.c  commands in flight (struct smtp_queue)
 *   smtp_reply.c  server side: replies, pairing, the transaction
 *   smtp_eve.c    names and the EVE record
 */
#ifndef RW_SMTP_INT_H
#define RW_SMTP_INT_H

#include <stddef.h>
#include <stdint.h>
#include "smtp.h"

/* run flags (struct smtp_qent.flags) */
#define SMTP_QF_WIN     0x0001 /* sent after a DATA not answered yet and
                                * before any "." line: message text if
                                * that DATA gets 354 */
#define SMTP_QF_COND    0x0002 /* a "." line in such a window: the end of
                                * the message if the DATA gets 354, else
                                * an unknown command "." */
#define SMTP_QF_LAST    0x0004 /* BDAT ... LAST */
#define SMTP_QF_SYNTAX  0x0008 /* malformed command */
#define SMTP_QF_TRUNC   0x0010 /* a field was cut to its array */
#define SMTP_QF_NOARG   0x0020 /* the argument could not be kept */
#define SMTP_QF_DOMAIN  0x0040 /* RCPT: only the domain was kept */
#define SMTP_QF_BARRIER 0x0080 /* verb NONE: commands may have been lost
                                * here (client gap) */
#define SMTP_QF_DOT     0x0100 /* UNKNOWN: a "." line (refused DATA) */
#define SMTP_QF_UNTERM  0x0200 /* DATA_END: the server ended the message
                                * where we saw no terminator */
#define SMTP_QF_SHORT   0x0400 /* BDAT: the chunk was not all seen */

/* what a mixed run swallowed (struct smtp_qent.mixed) */
#define SMTP_QX_STATE   0x01   /* commands that change the transaction */
#define SMTP_QX_WIN     0x02   /* window lines (or a "." line) */
#define SMTP_QX_BARRIER 0x04   /* a client gap */

/* one command taken from the queue */
struct smtp_qcmd {
	uint8_t verb;              /* enum smtp_verb or SMTP_Q_MIXED */
	uint8_t mixed;
	uint16_t flags;
	uint32_t left;             /* commands left in its run after it */
	uint32_t nrcpt;            /* mixed: RCPTs that may be among them */
	uint16_t alen;
	uint8_t arg[SMTP_ADDR_MAX + SMTP_PARAMS_MAX + 2];
};

/* ---- smtp_queue.c ---- */
void q_reset(struct smtp_queue *q);
static inline int q_empty(const struct smtp_queue *q)
{
	return q->n == 0;
}
/* run i from the head (i < q->n) */
struct smtp_qent *q_run(struct smtp_queue *q, unsigned i);
/* copy run i's argument into out (cap bytes); its length */
size_t q_arg(const struct smtp_queue *q, unsigned i, void *out, size_t cap);
void q_arg_write(struct smtp_queue *q, unsigned i, const void *d, size_t n);
/* Append one command: merged into the last run if identical (name_blind:
 * an UNKNOWN merges whatever its name), else a new run if a run and the
 * argument bytes are free (reserve: leave room for the commands that
 * cannot do without their argument). 0 if it did not fit. */
int q_push(struct smtp_queue *q, uint8_t verb, uint16_t flags,
	   const void *arg, size_t alen, int reserve, int name_blind);
/* Append to a mixed run (always fits: a run is kept free for it). */
void q_push_mixed(struct smtp_queue *q, uint8_t verb, uint16_t flags);
/* Take the first command (q not empty). */
void q_pop(struct smtp_queue *q, struct smtp_qcmd *out);
/* Drop the whole head run. */
void q_drop_run(struct smtp_queue *q);

/* ---- smtp.c (helpers the other parts use) ---- */
void smtp_cmd_event(struct smtp_state *s, enum smtp_verb v, const char *name,
		    const char *arg, size_t alen);
void smtp_queue_must(struct smtp_state *s, uint8_t verb, uint16_t flags,
		     const void *arg, size_t alen);
void smtp_anom(struct smtp_state *s, uint32_t bit, enum rw_counter c);
void smtp_field_set(struct smtp_state *s, char *dst, size_t cap,
		    const char *src, size_t n);
void smtp_field_cpy(char *dst, size_t cap, const char *src);
void smtp_emit(struct smtp_state *s, enum proto_event t);
void smtp_enter_body(struct smtp_state *s);

/* ---- smtp_auth.c ---- */
void smtp_cmd_auth(struct smtp_state *s, const char *arg, size_t n);
void smtp_auth_data_line(struct smtp_state *s, const char *l, size_t n);

/* ---- smtp_reply.c ---- */
void smtp_srv_line(struct smtp_state *s, const char *l, size_t n);
void smtp_tx_init(struct smtp_state *s);
void smtp_tx_end(struct smtp_state *s);
void smtp_session_finish(struct smtp_state *s);
/* a command needs no reply to be applied: pairing is lost */
void smtp_apply_now(struct smtp_state *s, uint8_t verb, uint16_t flags,
		    const void *arg, size_t alen);
/* apply every queued command without a reply: unanswered (end of flow),
 * or lost (s->lost set) */
void smtp_drain(struct smtp_state *s);
/* pairing is lost from here on (gap); counted once per loss */
void smtp_lose_pairing(struct smtp_state *s);

/* ---- smtp_eve.c ---- */
extern const char *const smtp_verb_names[SMTP_CMD__COUNT];
extern const char *const smtp_anomaly_names[SMTP_ANOM__COUNT];
const char *smtp_eve(struct json *j, enum proto_event type, const void *obj);

#endif
