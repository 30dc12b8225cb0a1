/* test_bpf.c - the relaywatch TC program and its loader, on made-up
 * packets run through bpf_prog_test_run_opts() (no NIC needed).
 *
 * Needs root (or CAP_BPF + CAP_NET_ADMIN): otherwise every test prints
 * "ok - ... # SKIP reason" and the binary exits 0.
 *
 * Hidden driver modes for tests/e2e_bpf_attach.sh and bench/bpf_cost.sh:
 *   test_bpf --capture IFNAME SECONDS   attach, print one line per packet
 *   test_bpf --bench IFNAME SECONDS     attach, bypass every flow not on a
 *                                       configured port, print the cost
 *   test_bpf --floor IFNAME SECONDS     attach an empty program (the
 *                                       measurement floor), print its cost
 *   test_bpf --microbench               test_run cost of a bypassed packet
 * Both attach modes stop at SECONDS or on SIGINT/SIGTERM, print the loss
 * counters ("stat NAME VALUE") and detach.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "t.h"
#include "capture_ebpf.h"
#include "relaywatch.skel.h"

/* ---- packet builder ----------------------------------------------------- */

struct spec {
	int family;             /* 4 or 6 */
	int nvlan;              /* in-packet 802.1Q tags (0..3) */
	uint16_t vlan[3];
	const char *src, *dst;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	const uint8_t *payload;
	size_t plen;
	uint8_t l4;             /* 0 = TCP */
	int v6_hbh;             /* add a hop-by-hop options header */
	int v4_frag;            /* set MF */
};

#define PKT_BUF 4096

static size_t build(uint8_t *b, const struct spec *s)
{
	size_t n = 0, l4len = 20 + s->plen, i;
	uint8_t l4 = s->l4 ? s->l4 : 6;

	memset(b, 0, 64);
	memcpy(b, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01", 12);
	n = 12;
	for (i = 0; i < (size_t)s->nvlan; i++) {
		b[n++] = 0x81;
		b[n++] = 0x00;
		b[n++] = (uint8_t)(s->vlan[i] >> 8);
		b[n++] = (uint8_t)s->vlan[i];
	}
	if (s->family == 4) {
		b[n++] = 0x08;
		b[n++] = 0x00;
		uint8_t *ip = b + n;
		memset(ip, 0, 20);
		ip[0] = 0x45;
		ip[2] = (uint8_t)((20 + l4len) >> 8);
		ip[3] = (uint8_t)(20 + l4len);
		if (s->v4_frag)
			ip[6] = 0x20;
		ip[8] = 64;
		ip[9] = l4;
		inet_pton(AF_INET, s->src, ip + 12);
		inet_pton(AF_INET, s->dst, ip + 16);
		n += 20;
	} else {
		size_t ext = s->v6_hbh ? 8 : 0;
		b[n++] = 0x86;
		b[n++] = 0xdd;
		uint8_t *ip = b + n;
		memset(ip, 0, 40);
		ip[0] = 0x60;
		ip[4] = (uint8_t)((ext + l4len) >> 8);
		ip[5] = (uint8_t)(ext + l4len);
		ip[6] = s->v6_hbh ? 0 : l4;
		ip[7] = 64;
		inet_pton(AF_INET6, s->src, ip + 8);
		inet_pton(AF_INET6, s->dst, ip + 24);
		n += 40;
		if (ext) {
			memcpy(b + n, "\x06\x00\x01\x04\x00\x00\x00\x00", 8);
			b[n] = l4;
			n += 8;
		}
	}
	uint8_t *th = b + n;
	memset(th, 0, 20);
	th[0] = (uint8_t)(s->sport >> 8);
	th[1] = (uint8_t)s->sport;
	th[2] = (uint8_t)(s->dport >> 8);
	th[3] = (uint8_t)s->dport;
	uint32_t seq = htonl(s->seq), ack = htonl(s->ack);
	memcpy(th + 4, &seq, 4);
	memcpy(th + 8, &ack, 4);
	th[12] = 5 << 4;
	th[13] = s->flags;
	th[14] = 0x72;       /* window 0x7210 */
	th[15] = 0x10;
	n += 20;
	if (s->plen)
		memcpy(b + n, s->payload, s->plen);
	return n + s->plen;
}

/* ---- fixture: a loaded, unattached capture ------------------------------- */

#define MAX_GOT 64
struct got {
	struct pkt p;
	uint8_t data[RW_MAX_PAYLOAD];
};
static struct got got[MAX_GOT];
static int n_got;
static struct ebpf_capture *cap;
static const char *skip_reason;

static void collect(void *ctx, struct pkt *p)
{
	(void)ctx;
	if (n_got >= MAX_GOT)
		return;
	got[n_got].p = *p;
	if (p->payload_len)
		memcpy(got[n_got].data, p->payload, p->payload_len);
	got[n_got].p.payload = got[n_got].data;
	n_got++;
}

static int run_dir(struct ebpf_capture *c, int dir, const uint8_t *pkt,
		   size_t len)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt,
		    .data_size_in = (uint32_t)len, .repeat = 1);
	int rc = bpf_prog_test_run_opts(ebpf_capture_prog_fd(c, dir), &o);

	if (rc < 0)
		return rc;
	return (int)o.retval;
}

