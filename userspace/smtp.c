/* smtp.c - passive SMTP parser (see smtp.h for the model and the caps).
 *
 * Layout: line assembly per direction -> client command handlers / server
 * reply assembly -> pairing through the pending queue -> transaction slots
 * -> events. Everything lives in struct smtp_state; nothing is allocated.
 *
 * Policies worth knowing (the "why"):
 *  - The sensor follows the server: a reply decides (354 starts the body,
 *    334 continues AUTH, 220 to STARTTLS ends parsing), whatever the
 *    client's sequence looked like; odd sequences are flagged, not refused.
 *  - 354 and 334 keep their meaning even when the reply cannot be paired
 *    (queue overflow, gap): otherwise a client could pad the pipeline to
 *    make the sensor read a message body as commands.
 *  - A server reply arriving while the client is inside a DATA body means
 *    the end of data was lost or hidden from us (gap, odd terminator): the
 *    body ends there, flagged "data_unterminated".
 *  - Two transaction slots: with PIPELINING the client may start the next
 *    transaction (RSET, MAIL...) before the replies owed to the previous
 *    one arrive; the previous one waits in the other slot until its last
 *    reply. A third one forces the oldest out ("unanswered").
 *  - Gap in the server direction: replies were lost, so every pending
 *    command is dropped (pairing them with later replies would be wrong
 *    more often than right). Gap in the client direction: commands may
 *    have been lost; the queue is kept (the commands before the gap are
 *    still answered first) and the record is flagged "gap", since a reply
 *    to a lost command may then pair with a later command.
 *  - Midstream pickup: both directions start by discarding to the first
 *    LF (we cannot know that the first byte starts a line).
 */
#include "smtp.h"

#include <stdio.h>
#include <stddef.h>
#include <string.h>

#include "json.h"

static const char *const verb_names[SMTP_CMD__COUNT] = {
	[SMTP_CMD_NONE] = "",
	[SMTP_CMD_CONNECT] = "CONNECT",
	[SMTP_CMD_HELO] = "HELO",
	[SMTP_CMD_EHLO] = "EHLO",
	[SMTP_CMD_LHLO] = "LHLO",
	[SMTP_CMD_MAIL] = "MAIL",
	[SMTP_CMD_RCPT] = "RCPT",
	[SMTP_CMD_DATA] = "DATA",
	[SMTP_CMD_DATA_END] = ".",
	[SMTP_CMD_BDAT] = "BDAT",
	[SMTP_CMD_RSET] = "RSET",
	[SMTP_CMD_QUIT] = "QUIT",
	[SMTP_CMD_NOOP] = "NOOP",
	[SMTP_CMD_VRFY] = "VRFY",
	[SMTP_CMD_EXPN] = "EXPN",
	[SMTP_CMD_HELP] = "HELP",
	[SMTP_CMD_ETRN] = "ETRN",
	[SMTP_CMD_STARTTLS] = "STARTTLS",
	[SMTP_CMD_AUTH] = "AUTH",
	[SMTP_CMD_AUTH_DATA] = "",
	[SMTP_CMD_UNKNOWN] = "",
};

static const char *const anomaly_names[SMTP_ANOM__COUNT] = {
	"line_too_long",
	"bare_lf",
	"early_talker",
	"command_out_of_sequence",
	"unknown_command",
	"reply_without_command",
	"pipelined_commands_cap",
	"recipients_cap",
	"field_truncated",
	"gap",
	"malformed_reply",
	"command_syntax",
	"unanswered",
	"data_unterminated",
	"starttls_pipelined",
};

const char *smtp_verb_name(enum smtp_verb v)
{
	if ((unsigned)v >= SMTP_CMD__COUNT)
		return "";
	return verb_names[v];
}

const char *smtp_anomaly_name(uint32_t bit)
{
	for (int i = 0; i < SMTP_ANOM__COUNT; i++)
		if (bit == (1u << i))
			return anomaly_names[i];
	return NULL;
}

/* ---- small helpers ----------------------------------------------------- */

static int is_sp(char c)
{
	return c == ' ' || c == '\t';
}

static char up(char c)
{
	return (c >= 'a' && c <= 'z') ? (char)(c - 32) : c;
}

static int ieq_prefix(const char *s, size_t n, const char *lit)
{
	size_t l = strlen(lit);

	if (n < l)
		return 0;
	for (size_t i = 0; i < l; i++)
		if (up(s[i]) != lit[i])
			return 0;
	return 1;
}

static void anom(struct smtp_state *s, struct smtp_tx *tx, uint32_t bit,
		 enum rw_counter c)
{
	tx->anomalies |= bit;
	ctr_inc(s->ctr, c);
}

static struct smtp_tx *cur_tx(struct smtp_state *s)
{
	return &s->slot[s->cur].tx;
}

/* Copy n bytes into a fixed field. NUL bytes become '?' (fields are C
 * strings and a NUL must not hide what follows it). Truncation is flagged
 * on tx and counted. */
static void field_set(struct smtp_state *s, struct smtp_tx *tx, char *dst,
		      size_t cap, const char *src, size_t n)
{
	size_t k = n < cap - 1 ? n : cap - 1;

	for (size_t i = 0; i < k; i++)
		dst[i] = src[i] ? src[i] : '?';
	dst[k] = '\0';
	if (k < n && tx)
		anom(s, tx, SMTP_ANOM_FIELD_TRUNC, CTR_SMTP_STR_CAP);
}

/* bounded copy of a C string (src is one of our own NUL-terminated fields) */
static void field_cpy(char *dst, size_t cap, const char *src)
{
	size_t n = 0;

	while (n < cap - 1 && src[n]) {
		dst[n] = src[n];
		n++;
	}
	dst[n] = '\0';
}

/* ---- events ------------------------------------------------------------ */

static void emit(struct smtp_state *s, enum proto_event t, struct smtp_tx *tx)
{
	if (!s->sink.event)
		return;
	tx->session = &s->sess;
	s->sink.event(s->sink.ctx, t, tx, s->ts);
	tx->session = NULL;	/* no pointer survives the call */
}

static void slot_reset(struct smtp_state *s, int i)
{
	struct smtp_slot *sl = &s->slot[i];
	struct smtp_tx *tx = &sl->tx;
	uint16_t gen = (uint16_t)(sl->gen + 1);

	/* everything but recipients[]: an entry is written whole when its
	 * RCPT arrives and nothing reads past n_recipients. Clearing 8.8 KB
	 * per transaction (and faulting in pages that few transactions
	 * reach) was a measurable share of the engine's time. */
	memset(tx, 0, offsetof(struct smtp_tx, recipients));
	memset(&tx->n_recipients, 0,
	       sizeof(*tx) - offsetof(struct smtp_tx, n_recipients));
	memset(&sl->npending, 0,
	       sizeof(*sl) - offsetof(struct smtp_slot, npending));
	sl->gen = gen;
	sl->tx.last_cmd.rcpt = -1;
}

