/* mkbench.c - write a large, realistic, deterministic mixed TCP capture.
 *
 *   mkbench [-o FILE] [-s SIZE_MB] [-c CONCURRENT] [-S SEED] [-q]
 *
 * The benchmark capture for `make bench` is generated, never downloaded:
 * the same seed and size give the same file, byte for byte. Defaults:
 * 1024 MiB, 2000 flows active at a time, seed 1, written to bench.pcap.
 *
 * What is in it (complete TCP conversations: handshake, consistent
 * sequence and acknowledgement numbers, delayed ACKs every second segment,
 * MSS-sized segments, FIN exchange; Ethernet + IPv4, ~10% IPv6):
 *   https          TLS-like conversations to 443 (ClientHello with SNI,
 *                  then random "encrypted" bulk): most of the bytes
 *   http           keep-alive GETs to port 80 with responses
 *   smtp           inbound mail to an MX: greeting, EHLO with a multi-line
 *                  250, pipelined MAIL/RCPT x k/DATA (some lock-step), 354,
 *                  a 2 KB..100 KB MIME body ending in the dot terminator,
 *                  "250 queued", QUIT/221; some recipients unknown (550)
 *   smtp-relay     relay probes: RCPT to a foreign domain refused with
 *                  554 5.7.1 (a few accepted: an open relay)
 *   connect-*      HTTP CONNECT through a proxy on 3128/8080: SMTP to port
 *                  25 inside the tunnel, TLS to 443 inside it, or 403
 *   socks-*        SOCKS5 CONNECT to port 25 (SMTP inside) or to 443
 * Flows run interleaved, CONCURRENT at a time, so the sensor's flow table
 * holds thousands of live flows; tens of thousands are written in all.
 * Timestamps follow a simple model: per-flow client- and server-side
 * round-trip times, server think times, a congestion window that doubles
 * per round trip, and a 1 Gbit/s link that serialises the packets.
 *
 * Address plan (what bench/run.sh tells relaywatch with --set):
 *   internal web clients   10.1.0.0/16        2001:db8:1000::/48
 *   internal MX (port 25)  10.0.0.25-28       2001:db8:1002::19-1c
 *   internal open proxies  10.0.1.10-13       2001:db8:1002::10a-10d
 *                          (3128/8080 HTTP CONNECT, 1080 SOCKS5)
 *   outside clients        198.18.0.0/16      2001:db8:ff01::/48
 *   outside servers        203.0.113.0/24, 198.51.100.0/24, 2001:db8:ff03::/48
 *   local mail domain      example.net; foreign ones end in .example
 *
 * Only plain stdio: the pcap format (classic, microsecond, LINKTYPE_ETHERNET)
 * is written by hand. A summary of what was generated goes to stdout.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- deterministic PRNG: xoshiro256** seeded by splitmix64 ---- */

static uint64_t rs[4];

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rnd(void)
{
	uint64_t r = rotl(rs[1] * 5, 7) * 9, t = rs[1] << 17;
	rs[2] ^= rs[0];
	rs[3] ^= rs[1];
	rs[1] ^= rs[2];
	rs[0] ^= rs[3];
	rs[2] ^= t;
	rs[3] = rotl(rs[3], 45);
	return r;
}

/* uniform in [lo, hi] */
static uint64_t rnd_range(uint64_t lo, uint64_t hi)
{
	return lo + rnd() % (hi - lo + 1);
}

static double rnd_unit(void)
{
	return (double)(rnd() >> 11) * (1.0 / 9007199254740992.0);
}

/* The Makefile links tools without libm, so logarithms are piecewise
 * linear between powers of two: lg2(m * 2^e) = e + (m - 1) and its exact
 * inverse pow2(). Plenty for shaping size and time distributions. */
static double lg2(double x)   /* x >= 1 */
{
	uint64_t i = (uint64_t)x;
	int e = 63 - __builtin_clzll(i ? i : 1);
	return e + (x / (double)(1ull << e) - 1.0);
}

static double pow2(double y)  /* y >= 0 */
{
	int e = (int)y;
	return (double)(1ull << e) * (1.0 + (y - e));
}

/* log-uniform in [lo, hi] (lo >= 1): many small values, a long tail */
static uint64_t rnd_logu(double lo, double hi)
{
	double a = lg2(lo), b = lg2(hi);
	return (uint64_t)pow2(a + rnd_unit() * (b - a));
}

/* true with probability pm per mille */
static int rnd_pm(unsigned pm)
{
	return rnd() % 1000 < pm;
}

/* exponential with the given mean: -ln(1 - u) = ln 2 * lg2(1 / (1 - u)) */
static uint64_t rnd_exp_ns(double mean_ns)
{
	return (uint64_t)(0.6931471805599453 * lg2(1.0 / (1.0 - rnd_unit())) *
			  mean_ns);
}

/* ---- content pools ---- */

#define RPOOL (1u << 20)          /* random bytes for "encrypted" bulk */
#define B64_LINE 78               /* 76 base64 chars + CRLF */
#define B64_LINES 1024
#define B64POOL (B64_LINE * B64_LINES)
static uint8_t rpool[RPOOL];
static uint8_t b64pool[B64POOL];

static void pools_init(void)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	for (size_t i = 0; i < RPOOL; i += 8) {
		uint64_t v = rnd();
		memcpy(rpool + i, &v, 8);
	}
	for (size_t l = 0; l < B64_LINES; l++) {
		uint8_t *p = b64pool + l * B64_LINE;
		for (int i = 0; i < 76; i++)
			p[i] = (uint8_t)b64[rnd() & 63];
		p[76] = '\r';
		p[77] = '\n';
	}
}

/* copy n bytes of a pool starting at pos (wrapping) */
static void pool_copy(uint8_t *dst, const uint8_t *pool, size_t plen,
		      uint64_t pos, size_t n)
{
	pos %= plen;
	while (n) {
		size_t k = plen - pos < n ? plen - pos : n;
		memcpy(dst, pool + pos, k);
		dst += k;
		n -= k;
		pos = 0;
	}
}

/* ---- flows ---- */

enum kind {
	K_HTTPS, K_HTTP, K_SMTP, K_SMTP_RELAY, K_CONNECT_SMTP, K_CONNECT_TLS,
	K_CONNECT_DENIED, K_SOCKS_SMTP, K_SOCKS_TLS, K__COUNT
};

static const char *const kind_name[K__COUNT] = {
	"https", "http", "smtp", "smtp-relay-probe", "connect-smtp",
	"connect-tls", "connect-denied", "socks5-smtp", "socks5-tls",
};

/* flows started per 1000, by kind */
static const unsigned kind_weight[K__COUNT] = {
	380, 250, 250, 50, 20, 15, 5, 25, 5,
};

enum { MC_LIT, MC_RAND, MC_B64, MC_TLS };
#define TLS_REC (5 + 16384)       /* application-data record on the wire */
enum { DC = 0, DS = 1 };   /* direction: client sends, server sends */
enum { PH_SYN, PH_SYNACK, PH_ACK3, PH_DATA, PH_FIN_A, PH_FIN_B, PH_LAST,
       PH_DONE };

