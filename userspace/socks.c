/* socks.c - SOCKS4 / 4a / 5 parser (see socks.h).
 *
 * Every SOCKS message has a length that its first bytes announce, so each
 * direction gathers one message at a time into a small buffer (struct
 * socks_side) and handles it once complete. Which message comes next is
 * decided from its first byte and from what the attempt has seen so far
 * (the engine gives both directions in capture order, so the decision does
 * not depend on how the bytes were chunked).
 */
#include "socks.h"

#include <arpa/inet.h>
#include <string.h>
#include "json.h"

/* the largest message: SOCKS4a request, 8 + 256 (user id) + 256 (host) */
#define SOCKS_MSG_MAX 528
#define SOCKS_FIELD_MAX 255  /* user id / host of SOCKS4: NUL within this */
#define SOCKS_PROBE_MAX 520

enum socks_msg {
	SM_NONE = 0,  /* between messages */
	SM_GREET,     /* c: 05 n methods... */
	SM_AUTH,      /* c: 01 ulen user plen pass (RFC 1929) */
	SM_REQ5,      /* c: 05 cmd 00 atyp addr port */
	SM_REQ4,      /* c: 04 cmd port ip user\0 [host\0] */
	SM_METHOD,    /* s: 05 method */
	SM_AUTHREP,   /* s: 01 status */
	SM_REP5,      /* s: 05 rep 00 atyp addr port */
	SM_REP4,      /* s: 00 cd port ip */
};

struct socks_side {
	uint8_t msg;          /* enum socks_msg */
	uint8_t skipping;     /* inside the password: bytes are not stored */
	uint16_t len;         /* bytes stored in buf */
	uint16_t skip;        /* password bytes still to skip */
	uint16_t nul1;        /* SOCKS4: offset just past the user id's NUL */
	uint8_t buf[SOCKS_MSG_MAX];
};

struct socks_state {
	struct proto_sink sink;
	struct rw_counters *ctr;
	uint8_t dead;         /* malformed / gap / midstream: not parsing */
	uint8_t opaque;       /* UDP ASSOCIATE, unparsed method: nothing to do */
	uint8_t tunnel;       /* granted: bytes go to the sink */
	uint8_t tx_open;      /* tx holds an attempt not yet recorded */
	uint8_t final_reply;  /* the attempt's last reply was seen */
	uint8_t early_overflow;
	uint8_t reverse;      /* roles swapped (proto_init.reversed) */
	uint32_t attempts;
	uint32_t early_len;
	uint64_t early_lost;
	struct socks_tx tx;
	struct socks_side side[2];
	uint8_t early[SOCKS_EARLY_MAX];
};

static const char *const anom_names[SOCKS_ANOM__BITS] = {
	"malformed", "gap", "early_data", "early_data_lost",
	"early_data_discarded", "incomplete", "unknown_command",
	"method_not_offered", "method_not_parsed", "reply_version",
	"field_truncated", "bad_domain", "unknown_reply", "pipelined",
};

const char *socks_anomaly_name(uint32_t bit)
{
	for (int i = 0; i < SOCKS_ANOM__BITS; i++)
		if (bit == (1u << i))
			return anom_names[i];
	return "unknown";
}

const char *socks_cmd_name(uint8_t cmd)
{
	switch (cmd) {
	case SOCKS_CMD_NONE: return NULL;
	case SOCKS_CMD_CONNECT: return "CONNECT";
	case SOCKS_CMD_BIND: return "BIND";
	case SOCKS_CMD_UDP_ASSOCIATE: return "UDP_ASSOCIATE";
	default: return "UNKNOWN";
	}
}

static void emit(struct socks_state *s, enum proto_event ev, uint64_t ts)
{
	if (s->sink.event)
		s->sink.event(s->sink.ctx, ev, &s->tx, ts);
}

static void attempt_begin(struct socks_state *s)
{
	memset(&s->tx, 0, sizeof(s->tx));
	s->tx.attempt = ++s->attempts;
	s->tx.method_chosen = -1;
	s->tx.auth_ok = -1;
	s->tx.reply_code = -1;
	s->tx.reverse = s->reverse;
	s->tx_open = 1;
	s->final_reply = 0;
	s->early_len = 0;
	s->early_lost = 0;
	s->early_overflow = 0;
}