static void record_emit(struct smtp_state *s, int i)
{
	struct smtp_tx *tx = &s->slot[i].tx;

	s->sess.records++;
	s->session_dirty = 0;
	if (tx->number)
		ctr_inc(s->ctr, CTR_SMTP_TX);
	emit(s, EV_SMTP_RECORD, tx);
}

/* Record slot i now, whatever replies it is still owed. */
static void slot_flush(struct smtp_state *s, int i)
{
	struct smtp_slot *sl = &s->slot[i];

	if (!sl->tx.started)
		return;
	if (sl->npending)
		anom(s, &sl->tx, SMTP_ANOM_UNANSWERED, CTR_SMTP_UNANSWERED);
	record_emit(s, i);
	slot_reset(s, i);
}

/* The client has finished the current transaction (end of message, RSET,
 * new MAIL, QUIT, HELO): record it now if nothing is owed to it, else park
 * it until its last reply. Later commands go to the other slot if it is
 * free; if not, the switch waits for the next transaction (tx_start). */
static void tx_close(struct smtp_state *s)
{
	int c = s->cur, o = !c;
	struct smtp_slot *sl = &s->slot[c];

	if (!sl->tx.started || sl->closing)
		return;
	if (sl->npending == 0) {
		record_emit(s, c);
		slot_reset(s, c);
		return;
	}
	sl->closing = 1;
	if (!s->slot[o].tx.started)
		s->cur = (uint8_t)o;
}

static struct smtp_tx *tx_start(struct smtp_state *s)
{
	struct smtp_slot *sl = &s->slot[s->cur];

	if (sl->closing) {
		int o = !s->cur;

		if (s->slot[o].tx.started)
			slot_flush(s, o);	/* a third transaction in flight */
		s->cur = (uint8_t)o;
		sl = &s->slot[o];
	}
	if (!sl->tx.started) {
		sl->tx.started = 1;
		sl->in_use = 1;
		sl->tx.number = ++s->sess.transactions;
	}
	return &sl->tx;
}

/* End of session (QUIT answered, TLS, end of flow): flush transactions,
 * oldest first, then the session record if this session has not been
 * reported yet or AUTH/STARTTLS happened since its last record. */
static void session_finish(struct smtp_state *s)
{
	int c = s->cur;
	struct smtp_tx *tx;

	slot_flush(s, !c);
	slot_flush(s, c);
	if (s->sess.records && !s->session_dirty)
		return;
	if (!s->sess.greeting_code && !s->sess.commands &&
	    s->sess.tls == SMTP_TLS_NONE)
		return;
	tx = &s->slot[c].tx;
	tx->number = 0;
	record_emit(s, c);
	slot_reset(s, c);
}

/* ---- pending queue -----------------------------------------------------
 *
 * Entries of MAIL, RCPT, DATA, end of data and BDAT name their transaction
 * slot (its record waits for their replies); the others (HELO, AUTH, RSET,
 * QUIT...) are session commands: their replies are reported on whatever
 * transaction is current when they arrive. */
#define SLOT_SESSION 0xff

static void pend_push(struct smtp_state *s, int slot, enum smtp_verb v,
		      int rcpt, int bdat_last)
{
	struct smtp_pending *p;

	/* once past the cap, later commands queue behind the lost ones */
	if (s->pend_overflow || s->pend_n >= SMTP_PENDING_MAX) {
		s->pend_overflow++;
		anom(s, slot == SLOT_SESSION ? cur_tx(s) : &s->slot[slot].tx,
		     SMTP_ANOM_PENDING_CAP, CTR_SMTP_PENDING_CAP);
		return;
	}
	p = &s->pend[(s->pend_head + s->pend_n) % SMTP_PENDING_MAX];
	p->verb = (uint8_t)v;
	p->slot = (uint8_t)slot;
	p->bdat_last = (uint8_t)bdat_last;
	p->rcpt = (int16_t)rcpt;
	p->gen = 0;
	if (slot != SLOT_SESSION) {
		p->gen = s->slot[slot].gen;
		s->slot[slot].npending++;
	}
	s->pend_n++;
}

/* 1: *out is the command answered; 0: the reply belongs to a command lost
 * to the cap (or to a flushed transaction); -1: nothing is pending. */
static int pend_pop(struct smtp_state *s, struct smtp_pending *out)
{
	if (s->pend_n) {
		*out = s->pend[s->pend_head];
		s->pend_head = (uint16_t)((s->pend_head + 1) % SMTP_PENDING_MAX);
		s->pend_n--;
		if (out->slot == SLOT_SESSION)
			return 1;
		if (s->slot[out->slot].gen != out->gen)
			return 0;
		s->slot[out->slot].npending--;
		return 1;
	}
	if (s->pend_overflow) {
		s->pend_overflow--;
		return 0;
	}
	return -1;
}

/* Server gap: forget every pending command (see the policy above). */
static void pend_clear(struct smtp_state *s)
{
	struct smtp_pending p;

	while (s->pend_n || s->pend_overflow)
		(void)pend_pop(s, &p);
	for (int i = 0; i < 2; i++)
		if (s->slot[i].closing && s->slot[i].tx.started &&
		    !s->slot[i].npending) {
			record_emit(s, i);
			slot_reset(s, i);
		}
}

/* ---- base64 (user names only) -------------------------------------------
 *
 * Decodes at most what is needed: for LOGIN the whole (user name) line,
 * for PLAIN ("authzid NUL authcid NUL password") it stops at the second
 * NUL, so the password is never decoded. The authcid is only kept if that
 * second NUL was seen (else it could be a malformed password) and the
 * scratch buffer is wiped. */
static int b64_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static void b64_user(const char *in, size_t n, int plain, char *out,
		     size_t cap)
{
	char tmp[SMTP_USER_MAX];
	size_t k = 0;
	int nuls = 0, ok = !plain;
	uint32_t acc = 0;
	int bits = 0;

	for (size_t i = 0; i < n; i++) {
		int v = b64_val(in[i]);

		if (v < 0)
			break;	/* '=' padding or junk: stop */
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits < 8)
			continue;
		bits -= 8;
		char b = (char)((acc >> bits) & 0xff);

		if (plain) {
			if (b == '\0') {
				if (++nuls == 2) {
					ok = 1;
					break;	/* the password follows */
				}
				continue;
			}
			if (nuls == 0)
				continue;	/* authzid */
		} else if (b == '\0') {
			b = '?';
		}
		if (k < sizeof(tmp) - 1)
			tmp[k++] = b;
	}
	tmp[k] = '\0';
	if (ok)
		field_cpy(out, cap, tmp);
	explicit_bzero(tmp, sizeof(tmp));
	acc = 0;
}

/* ---- client side ------------------------------------------------------- */

static enum smtp_verb verb_lookup(const char *v)
{
	for (int i = SMTP_CMD_HELO; i < SMTP_CMD__COUNT; i++) {
		if (i == SMTP_CMD_DATA_END || i == SMTP_CMD_AUTH_DATA ||
		    i == SMTP_CMD_UNKNOWN)
			continue;
		if (strcmp(v, verb_names[i]) == 0)
			return (enum smtp_verb)i;
	}
	return SMTP_CMD_UNKNOWN;
}