/* runs one packet, drains the ring; returns packets delivered or -errno */
static int run_pkt(struct ebpf_capture *c, const struct spec *s)
{
	static uint8_t b[PKT_BUF];
	size_t n = build(b, s);
	int rc = run_dir(c, RW_DIR_INGRESS, b, n);

	if (rc != TC_ACT_UNSPEC)
		return rc < 0 ? rc : -EPROTO;
	return ebpf_capture_poll(c, 0, collect, NULL);
}

static uint64_t kctr(struct ebpf_capture *c, int idx)
{
	struct ebpf_stats st;

	ebpf_capture_stats(c, &st);
	return st.kern[idx];
}

static struct ebpf_capture *open_cap(size_t ring, uint32_t chunk)
{
	struct ebpf_opts o;
	struct ebpf_capture *c = NULL;
	char err[256];

	memset(&o, 0, sizeof(o));
	o.ringbuf_bytes = ring;
	o.chunk_bytes = chunk;
	if (ebpf_capture_open(&o, &c, err, sizeof(err)) < 0) {
		printf("#   open: %s\n", err);
		return NULL;
	}
	return c;
}

static uint8_t msg[4000];

static void fill_msg(void)
{
	size_t i;

	for (i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)(i * 7 + (i >> 8));
}

static struct spec smtp4(const char *text)
{
	struct spec s = { .family = 4, .src = "192.0.2.10", .dst = "198.51.100.25",
			  .sport = 40001, .dport = 25, .seq = 1000, .ack = 2000,
			  .flags = 0x18, .payload = (const uint8_t *)text,
			  .plen = text ? strlen(text) : 0 };
	return s;
}

/* ---- tests ---------------------------------------------------------------- */

struct raw_ctx {
	int n;
	struct rw_event e;
	uint8_t data[64];
};

static int raw_cb(void *ctx, void *data, size_t size)
{
	struct raw_ctx *r = ctx;
	const struct rw_event *e = data;

	if (size >= sizeof(*e) && r->n == 0) {
		r->e = *e;
		memcpy(r->data, e->data, e->chunk_len < 64 ? e->chunk_len : 64);
	}
	r->n++;
	return 0;
}

/* the raw ring record, straight from the skeleton */
TEST(raw_record_fields)
{
	struct relaywatch_bpf *sk = relaywatch_bpf__open();
	struct raw_ctx r;
	struct ring_buffer *rb = NULL;
	uint8_t b[PKT_BUF];
	struct spec s = smtp4("HELO x\r\n");
	size_t n = build(b, &s);
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = b,
		    .data_size_in = (uint32_t)n, .repeat = 1);

	CHECK(sk != NULL);
	if (!sk)
		return;
	/* configuration reaches the program as .rodata set before load */
	sk->rodata->rw_ports[0] = 25;
	sk->rodata->rw_nports = 1;
	CHECK_INT(relaywatch_bpf__load(sk), 0);
	memset(&r, 0, sizeof(r));
	rb = ring_buffer__new(bpf_map__fd(sk->maps.events), raw_cb, &r, NULL);
	CHECK(rb != NULL);
	CHECK_INT(bpf_prog_test_run_opts(bpf_program__fd(sk->progs.rw_egress), &o), 0);
	CHECK_INT((int)o.retval, TC_ACT_UNSPEC);
	if (rb)
		ring_buffer__consume(rb);
	CHECK_INT(r.n, 1);
	CHECK_INT(r.e.dir, RW_DIR_EGRESS);
	CHECK_INT(r.e.family, 4);
	CHECK_INT(ntohs(r.e.sport), 40001);
	CHECK_INT(ntohs(r.e.dport), 25);
	CHECK_INT(ntohl(r.e.seq), 1000);
	CHECK_INT(ntohl(r.e.ack), 2000);
	CHECK_INT(ntohs(r.e.win), 0x7210);
	CHECK_INT(r.e.tcp_flags, 0x18);
	CHECK_INT(r.e.payload_len, 8);
	CHECK_INT(r.e.cap_len, 8);
	CHECK_INT(r.e.chunk_off, 0);
	CHECK_INT(r.e.chunk_len, 8);
	CHECK_INT(r.e.wire_len, n);
	CHECK_INT(r.e.flow_state, RW_FLOW_INSPECT);
	CHECK(r.e.ts_ns > 0);
	CHECK(memcmp(r.data, "HELO x\r\n", 8) == 0);
	CHECK_INT(r.e.saddr[0], htonl(0xc000020a));
	ring_buffer__free(rb);
	relaywatch_bpf__destroy(sk);
}

