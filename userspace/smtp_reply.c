/* smtp_reply.c - SMTP server side: reply assembly, pairing each reply with
 * its command, and the transaction as the server sees it.
 *
 * Policies worth knowing (the "why"):
 *  - A command changes the transaction when its reply arrives, as the reply
 *    says (apply()): the client cannot choose, by pipelining or by sending
 *    commands the server refuses, what the sensor thinks was sent.
 *  - 354 and 334 keep their meaning even when the reply cannot be paired
 *    (mixed run, lost pairing): otherwise a client could pad the pipeline
 *    to make the sensor read a message body as commands.
 *  - A 354 is where a lost pairing comes back: the server then reads a
 *    message, so no command is in flight.
 *  - A server reply arriving while the client is inside a DATA body means
 *    the server ended the message where we saw no terminator (capture gap,
 *    a terminator this parser does not take, "\n.\n" smuggling): it answers
 *    the end of data, and what we took for message text since may have
 *    been commands, so pairing is lost.
 */
#include "smtp_int.h"

#include <string.h>

static int is2xx(int code)
{
	return code >= 200 && code < 300;
}

static uint64_t get_u64(const struct smtp_qcmd *c)
{
	uint64_t v = 0;

	if (c->alen >= sizeof(v))
		memcpy(&v, c->arg, sizeof(v));
	return v;
}

/* ---- the transaction -------------------------------------------------- */

static void tx_reset(struct smtp_state *s)
{
	struct smtp_tx *tx = &s->tx;

	/* everything but recipients[]: an entry is written whole when its
	 * reply arrives and nothing reads past n_recipients. Clearing 8.7 KB
	 * per transaction (and faulting in pages that few transactions reach)
	 * was a measurable share of the engine's time. */
	memset(tx, 0, offsetof(struct smtp_tx, recipients));
	memset(&tx->n_recipients, 0,
	       sizeof(*tx) - offsetof(struct smtp_tx, n_recipients));
	tx->last_cmd.rcpt = -1;
}

static void record_emit(struct smtp_state *s)
{
	s->sess.records++;
	s->session_dirty = 0;
	if (s->tx.number)
		ctr_inc(s->ctr, CTR_SMTP_TX);
	smtp_emit(s, EV_SMTP_RECORD);
}

void smtp_tx_end(struct smtp_state *s)
{
	if (!s->tx.started)
		return;
	record_emit(s);
	tx_reset(s);
}

static void tx_begin(struct smtp_state *s)
{
	if (s->tx.started)
		return;
	s->tx.started = 1;
	s->tx.number = ++s->sess.transactions;
}

void smtp_tx_init(struct smtp_state *s)
{
	tx_reset(s);
}

/* End of session (QUIT answered, TLS, end of flow): the transaction, then
 * the session record if this session has not been reported yet or
 * AUTH/STARTTLS happened since its last record. */
void smtp_session_finish(struct smtp_state *s)
{
	smtp_tx_end(s);
	if (s->sess.records && !s->session_dirty)
		return;
	if (!s->sess.greeting_code && !s->sess.commands &&
	    s->sess.tls == SMTP_TLS_NONE)
		return;
	s->tx.number = 0;
	record_emit(s);
	tx_reset(s);
}

static void reply_to_tx_data(struct smtp_tx *tx, const struct smtp_reply *r)
{
	tx->data.code = r->code;
	smtp_field_cpy(tx->data.enhanced, sizeof(tx->data.enhanced),
		       r->enhanced);
	smtp_field_cpy(tx->data.text, sizeof(tx->data.text), r->text);
}

/* ---- DATA and the lines sent behind it -------------------------------- */

/* The DATA just taken from the queue gets 354 (or is taken as accepted: end
 * of flow, pairing lost). The server reads a message from the byte after
 * the DATA line: the commands queued behind it up to a "." line were its
 * text; that "." line ends it. off: where the message starts in the window
 * (win_bytes counts from the window's first DATA). */