#define MAXMSG 112
#define ARENA 8192
#define NO_ACK 0xff

/* One application write (or part of one: `cont` glues a message to the
 * previous one so the segments run across the boundary). */
struct msg {
	uint32_t len;
	uint32_t lit;       /* arena offset (MC_LIT) or pool position */
	/* MC_TLS: len bytes of TLS application-data records, 16 KB each */
	uint32_t think_us;  /* before the first byte, unless cont */
	uint8_t dir, content, cont;
};

struct flow {
	uint64_t next_ns;
	uint64_t pend_ns;       /* delay after the pending pure ACK */
	uint64_t est_bytes;     /* what the budget counted for this flow */
	int kind;
	uint8_t v6, phase, closer, ack_from;
	uint8_t ip[2][16];
	uint16_t port[2];
	uint32_t seq[2];
	uint32_t unacked[2];    /* segments side d received and has not ACKed */
	uint32_t tsval[2];
	uint32_t tsbase[2];
	uint16_t ipid[2];
	uint32_t flowlabel;
	uint32_t rtt_c_us, rtt_s_us;
	uint32_t cwnd, burst;
	uint16_t mss;
	uint16_t nmsg, cur;
	uint32_t off;
	uint32_t alen;
	struct msg m[MAXMSG];
	char arena[ARENA];
};

/* ---- statistics printed at the end ---- */

static struct {
	uint64_t flows[K__COUNT], bytes[K__COUNT];
	uint64_t v6, pkts, data_pkts, ack_pkts, capbytes, filebytes, payload;
	uint64_t smtp_sessions, smtp_tx, smtp_bodies, smtp_body_bytes;
	uint64_t rcpt_ok, rcpt_unknown, relay_refused, relay_accepted;
	uint64_t http_requests, tunnels_ok, tunnels_denied;
	uint64_t first_ns, last_ns;
} st;

/* ---- pcap output ---- */

#define OBUF (16u << 20)
static uint8_t *obuf;
static size_t olen;
static FILE *out;
static const char *out_path;
static uint64_t base_sec = 1700000000;   /* 2023-11-14, fixed */
static uint64_t link_free_ns;