TEST(ipv4_smtp_delivered)
{
	struct spec s = smtp4("EHLO relay.test\r\n");
	uint64_t now_us = (uint64_t)time(NULL) * 1000000;

	n_got = 0;
	CHECK_INT(run_pkt(cap, &s), 1);
	CHECK_INT(n_got, 1);
	if (n_got != 1)
		return;
	struct pkt *p = &got[0].p;
	CHECK_INT(p->family, 4);
	CHECK_INT(p->sport, 40001);
	CHECK_INT(p->dport, 25);
	CHECK_INT(p->seq, 1000);
	CHECK_INT(p->ack, 2000);
	CHECK_INT(p->tcp_flags, 0x18);
	CHECK_INT(p->win, 0x7210);
	CHECK_INT(p->nvlan, 0);
	CHECK_INT(p->payload_len, 17);
	CHECK_INT(p->payload_missing, 0);
	CHECK(memcmp(p->payload, "EHLO relay.test\r\n", 17) == 0);
	CHECK(memcmp(p->src, "\xc0\x00\x02\x0a\0\0\0\0\0\0\0\0\0\0\0\0", 16) == 0);
	CHECK(memcmp(p->dst, "\xc6\x33\x64\x19", 4) == 0);
	/* wall clock: within a few seconds of now */
	CHECK(p->ts_us + 5000000 > now_us && p->ts_us < now_us + 5000000);
}