static void data_accepted(struct smtp_state *s, uint64_t off)
{
	struct smtp_tx *tx = &s->tx;
	uint32_t dropped = 0;
	int found = 0, lose = 0;

	while (!q_empty(&s->q)) {
		struct smtp_qent *r = q_run(&s->q, 0);

		if (r->verb == SMTP_Q_MIXED) {
			/* where the text ended went into a mixed run */
			lose = (r->mixed & SMTP_QX_WIN) != 0;
			break;
		}
		if (r->flags & SMTP_QF_COND) {
			uint64_t total = 0;

			(void)q_arg(&s->q, 0, &total, sizeof(total));
			r->flags &= (uint16_t)~SMTP_QF_COND;
			total = total > off ? total - off : 0;
			tx->data.body_bytes += total;
			ctr_add(s->ctr, CTR_SMTP_BODY_BYTES, total);
			tx->data.complete = 1;
			found = 1;
			break;
		}
		if (!(r->flags & SMTP_QF_WIN))
			break;
		if (r->flags & SMTP_QF_BARRIER)
			lose = 1;	/* bytes of the message were lost */
		dropped += r->count;
		q_drop_run(&s->q);
	}
	if (dropped) {
		tx->anomalies |= SMTP_ANOM_PAST_DATA;
		ctr_add(s->ctr, CTR_SMTP_PAST_DATA, dropped);
	}
	if (!found) {
		if (s->win_open) {
			uint64_t b = s->win_bytes > off ? s->win_bytes - off : 0;

			tx->data.body_bytes += b;
			ctr_add(s->ctr, CTR_SMTP_BODY_BYTES, b);
		}
		s->win_open = 0;
		smtp_enter_body(s);
	}
	if (s->win_chunk && !s->win_open) {
		/* "BDAT n" in the text made us skip n bytes that were text
		 * too: a terminator may hide in them */
		s->win_chunk = 0;
		lose = 1;
	}
	if (lose)
		smtp_lose_pairing(s);
}

/* The DATA just taken from the queue is refused: what followed it are
 * commands after all, up to a DATA among them (whose window they now
 * are). */
static void data_refused(struct smtp_state *s)
{
	for (unsigned i = 0; i < s->q.n; i++) {
		struct smtp_qent *r = q_run(&s->q, i);

		if (r->verb == SMTP_Q_MIXED) {
			if (r->mixed & SMTP_QX_WIN)
				smtp_lose_pairing(s);
			return;
		}
		if (r->flags & SMTP_QF_COND) {
			/* the "." line is a command: unknown */
			r->flags = (uint16_t)((r->flags & ~SMTP_QF_COND) |
					      SMTP_QF_DOT);
			r->verb = SMTP_CMD_UNKNOWN;
			return;
		}
		if (!(r->flags & SMTP_QF_WIN))
			return;
		if (r->verb == SMTP_CMD_DATA)
			return;	/* the window is this DATA's now */
		r->flags &= (uint16_t)~SMTP_QF_WIN;
	}
	s->win_open = 0;	/* no DATA left awaiting a reply */
}

/* ---- applying one command --------------------------------------------- */

enum apply_mode {
	APPLY_REPLY,   /* its reply arrived */
	APPLY_DRAIN,   /* no reply will be paired with it (end of flow, lost
	                * pairing): taken as the client meant it */
	APPLY_NOW,     /* sent while pairing is lost: applied as parsed */
};

/* rebuild last_cmd from the queued command */
static void set_last_cmd(struct smtp_state *s, const struct smtp_qcmd *c,
			 enum smtp_verb v)
{
	struct smtp_cmd *lc = &s->tx.last_cmd;
	size_t n;

