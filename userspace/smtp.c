/* smtp.c - passive SMTP parser: ops and the client side (see smtp.h for
 * the model and the caps).
 *
 * Layout: line assembly per direction -> client command handlers (here),
 * server replies (smtp_reply.c) -> pairing through the in-flight queue
 * (smtp_queue.c) -> the transaction -> events; EVE in smtp_eve.c.
 * Everything lives in struct smtp_state; nothing is allocated.
 *
 * Client-side policies (the "why"):
 *  - A command is queued with what its reply will need (the address of a
 *    RCPT, the sender of a MAIL, the size of a BDAT chunk) and applied when
 *    the reply arrives (smtp_reply.c). When the queue is full, a RCPT keeps
 *    its domain, then nothing (its reply says "address unknown": relay
 *    rules treat it as foreign), other commands go into a mixed run that
 *    keeps only their number: pairing stays right, only details are lost.
 *  - Lines sent after DATA before its reply are queued as commands, marked
 *    (SMTP_QF_WIN), with the bytes they took: a 354 makes them message text
 *    (a "." line among them ends it), a refusal leaves them commands.
 *  - A gap in the client direction may hide commands: a barrier is queued;
 *    the reply that reaches it may answer one of them, so pairing is lost
 *    there (not before: the replies to the commands before the gap come
 *    first). A gap in the server direction with commands in flight loses
 *    pairing at once.
 *  - Midstream pickup: both directions start by discarding to the first
 *    LF (we cannot know that the first byte starts a line), and pairing
 *    starts lost (replies to commands we never saw may come first).
 */
#include "smtp_int.h"

#include <stdio.h>
#include <stddef.h>
#include <string.h>

/* argument bytes a command must leave free in the queue (so that domains
 * and the commands that cannot do without their argument still fit) */
#define RES_NONE 0
#define RES_PART 64
#define RES_FULL 1024

/* ---- small helpers ----------------------------------------------------- */

static int is_sp(char c)
{
	return c == ' ' || c == '\t';
}

static char up(char c)
{
	return (c >= 'a' && c <= 'z') ? (char)(c - 32) : c;
}

