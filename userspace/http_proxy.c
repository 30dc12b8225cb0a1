/* http_proxy.c - HTTP forward-proxy parser (see http_proxy.h): the two
 * state machines, the pipeline, message framing, feed/gap/end.
 *
 * Each direction is a small state machine (struct http_side). Line states
 * gather one line at a time into a capped buffer (struct http_line) and
 * hand complete lines to a handler; byte states (bodies, tunnel, early
 * data) consume runs of bytes. Nothing depends on how the stream is cut
 * into chunks: a line or a run is processed the same way whether it came
 * in one call or in many.
 *
 * The pipeline. HTTP/1.x answers requests in order, so the n-th response
 * is paired with the n-th request, whatever the depth. Pending requests,
 * oldest first: compact runs (requests forced out of the ring, recorded
 * already; only how their responses are framed is kept), then the ring of
 * full transactions (HTTP_PENDING_MAX, the newest). The client side
 * appends; the server side answers the oldest and drops it when its final
 * response is complete (for a ring transaction: EV_HTTP_RECORD).
 */
#include "http_proxy_int.h"

#include <stddef.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* transactions and the pipeline                                       */

static int q_slot(const struct http_proxy_state *s, int i)
{
	return (s->q_head + i) % HTTP_PENDING_MAX;
}

static void emit(struct http_proxy_state *s, enum proto_event ev,
		 const struct http_tx *tx, uint64_t ts)
{
	if (s->sink.event)
		s->sink.event(s->sink.ctx, ev, tx, ts);
}

/* Emit the oldest transaction as a record and drop it from the ring. Any
 * side still pointing at it loses its tx (it keeps framing the message). */
static void q_pop_emit(struct http_proxy_state *s, uint64_t ts)
{
	struct http_tx *tx;
	int slot;

	if (!s->q_count)
		return;
	slot = s->q_head;
	tx = &s->q[slot];
	if (s->unpaired && !tx->resp_done)
		tx->anomalies |= HTTP_ANOM_UNPAIRED;
	if (s->proxy_flow)
		tx->proxy = 1;
	emit(s, EV_HTTP_RECORD, tx, ts);
	for (int d = 0; d < 2; d++)
		if (s->side[d].tx == slot)
			s->side[d].tx = -1;
	s->q_head = (uint8_t)((s->q_head + 1) % HTTP_PENDING_MAX);
	s->q_count--;
}

/* Append a request forced out of the ring to the compact runs. Returns 0
 * when that needs one run more than HTTP_PIPE_RUNS. */
static int run_push(struct http_proxy_state *s, int head)
{
	uint32_t kind = head ? RUN_HEAD : 0;

	if (s->run_count) {
		uint32_t *r = &s->run[(s->run_head + s->run_count - 1) %
				      HTTP_PIPE_RUNS];

		if ((*r & RUN_HEAD) == kind && (*r & RUN_COUNT) != RUN_COUNT) {
			(*r)++;
			return 1;
		}
	}
	if (s->run_count == HTTP_PIPE_RUNS)
		return 0;
	s->run[(s->run_head + s->run_count) % HTTP_PIPE_RUNS] = kind | 1;
	s->run_count++;
	return 1;
}

/* the oldest compact request got its final response */
static void run_pop(struct http_proxy_state *s)
{
	uint32_t *r = &s->run[s->run_head];

	if (!s->run_count)
		return;
	if ((*r & RUN_COUNT) > 1) {
		(*r)--;
		return;
	}
	s->run_head = (uint8_t)((s->run_head + 1) % HTTP_PIPE_RUNS);
	s->run_count--;
}

/* Too many runs: the order of HEAD and other requests is no longer known,
 * so neither is the framing of the responses to come, nor which request a
 * status line answers. Never guess: stop pairing for the rest of the flow.
 * The response being parsed (if any) was paired exactly: it finishes. */
static void go_unpaired(struct http_proxy_state *s)
{
	s->unpaired = 1;
	s->run_count = 0;
	ctr_inc(s->ctr, CTR_HTTP_UNPAIRED);
}