	memset(lc, 0, offsetof(struct smtp_cmd, arg));
	lc->arg[0] = '\0';
	lc->verb = v;
	lc->rcpt = -1;
	lc->addr = SMTP_ADDR_WHOLE;
	lc->bdat_last = 0;
	lc->bdat_size = 0;
	smtp_field_cpy(lc->name, sizeof(lc->name), smtp_verb_names[v]);
	switch (v) {
	case SMTP_CMD_HELO:
	case SMTP_CMD_EHLO:
	case SMTP_CMD_LHLO:
		n = c->alen < sizeof(lc->arg) - 1 ? c->alen : sizeof(lc->arg) - 1;
		smtp_field_set(s, lc->arg, sizeof(lc->arg), (const char *)c->arg, n);
		break;
	case SMTP_CMD_MAIL:
		if (c->alen >= 1) {
			n = c->arg[0];
			if (n > (size_t)c->alen - 1)
				n = (size_t)c->alen - 1;
			smtp_field_set(s, lc->arg, sizeof(lc->arg),
				       (const char *)c->arg + 1, n);
		}
		break;
	case SMTP_CMD_RCPT:
		if (c->flags & SMTP_QF_NOARG || c->verb == SMTP_Q_MIXED) {
			lc->addr = SMTP_ADDR_UNKNOWN;
		} else if (c->flags & SMTP_QF_DOMAIN) {
			lc->addr = SMTP_ADDR_DOMAIN;
			lc->arg[0] = '@';
			n = c->alen < sizeof(lc->arg) - 2 ? c->alen :
			    sizeof(lc->arg) - 2;
			smtp_field_set(s, lc->arg + 1, sizeof(lc->arg) - 1,
				       (const char *)c->arg, n);
		} else {
			smtp_field_set(s, lc->arg, sizeof(lc->arg),
				       (const char *)c->arg, c->alen);
		}
		break;
	case SMTP_CMD_AUTH:
		smtp_field_cpy(lc->arg, sizeof(lc->arg), s->sess.auth.mechanism);
		break;
	case SMTP_CMD_BDAT:
		lc->bdat_last = (c->flags & SMTP_QF_LAST) != 0;
		lc->bdat_size = get_u64(c);
		break;
	case SMTP_CMD_UNKNOWN:
		if (c->flags & SMTP_QF_DOT)
			smtp_field_cpy(lc->name, sizeof(lc->name), ".");
		else if (c->verb == SMTP_CMD_UNKNOWN && !(c->flags & SMTP_QF_NOARG))
			smtp_field_set(s, lc->name, sizeof(lc->name),
				       (const char *)c->arg,
				       c->alen < SMTP_VERB_MAX - 1 ? c->alen :
				       SMTP_VERB_MAX - 1);
		break;
	default:
		break;
	}
}

static void apply_rcpt(struct smtp_state *s, const struct smtp_reply *r,
		       int sure)
{
	struct smtp_tx *tx = &s->tx;
	struct smtp_cmd *lc = &tx->last_cmd;
	int ok = r && is2xx(r->code);

	if (!tx->started) {
		tx_begin(s);
		smtp_anom(s, SMTP_ANOM_OUT_OF_SEQ, CTR_SMTP_OUT_OF_SEQ);
	} else if (!tx->has_mail) {
		smtp_anom(s, SMTP_ANOM_OUT_OF_SEQ, CTR_SMTP_OUT_OF_SEQ);
	}
	if (!sure)	/* a mixed run: maybe a RCPT, counted nowhere */
		return;
	tx->rcpt_total++;
	if (r && ok)
		tx->rcpt_accepted++;
	else if (r)
		tx->rcpt_refused++;
	if (lc->addr != SMTP_ADDR_WHOLE) {
		tx->anomalies |= SMTP_ANOM_INFLIGHT_CAP;
		return;
	}
	if (tx->n_recipients >= SMTP_RCPT_MAX) {
		smtp_anom(s, SMTP_ANOM_RCPT_CAP, CTR_SMTP_RCPT_CAP);
		return;
	}
	struct smtp_rcpt *rc = &tx->recipients[tx->n_recipients];

	smtp_field_cpy(rc->address, sizeof(rc->address), lc->arg);
	rc->code = r ? r->code : 0;
	smtp_field_cpy(rc->enhanced, sizeof(rc->enhanced),
		       r ? r->enhanced : "");
	rc->accepted = (uint8_t)ok;
	lc->rcpt = (int)tx->n_recipients++;
}