/* The attempt is over: record it. Early data that never reached a tunnel
 * is dropped. */
static void attempt_end(struct socks_state *s, uint64_t ts)
{
	if (!s->tx_open)
		return;
	if (!s->tunnel) {
		/* (a tunnel takes them over in open_tunnel) */
		if (s->tx.early_data_len)
			s->tx.anomalies |= SOCKS_ANOM_EARLY_DATA_DISCARDED;
		s->early_len = 0;
		s->early_lost = 0;
	}
	s->tx_open = 0;
	emit(s, EV_SOCKS_RECORD, ts);
}

/* Stop parsing the flow (malformed input, gap): record what we have. */
static void socks_stop(struct socks_state *s, uint32_t bit, uint64_t ts)
{
	if (bit == SOCKS_ANOM_MALFORMED)
		ctr_inc(s->ctr, CTR_SOCKS_MALFORMED);
	if (s->tx_open) {
		s->tx.anomalies |= bit;
		if (!s->final_reply)
			s->tx.anomalies |= SOCKS_ANOM_INCOMPLETE;
		attempt_end(s, ts);
	}
	s->dead = 1;
}

static void set_host(struct socks_state *s, const uint8_t *h, size_t n)
{
	if (n > sizeof(s->tx.target_host) - 1) {
		n = sizeof(s->tx.target_host) - 1;
		s->tx.anomalies |= SOCKS_ANOM_FIELD_TRUNCATED;
		ctr_inc(s->ctr, CTR_SOCKS_STR_CAP);
	}
	memcpy(s->tx.target_host, h, n);
	s->tx.target_host[n] = '\0';
	s->tx.target_host_len = (uint16_t)n;
}

static void fmt_addr(char *out, size_t cap, int af, const uint8_t *a)
{
	if (!inet_ntop(af, a, out, (socklen_t)cap))
		out[0] = '\0';
}

static void set_ip(struct socks_state *s, int af, const uint8_t *a)
{
	char tmp[INET6_ADDRSTRLEN];

	fmt_addr(tmp, sizeof(tmp), af, a);
	set_host(s, (const uint8_t *)tmp, strlen(tmp));
}

static void set_user(struct socks_state *s, const uint8_t *u, size_t n)
{
	if (n > sizeof(s->tx.user) - 1) {
		n = sizeof(s->tx.user) - 1;
		s->tx.anomalies |= SOCKS_ANOM_FIELD_TRUNCATED;
		ctr_inc(s->ctr, CTR_SOCKS_STR_CAP);
	}
	memcpy(s->tx.user, u, n);
	s->tx.user[n] = '\0';
	s->tx.user_len = (uint16_t)n;
	s->tx.has_user = 1;
}

static int bad_domain(const uint8_t *h, size_t n)
{
	if (!n)
		return 1;
	for (size_t i = 0; i < n; i++)
		if (h[i] <= 0x20 || h[i] == 0x7f)
			return 1;
	return 0;
}

/* ------------------------------------------------------------------ */
/* message framing                                                     */

/* address part of a SOCKS5 request/reply: total length, 0 = need more,
 * -1 = unknown address type */
static int req5_len(const uint8_t *b, size_t n)
{
	if (n < 4)
		return 0;
	switch (b[3]) {
	case SOCKS_ATYP_IPV4: return 10;
	case SOCKS_ATYP_IPV6: return 22;
	case SOCKS_ATYP_DOMAIN: return n < 5 ? 0 : 7 + b[4];
	default: return -1;
	}
}