TEST(ipv6_with_ext_header_delivered)
{
	struct spec s = smtp4("MAIL FROM:<a@b>\r\n");

	s.family = 6;
	s.src = "2001:db8::10";
	s.dst = "2001:db8::25";
	s.dport = 587;
	s.v6_hbh = 1;
	n_got = 0;
	CHECK_INT(run_pkt(cap, &s), 1);
	CHECK_INT(n_got, 1);
	if (n_got != 1)
		return;
	CHECK_INT(got[0].p.family, 6);
	CHECK_INT(got[0].p.dport, 587);
	CHECK_INT(got[0].p.payload_len, 17);
	CHECK(memcmp(got[0].p.dst, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x25", 16) == 0);
	CHECK(memcmp(got[0].p.payload, "MAIL FROM:<a@b>\r\n", 17) == 0);
}

TEST(vlan_tags)
{
	struct spec s = smtp4("QUIT\r\n");
	uint64_t deep0 = kctr(cap, RW_CTR_VLAN_DEEP);

	s.nvlan = 2;
	s.vlan[0] = 100;
	s.vlan[1] = 0x2000 | 200;   /* PCP bits must not leak into the id */
	n_got = 0;
	CHECK_INT(run_pkt(cap, &s), 1);
	CHECK_INT(n_got, 1);
	if (n_got == 1) {
		CHECK_INT(got[0].p.nvlan, 2);
		CHECK_INT(got[0].p.vlan[0], 100);
		CHECK_INT(got[0].p.vlan[1], 200);
		CHECK_INT(got[0].p.payload_len, 6);
	}
	s.nvlan = 3;
	s.vlan[2] = 300;
	n_got = 0;
	CHECK_INT(run_pkt(cap, &s), 0);
	CHECK_INT(kctr(cap, RW_CTR_VLAN_DEEP), deep0 + 1);
}

TEST(non_tcp_nothing)
{
	struct spec s = smtp4("x");
	uint64_t before = kctr(cap, RW_CTR_NON_TCP);
	uint8_t arp[60];

	n_got = 0;
	s.l4 = 17;
	CHECK_INT(run_pkt(cap, &s), 0);
	s.l4 = 1;
	CHECK_INT(run_pkt(cap, &s), 0);
	s.family = 6;
	s.src = "2001:db8::1";
	s.dst = "2001:db8::2";
	s.l4 = 58;
	CHECK_INT(run_pkt(cap, &s), 0);
	memset(arp, 0, sizeof(arp));
	arp[12] = 0x08;
	arp[13] = 0x06;
	CHECK_INT(run_dir(cap, RW_DIR_INGRESS, arp, sizeof(arp)), TC_ACT_UNSPEC);
	CHECK_INT(ebpf_capture_poll(cap, 0, collect, NULL), 0);
	CHECK_INT(n_got, 0);
	CHECK_INT(kctr(cap, RW_CTR_NON_TCP), before + 4);
}

TEST(truncated_and_fragments_nothing)
{
	struct spec s = smtp4("RCPT TO:<victim@example.org>\r\n");
	uint8_t b[PKT_BUF];
	size_t n = build(b, &s), cut;
	uint64_t mal0 = kctr(cap, RW_CTR_MALFORMED);
	int bad = 0;

	n_got = 0;
	/* every cut that loses header or payload bytes the IP header claims;
	 * test_run itself refuses (-EINVAL) to build an skb shorter than
	 * eth + IPv4 header, so those cuts cannot reach the program */
	for (cut = 14; cut < n; cut++) {
		int rc = run_dir(cap, RW_DIR_INGRESS, b, cut);

		if (cut < 14 + 20 ? rc != -EINVAL && rc != TC_ACT_UNSPEC
				  : rc != TC_ACT_UNSPEC) {
			printf("#   cut %zu rc %d\n", cut, rc);
			bad++;
		}
	}
	CHECK_INT(bad, 0);
	CHECK_INT(ebpf_capture_poll(cap, 0, collect, NULL), 0);
	CHECK_INT(n_got, 0);
	CHECK_INT(kctr(cap, RW_CTR_MALFORMED), mal0 + (n - 34));

	/* bad IHL, bad TCP data offset */
	n = build(b, &s);
	b[14] = 0x44;
	CHECK_INT(run_dir(cap, RW_DIR_INGRESS, b, n), TC_ACT_UNSPEC);
	n = build(b, &s);
	b[14 + 20 + 12] = 4 << 4;
	CHECK_INT(run_dir(cap, RW_DIR_INGRESS, b, n), TC_ACT_UNSPEC);
	CHECK_INT(ebpf_capture_poll(cap, 0, collect, NULL), 0);

	/* IPv4 fragment */
	uint64_t fr0 = kctr(cap, RW_CTR_FRAG);
	s.v4_frag = 1;
	CHECK_INT(run_pkt(cap, &s), 0);
	CHECK_INT(kctr(cap, RW_CTR_FRAG), fr0 + 1);
	CHECK_INT(n_got, 0);
}

TEST(handshake_flags_header_only)
{
	struct spec s = smtp4(NULL);

	s.sport = 40002;
	s.flags = 0x02;   /* SYN */
	n_got = 0;
	CHECK_INT(run_pkt(cap, &s), 1);
	s.flags = 0x10;   /* pure ACK: not sent */
	CHECK_INT(run_pkt(cap, &s), 0);
	s.flags = 0x11;   /* FIN|ACK */
	CHECK_INT(run_pkt(cap, &s), 1);
	CHECK_INT(n_got, 2);
	if (n_got == 2) {
		CHECK_INT(got[0].p.tcp_flags, 0x02);
		CHECK_INT(got[0].p.payload_len, 0);
		CHECK_INT(got[0].p.payload_missing, 0);
		CHECK_INT(got[1].p.tcp_flags, 0x11);
	}
}

TEST(bypass_flow_nothing_both_directions)
{
	struct spec s = smtp4("DATA\r\n");
	struct pkt rev;
	uint64_t by0 = kctr(cap, RW_CTR_BYPASSED);

	s.sport = 40003;
	n_got = 0;
	CHECK_INT(run_pkt(cap, &s), 1);
	/* verdict given from a server->client packet: same normalised key */
	memset(&rev, 0, sizeof(rev));
	rev.family = 4;
	inet_pton(AF_INET, s.dst, rev.src);
	inet_pton(AF_INET, s.src, rev.dst);
	rev.sport = 25;
	rev.dport = 40003;
	CHECK_INT(ebpf_capture_set_flow(cap, &rev, 0), 0);
	n_got = 0;
	CHECK_INT(run_pkt(cap, &s), 0);
	s.flags = 0x11;   /* not even FIN */
	CHECK_INT(run_pkt(cap, &s), 0);
	CHECK_INT(kctr(cap, RW_CTR_BYPASSED), by0 + 2);

	/* the flow entry counted both packets in direction a->b: the
	 * client 192.0.2.10 is the lower address */
	{
		struct rw_flow_key k;
		struct rw_flow_val v;
		__be32 a[4] = {0}, b[4] = {0};

		inet_pton(AF_INET, s.src, a);
		inet_pton(AF_INET, s.dst, b);
		rw_flow_key_make(&k, 4, b, a, htons(25), htons(40003), 0, 0, NULL);
		CHECK_INT(bpf_map_lookup_elem(ebpf_capture_flows_fd(cap), &k, &v), 0);
		CHECK_INT(v.state, RW_FLOW_BYPASS);
		CHECK_INT(v.pkts[0], 3);
		CHECK_INT(v.pkts[1], 0);
	}
	/* and back to INSPECT */
	CHECK_INT(ebpf_capture_set_flow(cap, &rev, 1), 0);
	s.flags = 0x18;
	CHECK_INT(run_pkt(cap, &s), 1);
}

TEST(odd_port_first_k_then_inspect)
{
	struct spec s = smtp4("CONNECT a:443 HTTP/1.1\r\n");
	uint64_t und0 = kctr(cap, RW_CTR_UNDECIDED);
	int i, delivered = 0;

	s.dport = 41234;
	s.sport = 50000;
	n_got = 0;
	for (i = 0; i < 6; i++) {
		s.seq = 1000 + (uint32_t)i * 24;
		int rc = run_pkt(cap, &s);
		CHECK(rc >= 0);
		if (rc > 0)
			delivered += rc;
	}
	CHECK_INT(delivered, RW_DEFAULT_FIRST_PAYLOAD_PKTS);
	CHECK_INT(kctr(cap, RW_CTR_UNDECIDED), und0 + 2);
	if (n_got >= 4)
		CHECK_INT(got[3].p.seq, 1000 + 3 * 24);
	/* FIN of an undecided flow still goes up (header only) */
	s.flags = 0x11;
	s.plen = 0;
	CHECK_INT(run_pkt(cap, &s), 1);
	/* user space decides it is a proxy: everything flows again */
	CHECK_INT(ebpf_capture_set_flow(cap, &got[0].p, 1), 0);
	s = smtp4("CONNECT a:443 HTTP/1.1\r\n");
	s.dport = 41234;
	s.sport = 50000;
	n_got = 0;
	CHECK_INT(run_pkt(cap, &s), 1);
	CHECK_INT(run_pkt(cap, &s), 1);
}

TEST(big_payload_chunks_reassemble)
{
	struct ebpf_capture *c = open_cap(0, 512);
	struct spec s = smtp4(NULL);
	uint64_t rec0;

	CHECK(c != NULL);
	if (!c)
		return;
	s.payload = msg;
	s.plen = 3000;   /* 6 chunks of 512 (test_run caps a packet ~3.7 KB) */
	rec0 = kctr(c, RW_CTR_SENT_RECORDS);
	n_got = 0;
	CHECK_INT(run_pkt(c, &s), 1);
	CHECK_INT(n_got, 1);
	CHECK_INT(kctr(c, RW_CTR_SENT_RECORDS) - rec0, 6);
	if (n_got == 1) {
		CHECK_INT(got[0].p.payload_len, 3000);
		CHECK_INT(got[0].p.payload_missing, 0);
		CHECK_INT(got[0].p.seq, 1000);
		CHECK(memcmp(got[0].p.payload, msg, 3000) == 0);
	}
	struct ebpf_stats st;
	ebpf_capture_stats(c, &st);
	CHECK_INT(st.user[EBPF_U_MULTI_CHUNK], 1);
	CHECK_INT(st.user[EBPF_U_PARTIAL], 0);
	ebpf_capture_close(c);
}

TEST(over_cap_cut_is_reported)
{
	/* 16 chunks of 128 = 2048 bytes cap; the packet has 3000 */
	struct ebpf_capture *c = open_cap(0, 128);
	struct spec s = smtp4(NULL);

	CHECK(c != NULL);
	if (!c)
		return;
	s.payload = msg;
	s.plen = 3000;
	n_got = 0;
	CHECK_INT(run_pkt(c, &s), 1);
	if (n_got == 1) {
		CHECK_INT(got[0].p.payload_len, 2048);
		CHECK_INT(got[0].p.payload_missing, 952);
		CHECK(memcmp(got[0].p.payload, msg, 2048) == 0);
	}
	CHECK_INT(kctr(c, RW_CTR_TRUNC_PKTS), 1);
	CHECK_INT(kctr(c, RW_CTR_TRUNC_BYTES), 952);
	ebpf_capture_close(c);
}

TEST(ring_full_mid_packet_is_reported)
{
	/* one page of ring holds two 1.6 KB records: the third chunk fails */
	struct ebpf_capture *c = open_cap(4096, 512);
	struct spec s = smtp4(NULL);
	struct ebpf_stats st;

	CHECK(c != NULL);
	if (!c)
		return;
	s.payload = msg;
	s.plen = 3000;
	n_got = 0;
	CHECK_INT(run_pkt(c, &s), 0);  /* tail may still come: held back */
	usleep(150 * 1000);
	CHECK_INT(ebpf_capture_poll(c, 0, collect, NULL), 1);
	CHECK_INT(n_got, 1);
	if (n_got == 1) {
		CHECK_INT(got[0].p.payload_len, 1024);
		CHECK_INT(got[0].p.payload_missing, 1976);
		CHECK(memcmp(got[0].p.payload, msg, 1024) == 0);
	}
	ebpf_capture_stats(c, &st);
	CHECK_INT(st.kern[RW_CTR_RB_FULL], 1);
	CHECK_INT(st.kern[RW_CTR_RB_FULL_BYTES], 1976);
	CHECK_INT(st.user[EBPF_U_PARTIAL], 1);
	CHECK_INT(st.user[EBPF_U_MISSING_BYTES], 1976);

	/* the ring drained: the next packet goes through whole, and a new
	 * pkt_id also ends a held-back packet without waiting */
	n_got = 0;
	s.plen = 600;
	CHECK_INT(run_pkt(c, &s), 1);
	if (n_got == 1)
		CHECK_INT(got[0].p.payload_missing, 0);
	ebpf_capture_close(c);
}

TEST(open_errors_are_one_line)
{
	struct ebpf_opts o;
	struct ebpf_capture *c = (struct ebpf_capture *)1;
	char err[256];
	uint16_t many[RW_MAX_PORTS + 1] = {0};

	memset(&o, 0, sizeof(o));
	o.ifnames[0] = "rwbpf-nonexist0";
	o.n_ifnames = 1;
	CHECK_INT(ebpf_capture_open(&o, &c, err, sizeof(err)), -ENODEV);
	CHECK(c == NULL);
	CHECK(strstr(err, "rwbpf-nonexist0") != NULL);
	CHECK(strchr(err, '\n') == NULL);
	memset(&o, 0, sizeof(o));
	o.ports = many;
	o.n_ports = RW_MAX_PORTS + 1;
	CHECK_INT(ebpf_capture_open(&o, &c, err, sizeof(err)), -EINVAL);
	ebpf_capture_close(NULL);
}

/* ---- driver modes ------------------------------------------------------- */

static volatile sig_atomic_t stop;
static void on_sig(int sig) { (void)sig; stop = 1; }

struct drv {
	struct ebpf_capture *c;
	int bench;
	uint64_t pkts, bytes, bypassed;
};

static int port_listed(uint16_t p)
{
	static const uint16_t ports[] = { 25, 465, 587, 2525, 3128, 8080, 8000,
					  8118, 8123, 8888, 80, 1080, 1081, 9050 };
	size_t i;

	for (i = 0; i < sizeof(ports) / sizeof(ports[0]); i++)
		if (ports[i] == p)
			return 1;
	return 0;
}

static void drv_pkt(void *ctx, struct pkt *p)
{
	struct drv *d = ctx;
	char s[INET6_ADDRSTRLEN], t[INET6_ADDRSTRLEN], txt[41];
	uint32_t i, n = p->payload_len < 40 ? p->payload_len : 40;

	d->pkts++;
	d->bytes += p->payload_len;
	if (d->bench) {
		/* what the engine does once detection says "not ours" */
		if (p->payload_len && !port_listed(p->sport) &&
		    !port_listed(p->dport)) {
			ebpf_capture_set_flow(d->c, p, 0);
			d->bypassed++;
		}
		return;
	}
	inet_ntop(p->family == 4 ? AF_INET : AF_INET6, p->src, s, sizeof(s));
	inet_ntop(p->family == 4 ? AF_INET : AF_INET6, p->dst, t, sizeof(t));
	for (i = 0; i < n; i++)
		txt[i] = p->payload[i] >= 32 && p->payload[i] < 127 ? (char)p->payload[i] : '.';
	txt[n] = 0;
	printf("pkt %s:%u > %s:%u flags=0x%02x seq=%u len=%u missing=%u data=%s\n",
	       s, p->sport, t, p->dport, p->tcp_flags, p->seq, p->payload_len,
	       p->payload_missing, txt);
	fflush(stdout);
}

static void print_prog_cost(struct ebpf_capture *c)
{
	uint64_t ns = 0, cnt = 0;
	int d;

	for (d = 0; d < 2; d++) {
		struct bpf_prog_info info;
		__u32 len = sizeof(info);

		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(ebpf_capture_prog_fd(c, d), &info, &len) == 0) {
			printf("prog %s id=%u run_time_ns=%llu run_cnt=%llu\n",
			       d ? "egress" : "ingress", info.id,
			       (unsigned long long)info.run_time_ns,
			       (unsigned long long)info.run_cnt);
			ns += info.run_time_ns;
			cnt += info.run_cnt;
		}
	}
	printf("cost run_time_ns=%llu run_cnt=%llu avg_ns=%.1f\n",
	       (unsigned long long)ns, (unsigned long long)cnt,
	       cnt ? (double)ns / (double)cnt : 0.0);
}

static int driver(const char *ifname, int seconds, int bench)
{
	struct ebpf_opts o;
	struct ebpf_stats st;
	struct drv d;
	char err[256];
	time_t end;
	int i;

	memset(&o, 0, sizeof(o));
	memset(&d, 0, sizeof(d));
	o.ifnames[0] = ifname;
	o.n_ifnames = 1;
	d.bench = bench;
	if (ebpf_capture_open(&o, &d.c, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	signal(SIGINT, on_sig);
	signal(SIGTERM, on_sig);
	printf("ready\n");
	fflush(stdout);
	end = time(NULL) + seconds;
	while (!stop && time(NULL) < end) {
		int rc = ebpf_capture_poll(d.c, 100, drv_pkt, &d);
		if (rc < 0) {
			fprintf(stderr, "poll: %s\n", strerror(-rc));
			break;
		}
	}
	ebpf_capture_poll(d.c, 0, drv_pkt, &d);
	ebpf_capture_stats(d.c, &st);
	for (i = 0; i < RW_CTR__COUNT; i++)
		printf("stat %s %llu\n", ebpf_kern_counter_names[i],
		       (unsigned long long)st.kern[i]);
	for (i = 0; i < EBPF_U__COUNT; i++)
		printf("stat %s %llu\n", ebpf_user_counter_names[i],
		       (unsigned long long)st.user[i]);
	printf("delivered pkts=%llu bytes=%llu bypass_calls=%llu\n",
	       (unsigned long long)d.pkts, (unsigned long long)d.bytes,
	       (unsigned long long)d.bypassed);
	print_prog_cost(d.c);
	fflush(stdout);
	ebpf_capture_close(d.c);
	return 0;
}

/* The measurement floor: an empty TC program (return TC_ACT_UNSPEC) on
 * the same hooks, so the bench can subtract what bpf_stats itself and
 * the clsact dispatch cost. Our handle + 1, so it never meets ours. */
static int floor_driver(const char *ifname, int seconds)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = TC_ACT_UNSPEC },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, to, .handle = RW_TC_HANDLE + 1,
		    .priority = RW_TC_PRIORITY + 1, .flags = BPF_TC_F_REPLACE);
	struct bpf_prog_info info;
	__u32 len = sizeof(info);
	int fd, rc, created;
	time_t end;

	hook.ifindex = (int)if_nametoindex(ifname);
	fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "rw_floor", "GPL", insns, 2, NULL);
	if (fd < 0 || hook.ifindex == 0)
		return 2;
	created = bpf_tc_hook_create(&hook) == 0;
	to.prog_fd = fd;
	hook.attach_point = BPF_TC_INGRESS;
	rc = bpf_tc_attach(&hook, &to);
	to.prog_id = 0;
	hook.attach_point = BPF_TC_EGRESS;
	rc = rc ? rc : bpf_tc_attach(&hook, &to);
	if (rc)
		return 2;
	signal(SIGINT, on_sig);
	signal(SIGTERM, on_sig);
	printf("ready\n");
	fflush(stdout);
	end = time(NULL) + seconds;
	while (!stop && time(NULL) < end)
		usleep(100 * 1000);
	memset(&info, 0, sizeof(info));
	bpf_obj_get_info_by_fd(fd, &info, &len);
	printf("cost run_time_ns=%llu run_cnt=%llu avg_ns=%.1f\n",
	       (unsigned long long)info.run_time_ns,
	       (unsigned long long)info.run_cnt,
	       info.run_cnt ? (double)info.run_time_ns / (double)info.run_cnt : 0.0);
	to.prog_fd = 0;
	to.prog_id = 0;
	to.flags = 0;
	bpf_tc_detach(&hook, &to);
	hook.attach_point = BPF_TC_INGRESS;
	bpf_tc_detach(&hook, &to);
	if (created) {
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&hook);
	}
	close(fd);
	return 0;
}