static void apply_mail(struct smtp_state *s, const struct smtp_qcmd *c,
		       const struct smtp_reply *r)
{
	struct smtp_tx *tx = &s->tx;
	int ok = r && is2xx(r->code);
	size_t al = 0;

	if (r && !ok && tx->started && tx->has_mail && is2xx(tx->mail_code)) {
		/* nested MAIL refused (503): the transaction goes on with its
		 * first sender */
		smtp_anom(s, SMTP_ANOM_OUT_OF_SEQ, CTR_SMTP_OUT_OF_SEQ);
		return;
	}
	if (tx->started) {
		/* accepted inside a transaction: the server started over */
		if (ok && tx->has_mail && is2xx(tx->mail_code))
			smtp_anom(s, SMTP_ANOM_OUT_OF_SEQ, CTR_SMTP_OUT_OF_SEQ);
		smtp_tx_end(s);
	}
	tx_begin(s);
	tx->has_mail = 1;
	if (c->flags & SMTP_QF_NOARG) {
		tx->mail_unknown = 1;
		tx->anomalies |= SMTP_ANOM_INFLIGHT_CAP;
	} else if (c->alen >= 1) {
		al = c->arg[0];
		if (al > (size_t)c->alen - 1)
			al = (size_t)c->alen - 1;
		smtp_field_set(s, tx->mail_from, sizeof(tx->mail_from),
			       (const char *)c->arg + 1, al);
		smtp_field_set(s, tx->mail_params, sizeof(tx->mail_params),
			       (const char *)c->arg + 1 + al,
			       (size_t)c->alen - 1 - al);
	}
	if (r) {
		tx->mail_code = r->code;
		smtp_field_cpy(tx->mail_enhanced, sizeof(tx->mail_enhanced),
			       r->enhanced);
	}
	if (!s->sess.helo_verb[0])
		smtp_anom(s, SMTP_ANOM_OUT_OF_SEQ, CTR_SMTP_OUT_OF_SEQ);
}

static void apply_auth(struct smtp_state *s, const struct smtp_reply *r)
{
	struct smtp_auth *a = &s->sess.auth;

	if (r->code == 334) {
		s->auth_exchange = 1;
		return;
	}
	s->auth_exchange = 0;
	s->auth_login_user = s->auth_plain_user = 0;
	a->code = r->code;
	smtp_field_cpy(a->enhanced, sizeof(a->enhanced), r->enhanced);
	a->ok = r->code == 235;
	if (r->code == 235)
		s->sess.client_authenticated = 1;
	else
		a->failures++;
	s->session_dirty = 1;
}