/* The ring is full: force its oldest transaction out as a record without
 * response. It stays pending as a compact request. */
static void q_force_out(struct http_proxy_state *s, uint64_t ts)
{
	struct http_side *sv = &s->side[DIR_TO_CLIENT];
	struct http_tx *tx = &s->q[s->q_head];
	int answering = sv->tx == s->q_head && (sv->ans & ANS_PAIRED);

	tx->anomalies |= HTTP_ANOM_PENDING_OVERFLOW;
	ctr_inc(s->ctr, CTR_HTTP_PENDING_CAP);
	if (!s->unpaired && !run_push(s, tx->meth == HTTP_METHOD_HEAD))
		go_unpaired(s);
	/* a response under way for it now answers the compact request (the
	 * runs were empty, since the oldest request is answered first) */
	if (answering && !s->unpaired)
		sv->ans |= ANS_RUN;
	q_pop_emit(s, ts);
}

/* A new transaction at the tail of the ring. */
static int q_push(struct http_proxy_state *s, uint64_t ts)
{
	int slot;
	struct http_tx *tx;

	if (s->q_count == HTTP_PENDING_MAX)
		q_force_out(s, ts);
	slot = q_slot(s, s->q_count);
	s->q_count++;
	tx = &s->q[slot];
	memset(tx, 0, sizeof(*tx));
	tx->id = ++s->next_id;
	return slot;
}

/* ------------------------------------------------------------------ */
/* start lines                                                         */

/* The request line. Returns 0 if the line is not a request line. */
static int on_request_line(struct http_proxy_state *s, struct http_side *sd,
			   const char *b, size_t n, int cut,
			   const char *tail, size_t tail_n, uint64_t ts)
{
	struct tok t[8];
	int nt = http_tokenize(b, n, t, 8);
	struct tok ver = { NULL, 0 };
	struct http_tx *tx;
	enum http_method meth;
	int slot;

	if (nt < 2 || t[0].n >= HTTP_METHOD_MAX)
		return 0;
	for (size_t i = 0; i < t[0].n; i++)
		if (!is_tchar((unsigned char)t[0].p[i]))
			return 0;
	meth = http_method_of(t[0].p, t[0].n);

	if (cut) {
		/* the version is at the end of the line: in the tail */
		size_t i = tail_n;

		while (i && !is_sp((unsigned char)tail[i - 1]))
			i--;
		if (http_is_version(tail + i, tail_n - i)) {
			ver.p = tail + i;
			ver.n = tail_n - i;
		}
	} else if (nt >= 3 && http_is_version(t[nt - 1].p, t[nt - 1].n)) {
		ver = t[nt - 1];
	} else if (nt == 2 && !(meth == HTTP_METHOD_CONNECT ||
				t[1].p[0] == '/' ||
				http_scheme_len(t[1].p, t[1].n))) {
		return 0;
	} else if (nt >= 3) {
		return 0;
	}

	ctr_inc(s->ctr, CTR_HTTP_REQUESTS);
	s->seen_request = 1;
	slot = q_push(s, ts);
	sd->tx = (int8_t)slot;
	tx = &s->q[slot];
	copy_field(tx->method, sizeof(tx->method), t[0].p, t[0].n);
	tx->meth = (uint8_t)meth;
	if (ver.p) {
		if (copy_field(tx->protocol, sizeof(tx->protocol), ver.p, ver.n))
			tx->anomalies |= HTTP_ANOM_BAD_REQUEST_LINE;
	} else {
		tx->anomalies |= HTTP_ANOM_BAD_REQUEST_LINE;
	}
	/* the target token may run into the part of the line we did not keep */
	if (cut && t[1].p + t[1].n == b + n)
		tx->anomalies |= HTTP_ANOM_FIELD_TRUNCATED;
	http_parse_target(tx, t[1].p, t[1].n, meth == HTTP_METHOD_CONNECT);
	if (!cut && nt > 3)
		tx->anomalies |= HTTP_ANOM_TARGET_TRAILING;
	/* a proxy request: any CONNECT (even "CONNECT /", a proxy may take
	 * the target from Host) and any absolute URI */
	if (meth == HTTP_METHOD_CONNECT || tx->form == HTTP_FORM_ABSOLUTE)
		s->proxy_flow = 1;
	tx->proxy = s->proxy_flow;
	return 1;
}