/* "FROM:<a@b> params" / "TO: a@b" (key is "FROM" or "TO"): address and
 * parameters. Tolerates missing <>, spaces around ':'. Returns 0, or -1
 * when the key or ':' is missing (the address is then the first token). */
static int parse_path(const char *a, size_t n, const char *key,
		      const char **addr, size_t *alen, const char **par,
		      size_t *plen)
{
	size_t i = 0, kl = strlen(key), st;
	int rc = 0;

	while (i < n && is_sp(a[i]))
		i++;
	if (ieq_prefix(a + i, n - i, key)) {
		i += kl;
		while (i < n && is_sp(a[i]))
			i++;
		if (i < n && a[i] == ':')
			i++;
		else
			rc = -1;
	} else {
		rc = -1;
	}
	while (i < n && is_sp(a[i]))
		i++;
	st = i;
	if (i < n && a[i] == '<') {
		const char *gt = memchr(a + i, '>', n - i);

		if (gt) {
			*addr = a + i + 1;
			*alen = (size_t)(gt - (a + i + 1));
			i = (size_t)(gt - a) + 1;
		} else {
			while (i < n && !is_sp(a[i]))
				i++;
			*addr = a + st + 1;
			*alen = i - st - 1;
			rc = -1;
		}
	} else {
		while (i < n && !is_sp(a[i]))
			i++;
		*addr = a + st;
		*alen = i - st;
	}
	while (i < n && is_sp(a[i]))
		i++;
	*par = a + i;
	*plen = n - i;
	while (*plen && is_sp((*par)[*plen - 1]))
		(*plen)--;
	return rc;
}

static void cmd_event(struct smtp_state *s, struct smtp_tx *tx,
		      enum smtp_verb v, const char *name, const char *arg,
		      size_t alen, int rcpt)
{
	struct smtp_cmd *c = &tx->last_cmd;

	c->verb = v;
	field_cpy(c->name, sizeof(c->name), name);
	field_set(s, NULL, c->arg, sizeof(c->arg), arg, alen);
	c->rcpt = rcpt;
	memset(&tx->last_reply, 0, sizeof(tx->last_reply));
	s->sess.commands++;
	ctr_inc(s->ctr, CTR_SMTP_CMDS);
	emit(s, EV_SMTP_COMMAND, tx);
}

static void body_reset(struct smtp_state *s)
{
	s->body_dot = s->body_cr = s->body_last_cr = 0;
	s->body_line = 0;
}

/* The client's message is over: the terminator was seen (term), or a
 * server reply arrived while we thought the body went on. */
static void body_end(struct smtp_state *s, int term)
{
	int b = s->body_slot;
	struct smtp_tx *tx = &s->slot[b].tx;

	s->cli_mode = SMTP_CLI_CMD;
	if (!term) {
		/* the client sends its next command only after this reply, so
		 * its next byte starts a line: no resync needed */
		anom(s, tx, SMTP_ANOM_DATA_UNTERM, CTR_SMTP_DATA_UNTERM);
	} else {
		tx->data.complete = 1;
	}
	body_reset(s);
	pend_push(s, b, SMTP_CMD_DATA_END, -1, 0);
	if (term) {
		tx->last_cmd.bdat_last = 0;
		tx->last_cmd.bdat_size = 0;
		cmd_event(s, tx, SMTP_CMD_DATA_END, ".", "", 0, -1);
	}
	if (b == s->cur)
		tx_close(s);
}

static void chunk_done(struct smtp_state *s)
{
	s->cli_mode = SMTP_CLI_CMD;
	if (s->chunk_last) {
		cur_tx(s)->data.complete = 1;
		s->chunk_last = 0;
		tx_close(s);
	}
}

static void auth_data_line(struct smtp_state *s, const char *l, size_t n)
{
	struct smtp_tx *tx = cur_tx(s);
	struct smtp_auth *a = &s->sess.auth;

	s->auth_exchange = 0;
	s->wipe_line = 1;	/* a credential: wipe it from the line buffer */
	if (s->auth_login_user)
		b64_user(l, n, 0, a->user, sizeof(a->user));
	else if (s->auth_plain_user)
		b64_user(l, n, 1, a->user, sizeof(a->user));
	s->auth_login_user = s->auth_plain_user = 0;
	pend_push(s, SLOT_SESSION, SMTP_CMD_AUTH_DATA, -1, 0);
	/* the line is a credential: the event carries no argument */
	cmd_event(s, tx, SMTP_CMD_AUTH_DATA, "", "", 0, -1);
}

static void cmd_auth(struct smtp_state *s, struct smtp_tx *tx,
		     const char *arg, size_t n)
{
	struct smtp_auth *a = &s->sess.auth;
	size_t i = 0, ms, ml, rs;

	if (tx->started)
		anom(s, tx, SMTP_ANOM_OUT_OF_SEQ, CTR_SMTP_OUT_OF_SEQ);
	while (i < n && !is_sp(arg[i]))
		i++;
	ms = 0;
	ml = i;
	while (i < n && is_sp(arg[i]))
		i++;
	rs = i;
	while (i < n && !is_sp(arg[i]))
		i++;
	a->attempts++;
	a->user[0] = '\0';
	a->code = 0;
	a->enhanced[0] = '\0';
	a->ok = 0;
	field_set(s, tx, a->mechanism, sizeof(a->mechanism), arg + ms, ml);
	for (char *p = a->mechanism; *p; p++)
		*p = up(*p);
	if (ml == 0)
		anom(s, tx, SMTP_ANOM_CMD_SYNTAX, CTR_SMTP_CMD_SYNTAX);
	s->auth_login_user = s->auth_plain_user = 0;
	if (i > rs)
		s->wipe_line = 1;	/* an initial response */
	if (strcmp(a->mechanism, "PLAIN") == 0) {
		if (i > rs)
			b64_user(arg + rs, i - rs, 1, a->user, sizeof(a->user));
		else
			s->auth_plain_user = 1;
	} else if (strcmp(a->mechanism, "LOGIN") == 0) {
		if (i > rs)
			b64_user(arg + rs, i - rs, 0, a->user, sizeof(a->user));
		else
			s->auth_login_user = 1;
	}
	s->session_dirty = 1;
	pend_push(s, SLOT_SESSION, SMTP_CMD_AUTH, -1, 0);
	/* never the initial response: it may hold the password */
	cmd_event(s, tx, SMTP_CMD_AUTH, "AUTH", a->mechanism,
		  strlen(a->mechanism), -1);
}