static void apply(struct smtp_state *s, const struct smtp_qcmd *c,
		  const struct smtp_reply *r, enum apply_mode m)
{
	struct smtp_tx *tx = &s->tx;
	enum smtp_verb v = c->verb == SMTP_Q_MIXED ? SMTP_CMD_UNKNOWN :
			   (enum smtp_verb)c->verb;
	int ok = r && is2xx(r->code);
	int end_tx = 0, finish = 0, sure = 1;

	/* a mixed run's reply that may answer a RCPT is one (fail closed:
	 * relay rules see a RCPT whose address is not known) */
	if (c->verb == SMTP_Q_MIXED) {
		tx->anomalies |= SMTP_ANOM_PENDING_CAP;
		if (c->nrcpt) {
			v = SMTP_CMD_RCPT;
			sure = c->nrcpt == c->left + 1;
		}
	}
	set_last_cmd(s, c, v);
	if (r)
		tx->last_reply = *r;
	else
		memset(&tx->last_reply, 0, sizeof(tx->last_reply));
	if (m == APPLY_DRAIN && !s->lost)
		smtp_anom(s, SMTP_ANOM_UNANSWERED, CTR_SMTP_UNANSWERED);
	else if (m != APPLY_REPLY)
		tx->anomalies |= SMTP_ANOM_PAIRING_LOST;
	if (c->flags & SMTP_QF_SYNTAX)
		tx->anomalies |= SMTP_ANOM_CMD_SYNTAX;
	if (c->flags & SMTP_QF_TRUNC)
		tx->anomalies |= SMTP_ANOM_FIELD_TRUNC;
	if (v != SMTP_CMD_STARTTLS)
		s->lost_starttls = 0;

	switch (v) {
	case SMTP_CMD_HELO:
	case SMTP_CMD_EHLO:
	case SMTP_CMD_LHLO:
		if (r)
			s->sess.helo_code = r->code;
		if (r && !ok)
			break;	/* refused: nothing changes */
		if (c->alen && !(c->flags & SMTP_QF_NOARG))
			smtp_field_cpy(s->sess.helo, sizeof(s->sess.helo),
				       tx->last_cmd.arg);
		smtp_field_cpy(s->sess.helo_verb, sizeof(s->sess.helo_verb),
			       smtp_verb_names[v]);
		end_tx = 1;	/* RFC 5321 4.1.4: like RSET */
		break;
	case SMTP_CMD_MAIL:
		apply_mail(s, c, r);
		break;
	case SMTP_CMD_RCPT:
		apply_rcpt(s, r, sure);
		break;
	case SMTP_CMD_DATA:
		if (!tx->started) {
			tx_begin(s);
			smtp_anom(s, SMTP_ANOM_OUT_OF_SEQ, CTR_SMTP_OUT_OF_SEQ);
		} else if (!tx->rcpt_total) {
			smtp_anom(s, SMTP_ANOM_OUT_OF_SEQ, CTR_SMTP_OUT_OF_SEQ);
		}
		tx->data.command = SMTP_DATA_DATA;
		if (r)
			reply_to_tx_data(tx, r);
		break;
	case SMTP_CMD_DATA_END:
		tx_begin(s);
		if (c->flags & SMTP_QF_UNTERM)
			smtp_anom(s, SMTP_ANOM_DATA_UNTERM, CTR_SMTP_DATA_UNTERM);
		if (r)
			reply_to_tx_data(tx, r);
		end_tx = 1;
		break;
	case SMTP_CMD_BDAT: {
		int bad = (c->flags & SMTP_QF_SYNTAX) != 0;
		int last = (c->flags & SMTP_QF_LAST) && !bad;

		if (!tx->started && !bad) {
			tx_begin(s);
			smtp_anom(s, SMTP_ANOM_OUT_OF_SEQ, CTR_SMTP_OUT_OF_SEQ);
		} else if (tx->started && !tx->has_mail) {
			smtp_anom(s, SMTP_ANOM_OUT_OF_SEQ, CTR_SMTP_OUT_OF_SEQ);
		}
		/* a malformed BDAT outside a transaction starts none */
		if (!tx->started)
			break;
		tx->data.command = SMTP_DATA_BDAT;
		tx->data.chunks++;
		tx->data.body_bytes += get_u64(c);
		if (r)
			reply_to_tx_data(tx, r);
		if (last && !(c->flags & SMTP_QF_SHORT))
			tx->data.complete = 1;
		end_tx = last;
		break;
	}
	case SMTP_CMD_RSET:
		end_tx = !r || ok;
		break;
	case SMTP_CMD_QUIT:
		finish = m != APPLY_DRAIN;
		break;
	case SMTP_CMD_STARTTLS:
		if (m == APPLY_NOW)
			s->lost_starttls = 1;
		if (!r || r->code != 220)
			break;
		s->sess.tls = SMTP_TLS_STARTTLS;
		ctr_inc(s->ctr, CTR_SMTP_TLS);
		finish = 1;
		/* the client did not wait for the 220: what it sent in clear
		 * text may be taken as if sent inside TLS */
		if (!q_empty(&s->q) || s->line[DIR_TO_SERVER].len ||
		    s->line[DIR_TO_SERVER].too_long)
			smtp_anom(s, SMTP_ANOM_TLS_PIPELINED, CTR_SMTP_OUT_OF_SEQ);
		break;
	case SMTP_CMD_AUTH:
	case SMTP_CMD_AUTH_DATA:
		if (r)
			apply_auth(s, r);
		break;
	case SMTP_CMD_UNKNOWN:
		if (c->verb == SMTP_Q_MIXED)
			break;
		smtp_anom(s, SMTP_ANOM_UNKNOWN_CMD, CTR_SMTP_UNKNOWN_CMD);
		if (tx->n_unknown < SMTP_UNKNOWN_MAX)
			smtp_field_cpy(tx->unknown[tx->n_unknown], SMTP_VERB_MAX,
				       tx->last_cmd.name);
		tx->n_unknown++;
		break;
	default:
		break;
	}
	if (r)
		smtp_emit(s, EV_SMTP_REPLY);
	if (v == SMTP_CMD_DATA && c->verb == SMTP_CMD_DATA) {
		if (m == APPLY_NOW)
			s->win_open = 0;	/* the 354 decides (lost_reply) */
		else if (!r || r->code == 354)
			data_accepted(s, get_u64(c));
		else
			data_refused(s);
	}
	if (end_tx)
		smtp_tx_end(s);
	if (finish) {
		if (s->sess.tls == SMTP_TLS_STARTTLS) {
			/* what follows is TLS: stop cleanly */
			s->done = 1;
			s->cli_mode = SMTP_CLI_DONE;
		}
		smtp_session_finish(s);
	}
}