/* After one more stored byte: 1 = complete, 0 = need more, -1 = bad. */
static int msg_check(struct socks_side *sd)
{
	const uint8_t *b = sd->buf;
	size_t n = sd->len;
	int l;

	switch (sd->msg) {
	case SM_GREET:
		if (n < 2)
			return 0;
		if (!b[1])
			return -1;
		return n == 2u + b[1];
	case SM_AUTH:
		/* 01 ulen user plen: then plen password bytes are skipped */
		if (n < 2 || n < 3u + b[1])
			return 0;
		sd->skip = b[n - 1];
		sd->skipping = sd->skip > 0;
		return !sd->skipping;
	case SM_REQ5:
	case SM_REP5:
		l = req5_len(b, n);
		if (l < 0)
			return -1;
		return l && n == (size_t)l;
	case SM_REQ4:
		if (n <= 8)
			return 0;
		if (!sd->nul1) {
			if (b[n - 1] == 0) {
				sd->nul1 = (uint16_t)n;
				/* SOCKS4a: 0.0.0.x, x != 0, a host follows */
				return !(b[4] == 0 && b[5] == 0 && b[6] == 0 &&
					 b[7] != 0);
			}
			return n - 8 > SOCKS_FIELD_MAX ? -1 : 0;
		}
		if (b[n - 1] == 0)
			return 1;
		return n - sd->nul1 > SOCKS_FIELD_MAX ? -1 : 0;
	case SM_METHOD:
	case SM_AUTHREP:
		return n == 2;
	case SM_REP4:
		return n == 8;
	default:
		return -1;
	}
}

/* ------------------------------------------------------------------ */
/* message handlers                                                    */

static void open_tunnel(struct socks_state *s, uint64_t ts)
{
	struct tunnel_info ti;

	memset(&ti, 0, sizeof(ti));
	ti.type = s->tx.version == 4 ? TUNNEL_SOCKS4 : TUNNEL_SOCKS5;
	memcpy(ti.target_host, s->tx.target_host, sizeof(ti.target_host));
	ti.target_port = s->tx.target_port;
	s->tunnel = 1;
	attempt_end(s, ts);
	if (s->sink.tunnel_open)
		s->sink.tunnel_open(s->sink.ctx, &ti, ts);
	if (s->early_len && s->sink.tunnel_data)
		s->sink.tunnel_data(s->sink.ctx, DIR_TO_SERVER, s->early,
				    s->early_len, ts);
	if (s->early_lost && s->sink.tunnel_gap)
		s->sink.tunnel_gap(s->sink.ctx, DIR_TO_SERVER,
				   (size_t)s->early_lost, ts);
	s->early_len = 0;
	s->early_lost = 0;
}

/* the request's command got a reply: grant or refuse */
static void on_reply(struct socks_state *s, int granted, uint64_t ts)
{
	struct socks_tx *tx = &s->tx;

	ctr_inc(s->ctr, CTR_SOCKS_REPLIES);
	tx->n_replies++;
	if (granted && tx->command == SOCKS_CMD_BIND && tx->n_replies == 1)
		return; /* listening: the second reply reports the peer */
	s->final_reply = 1;
	tx->granted = (uint8_t)granted;
	if (!granted) {
		attempt_end(s, ts);
		return;
	}
	if (tx->command == SOCKS_CMD_CONNECT || tx->command == SOCKS_CMD_BIND) {
		/* keep the early bytes for the tunnel: open_tunnel records */
		open_tunnel(s, ts);
		return;
	}
	/* UDP ASSOCIATE: the datagrams are elsewhere; nothing left here */
	attempt_end(s, ts);
	s->opaque = 1;
}

static void set_bound(struct socks_state *s, int af, const uint8_t *a,
		      const uint8_t *port)
{
	fmt_addr(s->tx.bound_host, sizeof(s->tx.bound_host), af, a);
	s->tx.bound_port = (uint16_t)(port[0] << 8 | port[1]);
	s->tx.has_bound = 1;
}