static void cmd_mail(struct smtp_state *s, const char *arg, size_t n)
{
	struct smtp_tx *tx = cur_tx(s);
	const char *ad, *pa;
	size_t al, pl;

	/* a MAIL inside an accepted transaction is "nested": the server will
	 * likely refuse it, we still start a new record (documented) */
	if (tx->started && tx->has_mail && tx->mail_code >= 200 &&
	    tx->mail_code < 300 && !tx->data.complete)
		anom(s, tx, SMTP_ANOM_OUT_OF_SEQ, CTR_SMTP_OUT_OF_SEQ);
	tx_close(s);
	tx = tx_start(s);
	if (!s->sess.helo_verb[0])
		anom(s, tx, SMTP_ANOM_OUT_OF_SEQ, CTR_SMTP_OUT_OF_SEQ);
	if (parse_path(arg, n, "FROM", &ad, &al, &pa, &pl) < 0)
		anom(s, tx, SMTP_ANOM_CMD_SYNTAX, CTR_SMTP_CMD_SYNTAX);
	tx->has_mail = 1;
	field_set(s, tx, tx->mail_from, sizeof(tx->mail_from), ad, al);
	field_set(s, tx, tx->mail_params, sizeof(tx->mail_params), pa, pl);
	pend_push(s, s->cur, SMTP_CMD_MAIL, -1, 0);
	cmd_event(s, tx, SMTP_CMD_MAIL, "MAIL", ad, al, -1);
}

static void cmd_rcpt(struct smtp_state *s, const char *arg, size_t n)
{
	struct smtp_tx *tx = cur_tx(s);
	const char *ad, *pa;
	size_t al, pl;
	int idx = -1;

	if (!tx->has_mail)
		anom(s, tx, SMTP_ANOM_OUT_OF_SEQ, CTR_SMTP_OUT_OF_SEQ);
	tx = tx_start(s);
	if (parse_path(arg, n, "TO", &ad, &al, &pa, &pl) < 0)
		anom(s, tx, SMTP_ANOM_CMD_SYNTAX, CTR_SMTP_CMD_SYNTAX);
	tx->rcpt_total++;
	if (tx->n_recipients < SMTP_RCPT_MAX) {
		struct smtp_rcpt *r = &tx->recipients[tx->n_recipients];

		idx = (int)tx->n_recipients++;
		r->code = 0;
		r->enhanced[0] = '\0';
		r->accepted = 0;
		field_set(s, tx, r->address, sizeof(r->address), ad, al);
		pend_push(s, s->cur, SMTP_CMD_RCPT, idx, 0);
	} else {
		int o = s->rcpt_over_next;

		anom(s, tx, SMTP_ANOM_RCPT_CAP, CTR_SMTP_RCPT_CAP);
		s->rcpt_over_next = (uint8_t)((o + 1) % SMTP_RCPT_OVER);
		field_set(s, tx, s->rcpt_over[o], sizeof(s->rcpt_over[o]),
			  ad, al);
		/* pending index past the array: the overflow ring slot */
		pend_push(s, s->cur, SMTP_CMD_RCPT, SMTP_RCPT_MAX + o, 0);
	}
	/* the address even past the recipients cap: rules see it here */
	cmd_event(s, tx, SMTP_CMD_RCPT, "RCPT", ad, al, idx);
}

/* decimal size, saturating; -1 if no digits */
static int parse_u64(const char *a, size_t n, size_t *i, uint64_t *v)
{
	size_t st = *i;

	*v = 0;
	while (*i < n && a[*i] >= '0' && a[*i] <= '9') {
		uint64_t d = (uint64_t)(a[*i] - '0');

		*v = (*v > (UINT64_MAX - d) / 10) ? UINT64_MAX : *v * 10 + d;
		(*i)++;
	}
	return *i > st ? 0 : -1;
}

static void cmd_bdat(struct smtp_state *s, const char *arg, size_t n)
{
	struct smtp_tx *tx = cur_tx(s);
	size_t i = 0;
	uint64_t size;
	int last = 0, bad;

	while (i < n && is_sp(arg[i]))
		i++;
	bad = parse_u64(arg, n, &i, &size);
	while (i < n && is_sp(arg[i]))
		i++;
	if (i < n) {
		if (n - i == 4 && ieq_prefix(arg + i, 4, "LAST"))
			last = 1;
		else
			bad = -1;
	}
	if (!tx->has_mail)
		anom(s, tx, SMTP_ANOM_OUT_OF_SEQ, CTR_SMTP_OUT_OF_SEQ);
	/* a malformed BDAT outside a transaction starts none (the server
	 * refuses it); a well-formed one is followed as the server may */
	if (!bad || tx->has_mail)
		tx = tx_start(s);
	if (bad) {
		/* A server cannot know how many bytes follow a malformed
		 * BDAT either: it answers 501 and reads the next line as a
		 * command. So do we: no chunk mode. */
		anom(s, tx, SMTP_ANOM_CMD_SYNTAX, CTR_SMTP_CMD_SYNTAX);
		tx->data.command = SMTP_DATA_BDAT;
		tx->data.chunks++;
		pend_push(s, s->cur, SMTP_CMD_BDAT, -1, 0);
		cmd_event(s, tx, SMTP_CMD_BDAT, "BDAT", arg, n, -1);
		return;
	}
	tx->data.command = SMTP_DATA_BDAT;
	tx->data.chunks++;
	pend_push(s, s->cur, SMTP_CMD_BDAT, -1, last);
	tx->last_cmd.bdat_last = last;
	tx->last_cmd.bdat_size = size;
	cmd_event(s, tx, SMTP_CMD_BDAT, "BDAT", arg, n, -1);
	/* the chunk follows at once, without waiting for a reply */
	s->chunk_left = size;
	s->chunk_last = (uint8_t)last;
	s->cli_mode = SMTP_CLI_CHUNK;
	if (size == 0)
		chunk_done(s);
}