/* "HTTP/1.1 200 OK". Returns 0 if the line is not a status line. The
 * response answers the oldest pending request: a compact one (framing
 * only) or the ring's oldest transaction. */
static int on_status_line(struct http_proxy_state *s, struct http_side *sd,
			  const char *b, size_t n, uint64_t ts)
{
	struct tok t[2];
	size_t i;
	struct http_tx *tx;
	unsigned code = 0;

	if (http_tokenize(b, n, t, 2) < 2 || !http_is_version(t[0].p, t[0].n) ||
	    t[1].n != 3)
		return 0;
	for (i = 0; i < 3; i++) {
		if (!is_digit((unsigned char)t[1].p[i]))
			return 0;
		code = code * 10 + (unsigned)(t[1].p[i] - '0');
	}
	ctr_inc(s->ctr, CTR_HTTP_RESPONSES);
	sd->code = (uint16_t)code;
	sd->tx = -1;
	sd->ans = 0;
	if (s->unpaired)
		return 1; /* framed, never paired */
	if (s->run_count) {
		sd->ans = ANS_PAIRED | ANS_RUN |
			  (s->run[s->run_head] & RUN_HEAD ? ANS_HEAD : 0);
		return 1;
	}
	if (!s->q_count) {
		/* a response with no request we know of (midstream, gap) */
		q_push(s, ts);
		s->q[s->q_head].anomalies |= HTTP_ANOM_NO_REQUEST;
	}
	sd->tx = (int8_t)s->q_head;
	tx = &s->q[s->q_head];
	sd->ans = ANS_PAIRED |
		  (tx->meth == HTTP_METHOD_HEAD ? ANS_HEAD : 0) |
		  (tx->meth == HTTP_METHOD_CONNECT ? ANS_CONNECT : 0);
	tx->resp_started = 1;
	tx->status = (uint16_t)code;
	copy_field(tx->resp_protocol, sizeof(tx->resp_protocol), t[0].p,
		   t[0].n);
	/* reason: everything after the code */
	const char *r = t[1].p + 3;
	size_t rn = (size_t)(b + n - r);
	trim(&r, &rn);
	if (copy_field(tx->reason, sizeof(tx->reason), r, rn))
		tx->anomalies |= HTTP_ANOM_FIELD_TRUNCATED;
	return 1;
}

/* ------------------------------------------------------------------ */
/* message ends                                                        */

static void side_resync(struct http_proxy_state *s, struct http_side *sd)
{
	(void)s;
	sd->state = HS_LINE;
	sd->resync = 1;
	sd->tx = -1;
	sd->ans = 0;
}

static void request_done(struct http_proxy_state *s, struct http_side *sd)
{
	(void)s;
	sd->state = HS_LINE;
	sd->tx = -1;
}

/* The final response to the oldest pending request is complete: drop the
 * request (a ring transaction is recorded). */
static void response_done(struct http_proxy_state *s, struct http_side *sd,
			  uint64_t ts)
{
	if (sd->ans & ANS_RUN) {
		run_pop(s);
		ctr_inc(s->ctr, CTR_HTTP_UNRECORDED_RESPONSE);
	} else if ((sd->ans & ANS_PAIRED) && sd->tx >= 0 &&
		   sd->tx == s->q_head && s->q_count) {
		s->q[sd->tx].resp_done = 1;
		q_pop_emit(s, ts);
	}
	sd->tx = -1;
	sd->ans = 0;
	sd->state = HS_LINE;
}