void smtp_apply_now(struct smtp_state *s, uint8_t verb, uint16_t flags,
		    const void *arg, size_t alen)
{
	struct smtp_qcmd c;

	memset(&c, 0, offsetof(struct smtp_qcmd, arg));
	c.verb = verb;
	c.flags = flags;
	c.alen = (uint16_t)(alen < sizeof(c.arg) ? alen : sizeof(c.arg));
	if (c.alen)
		memcpy(c.arg, arg, c.alen);
	apply(s, &c, NULL, APPLY_NOW);
}

void smtp_drain(struct smtp_state *s)
{
	struct smtp_qcmd c;

	while (!q_empty(&s->q) && !s->done) {
		q_pop(&s->q, &c);
		if (c.verb == SMTP_CMD_NONE)
			continue;	/* a barrier */
		apply(s, &c, NULL, APPLY_DRAIN);
	}
	q_reset(&s->q);
}

void smtp_lose_pairing(struct smtp_state *s)
{
	if (!s->lost) {
		s->lost = 1;
		smtp_anom(s, SMTP_ANOM_PAIRING_LOST, CTR_SMTP_PAIRING_LOST);
	}
	smtp_drain(s);
	/* no DATA is in flight any more (a window is a queue matter) */
	s->win_open = 0;
}

/* ---- replies ------------------------------------------------------------ */

static void enter_body_for_354(struct smtp_state *s)
{
	struct smtp_tx *tx = &s->tx;

	if (!tx->started)
		tx_begin(s);
	if (tx->data.command == SMTP_DATA_NONE)
		tx->data.command = SMTP_DATA_DATA;
	reply_to_tx_data(tx, &s->rep);
	s->win_open = 0;
	smtp_enter_body(s);
}

/* A reply that no command is known to own: its code's meaning only. */
static void reply_unpaired(struct smtp_state *s)
{
	int code = s->rep.code;

	if (code == 354 && s->cli_mode == SMTP_CLI_CMD) {
		/* the server reads a message now: nothing is in flight */
		s->lost = 0;
		enter_body_for_354(s);
	} else if (code == 354 && s->cli_mode == SMTP_CLI_BODY) {
		/* a DATA given up on was taken as accepted: this is its 354 */
		s->lost = 0;
		reply_to_tx_data(&s->tx, &s->rep);
	} else if (code == 334) {
		s->auth_exchange = 1;
	} else if ((code == 235 || code == 535) && s->sess.auth.attempts &&
		   !s->sess.auth.code) {
		/* only AUTH gets these (RFC 4954): the outcome of the
		 * attempt in progress (smtp.authenticated spares a client
		 * that logged in from the relay rules) */
		apply_auth(s, &s->rep);
	} else if (code == 220 && s->lost_starttls) {
		s->sess.tls = SMTP_TLS_STARTTLS;
		ctr_inc(s->ctr, CTR_SMTP_TLS);
		s->done = 1;
		s->cli_mode = SMTP_CLI_DONE;
		smtp_session_finish(s);
	}
}