/* One complete client line in command mode (CR/LF stripped). */
static void cli_line(struct smtp_state *s, const char *l, size_t n)
{
	struct smtp_tx *tx;
	char vb[SMTP_VERB_MAX];
	size_t i = 0, k = 0, as;
	enum smtp_verb v;

	if (s->auth_exchange) {
		auth_data_line(s, l, n);
		return;
	}
	while (i < n && !is_sp(l[i])) {
		if (k < sizeof(vb) - 1)
			vb[k++] = up(l[i]) ? up(l[i]) : '?';
		i++;
	}
	vb[k] = '\0';
	v = k == i ? verb_lookup(vb) : SMTP_CMD_UNKNOWN;
	while (i < n && is_sp(l[i]))
		i++;
	as = i;
	while (n > as && is_sp(l[n - 1]))
		n--;
	const char *arg = l + as;
	size_t al = n - as;

	tx = cur_tx(s);
	switch (v) {
	case SMTP_CMD_HELO:
	case SMTP_CMD_EHLO:
	case SMTP_CMD_LHLO:
		/* HELO/EHLO resets the transaction only once the server
		 * accepts it (see reply_paired): a refused "ehlo" leaves the
		 * envelope in force, and splitting the record there would let
		 * one bad line separate a sender from its recipients. A bare
		 * verb does not overwrite the name already given. */
		if (al)
			field_set(s, tx, s->sess.helo, sizeof(s->sess.helo),
				  arg, al);
		else
			anom(s, tx, SMTP_ANOM_CMD_SYNTAX, CTR_SMTP_CMD_SYNTAX);
		field_cpy(s->sess.helo_verb, sizeof(s->sess.helo_verb), vb);
		s->sess.helo_code = 0;
		pend_push(s, SLOT_SESSION, v, -1, 0);
		cmd_event(s, tx, v, vb, arg, al, -1);
		return;
	case SMTP_CMD_MAIL:
		cmd_mail(s, arg, al);
		return;
	case SMTP_CMD_RCPT:
		cmd_rcpt(s, arg, al);
		return;
	case SMTP_CMD_DATA:
		if (!tx->rcpt_total)
			anom(s, tx, SMTP_ANOM_OUT_OF_SEQ, CTR_SMTP_OUT_OF_SEQ);
		tx = tx_start(s);
		tx->data.command = SMTP_DATA_DATA;
		pend_push(s, s->cur, v, -1, 0);
		cmd_event(s, tx, v, vb, arg, al, -1);
		return;
	case SMTP_CMD_BDAT:
		cmd_bdat(s, arg, al);
		return;
	case SMTP_CMD_RSET:
	case SMTP_CMD_QUIT:
		tx_close(s);
		tx = cur_tx(s);
		break;
	case SMTP_CMD_AUTH:
		cmd_auth(s, tx, arg, al);
		return;
	case SMTP_CMD_STARTTLS:
		s->session_dirty = 1;
		break;
	case SMTP_CMD_UNKNOWN:
		anom(s, tx, SMTP_ANOM_UNKNOWN_CMD, CTR_SMTP_UNKNOWN_CMD);
		if (tx->n_unknown < SMTP_UNKNOWN_MAX)
			field_cpy(tx->unknown[tx->n_unknown], SMTP_VERB_MAX, vb);
		tx->n_unknown++;
		break;
	default:
		break;
	}
	pend_push(s, SLOT_SESSION, v, -1, 0);
	cmd_event(s, tx, v, vb, arg, al, -1);
}

/* ---- line assembly ----------------------------------------------------- */

static void srv_line(struct smtp_state *s, const char *l, size_t n);

/* Consume bytes of one direction up to and including the first LF; when a
 * line completes, hand it to the direction's handler. Returns the number
 * of bytes consumed (>= 1 when n >= 1). */
static size_t line_feed(struct smtp_state *s, int dir, const uint8_t *d,
			size_t n)
{
	struct smtp_line *ln = &s->line[dir];
	const uint8_t *lf = memchr(d, '\n', n);
	size_t take = lf ? (size_t)(lf - d) + 1 : n;
	size_t body = lf ? take - 1 : take;

	if (body)
		ln->last_cr = d[body - 1] == '\r';
	if (ln->resync) {
		if (lf) {
			ln->resync = 0;
			ln->len = 0;
			ln->too_long = 0;
			ln->last_cr = 0;
		}
		return take;
	}
	if (!ln->too_long && body) {
		size_t room = sizeof(ln->buf) - ln->len;

		if (body > room) {
			memcpy(ln->buf + ln->len, d, room);
			ln->len = (uint16_t)(ln->len + room);
			ln->too_long = 1;
			anom(s, cur_tx(s), SMTP_ANOM_LINE_TOO_LONG,
			     CTR_SMTP_LINE_TOO_LONG);
		} else {
			memcpy(ln->buf + ln->len, d, body);
			ln->len = (uint16_t)(ln->len + body);
		}
	}
	if (!lf)
		return take;

	size_t len = ln->len;

	if (!ln->last_cr) {
		anom(s, cur_tx(s), SMTP_ANOM_BARE_LF, CTR_SMTP_BARE_LF);
	} else if (len && !ln->too_long && ln->buf[len - 1] == '\r') {
		len--;
	}
	ln->len = 0;
	ln->too_long = 0;
	ln->last_cr = 0;
	/* the handler may not touch ln->buf: it is read in place */
	if (dir == DIR_TO_SERVER)
		cli_line(s, ln->buf, len);
	else
		srv_line(s, ln->buf, len);
	if (s->wipe_line) {
		explicit_bzero(ln->buf, sizeof(ln->buf));
		s->wipe_line = 0;
	}
	return take;
}

/* DATA body: consume up to and including the first LF; detect the ".\r\n"
 * (or ".\n") line. */
static size_t body_feed(struct smtp_state *s, const uint8_t *d, size_t n)
{
	struct smtp_tx *tx = &s->slot[s->body_slot].tx;
	const uint8_t *lf = memchr(d, '\n', n);
	size_t take = lf ? (size_t)(lf - d) + 1 : n;
	size_t body = lf ? take - 1 : take;

	/* only the first two bytes of a line can make it a terminator */
	for (size_t i = 0; i < body && s->body_line + i < 2; i++) {
		uint8_t c = d[i];

		if (s->body_line + i == 0)
			s->body_dot = c == '.';
		else
			s->body_cr = s->body_dot && c == '\r';
	}
	if (body) {
		if (s->body_line + body > 2 || (s->body_line + body == 2 &&
						!s->body_cr))
			s->body_dot = s->body_cr = 0;
		s->body_last_cr = d[body - 1] == '\r';
		s->body_line += body;
	}
	if (!lf)
		return take;
	if (!s->body_last_cr)
		anom(s, tx, SMTP_ANOM_BARE_LF, CTR_SMTP_BARE_LF);
	if (s->body_dot && (s->body_line == 1 ||
			    (s->body_line == 2 && s->body_cr))) {
		body_end(s, 1);
		return take;
	}
	tx->data.body_bytes += s->body_line + 1;
	ctr_add(s->ctr, CTR_SMTP_BODY_BYTES, s->body_line + 1);
	body_reset(s);
	return take;
}

static void feed_client(struct smtp_state *s, const uint8_t *d, size_t n)
{
	while (n && !s->done) {
		size_t used;

		switch (s->cli_mode) {
		case SMTP_CLI_CHUNK:
			used = n < s->chunk_left ? n : (size_t)s->chunk_left;
			cur_tx(s)->data.body_bytes += used;
			ctr_add(s->ctr, CTR_SMTP_BODY_BYTES, used);
			s->chunk_left -= used;
			if (!s->chunk_left)
				chunk_done(s);
			break;
		case SMTP_CLI_BODY:
			used = body_feed(s, d, n);
			break;
		case SMTP_CLI_CMD:
			used = line_feed(s, DIR_TO_SERVER, d, n);
			break;
		default:
			return;
		}
		d += used;
		n -= used;
	}
}

/* ---- server side ------------------------------------------------------- */

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
	if (i < n && !is_sp(t[i]))
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

static void reply_to_tx_data(struct smtp_tx *tx, const struct smtp_reply *r)
{
	tx->data.code = r->code;
	field_cpy(tx->data.enhanced, sizeof(tx->data.enhanced), r->enhanced);
	field_cpy(tx->data.text, sizeof(tx->data.text), r->text);
}