static void on_message(struct socks_state *s, struct socks_side *sd,
		       uint64_t ts)
{
	struct socks_tx *tx = &s->tx;
	const uint8_t *b = sd->buf;
	size_t n = sd->len;

	switch (sd->msg) {
	case SM_GREET:
		tx->version = 5;
		tx->greet_seen = 1;
		tx->n_methods_total = b[1];
		for (size_t i = 0; i < b[1] && i < SOCKS_METHODS_MAX; i++)
			tx->methods_offered[tx->n_methods++] = b[2 + i];
		break;
	case SM_AUTH:
		/* only the name: the password was never stored */
		tx->auth_sent = 1;
		set_user(s, b + 2, b[1]);
		break;
	case SM_REQ5:
		tx->version = 5;
		tx->command = b[1];
		tx->atyp = b[3];
		if (b[3] == SOCKS_ATYP_IPV4) {
			set_ip(s, AF_INET, b + 4);
		} else if (b[3] == SOCKS_ATYP_IPV6) {
			set_ip(s, AF_INET6, b + 4);
		} else {
			set_host(s, b + 5, b[4]);
			if (bad_domain(b + 5, b[4]))
				tx->anomalies |= SOCKS_ANOM_BAD_DOMAIN;
		}
		tx->target_port = (uint16_t)(b[n - 2] << 8 | b[n - 1]);
		goto request;
	case SM_REQ4:
		tx->version = 4;
		tx->command = b[1];
		tx->atyp = SOCKS_ATYP_IPV4;
		tx->target_port = (uint16_t)(b[2] << 8 | b[3]);
		set_user(s, b + 8, (size_t)(sd->nul1 - 9));
		if (sd->nul1 < n) {
			tx->is_4a = 1;
			tx->atyp = SOCKS_ATYP_DOMAIN;
			set_host(s, b + sd->nul1, n - sd->nul1 - 1);
			if (bad_domain(b + sd->nul1, n - sd->nul1 - 1))
				tx->anomalies |= SOCKS_ANOM_BAD_DOMAIN;
		} else {
			set_ip(s, AF_INET, b + 4);
		}
		if (!tx->user_len)
			tx->has_user = 0;
		goto request;
	case SM_METHOD:
		tx->method_chosen = b[1];
		if (b[1] != 0xff && !memchr(tx->methods_offered, b[1],
					    tx->n_methods) &&
		    tx->n_methods == tx->n_methods_total)
			tx->anomalies |= SOCKS_ANOM_METHOD_NOT_OFFERED;
		if (b[1] == 0xff) {
			attempt_end(s, ts); /* the client may try again */
		} else if (b[1] != 0x00 && b[1] != 0x02) {
			tx->anomalies |= SOCKS_ANOM_METHOD_UNPARSED;
			attempt_end(s, ts);
			s->opaque = 1;
		}
		break;
	case SM_AUTHREP:
		if (b[0] != 1)
			tx->anomalies |= SOCKS_ANOM_REPLY_VERSION;
		tx->auth_ok = b[1] == 0;
		if (!tx->auth_ok) {
			ctr_inc(s->ctr, CTR_SOCKS_AUTH_FAIL);
			attempt_end(s, ts);
		}
		break;
	case SM_REP5:
		tx->reply_code = b[1];
		if (b[1] > 8)
			tx->anomalies |= SOCKS_ANOM_UNKNOWN_REPLY;
		if (b[3] == SOCKS_ATYP_IPV4)
			set_bound(s, AF_INET, b + 4, b + n - 2);
		else if (b[3] == SOCKS_ATYP_IPV6)
			set_bound(s, AF_INET6, b + 4, b + n - 2);
		else {
			size_t l = b[4] < SOCKS_BOUND_MAX - 1 ? b[4] :
				   SOCKS_BOUND_MAX - 1;
			memcpy(tx->bound_host, b + 5, l);
			tx->bound_host[l] = '\0';
			tx->bound_port = (uint16_t)(b[n - 2] << 8 | b[n - 1]);
			tx->has_bound = 1;
		}
		on_reply(s, b[1] == 0, ts);
		break;
	case SM_REP4:
		if (b[0] != 0)
			tx->anomalies |= SOCKS_ANOM_REPLY_VERSION;
		tx->reply_code = b[1];
		if (b[1] < 0x5a || b[1] > 0x5d)
			tx->anomalies |= SOCKS_ANOM_UNKNOWN_REPLY;
		set_bound(s, AF_INET, b + 4, b + 2);
		on_reply(s, b[1] == 0x5a, ts);
		break;
	default:
		break;
	}
	return;
request:
	if (tx->command < SOCKS_CMD_CONNECT ||
	    tx->command > SOCKS_CMD_UDP_ASSOCIATE)
		tx->anomalies |= SOCKS_ANOM_UNKNOWN_COMMAND;
	tx->req_seen = 1;
	ctr_inc(s->ctr, CTR_SOCKS_REQUESTS);
	emit(s, EV_SOCKS_REQUEST, ts);
}