static char low(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

/* case-insensitive: lit is upper case */
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

void smtp_anom(struct smtp_state *s, uint32_t bit, enum rw_counter c)
{
	s->tx.anomalies |= bit;
	ctr_inc(s->ctr, c);
}

/* Copy n bytes into a fixed field. NUL bytes become '?' (fields are C
 * strings and a NUL must not hide what follows it). Returns 1 if cut. */
static int copy_field(char *dst, size_t cap, const char *src, size_t n)
{
	size_t k = n < cap - 1 ? n : cap - 1;

	for (size_t i = 0; i < k; i++)
		dst[i] = src[i] ? src[i] : '?';
	dst[k] = '\0';
	return k < n;
}

/* the same, truncation flagged on the transaction and counted */
void smtp_field_set(struct smtp_state *s, char *dst, size_t cap,
		    const char *src, size_t n)
{
	if (copy_field(dst, cap, src, n))
		smtp_anom(s, SMTP_ANOM_FIELD_TRUNC, CTR_SMTP_STR_CAP);
}

/* bounded copy of a C string (src is one of our own NUL-terminated fields) */
void smtp_field_cpy(char *dst, size_t cap, const char *src)
{
	size_t n = 0;

	while (n < cap - 1 && src[n]) {
		dst[n] = src[n];
		n++;
	}
	dst[n] = '\0';
}

void smtp_emit(struct smtp_state *s, enum proto_event t)
{
	struct smtp_tx *tx = &s->tx;

	if (!s->sink.event)
		return;
	tx->session = &s->sess;
	s->sink.event(s->sink.ctx, t, tx, s->ts);
	tx->session = NULL;	/* no pointer survives the call */
}

/* ---- queueing ----------------------------------------------------------- */

/* 1: queued (or applied at once: pairing is lost); 0: no room */
static int queue_cmd(struct smtp_state *s, uint8_t verb, uint16_t flags,
		     const void *arg, size_t alen, int reserve)
{
	if (s->lost) {
		smtp_apply_now(s, verb, flags, arg, alen);
		return 1;
	}
	if (s->win_open)
		flags |= SMTP_QF_WIN;
	return q_push(&s->q, verb, flags, arg, alen, reserve,
		      (flags & SMTP_QF_WIN) != 0);
}

static void queue_mixed(struct smtp_state *s, uint8_t verb, uint16_t flags)
{
	if (s->win_open)
		flags |= SMTP_QF_WIN;
	smtp_anom(s, SMTP_ANOM_PENDING_CAP, CTR_SMTP_PENDING_CAP);
	q_push_mixed(&s->q, verb, flags);
}

/* a command whose argument, if any, is needed to follow the session */
void smtp_queue_must(struct smtp_state *s, uint8_t verb, uint16_t flags,
		     const void *arg, size_t alen)
{
	if (!queue_cmd(s, verb, flags, arg, alen, RES_NONE))
		queue_mixed(s, verb, flags);
}

/* a command whose argument is a detail: without it if need be */
static void queue_opt(struct smtp_state *s, uint8_t verb, uint16_t flags,
		      const void *arg, size_t alen, int reserve)
{
	if (queue_cmd(s, verb, flags, arg, alen, reserve))
		return;
	if (queue_cmd(s, verb, flags | SMTP_QF_NOARG, NULL, 0, RES_NONE))
		return;
	queue_mixed(s, verb, flags);
}

/* Commands may have been lost here (client gap). */
static void push_barrier(struct smtp_state *s)
{
	if (s->lost)
		return;
	if (!queue_cmd(s, SMTP_CMD_NONE, SMTP_QF_BARRIER, NULL, 0, RES_NONE))
		queue_mixed(s, SMTP_CMD_NONE, SMTP_QF_BARRIER);
}

/* The whole address if it fits, else its domain, else nothing: the
 * reply's event says which (struct smtp_cmd.addr). */
static void queue_rcpt(struct smtp_state *s, const char *ad, size_t al,
		       uint16_t flags)
{
	char dom[SMTP_ADDR_MAX];
	size_t dl = 0;
	const char *at = al ? memrchr(ad, '@', al) : NULL;

	if (queue_cmd(s, SMTP_CMD_RCPT, flags, ad, al, RES_FULL))
		return;
	if (at) {
		/* lower case: rules compare domains without regard to case,
		 * and equal domains in a row then share one run */
		for (const char *p = at + 1; p < ad + al && dl < sizeof(dom); p++)
			dom[dl++] = low(*p);
	}
	if (dl && queue_cmd(s, SMTP_CMD_RCPT, flags | SMTP_QF_DOMAIN, dom, dl,
			    RES_PART)) {
		smtp_anom(s, SMTP_ANOM_INFLIGHT_CAP, CTR_SMTP_RCPT_DOMAIN_ONLY);
		return;
	}
	if (queue_cmd(s, SMTP_CMD_RCPT, flags | SMTP_QF_NOARG, NULL, 0,
		      RES_NONE)) {
		smtp_anom(s, SMTP_ANOM_INFLIGHT_CAP, CTR_SMTP_RCPT_UNKNOWN);
		return;
	}
	queue_mixed(s, SMTP_CMD_RCPT, flags);
}

/* ---- client commands ---------------------------------------------------- */

static enum smtp_verb verb_lookup(const char *v)
{
	for (int i = SMTP_CMD_HELO; i < SMTP_CMD__COUNT; i++) {
		if (i == SMTP_CMD_DATA_END || i == SMTP_CMD_AUTH_DATA ||
		    i == SMTP_CMD_UNKNOWN)
			continue;
		if (strcmp(v, smtp_verb_names[i]) == 0)	/* v is upper case */
			return (enum smtp_verb)i;
	}
	return SMTP_CMD_UNKNOWN;
}

/* "FROM:<a@b> params" / "TO: a@b" (key is "FROM" or "TO", any case):
 * address and parameters. Tolerates missing <>, spaces around ':'.
 * Returns 0, or -1 when the key or ':' is missing (the address is then the
 * first token). */
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

static void cmd_event_b(struct smtp_state *s, enum smtp_verb v,
			const char *name, const char *arg, size_t alen,
			int bdat_last, uint64_t bdat_size)
{
	struct smtp_cmd *c = &s->tx.last_cmd;

	c->verb = v;
	smtp_field_cpy(c->name, sizeof(c->name), name);
	(void)copy_field(c->arg, sizeof(c->arg), arg, alen);
	c->addr = SMTP_ADDR_WHOLE;
	c->rcpt = -1;
	c->bdat_last = bdat_last;
	c->bdat_size = bdat_size;
	memset(&s->tx.last_reply, 0, sizeof(s->tx.last_reply));
	s->sess.commands++;
	ctr_inc(s->ctr, CTR_SMTP_CMDS);
	smtp_emit(s, EV_SMTP_COMMAND);
}

void smtp_cmd_event(struct smtp_state *s, enum smtp_verb v, const char *name,
		    const char *arg, size_t alen)
{
	cmd_event_b(s, v, name, arg, alen, 0, 0);
}

static void body_reset(struct smtp_state *s)
{
	s->body_dot = s->body_cr = s->body_last_cr = 0;
	s->body_line = 0;
}

/* 354: the client's next bytes are the message. A partial line already
 * buffered (sent before the 354 arrived) is its first bytes. */
void smtp_enter_body(struct smtp_state *s)
{
	struct smtp_line *ln = &s->line[DIR_TO_SERVER];

	s->cli_mode = SMTP_CLI_BODY;
	body_reset(s);
	s->body_gap = 0;
	s->body_line = ln->seen;
	if (ln->seen && !ln->resync && ln->len && ln->buf[0] == '.') {
		/* a terminator may be on its way: the scanner's state for
		 * "." or ".\r" (body_feed) */
		if (ln->seen == 1) {
			s->body_dot = 1;
		} else if (ln->seen == 2 && ln->buf[1] == '\r') {
			s->body_dot = s->body_cr = 1;
		}
	}
	if (ln->seen)
		s->body_last_cr = ln->last_cr;
	ln->len = 0;
	ln->too_long = 0;
	ln->resync = 0;
	ln->last_cr = 0;
	ln->seen = 0;
}

/* The terminator of a DATA body was seen. */
static void body_end(struct smtp_state *s)
{
	int gap = s->body_gap;

	s->cli_mode = SMTP_CLI_CMD;
	s->tx.data.complete = 1;
	body_reset(s);
	s->body_gap = 0;
	smtp_cmd_event(s, SMTP_CMD_DATA_END, ".", "", 0);
	smtp_queue_must(s, SMTP_CMD_DATA_END, 0, NULL, 0);
	/* bytes lost in the body may have held an earlier terminator and
	 * commands after it */
	if (gap)
		push_barrier(s);
}

static void chunk_done(struct smtp_state *s)
{
	s->cli_mode = SMTP_CLI_CMD;
	s->chunk_last = 0;
}

static void cmd_helo(struct smtp_state *s, enum smtp_verb v, const char *vb,
		     const char *arg, size_t al)
{
	uint16_t fl = 0;
	size_t n = al;

	/* a bare verb (refused with 501) does not overwrite the name
	 * already given (smtp_reply.c) */
	if (!al) {
		fl |= SMTP_QF_SYNTAX;
		ctr_inc(s->ctr, CTR_SMTP_CMD_SYNTAX);
	}
	if (n > SMTP_HELO_MAX - 1) {
		n = SMTP_HELO_MAX - 1;
		fl |= SMTP_QF_TRUNC;
		ctr_inc(s->ctr, CTR_SMTP_STR_CAP);
	}
	smtp_cmd_event(s, v, vb, arg, al);
	queue_opt(s, (uint8_t)v, fl, arg, n, RES_PART);
}

static void cmd_mail(struct smtp_state *s, const char *arg, size_t n)
{
	uint8_t buf[1 + SMTP_ADDR_MAX + SMTP_PARAMS_MAX];
	const char *ad, *pa;
	size_t al, pl;
	uint16_t fl = 0;

	if (parse_path(arg, n, "FROM", &ad, &al, &pa, &pl) < 0) {
		fl |= SMTP_QF_SYNTAX;
		ctr_inc(s->ctr, CTR_SMTP_CMD_SYNTAX);
	}
	smtp_cmd_event(s, SMTP_CMD_MAIL, "MAIL", ad, al);
	if (al > SMTP_ADDR_MAX - 1 || pl > SMTP_PARAMS_MAX - 1) {
		fl |= SMTP_QF_TRUNC;
		ctr_inc(s->ctr, CTR_SMTP_STR_CAP);
		al = al < SMTP_ADDR_MAX - 1 ? al : SMTP_ADDR_MAX - 1;
		pl = pl < SMTP_PARAMS_MAX - 1 ? pl : SMTP_PARAMS_MAX - 1;
	}
	buf[0] = (uint8_t)al;
	memcpy(buf + 1, ad, al);
	memcpy(buf + 1 + al, pa, pl);
	if (queue_cmd(s, SMTP_CMD_MAIL, fl, buf, 1 + al + pl, RES_PART))
		return;
	/* no room: the sender without its parameters, else nothing */
	if (queue_cmd(s, SMTP_CMD_MAIL, fl | SMTP_QF_TRUNC, buf, 1 + al,
		      RES_PART))
		return;
	if (queue_cmd(s, SMTP_CMD_MAIL, fl | SMTP_QF_NOARG, NULL, 0,
		      RES_NONE)) {
		ctr_inc(s->ctr, CTR_SMTP_MAIL_UNKNOWN);
		return;
	}
	queue_mixed(s, SMTP_CMD_MAIL, fl);
}

static void cmd_rcpt(struct smtp_state *s, const char *arg, size_t n)
{
	const char *ad, *pa;
	size_t al, pl;
	uint16_t fl = 0;

	if (parse_path(arg, n, "TO", &ad, &al, &pa, &pl) < 0) {
		fl |= SMTP_QF_SYNTAX;
		ctr_inc(s->ctr, CTR_SMTP_CMD_SYNTAX);
	}
	/* the address even past the recipients cap: rules see it here */
	smtp_cmd_event(s, SMTP_CMD_RCPT, "RCPT", ad, al);
	if (al > SMTP_ADDR_MAX - 1) {
		al = SMTP_ADDR_MAX - 1;
		fl |= SMTP_QF_TRUNC;
		ctr_inc(s->ctr, CTR_SMTP_STR_CAP);
	}
	queue_rcpt(s, ad, al, fl);
}

static void cmd_data(struct smtp_state *s, const char *vb, const char *arg,
		     size_t al)
{
	/* where the message would start, counted from the window's first
	 * DATA (a DATA inside a window is message text, or a command if
	 * the first one is refused) */
	uint64_t off = s->win_open ? s->win_bytes + s->cli_line_bytes : 0;

	smtp_cmd_event(s, SMTP_CMD_DATA, vb, arg, al);
	smtp_queue_must(s, SMTP_CMD_DATA, 0, &off, sizeof(off));
	if (!s->win_open && !s->lost) {
		s->win_open = 1;
		s->win_bytes = 0;
		s->win_chunk = 0;
	}
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
	size_t i = 0;
	uint64_t size;
	int last = 0, bad;
	uint16_t fl = 0;

	while (i < n && is_sp(arg[i]))
		i++;
	bad = parse_u64(arg, n, &i, &size);
	/* a size no server can hold (Postfix: 521 past off_t) */
	if (size > (uint64_t)INT64_MAX)
		bad = -1;
	while (i < n && is_sp(arg[i]))
		i++;
	if (i < n) {
		if (n - i == 4 && ieq_prefix(arg + i, 4, "LAST"))
			last = 1;
		else
			bad = -1;
	}
	if (bad) {
		/* A server cannot know how many bytes follow a malformed
		 * BDAT either: it answers 501 and reads the next line as a
		 * command. So do we: no chunk mode. */
		fl |= SMTP_QF_SYNTAX;
		ctr_inc(s->ctr, CTR_SMTP_CMD_SYNTAX);
		size = 0;
		last = 0;
	}
	if (last)
		fl |= SMTP_QF_LAST;
	cmd_event_b(s, SMTP_CMD_BDAT, "BDAT", arg, n, last, size);
	smtp_queue_must(s, SMTP_CMD_BDAT, fl, &size, sizeof(size));
	if (bad)
		return;
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
	char vb[SMTP_VERB_MAX];
	size_t i = 0, k = 0, as;
	enum smtp_verb v;

	if (s->auth_exchange) {
		smtp_auth_data_line(s, l, n);
		return;
	}
	if (s->win_open && n == 1 && l[0] == '.') {
		/* the end of the message if the DATA gets 354 */
		uint64_t total = s->win_bytes;

		s->win_open = 0;
		smtp_cmd_event(s, SMTP_CMD_DATA_END, ".", "", 0);
		smtp_queue_must(s, SMTP_CMD_DATA_END, SMTP_QF_COND, &total,
			   sizeof(total));
		return;
	}
	/* the verb, upper-cased: verbs are case-insensitive (RFC 5321 2.4) */
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

	switch (v) {
	case SMTP_CMD_HELO:
	case SMTP_CMD_EHLO:
	case SMTP_CMD_LHLO:
		cmd_helo(s, v, vb, arg, al);
		return;
	case SMTP_CMD_MAIL:
		cmd_mail(s, arg, al);
		return;
	case SMTP_CMD_RCPT:
		cmd_rcpt(s, arg, al);
		return;
	case SMTP_CMD_DATA:
		cmd_data(s, vb, arg, al);
		return;
	case SMTP_CMD_BDAT:
		cmd_bdat(s, arg, al);
		return;
	case SMTP_CMD_AUTH:
		smtp_cmd_auth(s, arg, al);
		return;
	case SMTP_CMD_STARTTLS:
		s->session_dirty = 1;
		break;
	case SMTP_CMD_UNKNOWN:
		/* counted when answered: behind a DATA it may be text */
		smtp_cmd_event(s, v, vb, arg, al);
		queue_opt(s, (uint8_t)v, 0, vb, k, RES_FULL);
		return;
	default:
		break;
	}
	smtp_cmd_event(s, v, vb, arg, al);
	smtp_queue_must(s, (uint8_t)v, 0, NULL, 0);
}

/* ---- line assembly ----------------------------------------------------- */

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
	uint64_t lb;

	if (body)
		ln->last_cr = d[body - 1] == '\r';
	ln->seen += body;
	if (ln->resync) {
		if (lf) {
			lb = ln->seen + 1;
			ln->resync = 0;
			ln->len = 0;
			ln->too_long = 0;
			ln->last_cr = 0;
			ln->seen = 0;
			if (dir == DIR_TO_SERVER && s->win_open)
				s->win_bytes += lb;
		}
		return take;
	}
	if (!ln->too_long && body) {
		size_t room = sizeof(ln->buf) - ln->len;

		if (body > room) {
			memcpy(ln->buf + ln->len, d, room);
			ln->len = (uint16_t)(ln->len + room);
			ln->too_long = 1;
			smtp_anom(s, SMTP_ANOM_LINE_TOO_LONG,
				  CTR_SMTP_LINE_TOO_LONG);
		} else {
			memcpy(ln->buf + ln->len, d, body);
			ln->len = (uint16_t)(ln->len + body);
		}
	}
	if (!lf)
		return take;

	size_t len = ln->len;

	lb = ln->seen + 1;
	if (!ln->last_cr) {
		smtp_anom(s, SMTP_ANOM_BARE_LF, CTR_SMTP_BARE_LF);
	} else if (len && !ln->too_long && ln->buf[len - 1] == '\r') {
		len--;
	}
	ln->len = 0;
	ln->too_long = 0;
	ln->last_cr = 0;
	ln->seen = 0;
	/* the handler may not touch ln->buf: it is read in place */
	if (dir == DIR_TO_SERVER) {
		int was_open = s->win_open;

		s->cli_line_bytes = lb;
		cli_line(s, ln->buf, len);
		if (was_open && s->win_open)
			s->win_bytes += lb;
	} else {
		smtp_srv_line(s, ln->buf, len);
	}
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
	struct smtp_tx *tx = &s->tx;
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
		smtp_anom(s, SMTP_ANOM_BARE_LF, CTR_SMTP_BARE_LF);
	if (s->body_dot && (s->body_line == 1 ||
			    (s->body_line == 2 && s->body_cr))) {
		body_end(s);
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
			ctr_add(s->ctr, CTR_SMTP_BODY_BYTES, used);
			if (s->win_open) {
				s->win_bytes += used;
				s->win_chunk = 1;
			}
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
	 * tx_reset), the queue's rings (read only between head and head + n),
	 * the line buffers (read up to len). */
	memset(s, 0, offsetof(struct smtp_state, tx));
	smtp_tx_init(s);
	memset(&s->ts, 0, offsetof(struct smtp_state, line) -
			  offsetof(struct smtp_state, ts));
	for (int d = 0; d < 2; d++) {
		struct smtp_line *l = &s->line[d];

		l->len = 0;
		l->too_long = l->last_cr = l->resync = 0;
		l->seen = 0;
	}
	q_reset(&s->q);
	if (sink)
		s->sink = *sink;
	s->ctr = ctr;
	ctr_inc(ctr, CTR_SMTP_SESSIONS);
	if (pi && pi->midstream) {
		s->sess.midstream = 1;
		s->line[0].resync = s->line[1].resync = 1;
		/* replies to commands sent before we joined may come first */
		s->lost = 1;
		smtp_anom(s, SMTP_ANOM_PAIRING_LOST, CTR_SMTP_PAIRING_LOST);
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
			smtp_anom(s, SMTP_ANOM_EARLY_TALKER,
				  CTR_SMTP_EARLY_TALKER);
		}
		feed_client(s, d, n);
	} else {
		feed_server(s, d, n);
	}
}