static void enter_body(struct smtp_state *s, int slot)
{
	struct smtp_line *ln = &s->line[DIR_TO_SERVER];

	s->cli_mode = SMTP_CLI_BODY;
	s->body_slot = (uint8_t)slot;
	body_reset(s);
	/* client bytes already buffered as a partial line belong to the body */
	if (ln->len || ln->too_long || ln->resync) {
		s->body_line = 2;	/* not a terminator candidate */
		ln->len = 0;
		ln->too_long = 0;
		ln->resync = 0;
	}
}

/* Reply-code meanings that hold whatever command the reply answers. */
static void reply_generic(struct smtp_state *s, int code)
{
	if (code == 354 && s->cli_mode == SMTP_CLI_CMD) {
		struct smtp_tx *tx = tx_start(s);

		if (tx->data.command == SMTP_DATA_NONE)
			tx->data.command = SMTP_DATA_DATA;
		reply_to_tx_data(tx, &s->rep);
		enter_body(s, s->cur);
	} else if (code == 334) {
		s->auth_exchange = 1;
	}
}

static void rebuild_arg(struct smtp_state *s, struct smtp_tx *tx,
			const struct smtp_pending *p)
{
	struct smtp_cmd *c = &tx->last_cmd;
	const char *a = "";

	switch (p->verb) {
	case SMTP_CMD_HELO:
	case SMTP_CMD_EHLO:
	case SMTP_CMD_LHLO:
		a = s->sess.helo;
		break;
	case SMTP_CMD_MAIL:
		a = tx->mail_from;
		break;
	case SMTP_CMD_RCPT:
		if (p->rcpt >= SMTP_RCPT_MAX)
			a = s->rcpt_over[p->rcpt - SMTP_RCPT_MAX];
		else if (p->rcpt >= 0)
			a = tx->recipients[p->rcpt].address;
		break;
	case SMTP_CMD_AUTH:
		a = s->sess.auth.mechanism;
		break;
	default:
		break;
	}
	field_cpy(c->arg, sizeof(c->arg), a);
}

static void reply_paired(struct smtp_state *s, const struct smtp_pending *p)
{
	int si = p->slot == SLOT_SESSION ? s->cur : p->slot;
	struct smtp_slot *sl = &s->slot[si];
	struct smtp_tx *tx = &sl->tx;
	const struct smtp_reply *r = &s->rep;
	int ok = r->code >= 200 && r->code < 300;
	int finish = 0, reset = 0;

	tx->last_reply = *r;
	tx->last_cmd.verb = (enum smtp_verb)p->verb;
	field_cpy(tx->last_cmd.name, sizeof(tx->last_cmd.name),
		  smtp_verb_name((enum smtp_verb)p->verb));
	tx->last_cmd.rcpt = p->rcpt < SMTP_RCPT_MAX ? p->rcpt : -1;
	tx->last_cmd.bdat_last = p->bdat_last;
	rebuild_arg(s, tx, p);

	switch (p->verb) {
	case SMTP_CMD_HELO:
	case SMTP_CMD_EHLO:
	case SMTP_CMD_LHLO:
		s->sess.helo_code = r->code;
		reset = ok;     /* an accepted HELO/EHLO resets */
		break;
	case SMTP_CMD_MAIL:
		tx->mail_code = r->code;
		field_cpy(tx->mail_enhanced, sizeof(tx->mail_enhanced),
			  r->enhanced);
		break;
	case SMTP_CMD_RCPT:
		if (ok)
			tx->rcpt_accepted++;
		else
			tx->rcpt_refused++;
		if (p->rcpt >= 0 && (uint32_t)p->rcpt < tx->n_recipients) {
			struct smtp_rcpt *rc = &tx->recipients[p->rcpt];

			rc->code = r->code;
			field_cpy(rc->enhanced, sizeof(rc->enhanced),
				  r->enhanced);
			rc->accepted = (uint8_t)ok;
		}
		break;
	case SMTP_CMD_DATA:
		reply_to_tx_data(tx, r);
		if (r->code == 354 && s->cli_mode == SMTP_CLI_CMD)
			enter_body(s, si);
		break;
	case SMTP_CMD_DATA_END:
	case SMTP_CMD_BDAT:
		reply_to_tx_data(tx, r);
		break;
	case SMTP_CMD_AUTH:
	case SMTP_CMD_AUTH_DATA:
		if (r->code == 334) {
			s->auth_exchange = 1;
			break;
		}
		s->auth_exchange = 0;
		s->auth_login_user = s->auth_plain_user = 0;
		s->sess.auth.code = r->code;
		field_cpy(s->sess.auth.enhanced,
			  sizeof(s->sess.auth.enhanced), r->enhanced);
		s->sess.auth.ok = r->code == 235;
		if (r->code == 235)
			s->sess.client_authenticated = 1;
		else
			s->sess.auth.failures++;
		s->session_dirty = 1;
		break;
	case SMTP_CMD_STARTTLS:
		if (r->code == 220) {
			const struct smtp_line *cl = &s->line[DIR_TO_SERVER];

			s->sess.tls = SMTP_TLS_STARTTLS;
			ctr_inc(s->ctr, CTR_SMTP_TLS);
			finish = 1;
			/* the client did not wait for the 220: what it sent
			 * in clear text may be taken as if sent inside TLS */
			if (s->pend_n || s->pend_overflow || cl->len ||
			    cl->too_long)
				anom(s, tx, SMTP_ANOM_TLS_PIPELINED,
				     CTR_SMTP_OUT_OF_SEQ);
		}
		break;
	case SMTP_CMD_QUIT:
		finish = 1;
		break;
	default:
		break;
	}
	emit(s, EV_SMTP_REPLY, tx);
	if (reset)
		tx_close(s);
	if (sl->closing && !sl->npending && tx->started) {
		record_emit(s, si);
		slot_reset(s, si);
	}
	if (finish) {
		if (s->sess.tls == SMTP_TLS_STARTTLS) {
			/* what follows is TLS: stop cleanly */
			s->done = 1;
			s->cli_mode = SMTP_CLI_DONE;
		}
		session_finish(s);
	}
}