/* Which message starts with byte c in direction dir; SM_NONE = malformed */
static int msg_start(struct socks_state *s, int dir, uint8_t c)
{
	struct socks_tx *tx = &s->tx;

	if (dir == DIR_TO_SERVER) {
		if (!s->tx_open) {
			if (c != 4 && c != 5)
				return SM_NONE; /* not SOCKS: no attempt to record */
			attempt_begin(s);
			return c == 5 ? SM_GREET : SM_REQ4;
		}
		if (tx->version != 5 || tx->req_seen)
			return SM_NONE;
		if (c == 1 && !tx->auth_sent &&
		    (tx->method_chosen < 0 || tx->method_chosen == 2))
			return SM_AUTH;
		if (c == 5) {
			if (tx->method_chosen < 0 ||
			    (tx->method_chosen == 2 && tx->auth_ok != 1))
				tx->anomalies |= SOCKS_ANOM_PIPELINED;
			return SM_REQ5;
		}
		return SM_NONE;
	}
	if (!s->tx_open)
		return SM_NONE; /* the server talks out of turn */
	if (tx->version == 4)
		return tx->req_seen && !s->final_reply && (c == 0 || c == 4) ?
		       SM_REP4 : SM_NONE;
	if (tx->greet_seen && tx->method_chosen < 0)
		return c == 5 ? SM_METHOD : SM_NONE;
	if (tx->method_chosen == 2 && tx->auth_ok < 0)
		/* RFC 1929 says 01; some servers answer 05 */
		return c == 1 || c == 5 ? SM_AUTHREP : SM_NONE;
	if (tx->req_seen && !s->final_reply)
		return c == 5 ? SM_REP5 : SM_NONE;
	return SM_NONE;
}

/* ------------------------------------------------------------------ */
/* feed                                                                */

static void early_bytes(struct socks_state *s, const uint8_t *d, size_t n)
{
	size_t room = SOCKS_EARLY_MAX - s->early_len, c;

	if (!s->tx.early_data_len)
		ctr_inc(s->ctr, CTR_SOCKS_EARLY_DATA);
	s->tx.anomalies |= SOCKS_ANOM_EARLY_DATA;
	s->tx.early_data_len += (uint32_t)n;
	/* after a loss, later bytes cannot be passed in order */
	c = s->early_lost ? 0 : (n < room ? n : room);
	memcpy(s->early + s->early_len, d, c);
	s->early_len += (uint32_t)c;
	if (c < n) {
		s->early_lost += n - c;
		s->tx.anomalies |= SOCKS_ANOM_EARLY_DATA_LOST;
		if (!s->early_overflow) {
			s->early_overflow = 1;
			ctr_inc(s->ctr, CTR_SOCKS_EARLY_DATA_CAP);
		}
	}
}