/* Hand buffered early data to the just-opened tunnel. */
static void early_flush(struct http_proxy_state *s, uint64_t ts)
{
	if (s->early_len && s->sink.tunnel_data)
		s->sink.tunnel_data(s->sink.ctx, DIR_TO_SERVER, s->early,
				    s->early_len, ts);
	if (s->early_lost && s->sink.tunnel_gap)
		s->sink.tunnel_gap(s->sink.ctx, DIR_TO_SERVER,
				   (size_t)s->early_lost, ts);
	s->early_len = 0;
	s->early_lost = 0;
	s->early_overflow = 0;
}

static void early_discard(struct http_proxy_state *s, struct http_tx *tx)
{
	if (tx && tx->early_data_len)
		tx->anomalies |= HTTP_ANOM_EARLY_DATA_DISCARDED;
	s->early_len = 0;
	s->early_lost = 0;
	s->early_overflow = 0;
}

static void request_headers_done(struct http_proxy_state *s,
				 struct http_side *sd, uint64_t ts)
{
	struct http_tx *tx = tx_at(s, sd->tx);
	struct http_msg *m = &sd->msg;
	int is_connect = tx && tx->meth == HTTP_METHOD_CONNECT;

	if (tx) {
		if (tx->form == HTTP_FORM_ORIGIN && !tx->target_host[0] &&
		    tx->has_host_hdr) {
			/* origin form: the Host header names the server; for a
			 * CONNECT without a target it is the best guess */
			uint32_t an = 0;

			http_parse_authority(tx, tx->host_hdr,
					     strlen(tx->host_hdr),
					     is_connect ? 0 : 80, is_connect,
					     &an);
			if (is_connect)
				tx->anomalies |= HTTP_ANOM_CONNECT_HOST_HDR |
					(an & ~HTTP_ANOM_TARGET_IPV6);
			else if (tx->target_port_explicit && !s->in_tunnel &&
				 tx->target_port != s->server_port)
				/* "GET / Host: mx:25" to port 80: asks a
				 * gateway for another service */
				s->proxy_flow = 1;
		}
		if (m->chunked && m->has_cl)
			tx->anomalies |= HTTP_ANOM_TE_AND_CL;
		if (tx->anomalies & HTTP_ANOM_BAD_TARGET_MASK)
			ctr_inc(s->ctr, CTR_HTTP_BAD_TARGET);
		tx->req_done = 1;
		tx->proxy = s->proxy_flow;
		emit(s, EV_HTTP_REQUEST, tx, ts);
	}
	if (is_connect && !tx->resp_done) {
		sd->state = HS_TUNNEL_WAIT;
		s->early_len = 0;
		s->early_lost = 0;
		s->early_overflow = 0;
	} else if (m->chunked) {
		sd->state = HS_CHUNK_SIZE;
	} else if (m->has_cl && m->cl) {
		sd->state = HS_BODY;
		sd->remaining = m->cl;
	} else {
		request_done(s, sd);
	}
}

/* what a web server answers (and a proxy does not, to origin-form) */
static int web_status(unsigned st)
{
	return (st >= 200 && st < 400) || st == 401 || st == 404;
}

/* The final response headers of tx: is the flow plain web now (see
 * http_proxy.h)? Only the first transactions of a flow count. */
static int plain_web(struct http_proxy_state *s, const struct http_side *sd,
		     const struct http_tx *tx, unsigned st)
{
	const struct http_side *cl = &s->side[DIR_TO_SERVER];

	if (s->in_tunnel || s->not_web)
		return 0;
	if (!tx || !(sd->ans & ANS_PAIRED) || s->proxy_flow || tx->proxy ||
	    (tx->form != HTTP_FORM_ORIGIN && tx->form != HTTP_FORM_ASTERISK) ||
	    !web_status(st) || sd->msg.proxy_hdr) {
		s->not_web = 1;
		return 0;
	}
	if (s->web_tx < HTTP_PLAIN_WEB_TX)
		s->web_tx++;
	/* and nothing the client sent is left unexamined */
	return s->web_tx >= HTTP_PLAIN_WEB_TX && s->q_count == 1 &&
	       !s->run_count && cl->state == HS_LINE && !cl->line.total &&
	       !cl->line.discarding;
}