static void reply_done(struct smtp_state *s)
{
	struct smtp_pending p;
	int r;

	s->sess.replies++;
	ctr_inc(s->ctr, CTR_SMTP_REPLIES);
	if (!s->greeting_done) {
		s->greeting_done = 1;
		/* the first reply is the greeting, unless we joined midstream
		 * and commands are waiting for it */
		if (!s->sess.midstream || (!s->pend_n && s->rep.code == 220)) {
			struct smtp_tx *tx = cur_tx(s);

			s->sess.greeting_code = s->rep.code;
			field_cpy(s->sess.greeting_text,
				  sizeof(s->sess.greeting_text), s->rep.text);
			tx->last_reply = s->rep;
			memset(&tx->last_cmd, 0, sizeof(tx->last_cmd));
			tx->last_cmd.verb = SMTP_CMD_CONNECT;
			field_cpy(tx->last_cmd.name, sizeof(tx->last_cmd.name),
				  "CONNECT");
			tx->last_cmd.rcpt = -1;
			emit(s, EV_SMTP_REPLY, tx);
			return;
		}
	}
	if (s->cli_mode == SMTP_CLI_BODY)
		body_end(s, 0);	/* the server answers: the body is over */
	r = pend_pop(s, &p);
	if (r == 1) {
		reply_paired(s, &p);
		return;
	}
	if (r < 0) {
		anom(s, cur_tx(s), SMTP_ANOM_UNPAIRED_REPLY,
		     CTR_SMTP_UNPAIRED_REPLY);
	}
	reply_generic(s, s->rep.code);
}