static void socks_feed(void *st, int dir, const uint8_t *d, size_t n,
		       uint64_t ts)
{
	struct socks_state *s = st;
	struct socks_side *sd;

	if (dir != DIR_TO_SERVER && dir != DIR_TO_CLIENT)
		return;
	sd = &s->side[dir];
	while (n && !s->dead && !s->opaque) {
		if (s->tunnel) {
			if (s->sink.tunnel_data)
				s->sink.tunnel_data(s->sink.ctx, dir, d, n, ts);
			return;
		}
		if (dir == DIR_TO_SERVER && sd->msg == SM_NONE && s->tx_open &&
		    s->tx.req_seen && !s->final_reply) {
			/* data before the reply: held for the tunnel */
			early_bytes(s, d, n);
			return;
		}
		if (sd->msg == SM_NONE) {
			sd->msg = (uint8_t)msg_start(s, dir, d[0]);
			sd->len = 0;
			sd->nul1 = 0;
			sd->skipping = 0;
			if (sd->msg == SM_NONE) {
				socks_stop(s, SOCKS_ANOM_MALFORMED, ts);
				return;
			}
		}
		if (sd->skipping) {
			/* password bytes: counted down, never copied */
			size_t k = n < sd->skip ? n : sd->skip;

			sd->skip = (uint16_t)(sd->skip - k);
			d += k;
			n -= k;
			if (sd->skip)
				return;
			sd->skipping = 0;
		} else {
			int r;

			sd->buf[sd->len++] = *d++;
			n--;
			r = msg_check(sd);
			if (r < 0) {
				socks_stop(s, SOCKS_ANOM_MALFORMED, ts);
				return;
			}
			if (!r || sd->skipping)
				continue;
		}
		on_message(s, sd, ts);
		sd->msg = SM_NONE;
		sd->len = 0;
	}
}

static void socks_gap(void *st, int dir, size_t n, uint64_t ts)
{
	struct socks_state *s = st;

	if ((dir != DIR_TO_SERVER && dir != DIR_TO_CLIENT) || !n || s->dead ||
	    s->opaque)
		return;
	if (s->tunnel) {
		if (s->sink.tunnel_gap)
			s->sink.tunnel_gap(s->sink.ctx, dir, n, ts);
		return;
	}
	if (dir == DIR_TO_SERVER && s->side[dir].msg == SM_NONE &&
	    s->tx_open && s->tx.req_seen && !s->final_reply) {
		/* early data lost: the tunnel gets a gap if it opens */
		s->tx.early_data_len += (uint32_t)n;
		s->tx.anomalies |= SOCKS_ANOM_EARLY_DATA_LOST |
				   SOCKS_ANOM_GAP;
		s->early_lost += n;
		ctr_inc(s->ctr, CTR_SOCKS_GAP);
		return;
	}
	/* a binary handshake cannot be resynced */
	ctr_inc(s->ctr, CTR_SOCKS_GAP);
	socks_stop(s, SOCKS_ANOM_GAP, ts);
}

static void socks_end(void *st, uint64_t ts)
{
	struct socks_state *s = st;

	if (s->tx_open) {
		if (!s->final_reply)
			s->tx.anomalies |= SOCKS_ANOM_INCOMPLETE;
		attempt_end(s, ts);
	}
	s->dead = 1;
}

static void socks_init(void *st, const struct proto_sink *sink,
		       struct rw_counters *ctr, const struct proto_init *pi)
{
	struct socks_state *s = st;

	memset(s, 0, sizeof(*s));
	if (sink)
		s->sink = *sink;
	s->ctr = ctr;
	/* the handshake is at the start of the flow: without it there is
	 * nothing to follow (the tunnel's content cannot be framed) */
	if (pi && (pi->midstream || pi->implicit_tls))
		s->dead = 1;
	s->reverse = pi && pi->reversed;
}

static int socks_wants_data(const void *st)
{
	const struct socks_state *s = st;

	return !s->dead && !s->opaque;
}

/* ------------------------------------------------------------------ */
/* probe                                                               */

static enum probe_result probe_reply4(const uint8_t *srv, size_t sn)
{
	if (!sn)
		return PROBE_MORE;
	if (srv[0] != 0 && srv[0] != 4)
		return PROBE_NO;
	if (sn >= 2 && (srv[1] < 0x5a || srv[1] > 0x5d))
		return PROBE_NO;
	return sn >= 8 ? PROBE_YES : PROBE_MORE;
}

static enum probe_result socks_probe_fwd(const uint8_t *cli, size_t cn,
					 const uint8_t *srv, size_t sn);

/* A SOCKS5 greeting at the start of b: its length, 0 if b cannot start
 * one, -1 if more bytes are needed to say. */