static void response_headers_done(struct http_proxy_state *s,
				  struct http_side *sd, uint64_t ts)
{
	struct http_tx *tx = tx_at(s, sd->tx);
	struct http_side *cl = &s->side[DIR_TO_SERVER];
	struct http_msg *m = &sd->msg;
	unsigned st = sd->code;
	int head = sd->ans & ANS_HEAD;
	int connect = tx && (sd->ans & ANS_CONNECT);

	if (st >= 100 && st < 200 && st != 101) {
		sd->state = HS_LINE; /* interim: the final response follows */
		return;
	}
	if (st == 407 || m->proxy_hdr) {
		/* a proxy's answer: the flow is proxy traffic */
		s->proxy_flow = 1;
		if (tx)
			tx->proxy = 1;
	}
	if (st == 101) {
		s->opaque = 1;
		response_done(s, sd, ts);
		sd->state = HS_OPAQUE;
		cl->state = HS_OPAQUE;
		return;
	}
	if (connect && st >= 200 && st < 300) {
		struct tunnel_info ti;

		tx->tunnel_granted = 1;
		memset(&ti, 0, sizeof(ti));
		ti.type = TUNNEL_HTTP_CONNECT;
		memcpy(ti.target_host, tx->target_host, sizeof(ti.target_host));
		ti.target_port = tx->target_port;
		response_done(s, sd, ts);
		s->tunnel = 1;
		if (s->sink.tunnel_open)
			s->sink.tunnel_open(s->sink.ctx, &ti, ts);
		early_flush(s, ts);
		sd->state = HS_TUNNEL;
		cl->state = HS_TUNNEL;
		cl->tx = -1;
		return;
	}
	if (connect && cl->state == HS_TUNNEL_WAIT && cl->tx == sd->tx) {
		/* refused: the client's early bytes never reach a tunnel */
		early_discard(s, tx);
		request_done(s, cl);
	}
	if (plain_web(s, sd, tx, st)) {
		/* record what is known, leave the flow to the bypass */
		ctr_inc(s->ctr, CTR_HTTP_BYPASS_PLAIN_WEB);
		response_done(s, sd, ts);
		s->bypass = 1;
		sd->state = HS_OPAQUE;
		cl->state = HS_OPAQUE;
		return;
	}
	if (m->chunked && m->has_cl)
		anom(tx, HTTP_ANOM_TE_AND_CL);
	if (head || st == 204 || st == 304 || (st >= 100 && st < 200)) {
		response_done(s, sd, ts);
	} else if (m->chunked) {
		sd->state = HS_CHUNK_SIZE;
	} else if (m->has_cl) {
		if (m->cl) {
			sd->state = HS_BODY;
			sd->remaining = m->cl;
		} else {
			response_done(s, sd, ts);
		}
	} else if (m->keep_alive && !m->close) {
		/* no length but explicitly kept alive: nothing can follow as
		 * a body without framing, so there is none */
		response_done(s, sd, ts);
	} else {
		sd->state = HS_READ_CLOSE;
	}
}

/* the body (or the chunked trailer) of a message ended */
static void body_done(struct http_proxy_state *s, int dir, uint64_t ts)
{
	if (dir == DIR_TO_SERVER)
		request_done(s, &s->side[dir]);
	else
		response_done(s, &s->side[dir], ts);
}

/* framing broke (bad chunk, gap in headers): flag and resync */
static void side_lost(struct http_proxy_state *s, int dir, uint32_t bit,
		      uint64_t ts)
{
	struct http_side *sd = &s->side[dir];
	struct http_tx *tx = tx_at(s, sd->tx);

	anom(tx, bit);
	if (dir == DIR_TO_CLIENT && (sd->ans & ANS_PAIRED)) {
		/* keep the pairing: the response is as done as it will get */
		response_done(s, sd, ts);
	}
	side_resync(s, sd);
}