static void reply_lost(struct smtp_state *s)
{
	s->tx.anomalies |= SMTP_ANOM_PAIRING_LOST;
	ctr_inc(s->ctr, CTR_SMTP_REPLY_LOST);
	reply_unpaired(s);
}

/* A reply while the client is in a DATA body (see the policies above). */
static void reply_in_body(struct smtp_state *s)
{
	struct smtp_qcmd c;

	if (s->lost && s->rep.code == 354) {
		/* the message we are reading is the one this 354 opens */
		s->lost = 0;
		reply_to_tx_data(&s->tx, &s->rep);
		return;
	}
	s->cli_mode = SMTP_CLI_CMD;
	s->body_dot = s->body_cr = s->body_last_cr = 0;
	s->body_line = 0;
	s->body_gap = 0;
	if (s->lost) {
		s->tx.anomalies |= SMTP_ANOM_DATA_UNTERM;
		reply_lost(s);
		return;
	}
	/* the client sends its next command only after this reply, so its
	 * next byte starts a line: no resync of the line assembler needed */
	memset(&c, 0, offsetof(struct smtp_qcmd, arg));
	c.verb = SMTP_CMD_DATA_END;
	c.flags = SMTP_QF_UNTERM;
	apply(s, &c, &s->rep, APPLY_REPLY);
	smtp_lose_pairing(s);
}

/* Codes only one command can get (RFC 5321 4.3.2, RFC 4954). */
static int cannot_answer(uint8_t verb, int code)
{
	switch (code) {
	case 354:
		return verb != SMTP_CMD_DATA;
	case 334:
	case 235:
		return verb != SMTP_CMD_AUTH && verb != SMTP_CMD_AUTH_DATA;
	default:
		return 0;
	}
}

static void reply_done(struct smtp_state *s)
{
	struct smtp_qcmd c;
	struct smtp_qent *h;

	s->sess.replies++;
	ctr_inc(s->ctr, CTR_SMTP_REPLIES);
	if (!s->greeting_done) {
		s->greeting_done = 1;
		/* the first reply is the greeting, unless we joined midstream
		 * and commands are waiting for it */
		if (!s->sess.midstream ||
		    (q_empty(&s->q) && s->rep.code == 220)) {
			struct smtp_tx *tx = &s->tx;

			s->sess.greeting_code = s->rep.code;
			smtp_field_cpy(s->sess.greeting_text,
				       sizeof(s->sess.greeting_text),
				       s->rep.text);
			tx->last_reply = s->rep;
			memset(&tx->last_cmd, 0, sizeof(tx->last_cmd));
			tx->last_cmd.verb = SMTP_CMD_CONNECT;
			smtp_field_cpy(tx->last_cmd.name,
				       sizeof(tx->last_cmd.name), "CONNECT");
			tx->last_cmd.rcpt = -1;
			smtp_emit(s, EV_SMTP_REPLY);
			return;
		}
	}
	if (s->cli_mode == SMTP_CLI_BODY) {
		reply_in_body(s);
		return;
	}
	if (s->lost) {
		reply_lost(s);
		return;
	}
	if (q_empty(&s->q)) {
		smtp_anom(s, SMTP_ANOM_UNPAIRED_REPLY, CTR_SMTP_UNPAIRED_REPLY);
		reply_unpaired(s);
		return;
	}
	h = q_run(&s->q, 0);
	if ((h->verb == SMTP_CMD_NONE && (h->flags & SMTP_QF_BARRIER)) ||
	    (h->verb == SMTP_Q_MIXED && (h->mixed & SMTP_QX_BARRIER))) {
		/* commands may have been lost here: this reply may answer one
		 * of them */
		smtp_lose_pairing(s);
		reply_lost(s);
		return;
	}
	q_pop(&s->q, &c);
	if ((c.verb == SMTP_Q_MIXED && (c.mixed & SMTP_QX_WIN) &&
	     s->rep.code == 354) ||
	    (c.verb != SMTP_Q_MIXED && cannot_answer(c.verb, s->rep.code))) {
		/* a DATA and the text behind it went into a mixed run, or the
		 * reply cannot answer the command next in line: pairing is
		 * off (a reply we could not see, a line we took for part of
		 * another), so it is lost from here */
		if (!s->lost) {
			s->lost = 1;
			smtp_anom(s, SMTP_ANOM_PAIRING_LOST,
				  CTR_SMTP_PAIRING_LOST);
		}
		if (c.verb != SMTP_Q_MIXED)
			apply(s, &c, NULL, APPLY_DRAIN);
		smtp_lose_pairing(s);
		reply_lost(s);
		return;
	}
	apply(s, &c, &s->rep, APPLY_REPLY);
	if (c.verb == SMTP_Q_MIXED && !s->lost && !s->done)
		reply_unpaired(s);	/* 354/334 keep their meaning */
}