static int greet5_len(const uint8_t *b, size_t n)
{
	size_t need;

	if (!n)
		return -1;
	if (b[0] != 5)
		return 0;
	if (n < 2)
		return -1;
	if (!b[1] || b[1] > 9)
		return 0;
	need = 2u + b[1];
	for (size_t i = 2; i < n && i < need; i++)
		if (b[i] > 0x09 && (b[i] < 0x80 || b[i] == 0xff))
			return 0;
	return n < need ? -1 : (int)need;
}

/* Reverse SOCKS5 (backconnect proxies): the side that accepted the TCP
 * connection sends the greeting. The connecting side (the bot) may have
 * said something of its own first (a login to its controller: skipped by
 * the engine), then answers as a SOCKS server. Believed when the greeting
 * is followed by a well-formed request, or when the connecting side's
 * last two bytes are the method reply for an offered method. */
static enum probe_result socks_probe_reverse(const uint8_t *cli, size_t cn,
					     const uint8_t *srv, size_t sn)
{
	int g;

	/* the connecting side must not have opened as a SOCKS client
	 * itself, and a bot's login before the greeting is short (more is
	 * some other protocol talking); then the accepting side decides:
	 * until it speaks, this costs a short client-first flow one round
	 * trip of detection */
	if (cn > 64 || (cn && greet5_len(cli, cn) != 0))
		return PROBE_NO;
	if (!sn)  /* a malformed SOCKS client is not a bot's login */
		return cn && (cli[0] == 4 || cli[0] == 5) ? PROBE_NO :
							   PROBE_MORE;
	g = greet5_len(srv, sn);
	if (g <= 0)
		return g < 0 && sn < SOCKS_PROBE_MAX ? PROBE_MORE : PROBE_NO;
	if ((size_t)g < sn) {
		const uint8_t *r = srv + g;
		size_t rn = sn - (size_t)g;

		if (r[0] != 5)
			return PROBE_NO;
		if (rn < 4)
			return PROBE_MORE;
		if (r[1] < 1 || r[1] > 3 || r[2] != 0 ||
		    (r[3] != 1 && r[3] != 3 && r[3] != 4))
			return PROBE_NO;
		return PROBE_YES_REVERSED;
	}
	if (cn >= 2 && cli[cn - 2] == 5 &&
	    memchr(srv + 2, cli[cn - 1], srv[1]))
		return PROBE_YES_REVERSED;
	return PROBE_MORE;
}

static enum probe_result socks_probe(const uint8_t *cli, size_t cn,
				     const uint8_t *srv, size_t sn)
{
	enum probe_result f = socks_probe_fwd(cli, cn, srv, sn);

	if (f != PROBE_NO)
		return f;
	return socks_probe_reverse(cli, cn, srv, sn);
}

static enum probe_result socks_probe_fwd(const uint8_t *cli, size_t cn,
					 const uint8_t *srv, size_t sn)
{
	if (!cn)
		return sn ? PROBE_NO : PROBE_MORE; /* server spoke first */
	if (cli[0] == 5) {
		size_t need;

		if (cn < 2)
			return PROBE_MORE;
		if (!cli[1])
			return PROBE_NO;
		need = 2u + cli[1];
		for (size_t i = 2; i < cn && i < need; i++)
			if (cli[i] > 0x09 && (cli[i] < 0x80 || cli[i] == 0xff))
				return PROBE_NO;
		if (cn < need)
			return PROBE_MORE;
		if (sn && (srv[0] != 5 || (sn >= 2 && srv[1] != 0xff &&
					   !memchr(cli + 2, srv[1], cli[1]))))
			return PROBE_NO;
		if (cn == need)
			return PROBE_YES;
		/* optimistic client: auth or request right behind */
		return cli[need] == 1 || cli[need] == 5 ? PROBE_YES : PROBE_NO;
	}
	if (cli[0] == 4) {
		size_t i, end;

		if (cn >= 2 && cli[1] != 1 && cli[1] != 2)
			return PROBE_NO;
		if (cn < 9)
			return PROBE_MORE;
		if ((cli[2] | cli[3]) == 0)
			return PROBE_NO; /* port 0 */
		if ((cli[4] | cli[5] | cli[6] | cli[7]) == 0)
			return PROBE_NO; /* 0.0.0.0 */
		for (i = 8; i < cn && cli[i]; i++)
			if (i - 8 >= SOCKS_FIELD_MAX || cli[i] < 0x20)
				return PROBE_NO;
		if (i == cn)
			return cn < SOCKS_PROBE_MAX ? PROBE_MORE : PROBE_NO;
		end = i + 1;
		if (cli[4] == 0 && cli[5] == 0 && cli[6] == 0) {
			size_t h = end;

			for (i = h; i < cn && cli[i]; i++)
				if (i - h >= SOCKS_FIELD_MAX || cli[i] <= 0x20)
					return PROBE_NO;
			if (i == cn)
				return PROBE_MORE;
			if (i == h)
				return PROBE_NO; /* empty host */
			end = i + 1;
		}
		if (cn == end)
			return sn ? probe_reply4(srv, sn) : PROBE_YES;
		/* bytes behind the request: believe it only with a reply */
		return probe_reply4(srv, sn) == PROBE_YES ? PROBE_YES :
		       sn ? PROBE_NO : PROBE_MORE;
	}
	return PROBE_NO;
}