static void out_flush(void)
{
	if (olen && fwrite(obuf, 1, olen, out) != olen) {
		fprintf(stderr, "mkbench: write %s: %s\n", out_path,
			strerror(errno));
		exit(1);
	}
	st.filebytes += olen;
	olen = 0;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Internet checksum partial sum; byte order independent as long as the
 * folded result is stored the same way it was summed (native). */
static uint64_t csum_part(uint64_t sum, const uint8_t *p, size_t n)
{
	uint32_t w;
	while (n >= 4) {
		memcpy(&w, p, 4);
		sum += w;
		p += 4;
		n -= 4;
	}
	if (n >= 2) {
		uint16_t h;
		memcpy(&h, p, 2);
		sum += h;
		p += 2;
		n -= 2;
	}
	if (n) {
		uint8_t last[2] = { p[0], 0 };
		uint16_t h;
		memcpy(&h, last, 2);
		sum += h;
	}
	return sum;
}

static uint16_t csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

enum { TH_FIN = 1, TH_SYN = 2, TH_RST = 4, TH_PSH = 8, TH_ACK = 16 };

static const uint8_t mac_c[6] = { 0x02, 0x00, 0x5e, 0x10, 0x00, 0x01 };
static const uint8_t mac_s[6] = { 0x02, 0x00, 0x5e, 0x20, 0x00, 0x02 };

/* Append one packet from side d of f at ts_ns (or later, when the link is
 * busy; f->next_ns gets the real time). fill writes the plen payload bytes
 * in place, before the checksum is computed over them. Advances seq[d]. */
typedef void (*fill_fn)(struct flow *f, uint8_t *dst, uint32_t n);

static void emit(struct flow *f, int d, unsigned flags, uint32_t plen,
		 fill_fn fill, uint64_t ts_ns)
{
	int o = 1 - d;
	int syn = flags & TH_SYN;
	uint32_t thl = syn ? 40 : 32;
	uint32_t iphl = f->v6 ? 40 : 20;
	uint32_t caplen = 14 + iphl + thl + plen;
	uint8_t *rec, *eth, *ip, *th, *pl;
	uint64_t sum;
	uint8_t pseudo[40];
	size_t pslen;
	uint64_t t;

	if (OBUF - olen < caplen + 16)
		out_flush();
	rec = obuf + olen;
	/* serialise on the link: never two packets at once */
	t = ts_ns > link_free_ns ? ts_ns : link_free_ns;
	link_free_ns = t + (uint64_t)(caplen + 24) * 8;   /* 1 Gbit/s */
	f->next_ns = t;   /* callers add their delay to the real send time */
	if (!st.pkts)
		st.first_ns = t;
	st.last_ns = t;
	{
		uint32_t sec = (uint32_t)(base_sec + t / 1000000000u);
		uint32_t usec = (uint32_t)(t % 1000000000u / 1000u);
		memcpy(rec, &sec, 4);         /* native byte order: magic says */
		memcpy(rec + 4, &usec, 4);
		memcpy(rec + 8, &caplen, 4);
		memcpy(rec + 12, &caplen, 4);
	}
	eth = rec + 16;
	memcpy(eth, d == DC ? mac_s : mac_c, 6);
	memcpy(eth + 6, d == DC ? mac_c : mac_s, 6);
	ip = eth + 14;
	if (f->v6) {
		put16(eth + 12, 0x86dd);
		put32(ip, 0x60000000u | f->flowlabel);
		put16(ip + 4, (uint16_t)(thl + plen));
		ip[6] = 6;
		ip[7] = d == DC ? 64 : 56;
		memcpy(ip + 8, f->ip[d], 16);
		memcpy(ip + 24, f->ip[o], 16);
		memcpy(pseudo, f->ip[d], 16);
		memcpy(pseudo + 16, f->ip[o], 16);
		put32(pseudo + 32, thl + plen);
		pseudo[36] = pseudo[37] = pseudo[38] = 0;
		pseudo[39] = 6;
		pslen = 40;
	} else {
		put16(eth + 12, 0x0800);
		ip[0] = 0x45;
		ip[1] = 0;
		put16(ip + 2, (uint16_t)(20 + thl + plen));
		put16(ip + 4, f->ipid[d]++);
		put16(ip + 6, 0x4000);        /* DF */
		ip[8] = d == DC ? 64 : 56;
		ip[9] = 6;
		ip[10] = ip[11] = 0;
		memcpy(ip + 12, f->ip[d], 4);
		memcpy(ip + 16, f->ip[o], 4);
		{
			uint16_t c = csum_fold(csum_part(0, ip, 20));
			memcpy(ip + 10, &c, 2);
		}
		memcpy(pseudo, f->ip[d], 4);
		memcpy(pseudo + 4, f->ip[o], 4);
		pseudo[8] = 0;
		pseudo[9] = 6;
		put16(pseudo + 10, (uint16_t)(thl + plen));
		pslen = 12;
	}
	th = ip + iphl;
	put16(th, f->port[d]);
	put16(th + 2, f->port[o]);
	put32(th + 4, f->seq[d]);
	put32(th + 8, (flags & TH_ACK) ? f->seq[o] : 0);
	th[12] = (uint8_t)((thl / 4) << 4);
	th[13] = (uint8_t)flags;
	put16(th + 14, syn ? 64240 : (d == DC ? 501 : 509));
	th[16] = th[17] = 0;
	th[18] = th[19] = 0;
	f->tsval[d] = f->tsbase[d] + (uint32_t)(t / 1000000u);
	if (syn) {
		uint8_t *op = th + 20;
		op[0] = 2; op[1] = 4; put16(op + 2, f->mss);  /* MSS */
		op[4] = 4; op[5] = 2;                        /* SACK permitted */
		op[6] = 8; op[7] = 10;                       /* timestamps */
		put32(op + 8, f->tsval[d]);
		put32(op + 12, (flags & TH_ACK) ? f->tsval[o] : 0);
		op[16] = 1;                                  /* NOP */
		op[17] = 3; op[18] = 3; op[19] = 7;          /* window scale */
	} else {
		uint8_t *op = th + 20;
		op[0] = 1; op[1] = 1; op[2] = 8; op[3] = 10;
		put32(op + 4, f->tsval[d]);
		put32(op + 8, f->tsval[o]);
	}
	pl = th + thl;
	if (plen)
		fill(f, pl, plen);
	sum = csum_part(0, pseudo, pslen);
	sum = csum_part(sum, th, thl + plen);
	{
		uint16_t c = csum_fold(sum);
		memcpy(th + 16, &c, 2);
	}
	olen += 16 + caplen;
	st.pkts++;
	st.capbytes += caplen;
	st.payload += plen;
	st.bytes[f->kind] += caplen;
	if (plen)
		st.data_pkts++;
	else if (flags == TH_ACK)
		st.ack_pkts++;
	f->unacked[d] = 0;   /* every packet acknowledges all it has seen */
	if (syn || (flags & TH_FIN))
		f->seq[d] += 1;
	f->seq[d] += plen;
}

/* ---- script building ---- */

static void die_script(const struct flow *f, const char *what)
{
	fprintf(stderr, "mkbench: internal error: %s flow script too long "
		"(%s); raise MAXMSG/ARENA\n", kind_name[f->kind], what);
	exit(3);
}

static struct msg *msg_new(struct flow *f, int dir, int cont,
			   uint32_t think_us)
{
	struct msg *m;

	if (f->nmsg >= MAXMSG)
		die_script(f, "messages");
	m = &f->m[f->nmsg++];
	memset(m, 0, sizeof(*m));
	m->dir = (uint8_t)dir;
	m->cont = (uint8_t)cont;
	m->think_us = think_us;
	return m;
}

static void add_bin(struct flow *f, int dir, int cont, uint32_t think_us,
		    const void *p, size_t n)
{
	struct msg *m;

	if (f->alen + n > ARENA)
		die_script(f, "arena");
	m = msg_new(f, dir, cont, think_us);
	m->content = MC_LIT;
	m->lit = f->alen;
	m->len = (uint32_t)n;
	memcpy(f->arena + f->alen, p, n);
	f->alen += (uint32_t)n;
}

__attribute__((format(printf, 5, 6)))
static void add_lit(struct flow *f, int dir, int cont, uint32_t think_us,
		    const char *fmt, ...)
{
	char buf[ARENA];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		die_script(f, "literal");
	add_bin(f, dir, cont, think_us, buf, (size_t)n);
}

static void add_bulk(struct flow *f, int dir, int cont, uint32_t think_us,
		     int content, uint32_t len)
{
	struct msg *m;

	if (!len)
		return;
	m = msg_new(f, dir, cont, think_us);
	m->content = (uint8_t)content;
	m->len = len;
	m->lit = content == MC_B64 ? (uint32_t)(rnd() % B64_LINES) * B64_LINE
				   : (uint32_t)(rnd() % RPOOL);
}

/* payload bytes of application data, cut into 16 KB TLS records */
static void add_tls(struct flow *f, int dir, int cont, uint32_t think_us,
		    uint32_t payload)
{
	uint32_t recs = (payload + 16383) / 16384;

	add_bulk(f, dir, cont, think_us, MC_RAND, payload + 5 * recs);
	if (payload)
		f->m[f->nmsg - 1].content = MC_TLS;
}

/* len bytes of the record stream of m starting at stream offset o */
static void fill_tls(const struct msg *m, uint8_t *dst, uint32_t o,
		     uint32_t len)
{
	while (len) {
		uint32_t rec = o / TLS_REC, pos = o % TLS_REC;
		uint32_t rsize = m->len - rec * TLS_REC;
		uint32_t k;

		if (rsize > TLS_REC)
			rsize = TLS_REC;
		if (pos < 5) {
			uint8_t h[5] = { 0x17, 3, 3, (uint8_t)((rsize - 5) >> 8),
					 (uint8_t)(rsize - 5) };
			*dst++ = h[pos];
			o++;
			len--;
			continue;
		}
		k = rsize - pos < len ? rsize - pos : len;
		pool_copy(dst, rpool, RPOOL, (uint64_t)m->lit + o, k);
		dst += k;
		o += k;
		len -= k;
	}
}

/* ---- names ---- */

static const char *const users[] = {
	"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
	"ivan", "judy", "mallory", "niaj", "olivia", "peggy", "rupert",
	"sybil", "trent", "victor", "walter", "info", "sales", "support",
	"billing", "noreply", "newsletter", "hr", "jobs", "admin",
};
static const char *const domains[] = {
	"example.org", "example.com", "mail.example", "corp.example",
	"shop.example", "news.example", "bank.example", "travel.example",
	"school.example", "lists.example",
};
static const char *const foreign[] = {
	"gmail.example", "yahoo.example", "hotmail.example", "mail.ru.example",
	"qq.example", "web.example", "aol.example", "gmx.example",
};
static const char *const words[] = {
	"the", "quarterly", "report", "is", "attached", "please", "review",
	"meeting", "tomorrow", "at", "noon", "invoice", "number", "due",
	"payment", "thanks", "regards", "project", "update", "schedule",
	"budget", "draft", "final", "version", "customer", "order", "shipped",
	"delivery", "confirm", "account", "security", "notice", "team",
};
static const char *const paths[] = {
	"/", "/index.html", "/static/app.js", "/static/style.css",
	"/images/logo.png", "/api/v1/items", "/news/today", "/download/file.bin",
	"/video/segment-0042.ts", "/favicon.ico", "/search?q=smtp+relay",
};
static const char *const ctypes[] = {
	"text/html; charset=utf-8", "application/javascript", "text/css",
	"image/png", "application/json", "application/octet-stream",
	"video/mp4", "image/jpeg",
};
#define NEL(a) (sizeof(a) / sizeof((a)[0]))
#define PICK(a) ((a)[rnd() % NEL(a)])

#define LOCAL_DOMAIN "example.net"

/* ---- application scripts ---- */

static uint32_t think_c(void)
{
	return (uint32_t)rnd_range(50, 2000);
}

/* TLS-ish: a parseable ClientHello with SNI, a ServerHello, then records
 * of random bytes. Bulk mostly server -> client, sometimes an upload. */
static void script_tls(struct flow *f, const char *sni, int first_think)
{
	uint8_t ch[512], *p = ch;
	size_t sl = strlen(sni);
	uint32_t hs_len, ext_len, n_req;
	static const uint8_t ciphers[] = {
		0x13, 0x01, 0x13, 0x02, 0x13, 0x03, 0xc0, 0x2b, 0xc0, 0x2f,
		0xc0, 0x2c, 0xc0, 0x30, 0xcc, 0xa9, 0xcc, 0xa8, 0x00, 0x9c,
	};

	/* ClientHello: record(5) handshake(4) version(2) random(32)
	 * sid(1+32) ciphers(2+20) compression(2) extensions(2+...) */
	ext_len = (4 + 2 + 1 + 2 + (uint32_t)sl) + (4 + 3) + (4 + 2 + 2);
	hs_len = 2 + 32 + 33 + 2 + sizeof(ciphers) + 2 + 2 + ext_len;
	*p++ = 0x16; *p++ = 3; *p++ = 1;
	put16(p, (uint16_t)(4 + hs_len)); p += 2;
	*p++ = 1; *p++ = 0; put16(p, (uint16_t)hs_len); p += 2;
	*p++ = 3; *p++ = 3;
	pool_copy(p, rpool, RPOOL, rnd(), 32); p += 32;
	*p++ = 32;
	pool_copy(p, rpool, RPOOL, rnd(), 32); p += 32;
	put16(p, sizeof(ciphers)); p += 2;
	memcpy(p, ciphers, sizeof(ciphers)); p += sizeof(ciphers);
	*p++ = 1; *p++ = 0;
	put16(p, (uint16_t)ext_len); p += 2;
	put16(p, 0); put16(p + 2, (uint16_t)(5 + sl));            /* SNI */
	put16(p + 4, (uint16_t)(3 + sl)); p[6] = 0; put16(p + 7, (uint16_t)sl);
	memcpy(p + 9, sni, sl); p += 9 + sl;
	put16(p, 0x002b); put16(p + 2, 3); p[4] = 2; put16(p + 5, 0x0304);
	p += 7;                                                  /* versions */
	put16(p, 0x000a); put16(p + 2, 4); put16(p + 4, 2); put16(p + 6, 0x001d);
	p += 8;                                                  /* groups */
	add_bin(f, DC, 0, (uint32_t)first_think, ch, (size_t)(p - ch));

	/* ServerHello + change cipher spec + "encrypted" handshake */
	{
		uint8_t sh[128], *q = sh;
		uint32_t enc = (uint32_t)rnd_range(2500, 4500);
		*q++ = 0x16; *q++ = 3; *q++ = 3; put16(q, 4 + 80); q += 2;
		*q++ = 2; *q++ = 0; put16(q, 80); q += 2;
		*q++ = 3; *q++ = 3;
		pool_copy(q, rpool, RPOOL, rnd(), 32); q += 32;
		*q++ = 32;
		pool_copy(q, rpool, RPOOL, rnd(), 32); q += 32;
		*q++ = 0x13; *q++ = 0x01; *q++ = 0;
		put16(q, 6); q += 2;
		put16(q, 0x002b); put16(q + 2, 2); put16(q + 4, 0x0304); q += 6;
		*q++ = 0x14; *q++ = 3; *q++ = 3; *q++ = 0; *q++ = 1; *q++ = 1;
		add_bin(f, DS, 0, (uint32_t)rnd_range(1000, 20000), sh,
			(size_t)(q - sh));
		add_tls(f, DS, 1, 0, enc);
	}
	{
		static const uint8_t ccs[] = { 0x14, 3, 3, 0, 1, 1 };
		add_bin(f, DC, 0, think_c(), ccs, sizeof(ccs));
		add_tls(f, DC, 1, 0, 0x35);
	}
	n_req = (uint32_t)rnd_range(1, 2);
	for (uint32_t i = 0; i < n_req; i++) {
		/* 94%: a web-sized answer; 6%: a download (the byte mass) */
		uint32_t resp = rnd_pm(940) ? (uint32_t)rnd_logu(2e3, 64e3)
					    : (uint32_t)rnd_logu(64e3, 1.5e6);
		uint32_t req = (uint32_t)rnd_range(200, 900);
		if (rnd_pm(150)) {   /* upload */
			uint32_t t = req;
			req = resp;
			resp = t;
		}
		add_tls(f, DC, 0, i ? (uint32_t)rnd_range(1000, 200000)
				    : think_c(), req);
		add_tls(f, DS, 0, (uint32_t)rnd_range(500, 50000), resp);
	}
	f->closer = DC;
}

static void script_http(struct flow *f, int n)
{
	f->closer = DC;
	for (int i = 0; i < n; i++) {
		const char *path = PICK(paths);
		uint32_t body = (uint32_t)rnd_logu(200, 100e3);
		int st_code = rnd_pm(60) ? 404 : rnd_pm(80) ? 304 : 200;
		add_lit(f, DC, 0, i ? (uint32_t)rnd_range(1000, 500000) : think_c(),
			"GET %s HTTP/1.1\r\nHost: www%u.%s\r\n"
			"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:115.0) "
			"Gecko/20100101 Firefox/115.0\r\n"
			"Accept: */*\r\nAccept-Language: en-US,en;q=0.5\r\n"
			"Accept-Encoding: gzip, deflate\r\n"
			"Connection: keep-alive\r\n\r\n",
			path, (unsigned)rnd_range(1, 50), PICK(domains));
		st.http_requests++;
		if (st_code != 200)
			body = st_code == 404 ? 153 : 0;
		add_lit(f, DS, 0, (uint32_t)rnd_range(500, 50000),
			"HTTP/1.1 %d %s\r\nServer: nginx/1.22.1\r\n"
			"Date: Tue, 14 Nov 2023 22:13:20 GMT\r\n"
			"Content-Type: %s\r\nContent-Length: %u\r\n"
			"Connection: keep-alive\r\n\r\n",
			st_code, st_code == 200 ? "OK" : st_code == 304 ?
			"Not Modified" : "Not Found", PICK(ctypes), body);
		add_bulk(f, DS, 1, 0, MC_RAND, body);
	}
}

/* One MIME message: headers and a text part (literal), a base64
 * attachment (pool), the closing boundary and the dot terminator. */
static void add_body(struct flow *f, const char *from, const char *to,
		     uint32_t size)
{
	char text[1024];
	size_t tl = 0;
	uint32_t lit_len, b64;
	unsigned id = (unsigned)rnd();

	for (int l = 0; l < 6; l++) {
		if (l == 3 && rnd_pm(300)) {   /* a line that needs dot-stuffing */
			tl += (size_t)snprintf(text + tl, sizeof(text) - tl,
					       "..signature follows\r\n");
			continue;
		}
		for (int w = 0; w < 9; w++)
			tl += (size_t)snprintf(text + tl, sizeof(text) - tl,
					       "%s%s", w ? " " : "",
					       PICK(words));
		tl += (size_t)snprintf(text + tl, sizeof(text) - tl, "\r\n");
	}
	add_lit(f, DC, 0, think_c(),
		"Received: from [198.18.%u.%u] by relay.%s with ESMTPS id %08x\r\n"
		"From: <%s>\r\nTo: <%s>\r\nSubject: %s %s %s\r\n"
		"Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
		"Message-ID: <%08x.%u@%s>\r\nMIME-Version: 1.0\r\n"
		"Content-Type: multipart/mixed; boundary=\"=_b%08x\"\r\n\r\n"
		"--=_b%08x\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
		"%s\r\n--=_b%08x\r\n"
		"Content-Type: application/pdf; name=\"doc.pdf\"\r\n"
		"Content-Transfer-Encoding: base64\r\n\r\n",
		(unsigned)rnd_range(0, 255), (unsigned)rnd_range(1, 254),
		PICK(domains), id, from, to, PICK(words), PICK(words),
		PICK(words), id, (unsigned)rnd_range(1, 99999), PICK(domains),
		id, id, text, id);
	lit_len = f->m[f->nmsg - 1].len;
	b64 = size > lit_len + 40 ? (size - lit_len - 40) / B64_LINE * B64_LINE
				  : 0;
	add_bulk(f, DC, 1, 0, MC_B64, b64);
	add_lit(f, DC, 1, 0, "\r\n--=_b%08x--\r\n.\r\n", id);
	st.smtp_bodies++;
	st.smtp_body_bytes += lit_len + b64;
}

/* An SMTP session as the server sees it after the TCP (or tunnel) setup:
 * relay != 0 makes it a relay probe (recipients in foreign domains). */
static void script_smtp(struct flow *f, int relay)
{
	char mx[64], from[96];
	int pipelining = rnd_pm(750);
	int ntx = relay ? 1 : rnd_pm(850) ? 1 : (int)rnd_range(2, 3);
	int open_relay = relay && rnd_pm(relay == 2 ? 300 : 80);

	snprintf(mx, sizeof(mx), "mx%u.%s", (unsigned)rnd_range(1, 4),
		 LOCAL_DOMAIN);
	st.smtp_sessions++;
	f->closer = DS;
	add_lit(f, DS, 0, (uint32_t)rnd_range(2000, 300000),
		"220 %s ESMTP Postfix (Debian/GNU)\r\n", mx);
	if (relay)
		add_lit(f, DC, 0, think_c(), "EHLO %s\r\n",
			rnd_pm(500) ? "localhost" : "probe.example");
	else
		add_lit(f, DC, 0, think_c(), "EHLO smtp%u.%s\r\n",
			(unsigned)rnd_range(1, 20), PICK(domains));
	add_lit(f, DS, 0, (uint32_t)rnd_range(200, 5000),
		"250-%s\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n"
		"250-ETRN\r\n250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n"
		"250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n",
		mx);
	for (int tx = 0; tx < ntx; tx++) {
		int nrcpt = relay ? (int)rnd_range(1, 2)
				  : rnd_pm(700) ? 1 : (int)rnd_range(2, 5);
		char rcpt[5][96];
		int ok[5], any_ok = 0;
		char creq[1024], crep[1024];
		size_t ql = 0, pl = 0;
		uint32_t size = (uint32_t)rnd_logu(2e3, 100e3);

		if (relay)
			snprintf(from, sizeof(from), "%s@%s", PICK(users),
				 PICK(foreign));
		else
			snprintf(from, sizeof(from), "%s.%u@%s", PICK(users),
				 (unsigned)rnd_range(1, 999), PICK(domains));
		for (int r = 0; r < nrcpt; r++) {
			if (relay) {
				snprintf(rcpt[r], sizeof(rcpt[r]), "%s%u@%s",
					 PICK(users), (unsigned)rnd_range(1, 9999),
					 PICK(foreign));
				ok[r] = open_relay;
				if (ok[r])
					st.relay_accepted++;
				else
					st.relay_refused++;
			} else {
				snprintf(rcpt[r], sizeof(rcpt[r]), "%s@%s",
					 PICK(users), LOCAL_DOMAIN);
				ok[r] = !rnd_pm(40);
				if (ok[r])
					st.rcpt_ok++;
				else
					st.rcpt_unknown++;
			}
			any_ok |= ok[r];
		}
		st.smtp_tx++;
		/* the commands, and the replies in the same order */
		ql += (size_t)snprintf(creq + ql, sizeof(creq) - ql,
				       "MAIL FROM:<%s> SIZE=%u\r\n", from, size);
		pl += (size_t)snprintf(crep + pl, sizeof(crep) - pl,
				       "250 2.1.0 Ok\r\n");
		if (!pipelining) {
			add_bin(f, DC, 0, think_c(), creq, ql);
			add_bin(f, DS, 0, (uint32_t)rnd_range(200, 5000), crep, pl);
			ql = pl = 0;
		}
		for (int r = 0; r < nrcpt; r++) {
			ql += (size_t)snprintf(creq + ql, sizeof(creq) - ql,
					       "RCPT TO:<%s>\r\n", rcpt[r]);
			if (ok[r])
				pl += (size_t)snprintf(crep + pl, sizeof(crep) - pl,
						       "250 2.1.5 Ok\r\n");
			else if (relay)
				pl += (size_t)snprintf(crep + pl, sizeof(crep) - pl,
					"554 5.7.1 <%s>: Relay access denied\r\n",
					rcpt[r]);
			else
				pl += (size_t)snprintf(crep + pl, sizeof(crep) - pl,
					"550 5.1.1 <%s>: Recipient address "
					"rejected: User unknown in virtual "
					"mailbox table\r\n", rcpt[r]);
			if (!pipelining) {
				add_bin(f, DC, 0, think_c(), creq, ql);
				add_bin(f, DS, 0, (uint32_t)rnd_range(200, 20000),
					crep, pl);
				ql = pl = 0;
			}
		}
		ql += (size_t)snprintf(creq + ql, sizeof(creq) - ql, "DATA\r\n");
		if (any_ok)
			pl += (size_t)snprintf(crep + pl, sizeof(crep) - pl,
				"354 End data with <CR><LF>.<CR><LF>\r\n");
		else
			pl += (size_t)snprintf(crep + pl, sizeof(crep) - pl,
				"554 5.5.1 Error: no valid recipients\r\n");
		add_bin(f, DC, 0, think_c(), creq, ql);
		add_bin(f, DS, 0, (uint32_t)rnd_range(200, 20000), crep, pl);
		if (any_ok) {
			add_body(f, from, rcpt[0], relay ? size / 4 + 500 : size);
			add_lit(f, DS, 0, (uint32_t)rnd_range(1000, 100000),
				"250 2.0.0 Ok: queued as %010llX\r\n",
				(unsigned long long)(rnd() & 0xffffffffffull));
		} else if (tx + 1 < ntx) {
			add_lit(f, DC, 0, think_c(), "RSET\r\n");
			add_lit(f, DS, 0, 300, "250 2.0.0 Ok\r\n");
		}
	}
	add_lit(f, DC, 0, think_c(), "QUIT\r\n");
	add_lit(f, DS, 0, 300, "221 2.0.0 Bye\r\n");
}

static void script_connect(struct flow *f, const char *host, int port,
			   int granted)
{
	add_lit(f, DC, 0, think_c(),
		"CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n"
		"User-Agent: curl/7.88.1\r\nProxy-Connection: Keep-Alive\r\n\r\n",
		host, port, host, port);
	if (granted) {
		add_lit(f, DS, 0, (uint32_t)rnd_range(1000, 80000),
			"HTTP/1.1 200 Connection established\r\n\r\n");
		st.tunnels_ok++;
	} else {
		add_lit(f, DS, 0, (uint32_t)rnd_range(1000, 20000),
			"HTTP/1.1 403 Access violation\r\nServer: tinyproxy/1.11.1\r\n"
			"Content-Type: text/html\r\nConnection: close\r\n"
			"Content-Length: 94\r\n\r\n"
			"<html><head><title>403</title></head><body>"
			"Access to port %d denied</body></html>\r\n\r\n", port);
		st.tunnels_denied++;
		f->closer = DS;
	}
}

static void script_socks5(struct flow *f, const uint8_t *ip4, int port)
{
	static const uint8_t hello[] = { 5, 1, 0 }, choice[] = { 5, 0 };
	uint8_t req[10] = { 5, 1, 0, 1 }, rep[10] = { 5, 0, 0, 1 };

	memcpy(req + 4, ip4, 4);
	put16(req + 8, (uint16_t)port);
	add_bin(f, DC, 0, think_c(), hello, sizeof(hello));
	add_bin(f, DS, 0, (uint32_t)rnd_range(200, 5000), choice, sizeof(choice));
	add_bin(f, DC, 0, think_c(), req, sizeof(req));
	add_bin(f, DS, 0, (uint32_t)rnd_range(1000, 80000), rep, sizeof(rep));
	st.tunnels_ok++;
}

/* ---- flow creation ---- */

/* client ports: one counter per client host, so no two live flows share
 * a 4-tuple (a host would need 28000 concurrent flows to wrap) */
#define HOSTS 16384
static uint16_t port_ctr[4][HOSTS];

/* pools: 0 internal clients 10.1/16, 1 outside clients 198.18/15,
 * 2 internal servers 10.0/16, 3 outside servers 203.0.113/24 and
 * 198.51.100/24; IPv6 likewise under 2001:db8::/32. Client hosts map to
 * distinct addresses (their port counters must not be shared). */
static void set_ip(struct flow *f, int side, int v6, int pool, uint32_t host)
{
	uint8_t *a = f->ip[side];

	memset(a, 0, 16);
	if (v6) {
		a[0] = 0x20; a[1] = 0x01; a[2] = 0x0d; a[3] = 0xb8;
		a[4] = (uint8_t)(pool == 0 || pool == 2 ? 0x10 : 0xff);
		a[5] = (uint8_t)pool;
		a[14] = (uint8_t)(host >> 8);
		a[15] = (uint8_t)host;
		return;
	}
	switch (pool) {
	case 0: a[0] = 10; a[1] = 1; break;
	case 1: a[0] = 198; a[1] = 18; break;
	case 2: a[0] = 10; a[1] = 0; break;
	default:
		if (host & 256) {
			a[0] = 198; a[1] = 51; a[2] = 100;
		} else {
			a[0] = 203; a[1] = 0; a[2] = 113;
		}
		a[3] = (uint8_t)(host % 254 + 1);
		return;
	}
	a[2] = (uint8_t)(host >> 8);
	a[3] = (uint8_t)host;
}

static uint64_t flow_estimate(const struct flow *f)
{
	uint64_t hdr = 16 + 14 + (f->v6 ? 40 : 20) + 32, b = 0;

	for (int i = 0; i < f->nmsg; i++) {
		uint64_t segs = (f->m[i].len + f->mss - 1) / f->mss;
		b += f->m[i].len + segs * hdr + (segs / 2 + 1) * hdr;
	}
	return b + 7 * (hdr + 8);
}

static void flow_new(struct flow *f, uint64_t start_ns)
{
	unsigned w = (unsigned)(rnd() % 1000), acc = 0;
	int k = 0, cpool, spool, sport;
	uint32_t chost, shost;

	for (k = 0; k < K__COUNT - 1; k++) {
		acc += kind_weight[k];
		if (w < acc)
			break;
	}
	memset(f, 0, offsetof(struct flow, m));
	f->kind = k;
	f->v6 = (uint8_t)rnd_pm(100);
	f->mss = f->v6 ? 1428 : 1448;   /* 1500 MTU, TCP timestamps */
	f->ack_from = NO_ACK;
	f->cwnd = 10;
	f->rtt_c_us = (uint32_t)rnd_range(100, 3000);
	f->rtt_s_us = (uint32_t)rnd_logu(2000, 150000);
	f->seq[DC] = (uint32_t)rnd();
	f->seq[DS] = (uint32_t)rnd();
	f->tsbase[DC] = (uint32_t)rnd();
	f->tsbase[DS] = (uint32_t)rnd();
	f->ipid[DC] = (uint16_t)rnd();
	f->ipid[DS] = (uint16_t)rnd();
	f->flowlabel = (uint32_t)rnd() & 0xfffff;
	switch (k) {
	case K_HTTPS: case K_HTTP:
		cpool = 0; spool = 3; sport = k == K_HTTPS ? 443 : 80;
		chost = (uint32_t)rnd_range(0, 4095);
		shost = (uint32_t)rnd_range(0, 511);
		break;
	case K_SMTP: case K_SMTP_RELAY:
		cpool = 1; spool = 2; sport = 25;
		chost = (uint32_t)rnd_range(0, HOSTS - 1);
		shost = 0x19 + (uint32_t)rnd_range(0, 3);      /* 10.0.0.25.. */
		break;
	default:   /* proxies: outsiders using an internal open proxy */
		cpool = 1; spool = 2;
		sport = k == K_SOCKS_SMTP || k == K_SOCKS_TLS ? 1080
			: rnd_pm(500) ? 3128 : 8080;
		chost = (uint32_t)rnd_range(0, HOSTS - 1);
		shost = 0x10a + (uint32_t)rnd_range(0, 3);     /* 10.0.1.10.. */
		break;
	}
	set_ip(f, DC, f->v6, cpool, chost);
	set_ip(f, DS, f->v6, spool, shost);
	f->port[DC] = (uint16_t)(32768 + port_ctr[cpool][chost % HOSTS]++ % 28000);
	f->port[DS] = (uint16_t)sport;
	st.flows[k]++;
	st.v6 += f->v6;

	switch (k) {
	case K_HTTPS: {
		char sni[64];
		snprintf(sni, sizeof(sni), "www%u.%s", (unsigned)rnd_range(1, 50),
			 PICK(domains));
		script_tls(f, sni, (int)think_c());
		break;
	}
	case K_HTTP:
		script_http(f, rnd_pm(600) ? 1 : (int)rnd_range(2, 4));
		break;
	case K_SMTP:
		script_smtp(f, 0);
		break;
	case K_SMTP_RELAY:
		script_smtp(f, 1);
		break;
	case K_CONNECT_SMTP: {
		char host[64];
		snprintf(host, sizeof(host), "mx%u.%s", (unsigned)rnd_range(1, 9),
			 PICK(foreign));
		script_connect(f, host, 25, 1);
		script_smtp(f, 2);
		break;
	}
	case K_CONNECT_TLS: {
		char host[64];
		snprintf(host, sizeof(host), "www.%s", PICK(domains));
		script_connect(f, host, 443, 1);
		script_tls(f, host, (int)think_c());
		break;
	}
	case K_CONNECT_DENIED:
		script_connect(f, "mx.gmail.example", 25, 0);
		break;
	case K_SOCKS_SMTP: {
		uint8_t t[4] = { 203, 0, 113, (uint8_t)rnd_range(1, 254) };
		script_socks5(f, t, 25);
		script_smtp(f, 2);
		break;
	}
	default: {
		uint8_t t[4] = { 198, 51, 100, (uint8_t)rnd_range(1, 254) };
		script_socks5(f, t, 443);
		script_tls(f, "cdn.example.com", (int)think_c());
		break;
	}
	}
	f->est_bytes = flow_estimate(f);
	f->next_ns = start_ns;
	f->phase = PH_SYN;
}

/* ---- the per-flow state machine: one packet per call ---- */

static void fill_payload(struct flow *f, uint8_t *dst, uint32_t n)
{
	/* walk the current write from (cur, off), across cont messages */
	while (n) {
		struct msg *m = &f->m[f->cur];
		uint32_t k = m->len - f->off;
		if (k > n)
			k = n;
		switch (m->content) {
		case MC_LIT:
			memcpy(dst, f->arena + m->lit + f->off, k);
			break;
		case MC_RAND:
			pool_copy(dst, rpool, RPOOL, (uint64_t)m->lit + f->off, k);
			break;
		case MC_TLS:
			fill_tls(m, dst, f->off, k);
			break;
		default:
			pool_copy(dst, b64pool, B64POOL, (uint64_t)m->lit + f->off, k);
			break;
		}
		dst += k;
		n -= k;
		f->off += k;
		if (f->off == m->len) {
			f->cur++;
			f->off = 0;
		}
	}
}

static uint64_t turn_ns(const struct flow *f, int side)
{
	return (uint64_t)(side == DS ? f->rtt_s_us : f->rtt_c_us) * 1000u;
}

/* bytes left in the current write, starting at (cur, off) */
static uint32_t write_left(const struct flow *f)
{
	uint32_t n = f->m[f->cur].len - f->off;
	for (int i = f->cur + 1; i < f->nmsg && f->m[i].cont; i++)
		n += f->m[i].len;
	return n;
}

static void flow_step(struct flow *f, uint64_t now)
{
	switch (f->phase) {
	case PH_SYN:
		emit(f, DC, TH_SYN, 0, NULL, now);
		f->next_ns += turn_ns(f, DS);
		f->phase = PH_SYNACK;
		return;
	case PH_SYNACK:
		emit(f, DS, TH_SYN | TH_ACK, 0, NULL, now);
		f->next_ns += turn_ns(f, DC);
		f->phase = PH_ACK3;
		return;
	case PH_ACK3:
		emit(f, DC, TH_ACK, 0, NULL, now);
		f->phase = PH_DATA;
		/* skip empty messages (zero-length bodies) */
		f->next_ns += f->nmsg ? (uint64_t)f->m[0].think_us * 1000u : 0;
		return;
	case PH_DATA:
		break;
	case PH_FIN_A:
		emit(f, f->closer, TH_FIN | TH_ACK, 0, NULL, now);
		f->next_ns += turn_ns(f, 1 - f->closer);
		f->phase = PH_FIN_B;
		return;
	case PH_FIN_B:
		emit(f, 1 - f->closer, TH_FIN | TH_ACK, 0, NULL, now);
		f->next_ns += turn_ns(f, f->closer);
		f->phase = PH_LAST;
		return;
	case PH_LAST:
		emit(f, f->closer, TH_ACK, 0, NULL, now);
		f->phase = PH_DONE;
		return;
	default:
		return;
	}

	if (f->ack_from != NO_ACK) {
		emit(f, f->ack_from, TH_ACK, 0, NULL, now);
		f->ack_from = NO_ACK;
		f->next_ns += f->pend_ns;
		return;
	}
	if (f->cur >= f->nmsg) {
		f->phase = PH_FIN_A;
		flow_step(f, now);
		return;
	}
	{
		int d = f->m[f->cur].dir, r = 1 - d;
		uint32_t left = write_left(f);
		uint32_t n = left < f->mss ? left : f->mss;
		int end = n == left;
		uint64_t delay;

		emit(f, d, TH_ACK | (end ? TH_PSH : 0), n, fill_payload, now);
		f->unacked[r]++;
		if (!end) {
			f->burst++;
			if (f->burst >= f->cwnd) {
				/* window used up: wait for the ACKs to return */
				f->burst = 0;
				if (f->cwnd < 256)
					f->cwnd *= 2;
				delay = turn_ns(f, DC) + turn_ns(f, DS);
			} else {
				delay = (uint64_t)rnd_range(1000, 15000);
			}
			if (f->unacked[r] >= 2) {
				f->ack_from = (uint8_t)r;
				f->pend_ns = delay;
				f->next_ns += (uint64_t)rnd_range(2000, 40000);
			} else {
				f->next_ns += delay;
			}
			return;
		}
		f->burst = 0;
		if (f->cur >= f->nmsg) {
			/* last write: the other side ACKs, then the closer
			 * sends its FIN */
			f->ack_from = (uint8_t)r;
			f->pend_ns = f->closer == d ? 5000 : turn_ns(f, r);
			f->next_ns += (uint64_t)rnd_range(2000, 40000);
			f->phase = PH_FIN_A;
			return;
		}
		delay = (uint64_t)f->m[f->cur].think_us * 1000u;
		if (f->m[f->cur].dir == r) {
			/* the answer carries the ACK, unless it takes longer
			 * than the 40 ms delayed-ACK timer */
			delay += turn_ns(f, r);
			if (delay > 40000000u) {
				f->ack_from = (uint8_t)r;
				f->pend_ns = delay - 40000000u;
				f->next_ns += 40000000u;
			} else {
				f->next_ns += delay;
			}
		} else {
			f->ack_from = (uint8_t)r;
			f->pend_ns = delay;
			f->next_ns += (uint64_t)rnd_range(2000, 40000);
		}
	}
}

/* PH_FIN_A after a pending ACK: the step above handles ack_from first only
 * in PH_DATA, so FIN_A re-checks it here. */
static void flow_step_all(struct flow *f, uint64_t now)
{
	if (f->phase == PH_FIN_A && f->ack_from != NO_ACK) {
		emit(f, f->ack_from, TH_ACK, 0, NULL, now);
		f->ack_from = NO_ACK;
		f->next_ns += f->pend_ns;
		return;
	}
	flow_step(f, now);
}

/* ---- scheduler: a binary min-heap of flows by next_ns ---- */

static struct flow **heap;
static int nheap;

static int heap_less(int a, int b)
{
	return heap[a]->next_ns < heap[b]->next_ns;
}

static void heap_swap(int a, int b)
{
	struct flow *t = heap[a];
	heap[a] = heap[b];
	heap[b] = t;
}

static void heap_up(int i)
{
	while (i && heap_less(i, (i - 1) / 2)) {
		heap_swap(i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void heap_down(int i)
{
	for (;;) {
		int l = 2 * i + 1, r = l + 1, m = i;
		if (l < nheap && heap_less(l, m))
			m = l;
		if (r < nheap && heap_less(r, m))
			m = r;
		if (m == i)
			return;
		heap_swap(i, m);
		i = m;
	}
}

/* ---- main ---- */

static void usage(FILE *fp)
{
	fprintf(fp,
"usage: mkbench [-o FILE] [-s SIZE_MB] [-c CONCURRENT] [-S SEED] [-q]\n"
"  -o FILE        output pcap (default bench.pcap)\n"
"  -s SIZE_MB     approximate file size in MiB (default 1024)\n"
"  -c CONCURRENT  flows active at a time (default 2000)\n"
"  -S SEED        PRNG seed (default 1); same seed+size = same bytes\n"
"  -q             no summary\n");
}

static void summary(double secs)
{
	uint64_t flows = 0;
	double span = (double)(st.last_ns - st.first_ns) / 1e9;

	for (int k = 0; k < K__COUNT; k++)
		flows += st.flows[k];
	printf("mkbench: wrote %s: %llu bytes, %llu packets, %llu flows "
	       "(%llu IPv6) in %.1f s\n", out_path,
	       (unsigned long long)st.filebytes, (unsigned long long)st.pkts,
	       (unsigned long long)flows, (unsigned long long)st.v6, secs);
	printf("  capture spans %.1f s; %llu data packets, %llu pure ACKs, "
	       "%llu handshake/FIN; %llu payload bytes\n", span,
	       (unsigned long long)st.data_pkts, (unsigned long long)st.ack_pkts,
	       (unsigned long long)(st.pkts - st.data_pkts - st.ack_pkts),
	       (unsigned long long)st.payload);
	printf("  %-18s %8s %14s %6s\n", "kind", "flows", "captured bytes",
	       "bytes%");
	for (int k = 0; k < K__COUNT; k++)
		printf("  %-18s %8llu %14llu %5.1f%%\n", kind_name[k],
		       (unsigned long long)st.flows[k],
		       (unsigned long long)st.bytes[k],
		       st.capbytes ? 100.0 * (double)st.bytes[k] /
				     (double)st.capbytes : 0.0);
	printf("  smtp: %llu sessions, %llu transactions, %llu messages "
	       "(%llu body bytes), recipients %llu accepted / %llu unknown; "
	       "relay probes: %llu refused (554 5.7.1), %llu accepted\n",
	       (unsigned long long)st.smtp_sessions,
	       (unsigned long long)st.smtp_tx, (unsigned long long)st.smtp_bodies,
	       (unsigned long long)st.smtp_body_bytes,
	       (unsigned long long)st.rcpt_ok, (unsigned long long)st.rcpt_unknown,
	       (unsigned long long)st.relay_refused,
	       (unsigned long long)st.relay_accepted);
	printf("  http: %llu requests; proxy tunnels: %llu granted, %llu "
	       "denied\n", (unsigned long long)st.http_requests,
	       (unsigned long long)st.tunnels_ok,
	       (unsigned long long)st.tunnels_denied);
}

int main(int argc, char **argv)
{
	const char *path = "bench.pcap";
	uint64_t size_mb = 1024, seed = 1, target, committed = 0;
	int conc = 2000, quiet = 0, c;
	struct flow *flows;
	struct timespec t0, t1;

	while ((c = getopt(argc, argv, "o:s:c:S:qh")) != -1) {
		char *end;
		switch (c) {
		case 'o': path = optarg; break;
		case 's':
			size_mb = strtoull(optarg, &end, 10);
			if (*end || !size_mb || size_mb > (1u << 20)) {
				fprintf(stderr, "mkbench: -s wants MiB, 1..1048576\n");
				return 2;
			}
			break;
		case 'c':
			conc = (int)strtol(optarg, &end, 10);
			if (*end || conc < 1 || conc > 1000000) {
				fprintf(stderr, "mkbench: -c wants 1..1000000\n");
				return 2;
			}
			break;
		case 'S': seed = strtoull(optarg, NULL, 0); break;
		case 'q': quiet = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 4; i++)
		rs[i] = splitmix64(&seed);
	pools_init();
	target = size_mb << 20;
	flows = calloc((size_t)conc, sizeof(*flows));
	heap = calloc((size_t)conc, sizeof(*heap));
	obuf = malloc(OBUF);
	if (!flows || !heap || !obuf) {
		fprintf(stderr, "mkbench: out of memory (%d flows of %zu bytes)\n",
			conc, sizeof(*flows));
		return 1;
	}
	out_path = path;
	out = fopen(path, "wb");
	if (!out) {
		fprintf(stderr, "mkbench: cannot create %s: %s\n", path,
			strerror(errno));
		return 1;
	}
	{
		/* classic pcap, microseconds, native byte order */
		uint32_t magic = 0xa1b2c3d4, snap = 262144, lt = 1, zero = 0;
		uint16_t vmaj = 2, vmin = 4;
		memcpy(obuf, &magic, 4);
		memcpy(obuf + 4, &vmaj, 2);
		memcpy(obuf + 6, &vmin, 2);
		memcpy(obuf + 8, &zero, 4);
		memcpy(obuf + 12, &zero, 4);
		memcpy(obuf + 16, &snap, 4);
		memcpy(obuf + 20, &lt, 4);
		olen = 24;
	}
	/* the first flows start over the first half second */
	for (int i = 0; i < conc && committed < target; i++) {
		flow_new(&flows[i], rnd_range(0, 500000000));
		committed += flows[i].est_bytes;
		heap[nheap] = &flows[i];
		heap_up(nheap++);
	}
	while (nheap) {
		struct flow *f = heap[0];
		flow_step_all(f, f->next_ns);
		if (f->phase == PH_DONE) {
			if (committed < target) {
				flow_new(f, f->next_ns + rnd_exp_ns(100e3));
				committed += f->est_bytes;
			} else {
				heap[0] = heap[--nheap];
			}
		}
		if (nheap)
			heap_down(0);
	}
	out_flush();
	if (fclose(out) != 0) {
		fprintf(stderr, "mkbench: close %s: %s\n", path, strerror(errno));
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (!quiet)
		summary((double)(t1.tv_sec - t0.tv_sec) +
			(double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	free(flows);
	free(heap);
	free(obuf);
	return 0;
}