static void line_lost(struct smtp_line *ln)
{
	ln->len = 0;
	ln->too_long = 0;
	ln->seen = 0;
	ln->resync = 1;
}

static void smtp_gap(void *st, int dir, size_t n, uint64_t ts)
{
	struct smtp_state *s = st;

	if (s->done || !n)
		return;
	s->ts = ts;
	ctr_inc(s->ctr, CTR_SMTP_GAP);
	s->tx.anomalies |= SMTP_ANOM_GAP;
	if (dir == DIR_TO_SERVER) {
		switch (s->cli_mode) {
		case SMTP_CLI_CHUNK:
			if (n < s->chunk_left) {	/* still in sync */
				s->chunk_left -= n;
				if (s->win_open)
					s->win_bytes += n;
				return;
			}
			if (s->win_open)
				s->win_bytes += s->chunk_left;
			s->chunk_left = 0;
			chunk_done(s);
			/* the rest of the gap was commands */
			line_lost(&s->line[DIR_TO_SERVER]);
			push_barrier(s);
			return;
		case SMTP_CLI_BODY:
			/* the terminator may have been lost: if so the
			 * server's reply ends the body (smtp_reply.c) */
			s->tx.data.body_bytes += n;
			s->body_line = 2;
			s->body_dot = s->body_cr = 0;
			s->body_gap = 1;
			return;
		default:
			line_lost(&s->line[DIR_TO_SERVER]);
			push_barrier(s);
			return;
		}
	}
	line_lost(&s->line[DIR_TO_CLIENT]);
	s->rep_open = 0;
	s->greeting_done = 1;
	/* replies were lost: which of the commands in flight they answered
	 * is not known */
	if (!q_empty(&s->q))
		smtp_lose_pairing(s);
}