/* ------------------------------------------------------------------ */
/* lines                                                               */

static void on_line(struct http_proxy_state *s, int dir, uint64_t ts)
{
	struct http_side *sd = &s->side[dir];
	struct http_line *l = &sd->line;
	struct http_tx *tx = tx_at(s, sd->tx);
	char *b = l->buf;
	size_t n = l->len;
	const char *tail = l->tail;
	size_t tail_n = l->tail_len;
	int cut = l->total > HTTP_LINE_BUF;

	/* strip the CR of CRLF (bare LF is accepted) */
	if (cut) {
		if (tail_n && tail[tail_n - 1] == '\r')
			tail_n--;
	} else if (n && b[n - 1] == '\r') {
		n--;
	}
	if (l->total >= HTTP_LINE_MAX)
		anom(tx, HTTP_ANOM_LINE_TOO_LONG);

	switch (sd->state) {
	case HS_LINE:
		if (!n)
			break; /* empty lines between messages are allowed */
		memset(&sd->msg, 0, sizeof(sd->msg));
		if (dir == DIR_TO_SERVER) {
			if (on_request_line(s, sd, b, n, cut, tail, tail_n, ts)) {
				struct http_tx *nt = tx_at(s, sd->tx);

				sd->resync = 0;
				sd->state = HS_HEADERS;
				if (l->total >= HTTP_LINE_MAX)
					anom(nt, HTTP_ANOM_LINE_TOO_LONG);
				if (nt->anomalies & HTTP_ANOM_TARGET_USERINFO) {
					memset(l->buf, 0, sizeof(l->buf));
					memset(l->tail, 0, sizeof(l->tail));
				}
			} else if (!s->seen_request && !sd->resync) {
				/* the first thing the client says is not HTTP:
				 * picked by port, but not ours */
				ctr_inc(s->ctr, CTR_HTTP_MALFORMED);
				s->dead = 1;
			} else if (!sd->resync) {
				ctr_inc(s->ctr, CTR_HTTP_MALFORMED);
				sd->resync = 1;
			}
		} else {
			if (on_status_line(s, sd, b, n, ts)) {
				sd->resync = 0;
				sd->state = HS_HEADERS;
			} else if (!sd->resync) {
				ctr_inc(s->ctr, CTR_HTTP_MALFORMED);
				/* on the request it would answer, if known */
				if (s->q_count && !s->run_count && !s->unpaired)
					s->q[s->q_head].anomalies |=
						HTTP_ANOM_BAD_STATUS_LINE;
				sd->resync = 1;
			}
		}
		break;
	case HS_HEADERS:
		if (!n && !cut) {
			if (dir == DIR_TO_SERVER)
				request_headers_done(s, sd, ts);
			else
				response_headers_done(s, sd, ts);
		} else if (http_on_header(s, dir, b, n, cut, tail, tail_n)) {
			/* the credentials must not stay in the state */
			memset(l->buf, 0, sizeof(l->buf));
			memset(l->tail, 0, sizeof(l->tail));
		}
		break;
	case HS_CHUNK_SIZE: {
		uint64_t v = 0;
		size_t i = 0;

		while (i < n && is_sp((unsigned char)b[i]))
			i++;
		size_t st = i;
		while (i < n && i - st < 15) {
			int c = lc((unsigned char)b[i]);

			if (is_digit(c))
				v = v * 16 + (uint64_t)(c - '0');
			else if (c >= 'a' && c <= 'f')
				v = v * 16 + (uint64_t)(c - 'a' + 10);
			else
				break;
			i++;
		}
		if (i == st || (i < n && !is_sp((unsigned char)b[i]) &&
				b[i] != ';')) {
			side_lost(s, dir, HTTP_ANOM_BAD_CHUNK, ts);
			break;
		}
		if (v) {
			sd->remaining = v;
			sd->state = HS_CHUNK_DATA;
		} else {
			sd->state = HS_TRAILER;
		}
		break;
	}
	case HS_CHUNK_CRLF:
		if (n || cut)
			side_lost(s, dir, HTTP_ANOM_BAD_CHUNK, ts);
		else
			sd->state = HS_CHUNK_SIZE;
		break;
	case HS_TRAILER:
		if (!n && !cut)
			body_done(s, dir, ts);
		break;
	default:
		break;
	}
}