/* test_run cost of one packet of a bypassed flow (no NIC, no stack) */
static int microbench(void)
{
	struct ebpf_capture *c = open_cap(0, 0);
	struct spec s = smtp4(NULL);
	uint8_t b[PKT_BUF];
	size_t n;
	struct pkt p;
	int rc;

	if (!c)
		return 2;
	s.payload = msg;
	s.plen = 1448;
	s.dport = 5001;
	n = build(b, &s);
	memset(&p, 0, sizeof(p));
	p.family = 4;
	inet_pton(AF_INET, s.src, p.src);
	inet_pton(AF_INET, s.dst, p.dst);
	p.sport = s.sport;
	p.dport = s.dport;
	ebpf_capture_set_flow(c, &p, 0);
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = b,
		    .data_size_in = (uint32_t)n, .repeat = 1000000);
	rc = bpf_prog_test_run_opts(ebpf_capture_prog_fd(c, RW_DIR_INGRESS), &o);
	printf("microbench bypassed-flow packet: %u ns/run (test_run, %s)\n",
	       o.duration, rc ? strerror(errno) : "ok");
	ebpf_capture_close(c);
	return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
	char err[256];

	fill_msg();
	if (argc >= 4 && strcmp(argv[1], "--capture") == 0)
		return driver(argv[2], atoi(argv[3]), 0);
	if (argc >= 4 && strcmp(argv[1], "--bench") == 0)
		return driver(argv[2], atoi(argv[3]), 1);
	if (argc >= 4 && strcmp(argv[1], "--floor") == 0)
		return floor_driver(argv[2], atoi(argv[3]));
	if (argc >= 2 && strcmp(argv[1], "--microbench") == 0)
		return microbench();

	if (geteuid() != 0) {
		skip_reason = "not root (needs CAP_BPF + CAP_NET_ADMIN)";
	} else {
		struct ebpf_opts o;

		memset(&o, 0, sizeof(o));
		if (ebpf_capture_open(&o, &cap, err, sizeof(err)) < 0)
			skip_reason = err;
	}
	if (skip_reason) {
		printf("ok - test_bpf.c/all # SKIP %s\n", skip_reason);
		return 0;
	}
	RUN(raw_record_fields);
	RUN(ipv4_smtp_delivered);
	RUN(ipv6_with_ext_header_delivered);
	RUN(vlan_tags);
	RUN(non_tcp_nothing);
	RUN(truncated_and_fragments_nothing);
	RUN(handshake_flags_header_only);
	RUN(bypass_flow_nothing_both_directions);
	RUN(odd_port_first_k_then_inspect);
	RUN(big_payload_chunks_reassemble);
	RUN(over_cap_cut_is_reported);
	RUN(ring_full_mid_packet_is_reported);
	RUN(open_errors_are_one_line);
	ebpf_capture_close(cap);
	return t_done();
}