/* ------------------------------------------------------------------ */
/* eve                                                                 */

static const char *socks_eve(struct json *j, enum proto_event type,
			     const void *obj)
{
	const struct socks_tx *tx = obj;
	const char *cmd;

	if (type != EV_SOCKS_RECORD || !tx)
		return NULL;
	json_obj_open(j, "socks");
	json_u64(j, "version", tx->version);
	json_u64(j, "attempt", tx->attempt);
	if (tx->is_4a)
		json_bool(j, "socks4a", 1);
	cmd = socks_cmd_name(tx->command);
	if (cmd)
		json_str(j, "command", cmd);
	else
		json_null(j, "command");
	if (tx->req_seen) {
		json_strn(j, "target_host", tx->target_host,
			  tx->target_host_len);
		json_u64(j, "target_port", tx->target_port);
		json_str(j, "target_type", tx->atyp == SOCKS_ATYP_DOMAIN ?
			 "domain" : tx->atyp == SOCKS_ATYP_IPV6 ? "ipv6" :
			 "ipv4");
	} else {
		json_null(j, "target_host");
		json_null(j, "target_port");
	}
	if (tx->version == 5) {
		json_arr_open(j, "methods_offered");
		for (int i = 0; i < tx->n_methods; i++)
			json_u64(j, NULL, tx->methods_offered[i]);
		json_arr_close(j);
		if (tx->n_methods_total > tx->n_methods)
			json_u64(j, "methods_offered_count",
				 tx->n_methods_total);
		if (tx->method_chosen >= 0)
			json_u64(j, "method_chosen", (uint64_t)tx->method_chosen);
		else
			json_null(j, "method_chosen");
	}
	if (tx->has_user)
		json_strn(j, "user", tx->user, tx->user_len);
	else
		json_null(j, "user");
	if (tx->auth_ok >= 0)
		json_bool(j, "auth_ok", tx->auth_ok);
	else
		json_null(j, "auth_ok");
	if (tx->reply_code >= 0)
		json_u64(j, "reply_code", (uint64_t)tx->reply_code);
	else
		json_null(j, "reply_code");
	json_bool(j, "granted", tx->granted);
	if (tx->reverse)
		json_bool(j, "reverse", 1);
	if (tx->has_bound) {
		json_str(j, "bound_host", tx->bound_host);
		json_u64(j, "bound_port", tx->bound_port);
	}
	if (tx->early_data_len)
		json_u64(j, "early_data", tx->early_data_len);
	json_flags(j, "anomalies", tx->anomalies, anom_names, SOCKS_ANOM__BITS);
	json_obj_close(j);
	return "socks";
}

const struct proto_ops socks_ops = {
	.name = "socks",
	.id = APP_SOCKS,
	.state_size = sizeof(struct socks_state),
	.init = socks_init,
	.feed = socks_feed,
	.gap = socks_gap,
	.end = socks_end,
	.probe = socks_probe,
	.wants_data = socks_wants_data,
	.eve = socks_eve,
};