/* ------------------------------------------------------------------ */
/* feed                                                                */

static void body_bytes(struct http_proxy_state *s, int dir, uint64_t k)
{
	struct http_tx *tx = tx_at(s, s->side[dir].tx);

	if (!tx)
		return;
	if (dir == DIR_TO_SERVER)
		tx->req_body_len += k;
	else
		tx->resp_body_len += k;
}

static void early_bytes(struct http_proxy_state *s, struct http_tx *tx,
			const uint8_t *d, size_t n)
{
	size_t room = HTTP_EARLY_MAX - s->early_len, c;

	if (tx) {
		if (!tx->early_data_len)
			ctr_inc(s->ctr, CTR_HTTP_EARLY_DATA);
		tx->anomalies |= HTTP_ANOM_EARLY_DATA;
		tx->early_data_len += (uint32_t)n;
	}
	/* after a loss, later bytes cannot be passed in order: count them */
	c = (s->early_lost || n > room) ? (s->early_lost ? 0 : room) : n;
	memcpy(s->early + s->early_len, d, c);
	s->early_len += (uint32_t)c;
	if (c < n) {
		s->early_lost += n - c;
		anom(tx, HTTP_ANOM_EARLY_DATA_LOST);
		if (!s->early_overflow) {
			s->early_overflow = 1;
			ctr_inc(s->ctr, CTR_HTTP_EARLY_DATA_CAP);
		}
	}
}

static void http_feed(void *st, int dir, const uint8_t *d, size_t n,
		      uint64_t ts)
{
	struct http_proxy_state *s = st;
	struct http_side *sd;

	if (dir != DIR_TO_SERVER && dir != DIR_TO_CLIENT)
		return;
	sd = &s->side[dir];
	while (n && !s->dead && !s->bypass) {
		size_t k;
		int done;

		switch (sd->state) {
		case HS_LINE:
		case HS_HEADERS:
		case HS_CHUNK_SIZE:
		case HS_CHUNK_CRLF:
		case HS_TRAILER:
			k = http_line_take(s, &sd->line, d, n, &done);
			if (done) {
				on_line(s, dir, ts);
				http_line_reset(&sd->line);
			}
			break;
		case HS_BODY:
		case HS_CHUNK_DATA:
			k = n < sd->remaining ? n : (size_t)sd->remaining;
			body_bytes(s, dir, k);
			sd->remaining -= k;
			if (!sd->remaining) {
				if (sd->state == HS_CHUNK_DATA)
					sd->state = HS_CHUNK_CRLF;
				else
					body_done(s, dir, ts);
			}
			break;
		case HS_READ_CLOSE:
			k = n;
			body_bytes(s, dir, k);
			break;
		case HS_TUNNEL_WAIT:
			k = n;
			early_bytes(s, tx_at(s, sd->tx), d, n);
			break;
		case HS_TUNNEL:
			k = n;
			if (s->sink.tunnel_data)
				s->sink.tunnel_data(s->sink.ctx, dir, d, n, ts);
			break;
		case HS_OPAQUE:
		default:
			k = n;
			break;
		}
		d += k;
		n -= k;
	}
}