/* One complete server line (CR/LF stripped). */
static void srv_line(struct smtp_state *s, const char *l, size_t n)
{
	struct smtp_reply *r = &s->rep;
	int code;
	size_t t, el;

	if (n < 3 || l[0] < '1' || l[0] > '5' || l[1] < '0' || l[1] > '9' ||
	    l[2] < '0' || l[2] > '9' || (n > 3 && l[3] != ' ' && l[3] != '-')) {
		/* not a reply line: flag it, keep any open reply open */
		anom(s, cur_tx(s), SMTP_ANOM_BAD_REPLY, CTR_SMTP_BAD_REPLY);
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
		while (t < n && is_sp(l[t]))
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

static void feed_server(struct smtp_state *s, const uint8_t *d, size_t n)
{
	while (n && !s->done) {
		size_t used = line_feed(s, DIR_TO_CLIENT, d, n);

		d += used;
		n -= used;
	}
}

/* ---- ops --------------------------------------------------------------- */

static void smtp_init(void *st, const struct proto_sink *sink,
		      struct rw_counters *ctr, const struct proto_init *pi)
{
	struct smtp_state *s = st;

	/* The state comes from a pool, not zeroed. Clear what is read
	 * before it is written; the big buffers are not: recipients[] (see
	 * slot_reset), pend[] (read only between head and head + n), the
	 * line buffers (read up to len) and rcpt_over[] (written before
	 * its pending entry exists). */
	memset(s, 0, offsetof(struct smtp_state, slot));
	memset(&s->cur, 0, offsetof(struct smtp_state, pend) -
			   offsetof(struct smtp_state, cur));
	s->pend_head = s->pend_n = 0;
	s->pend_overflow = 0;
	for (int d = 0; d < 2; d++) {
		struct smtp_line *l = &s->line[d];

		l->len = 0;
		l->too_long = l->last_cr = l->resync = 0;
	}
	s->ts = 0;
	s->rcpt_over_next = 0;
	s->slot[0].gen = s->slot[1].gen = 0;
	if (sink)
		s->sink = *sink;
	s->ctr = ctr;
	slot_reset(s, 0);
	slot_reset(s, 1);
	ctr_inc(ctr, CTR_SMTP_SESSIONS);
	if (pi && pi->midstream) {
		s->sess.midstream = 1;
		s->line[0].resync = s->line[1].resync = 1;
	}
	if (pi && pi->implicit_tls) {
		s->sess.tls = SMTP_TLS_IMPLICIT;
		s->implicit_tls = 1;
		s->done = 1;
		s->cli_mode = SMTP_CLI_DONE;
		ctr_inc(ctr, CTR_SMTP_TLS);
	}
}

static void smtp_feed(void *st, int dir, const uint8_t *d, size_t n,
		      uint64_t ts)
{
	struct smtp_state *s = st;

	if (s->done || !n)
		return;
	s->ts = ts;
	if (dir == DIR_TO_SERVER) {
		if (!s->greeting_done && !s->sess.midstream &&
		    !s->sess.early_talker) {
			s->sess.early_talker = 1;
			anom(s, cur_tx(s), SMTP_ANOM_EARLY_TALKER,
			     CTR_SMTP_EARLY_TALKER);
		}
		feed_client(s, d, n);
	} else {
		feed_server(s, d, n);
	}
}

static void smtp_gap(void *st, int dir, size_t n, uint64_t ts)
{
	struct smtp_state *s = st;

	if (s->done || !n)
		return;
	s->ts = ts;
	ctr_inc(s->ctr, CTR_SMTP_GAP);
	if (dir == DIR_TO_SERVER) {
		switch (s->cli_mode) {
		case SMTP_CLI_CHUNK:
			cur_tx(s)->anomalies |= SMTP_ANOM_GAP;
			if (n < s->chunk_left) {	/* still in sync */
				s->chunk_left -= n;
				cur_tx(s)->data.body_bytes += n;
				return;
			}
			cur_tx(s)->data.body_bytes += s->chunk_left;
			s->chunk_left = 0;
			chunk_done(s);
			/* the rest of the gap was commands */
			s->line[DIR_TO_SERVER].resync = 1;
			return;
		case SMTP_CLI_BODY:
			/* the terminator may have been lost: the server's
			 * reply will end the body (reply_done) */
			s->slot[s->body_slot].tx.anomalies |= SMTP_ANOM_GAP;
			s->slot[s->body_slot].tx.data.body_bytes += n;
			s->body_line = 2;
			s->body_dot = s->body_cr = 0;
			return;
		default:
			cur_tx(s)->anomalies |= SMTP_ANOM_GAP;
			s->line[DIR_TO_SERVER].len = 0;
			s->line[DIR_TO_SERVER].too_long = 0;
			s->line[DIR_TO_SERVER].resync = 1;
			return;
		}
	}
	for (int i = 0; i < 2; i++)
		if (s->slot[i].npending || i == s->cur)
			s->slot[i].tx.anomalies |= SMTP_ANOM_GAP;
	s->line[DIR_TO_CLIENT].len = 0;
	s->line[DIR_TO_CLIENT].too_long = 0;
	s->line[DIR_TO_CLIENT].resync = 1;
	s->rep_open = 0;
	s->greeting_done = 1;
	pend_clear(s);
}

static void smtp_end(void *st, uint64_t ts)
{
	struct smtp_state *s = st;

	s->ts = ts;
	if (s->ended)
		return;
	s->ended = 1;
	if (s->cli_mode == SMTP_CLI_BODY) {
		struct smtp_tx *tx = &s->slot[s->body_slot].tx;

		tx->anomalies |= SMTP_ANOM_DATA_UNTERM;
		tx->data.body_bytes += s->body_line;
		ctr_add(s->ctr, CTR_SMTP_BODY_BYTES, s->body_line);
	} else if (s->cli_mode == SMTP_CLI_CHUNK) {
		cur_tx(s)->anomalies |= SMTP_ANOM_DATA_UNTERM;
	}
	session_finish(s);
}

/* Content detection, see proto.h. SMTP needs both sides: FTP also greets
 * with 220, but only an SMTP client says EHLO/HELO. */
static int helo_prefix(const uint8_t *c, size_t n)
{
	/* 1: EHLO/HELO + separator; 0: could still be; -1: is not */
	static const char *const v[] = { "EHLO", "HELO" };
	int maybe = 0;

	for (int k = 0; k < 2; k++) {
		size_t i;

		for (i = 0; i < n && i < 4; i++)
			if (up((char)c[i]) != v[k][i])
				break;
		if (i < n && i < 4)
			continue;
		if (n <= 4) {
			maybe = 1;
			continue;
		}
		if (c[4] == ' ' || c[4] == '\r' || c[4] == '\n' || c[4] == '\t')
			return 1;
	}
	return maybe ? 0 : -1;
}

static int code_prefix(const uint8_t *c, size_t n, const char *code,
		       int need_sep)
{
	/* 1: "ddd" (+ ' '/'-' if need_sep); 0: could still be; -1: not */
	size_t i;

	for (i = 0; i < n && i < 3; i++)
		if (c[i] != (uint8_t)code[i])
			return -1;
	if (n < 3 || (need_sep && n < 4))
		return 0;
	if (!need_sep)
		return 1;
	return c[3] == ' ' || c[3] == '-' ? 1 : -1;
}

static enum probe_result smtp_probe(const uint8_t *cli, size_t cn,
				    const uint8_t *srv, size_t sn)
{
	int h = helo_prefix(cli, cn);
	int g220 = code_prefix(srv, sn, "220", 1);
	int r250 = code_prefix(srv, sn, "250", 0);
	int r220 = code_prefix(srv, sn, "220", 0);

	if (h < 0 || (g220 < 0 && r250 < 0 && r220 < 0))
		return PROBE_NO;
	if (h == 1 && (g220 == 1 || r250 == 1 || r220 == 1))
		return PROBE_YES;
	return PROBE_MORE;
}

static int smtp_wants_data(const void *st)
{
	const struct smtp_state *s = st;

	return !s->done;
}

/* ---- EVE --------------------------------------------------------------- */

static void eve_bracketed(struct json *j, const char *key, const char *a)
{
	char b[SMTP_ADDR_MAX + 2];

	snprintf(b, sizeof(b), "<%s>", a);
	json_str(j, key, b);
}

static void eve_code(struct json *j, int code, const char *enh)
{
	if (code)
		json_u64(j, "code", (uint64_t)code);
	if (enh && enh[0])
		json_str(j, "enhanced", enh);
}

static const char *smtp_eve(struct json *j, enum proto_event type,
			    const void *obj)
{
	const struct smtp_tx *tx = obj;
	const struct smtp_session *ss;

	if (type != EV_SMTP_RECORD || !tx || !tx->session)
		return NULL;
	ss = tx->session;
	json_obj_open(j, "smtp");
	/* Suricata's fields first (paths as Suricata logs them: with <>) */
	if (ss->helo_verb[0])
		json_str(j, "helo", ss->helo);
	if (tx->has_mail)
		eve_bracketed(j, "mail_from", tx->mail_from);
	if (tx->n_recipients) {
		json_arr_open(j, "rcpt_to");
		for (uint32_t i = 0; i < tx->n_recipients; i++)
			eve_bracketed(j, NULL, tx->recipients[i].address);
		json_arr_close(j);
	}
	/* relaywatch extensions */
	json_u64(j, "transaction", tx->number);
	if (tx->has_mail) {
		json_obj_open(j, "mail");
		json_str(j, "address", tx->mail_from);
		if (tx->mail_params[0])
			json_str(j, "params", tx->mail_params);
		eve_code(j, tx->mail_code, tx->mail_enhanced);
		json_obj_close(j);
	}
	if (tx->rcpt_total) {
		json_arr_open(j, "recipients");
		for (uint32_t i = 0; i < tx->n_recipients; i++) {
			const struct smtp_rcpt *r = &tx->recipients[i];

			json_obj_open(j, NULL);
			json_str(j, "address", r->address);
			eve_code(j, r->code, r->enhanced);
			json_bool(j, "accepted", r->accepted);
			json_obj_close(j);
		}
		json_arr_close(j);
		json_obj_open(j, "rcpt_count");
		json_u64(j, "total", tx->rcpt_total);
		json_u64(j, "accepted", tx->rcpt_accepted);
		json_u64(j, "refused", tx->rcpt_refused);
		json_obj_close(j);
	}
	if (tx->data.command != SMTP_DATA_NONE) {
		const struct smtp_data *d = &tx->data;

		json_obj_open(j, "data");
		json_str(j, "command",
			 d->command == SMTP_DATA_BDAT ? "BDAT" : "DATA");
		json_u64(j, "bytes", d->body_bytes);
		if (d->command == SMTP_DATA_BDAT)
			json_u64(j, "chunks", d->chunks);
		eve_code(j, d->code, d->enhanced);
		if (d->code)
			json_str(j, "text", d->text);
		json_bool(j, "complete", d->complete);
		json_obj_close(j);
	}
	if (ss->auth.attempts) {
		const struct smtp_auth *a = &ss->auth;

		json_obj_open(j, "auth");
		json_str(j, "mechanism", a->mechanism);
		if (a->user[0])
			json_str(j, "user", a->user);
		eve_code(j, a->code, a->enhanced);
		json_bool(j, "ok", a->ok);
		json_u64(j, "attempts", a->attempts);
		json_u64(j, "failures", a->failures);
		json_obj_close(j);
	}
	if (ss->tls != SMTP_TLS_NONE)
		json_str(j, "tls", ss->tls == SMTP_TLS_IMPLICIT ? "implicit" :
			 "starttls");
	if (ss->greeting_code) {
		json_obj_open(j, "greeting");
		json_u64(j, "code", (uint64_t)ss->greeting_code);
		json_str(j, "text", ss->greeting_text);
		json_obj_close(j);
	}
	json_flags(j, "anomalies", tx->anomalies, anomaly_names, SMTP_ANOM__COUNT);
	if (tx->n_unknown) {
		uint32_t k = tx->n_unknown < SMTP_UNKNOWN_MAX ? tx->n_unknown :
			     SMTP_UNKNOWN_MAX;

		json_arr_open(j, "unknown_commands");
		for (uint32_t i = 0; i < k; i++)
			json_str(j, NULL, tx->unknown[i]);
		json_arr_close(j);
		json_u64(j, "unknown_count", tx->n_unknown);
	}
	json_bool(j, "client_authenticated", ss->client_authenticated);
	json_bool(j, "early_talker", ss->early_talker);
	json_obj_close(j);
	return "smtp";
}

const struct proto_ops smtp_ops = {
	.name = "smtp",
	.id = APP_SMTP,
	.state_size = sizeof(struct smtp_state),
	.init = smtp_init,
	.feed = smtp_feed,
	.gap = smtp_gap,
	.end = smtp_end,
	.probe = smtp_probe,
	.wants_data = smtp_wants_data,
	.eve = smtp_eve,
};