/* End of flow inside a BDAT chunk: its run counts the bytes seen only. */
static void chunk_cut(struct smtp_state *s)
{
	for (unsigned i = s->q.n; i-- > 0;) {
		struct smtp_qent *r = q_run(&s->q, i);
		uint64_t size = 0;

		if (r->verb != SMTP_CMD_BDAT)
			continue;
		(void)q_arg(&s->q, i, &size, sizeof(size));
		size = size > s->chunk_left ? size - s->chunk_left : 0;
		q_arg_write(&s->q, i, &size, sizeof(size));
		r->flags |= SMTP_QF_SHORT;
		return;
	}
}

static void smtp_end(void *st, uint64_t ts)
{
	struct smtp_state *s = st;

	s->ts = ts;
	if (s->ended)
		return;
	s->ended = 1;
	if (s->cli_mode == SMTP_CLI_CHUNK) {
		chunk_cut(s);
		s->tx.anomalies |= SMTP_ANOM_DATA_UNTERM;
	}
	/* what never got a reply, as the client sent it (an unanswered
	 * DATA: the lines behind it are its message) */
	smtp_drain(s);
	if (s->cli_mode == SMTP_CLI_BODY) {
		s->tx.anomalies |= SMTP_ANOM_DATA_UNTERM;
		s->tx.data.body_bytes += s->body_line;
		ctr_add(s->ctr, CTR_SMTP_BODY_BYTES, s->body_line);
	} else if (s->cli_mode == SMTP_CLI_CHUNK) {
		s->tx.anomalies |= SMTP_ANOM_DATA_UNTERM;
	}
	smtp_session_finish(s);
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