static void http_gap(void *st, int dir, size_t n, uint64_t ts)
{
	struct http_proxy_state *s = st;
	struct http_side *sd;
	struct http_tx *tx;

	if ((dir != DIR_TO_SERVER && dir != DIR_TO_CLIENT) || !n || s->dead ||
	    s->bypass)
		return;
	sd = &s->side[dir];
	tx = tx_at(s, sd->tx);
	switch (sd->state) {
	case HS_TUNNEL:
		if (s->sink.tunnel_gap)
			s->sink.tunnel_gap(s->sink.ctx, dir, n, ts);
		return;
	case HS_OPAQUE:
		return;
	case HS_TUNNEL_WAIT:
		ctr_inc(s->ctr, CTR_HTTP_GAP);
		anom(tx, HTTP_ANOM_GAP);
		if (tx)
			tx->early_data_len += (uint32_t)n;
		s->early_lost += n;
		anom(tx, HTTP_ANOM_EARLY_DATA_LOST);
		return;
	case HS_READ_CLOSE:
		anom(tx, HTTP_ANOM_GAP);
		return;
	case HS_BODY:
	case HS_CHUNK_DATA:
		anom(tx, HTTP_ANOM_GAP);
		if (n < sd->remaining) {
			/* the body just gets shorter; framing still holds */
			sd->remaining -= n;
			return;
		}
		break;
	default:
		break;
	}
	ctr_inc(s->ctr, CTR_HTTP_GAP);
	int between = sd->state == HS_LINE && !sd->line.total &&
		      !sd->line.discarding;
	http_line_reset(&sd->line);
	sd->line.discarding = 0;
	if (between) {
		sd->resync = 1; /* between messages: just resync */
		return;
	}
	side_lost(s, dir, HTTP_ANOM_GAP, ts);
}

static void http_end(void *st, uint64_t ts)
{
	struct http_proxy_state *s = st;

	if (s->dead)
		return;
	/* a tx whose response reads to the close is complete now */
	struct http_side *sv = &s->side[DIR_TO_CLIENT];
	if (sv->state == HS_READ_CLOSE) {
		response_done(s, sv, ts);
	}
	while (s->q_count) {
		struct http_tx *tx = &s->q[s->q_head];

		if (s->side[DIR_TO_SERVER].state == HS_TUNNEL_WAIT &&
		    s->side[DIR_TO_SERVER].tx == s->q_head)
			early_discard(s, tx);
		if (!tx->req_done && !(tx->anomalies & HTTP_ANOM_NO_REQUEST))
			tx->anomalies |= HTTP_ANOM_INCOMPLETE;
		if (tx->resp_started && !tx->resp_done)
			tx->anomalies |= HTTP_ANOM_INCOMPLETE;
		q_pop_emit(s, ts);
	}
	s->dead = 1; /* nothing after end */
}

static void http_init(void *st, const struct proto_sink *sink,
		      struct rw_counters *ctr, const struct proto_init *pi)
{
	struct http_proxy_state *s = st;

	/* not zeroed by the pool: q[] entries are cleared when a request
	 * takes them, early[] is read only up to early_len */
	memset(s, 0, offsetof(struct http_proxy_state, q));
	if (sink)
		s->sink = *sink;
	s->ctr = ctr;
	for (int d = 0; d < 2; d++) {
		s->side[d].tx = -1;
		/* picked up midstream: wait for a start line */
		s->side[d].resync = pi && pi->midstream;
	}
	if (pi) {
		s->server_port = pi->server_port;
		s->in_tunnel = pi->in_tunnel != 0;
	}
	if (pi && pi->implicit_tls)
		s->opaque = 1, s->side[0].state = s->side[1].state = HS_OPAQUE;
}

static int http_wants_data(const void *st)
{
	const struct http_proxy_state *s = st;

	return !s->dead && !s->opaque && !s->bypass;
}

const struct proto_ops http_proxy_ops = {
	.name = "http_proxy",
	.id = APP_HTTP_PROXY,
	.state_size = sizeof(struct http_proxy_state),
	.init = http_init,
	.feed = http_feed,
	.gap = http_gap,
	.end = http_end,
	.probe = http_probe,
	.probe_tunnel = http_probe_tunnel,
	.wants_data = http_wants_data,
	.eve = http_eve,
};