/* "d.ddd.ddd" at the start of t (n bytes), followed by space or end:
 * its length, else 0. */
static size_t enh_len(const char *t, size_t n)
{
	size_t i = 0;

	if (n < 5 || (t[0] != '2' && t[0] != '4' && t[0] != '5') || t[1] != '.')
		return 0;
	i = 2;
	for (int part = 0; part < 2; part++) {
		size_t st = i;

		while (i < n && i - st < 3 && t[i] >= '0' && t[i] <= '9')
			i++;
		if (i == st)
			return 0;
		if (part == 0) {
			if (i >= n || t[i] != '.')
				return 0;
			i++;
		}
	}
	if (i < n && t[i] != ' ' && t[i] != '\t')
		return 0;
	return i;
}

static void reply_text_append(struct smtp_state *s, const char *t, size_t n)
{
	struct smtp_reply *r = &s->rep;
	size_t have = strlen(r->text), room = sizeof(r->text) - 1 - have;

	if (have && room) {	/* lines of a multi-line reply: \n-joined */
		r->text[have++] = '\n';
		room--;
	}
	if (n > room) {
		if (!(s->rep_trunc)) {
			s->rep_trunc = 1;
			ctr_inc(s->ctr, CTR_SMTP_STR_CAP);
		}
		n = room;
	}
	for (size_t i = 0; i < n; i++)
		r->text[have + i] = t[i] ? t[i] : '?';
	r->text[have + n] = '\0';
}

/* One complete server line (CR/LF stripped). */
void smtp_srv_line(struct smtp_state *s, const char *l, size_t n)
{
	struct smtp_reply *r = &s->rep;
	int code;
	size_t t, el;

	if (n < 3 || l[0] < '1' || l[0] > '5' || l[1] < '0' || l[1] > '9' ||
	    l[2] < '0' || l[2] > '9' || (n > 3 && l[3] != ' ' && l[3] != '-')) {
		/* not a reply line: flag it, keep any open reply open */
		smtp_anom(s, SMTP_ANOM_BAD_REPLY, CTR_SMTP_BAD_REPLY);
		return;
	}
	code = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
	t = n > 4 ? 4 : n;
	el = enh_len(l + t, n - t);
	if (!s->rep_open) {
		memset(r, 0, sizeof(*r));
		s->rep_trunc = 0;
		if (el) {	/* enh_len() <= 9 < sizeof(enhanced) */
			memcpy(r->enhanced, l + t, el);
			r->enhanced[el] = '\0';
		}
	}
	if (el) {	/* the enhanced code is repeated on each line */
		t += el;
		while (t < n && (l[t] == ' ' || l[t] == '\t'))
			t++;
	}
	reply_text_append(s, l + t, n - t);
	r->lines++;
	r->code = code;	/* the last line's code decides */
	if (n > 3 && l[3] == '-') {
		s->rep_open = 1;
		return;
	}
	s->rep_open = 0;
	reply_done(s);
}
