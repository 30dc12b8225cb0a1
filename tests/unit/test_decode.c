/* test_decode.c - decode_packet() on frames assembled here header by header.
 *
 * A frame is built outermost first (f_eth, f_tag, f_ip4, f_tcp, ...) and
 * f_done() fills in the IP length fields; a test may then overwrite any
 * byte to make it wrong. dec() copies the frame into a malloc'd buffer of
 * exactly caplen bytes before decoding, so ASan catches any read past
 * caplen.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <pcap/dlt.h>

#include "decode.h"
#include "t.h"

/* ---- frame builder ---- */

struct frame {
	uint8_t d[80000];   /* room for a 64 KB+ GSO packet */
	uint32_t n;
	uint32_t ip_off;    /* where the IP header starts */
	uint32_t l4_off;    /* where the TCP header starts */
	uint32_t pay_off;   /* where the TCP payload starts */
	int ipver;
};

static struct frame F;

static void f_reset(void)
{
	memset(&F, 0, sizeof(F));
}

static void put8(uint8_t v)
{
	F.d[F.n++] = v;
}

static void put16(uint16_t v)
{
	put8((uint8_t)(v >> 8));
	put8((uint8_t)v);
}

static void put32(uint32_t v)
{
	put16((uint16_t)(v >> 16));
	put16((uint16_t)v);
}

static void putn(const void *p, uint32_t n)
{
	memcpy(F.d + F.n, p, n);
	F.n += n;
}

static void zeros(uint32_t n)
{
	memset(F.d + F.n, 0, n);
	F.n += n;
}

static void set16(uint32_t off, uint16_t v)
{
	F.d[off] = (uint8_t)(v >> 8);
	F.d[off + 1] = (uint8_t)v;
}

static void f_eth(uint16_t type)
{
	static const uint8_t macs[12] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2 };

	putn(macs, sizeof(macs));
	put16(type);
}

/* one VLAN tag: TCI (priority 5 to check it is masked off), next type */
static void f_tag(uint16_t vid, uint16_t next)
{
	put16((uint16_t)(5 << 13 | vid));
	put16(next);
}

static void f_sll(uint16_t proto)
{
	put16(0);             /* packet type: to us */
	put16(1);             /* ARPHRD_ETHER */
	put16(6);             /* address length */
	zeros(8);             /* address, padded to 8 */
	put16(proto);
}

static void f_sll2(uint16_t proto)
{
	put16(proto);
	put16(0);             /* reserved */
	put32(3);             /* interface index */
	put16(1);             /* ARPHRD_ETHER */
	put8(0);              /* packet type */
	put8(6);              /* address length */
	zeros(8);
}

/* DLT_NULL / DLT_LOOP family word, in host or network order */
static void f_null(uint32_t fam, int network_order)
{
	if (network_order) {
		put32(fam);
	} else {
		memcpy(F.d + F.n, &fam, 4);
		F.n += 4;
	}
}

/* IPv4 10.0.0.1 -> 10.0.0.2 with optwords 4-byte option words (NOPs) */
static void f_ip4(uint8_t proto, int optwords)
{
	F.ip_off = F.n;
	F.ipver = 4;
	put8((uint8_t)(0x40 | (5 + optwords)));
	put8(0);
	put16(0);              /* total length: f_done() */
	put16(0x1234);         /* id */
	put16(0x4000);         /* DF */
	put8(64);
	put8(proto);
	put16(0xdead);         /* checksum: deliberately wrong */
	put32(0x0a000001);
	put32(0x0a000002);
	for (int i = 0; i < optwords * 4; i++)
		put8(1);
}

/* IPv6 2001:db8::1 -> 2001:db8::2, first next header nh */
static void f_ip6(uint8_t nh)
{
	static const uint8_t a[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	static const uint8_t b[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };

	F.ip_off = F.n;
	F.ipver = 6;
	put32(0x60000000);
	put16(0);              /* payload length: f_done() */
	put8(nh);
	put8(64);
	putn(a, 16);
	putn(b, 16);
}

/* IPv6 extension header of `type` followed by `next`, total len bytes
 * (a multiple of 8, or of 4 for AH) */
static void f_ext6(uint8_t type, uint8_t next, uint32_t len)
{
	put8(next);
	if (type == 51)
		put8((uint8_t)(len / 4 - 2));
	else
		put8((uint8_t)(len / 8 - 1));
	zeros(len - 2);
}

/* IPv6 fragment header: offset in 8-byte units, more-fragments flag */
static void f_frag6(uint8_t next, uint16_t offset, int more)
{
	put8(next);
	put8(0);
	put16((uint16_t)(offset << 3 | (more ? 1 : 0)));
	put32(0xcafe);
}

/* TCP 40000 -> 25, seq/ack fixed, optwords 4-byte option words (NOPs) */
static void f_tcp(uint8_t flags, int optwords, const char *payload)
{
	F.l4_off = F.n;
	put16(40000);
	put16(25);
	put32(0x11223344);
	put32(0xaabbccdd);
	put8((uint8_t)((5 + optwords) << 4));
	put8(flags);
	put16(29200);
	put16(0xbeef);         /* checksum: deliberately wrong */
	put16(0);
	for (int i = 0; i < optwords * 4; i++)
		put8(1);
	F.pay_off = F.n;
	if (payload)
		putn(payload, (uint32_t)strlen(payload));
}

/* fill the IP length field from what was built so far */
static void f_done(void)
{
	if (F.ipver == 4)
		set16(F.ip_off + 2, (uint16_t)(F.n - F.ip_off));
	else if (F.ipver == 6)
		set16(F.ip_off + 4, (uint16_t)(F.n - F.ip_off - 40));
}

/* ---- decoding helpers ---- */

static struct pkt P;
static struct rw_counters C;
static uint8_t *copy;

/* decode the first caplen bytes of F (wirelen given) from an exact-size
 * heap copy; counters and P are reset first (P.index set to a marker) */
static int dec_cut(int linktype, uint32_t caplen, uint32_t wirelen)
{
	free(copy);
	copy = malloc(caplen ? caplen : 1);
	memcpy(copy, F.d, caplen);
	memset(&C, 0, sizeof(C));
	memset(&P, 0xa5, sizeof(P));
	P.index = 4242;
	return decode_packet(linktype, copy, caplen, wirelen, 1700000000123456ull,
			     &P, &C);
}

static int dec(int linktype)
{
	return dec_cut(linktype, F.n, F.n);
}

static uint64_t ctr_total(void)
{
	uint64_t t = 0;

	for (int i = 0; i < CTR__COUNT; i++)
		t += C.v[i];
	return t;
}

/* exactly one counter moved, and it is id */
static int only(enum rw_counter id)
{
	return C.v[id] == 1 && ctr_total() == 1;
}

/* the fixed 40000 -> 25 segment from f_tcp() came out right */
static void check_tcp_fields(int family, const char *payload)
{
	static const uint8_t a6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	static const uint8_t b6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };
	static const uint8_t a4[16] = { 10, 0, 0, 1 }, b4[16] = { 10, 0, 0, 2 };

	CHECK_INT(P.family, family);
	CHECK(memcmp(P.src, family == 4 ? a4 : a6, 16) == 0);
	CHECK(memcmp(P.dst, family == 4 ? b4 : b6, 16) == 0);
	CHECK_INT(P.sport, 40000);
	CHECK_INT(P.dport, 25);
	CHECK_INT(P.seq, 0x11223344);
	CHECK_INT(P.ack, 0xaabbccdd);
	CHECK_INT(P.win, 29200);
	CHECK_INT(P.payload_len, strlen(payload));
	CHECK(P.payload_len != strlen(payload) || P.payload_len == 0 ||
	      memcmp(P.payload, payload, P.payload_len) == 0);
	CHECK_INT(P.payload_missing, 0);
	CHECK_INT(P.ts_us, 1700000000123456ull);
	CHECK_INT(P.index, 4242);
}

/* ---- tests ---- */

TEST(ethernet_ipv4_tcp)
{
	f_reset();
	f_eth(0x0800);
	f_ip4(6, 0);
	f_tcp(TCP_PSH | TCP_ACK, 0, "EHLO x\r\n");
	f_done();
	CHECK_INT(dec(DLT_EN10MB), 0);
	CHECK(only(CTR_PKT_TCP));
	check_tcp_fields(4, "EHLO x\r\n");
	CHECK_INT(P.tcp_flags, TCP_PSH | TCP_ACK);
	CHECK_INT(P.nvlan, 0);
	CHECK_INT(P.wire_len, F.n);
	CHECK(P.payload == copy + F.pay_off);
}

TEST(ethernet_ipv6_tcp)
{
	f_reset();
	f_eth(0x86dd);
	f_ip6(6);
	f_tcp(TCP_SYN, 0, "");
	f_done();
	CHECK_INT(dec(DLT_EN10MB), 0);
	CHECK(only(CTR_PKT_TCP));
	check_tcp_fields(6, "");
	CHECK_INT(P.tcp_flags, TCP_SYN);
}

TEST(vlan_tags)
{
	/* 802.1Q */
	f_reset();
	f_eth(0x8100);
	f_tag(100, 0x0800);
	f_ip4(6, 0);
	f_tcp(TCP_ACK, 0, "data");
	f_done();
	CHECK_INT(dec(DLT_EN10MB), 0);
	CHECK(only(CTR_PKT_TCP));
	CHECK_INT(P.nvlan, 1);
	CHECK_INT(P.vlan[0], 100);
	check_tcp_fields(4, "data");

	/* 802.1ad outer + 802.1Q inner, IPv6 */
	f_reset();
	f_eth(0x88a8);
	f_tag(10, 0x8100);
	f_tag(4095, 0x86dd);
	f_ip6(6);
	f_tcp(TCP_ACK, 0, "data");
	f_done();
	CHECK_INT(dec(DLT_EN10MB), 0);
	CHECK(only(CTR_PKT_TCP));
	CHECK_INT(P.nvlan, 2);
	CHECK_INT(P.vlan[0], 10);
	CHECK_INT(P.vlan[1], 4095);
	check_tcp_fields(6, "data");

	/* old QinQ 0x9100 */
	f_reset();
	f_eth(0x9100);
	f_tag(7, 0x8100);
	f_tag(8, 0x0800);
	f_ip4(6, 0);
	f_tcp(TCP_ACK, 0, "x");
	f_done();
	CHECK_INT(dec(DLT_EN10MB), 0);
	CHECK_INT(P.nvlan, 2);
	CHECK_INT(P.vlan[0], 7);
	CHECK_INT(P.vlan[1], 8);

	/* a third tag is one too many */
	f_reset();
	f_eth(0x88a8);
	f_tag(1, 0x8100);
	f_tag(2, 0x8100);
	f_tag(3, 0x0800);
	f_ip4(6, 0);
	f_tcp(TCP_ACK, 0, "x");
	f_done();
	CHECK_INT(dec(DLT_EN10MB), -EINVAL);
	CHECK(only(CTR_PKT_VLAN_DEEP));
}

TEST(linux_cooked)
{
	f_reset();
	f_sll(0x0800);
	f_ip4(6, 0);
	f_tcp(TCP_ACK, 0, "sll1");
	f_done();
	CHECK_INT(dec(DLT_LINUX_SLL), 0);
	CHECK(only(CTR_PKT_TCP));
	check_tcp_fields(4, "sll1");

	f_reset();
	f_sll(0x8100);   /* a tag kept after the cooked header */
	f_tag(42, 0x86dd);
	f_ip6(6);
	f_tcp(TCP_ACK, 0, "sll1v6");
	f_done();
	CHECK_INT(dec(DLT_LINUX_SLL), 0);
	CHECK_INT(P.nvlan, 1);
	CHECK_INT(P.vlan[0], 42);
	check_tcp_fields(6, "sll1v6");

	f_reset();
	f_sll2(0x86dd);
	f_ip6(6);
	f_tcp(TCP_ACK, 0, "sll2");
	f_done();
	CHECK_INT(dec(DLT_LINUX_SLL2), 0);
	CHECK(only(CTR_PKT_TCP));
	check_tcp_fields(6, "sll2");

	f_reset();
	f_sll2(0x0806);  /* ARP */
	zeros(28);
	CHECK_INT(dec(DLT_LINUX_SLL2), -EPROTONOSUPPORT);
	CHECK(only(CTR_PKT_NON_IP));
}

TEST(raw_ip)
{
	static const int raw_types[] = { DLT_RAW, 101 };

	for (int i = 0; i < 2; i++) {
		f_reset();
		f_ip4(6, 0);
		f_tcp(TCP_ACK, 0, "raw4");
		f_done();
		CHECK_INT(dec(raw_types[i]), 0);
		CHECK(only(CTR_PKT_TCP));
		check_tcp_fields(4, "raw4");

		f_reset();
		f_ip6(6);
		f_tcp(TCP_ACK, 0, "raw6");
		f_done();
		CHECK_INT(dec(raw_types[i]), 0);
		check_tcp_fields(6, "raw6");

		f_reset();
		put8(0x50);     /* version 5 */
		zeros(39);
		CHECK_INT(dec(raw_types[i]), -EINVAL);
		CHECK(only(CTR_PKT_BAD_IP));
	}

	f_reset();
	f_ip4(6, 0);
	f_tcp(TCP_ACK, 0, "v4");
	f_done();
	CHECK_INT(dec(DLT_IPV4), 0);
	check_tcp_fields(4, "v4");
	CHECK_INT(dec(DLT_IPV6), -EINVAL);
	CHECK(only(CTR_PKT_BAD_IP));

	f_reset();
	f_ip6(6);
	f_tcp(TCP_ACK, 0, "v6");
	f_done();
	CHECK_INT(dec(DLT_IPV6), 0);
	check_tcp_fields(6, "v6");
	CHECK_INT(dec(DLT_IPV4), -EINVAL);
	CHECK(only(CTR_PKT_BAD_IP));
}

TEST(null_and_loop)
{
	/* AF_INET6 as the BSDs number it */
	static const uint32_t v6fams[] = { 24, 28, 30 };

	for (int order = 0; order < 2; order++) {
		for (int lt = 0; lt < 2; lt++) {
			int linktype = lt ? DLT_LOOP : DLT_NULL;

			f_reset();
			f_null(2, order);
			f_ip4(6, 0);
			f_tcp(TCP_ACK, 0, "lo4");
			f_done();
			CHECK_INT(dec(linktype), 0);
			CHECK(only(CTR_PKT_TCP));
			check_tcp_fields(4, "lo4");

			for (int i = 0; i < 3; i++) {
				f_reset();
				f_null(v6fams[i], order);
				f_ip6(6);
				f_tcp(TCP_ACK, 0, "lo6");
				f_done();
				CHECK_INT(dec(linktype), 0);
				check_tcp_fields(6, "lo6");
			}
		}
	}

	f_reset();
	f_null(7, 0);   /* AF_LOCAL: not IP */
	f_ip4(6, 0);
	f_tcp(TCP_ACK, 0, "x");
	f_done();
	CHECK_INT(dec(DLT_NULL), -EPROTONOSUPPORT);
	CHECK(only(CTR_PKT_NON_IP));
}

TEST(unsupported_linktype)
{
	f_reset();
	f_ip4(6, 0);
	f_tcp(TCP_ACK, 0, "x");
	f_done();
	CHECK_INT(dec(DLT_IEEE802_11), -EPROTONOSUPPORT);
	CHECK(only(CTR_PKT_LINKTYPE));
	/* nothing captured at all, NULL data: still counted, no crash */
	memset(&C, 0, sizeof(C));
	CHECK(decode_packet(DLT_EN10MB, NULL, 0, 60, 0, &P, &C) < 0);
	CHECK(only(CTR_PKT_TRUNC_LINK));
	/* NULL data with a length (a caller bug) is nothing captured */
	memset(&C, 0, sizeof(C));
	CHECK(decode_packet(DLT_EN10MB, NULL, 100, 100, 0, &P, &C) < 0);
	CHECK(only(CTR_PKT_TRUNC_LINK));
}

TEST(ipv4_and_tcp_options)
{
	f_reset();
	f_eth(0x0800);
	f_ip4(6, 3);          /* IHL 8 */
	f_tcp(TCP_ACK, 3, "after options");
	f_done();
	CHECK_INT(dec(DLT_EN10MB), 0);
	CHECK(only(CTR_PKT_TCP));
	check_tcp_fields(4, "after options");
	CHECK(P.payload == copy + F.pay_off);

	/* maximum IHL 15 and data offset 15 */
	f_reset();
	f_eth(0x0800);
	f_ip4(6, 10);
	f_tcp(TCP_ACK, 10, "max");
	f_done();
	CHECK_INT(dec(DLT_EN10MB), 0);
	check_tcp_fields(4, "max");
}

TEST(ethernet_padding_and_fcs_trimmed)
{
	/* 54-byte SYN padded to the 60-byte minimum */
	f_reset();
	f_eth(0x0800);
	f_ip4(6, 0);
	f_tcp(TCP_SYN, 0, "");
	f_done();
	zeros(6);
	CHECK_INT(dec(DLT_EN10MB), 0);
	CHECK(only(CTR_PKT_TCP));
	CHECK_INT(P.payload_len, 0);
	CHECK_INT(P.payload_missing, 0);

	/* a 2-byte payload, padding, and a 4-byte FCS */
	f_reset();
	f_eth(0x0800);
	f_ip4(6, 0);
	f_tcp(TCP_ACK, 0, "hi");
	f_done();
	zeros(4);
	put32(0x01020304);
	CHECK_INT(dec(DLT_EN10MB), 0);
	check_tcp_fields(4, "hi");

	/* IPv6 trailer too */
	f_reset();
	f_eth(0x86dd);
	f_ip6(6);
	f_tcp(TCP_ACK, 0, "hi6");
	f_done();
	put32(0xffffffff);
	CHECK_INT(dec(DLT_EN10MB), 0);
	check_tcp_fields(6, "hi6");
}

/* payload of n bytes of a repeating pattern (GSO super-packets) */
static void f_big_payload(uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		put8((uint8_t)('a' + i % 26));
}

TEST(gso_lengths)
{
	/* 60000 bytes payload, total length written as is */
	f_reset();
	f_eth(0x0800);
	f_ip4(6, 0);
	f_tcp(TCP_ACK, 0, NULL);
	f_big_payload(60000);
	f_done();
	CHECK_INT(dec(DLT_EN10MB), 0);
	CHECK(only(CTR_PKT_TCP));
	CHECK_INT(P.payload_len, 60000);
	CHECK_INT(P.payload_missing, 0);

	/* same with total length 0 */
	set16(F.ip_off + 2, 0);
	CHECK_INT(dec(DLT_EN10MB), 0);
	CHECK(only(CTR_PKT_TCP));
	CHECK_INT(P.payload_len, 60000);

	/* 8 KB, total length 0, cut by a 1500-byte snaplen: the rest is
	 * missing, taken from the wire length */
	f_reset();
	f_eth(0x0800);
	f_ip4(6, 0);
	f_tcp(TCP_ACK, 0, NULL);
	f_big_payload(8192);
	CHECK_INT(dec_cut(DLT_EN10MB, 1500, F.n), 0);
	CHECK(C.v[CTR_PKT_TCP] == 1 && C.v[CTR_PKT_SNAP_CUT] == 1);
	CHECK_INT(P.payload_len, 1500 - 54);
	CHECK_INT(P.payload_missing, 8192 - (1500 - 54));

	/* IPv6 over 64 KB: payload length 0 */
	f_reset();
	f_eth(0x86dd);
	f_ip6(6);
	f_tcp(TCP_ACK, 0, NULL);
	f_big_payload(70000);
	CHECK_INT(dec(DLT_EN10MB), 0);
	CHECK(only(CTR_PKT_TCP));
	CHECK_INT(P.payload_len, 70000);
	CHECK_INT(P.payload_missing, 0);
}

TEST(ipv4_fragments_skipped)
{
	f_reset();
	f_eth(0x0800);
	f_ip4(6, 0);
	f_tcp(TCP_ACK, 0, "frag");
	f_done();

	set16(F.ip_off + 6, 0x2000);          /* MF, offset 0 */
	CHECK_INT(dec(DLT_EN10MB), -ENOTSUP);
	CHECK(only(CTR_PKT_IPV4_FRAG));
	set16(F.ip_off + 6, 0x0010);          /* last fragment, offset 16 */
	CHECK_INT(dec(DLT_EN10MB), -ENOTSUP);
	CHECK(only(CTR_PKT_IPV4_FRAG));
	set16(F.ip_off + 6, 0x0000);          /* neither DF nor fragment */
	CHECK_INT(dec(DLT_EN10MB), 0);
	check_tcp_fields(4, "frag");

	/* a UDP fragment is "not TCP", not a lost TCP fragment */
	F.d[F.ip_off + 9] = 17;
	set16(F.ip_off + 6, 0x2000);
	CHECK_INT(dec(DLT_EN10MB), -EPROTONOSUPPORT);
	CHECK(only(CTR_PKT_NON_TCP));
}

TEST(ipv6_extension_headers)
{
	/* hop-by-hop, routing, destination options, AH, then TCP */
	f_reset();
	f_eth(0x86dd);
	f_ip6(0);
	f_ext6(0, 43, 8);
	f_ext6(43, 60, 24);
	f_ext6(60, 51, 16);
	f_ext6(51, 6, 24);   /* AH: 24 bytes = (4 + 2) * 4 */
	f_tcp(TCP_ACK, 0, "behind ext");
	f_done();
	CHECK_INT(dec(DLT_EN10MB), 0);
	CHECK(only(CTR_PKT_TCP));
	check_tcp_fields(6, "behind ext");
	CHECK(P.payload == copy + F.pay_off);

	/* exactly DECODE_MAX_IPV6_EXT headers pass, one more does not */
	for (int extra = 0; extra < 2; extra++) {
		int n = DECODE_MAX_IPV6_EXT + extra;

		f_reset();
		f_eth(0x86dd);
		f_ip6(60);
		for (int i = 0; i < n; i++)
			f_ext6(60, i == n - 1 ? 6 : 60, 8);
		f_tcp(TCP_ACK, 0, "deep");
		f_done();
		if (!extra) {
			CHECK_INT(dec(DLT_EN10MB), 0);
			check_tcp_fields(6, "deep");
		} else {
			CHECK_INT(dec(DLT_EN10MB), -EINVAL);
			CHECK(only(CTR_PKT_IPV6_EXT_LOOP));
		}
	}

	/* an extension header longer than the payload length says */
	f_reset();
	f_eth(0x86dd);
	f_ip6(60);
	f_ext6(60, 6, 8);
	f_tcp(TCP_ACK, 0, "x");
	f_done();
	F.d[F.l4_off - 8 + 1] = 200;    /* hdr ext len: 1608 bytes */
	CHECK_INT(dec(DLT_EN10MB), -EINVAL);
	CHECK(only(CTR_PKT_BAD_IP));

	/* ESP and no-next-header end the chain: not TCP */
	f_reset();
	f_eth(0x86dd);
	f_ip6(0);
	f_ext6(0, 50, 8);
	zeros(32);
	f_done();
	CHECK_INT(dec(DLT_EN10MB), -EPROTONOSUPPORT);
	CHECK(only(CTR_PKT_NON_TCP));
	f_reset();
	f_eth(0x86dd);
	f_ip6(59);
	f_done();
	CHECK_INT(dec(DLT_EN10MB), -EPROTONOSUPPORT);
	CHECK(only(CTR_PKT_NON_TCP));
}

TEST(ipv6_fragments)
{
	/* first fragment (M set) */
	f_reset();
	f_eth(0x86dd);
	f_ip6(44);
	f_frag6(6, 0, 1);
	f_tcp(TCP_ACK, 0, "f");
	f_done();
	CHECK_INT(dec(DLT_EN10MB), -ENOTSUP);
	CHECK(only(CTR_PKT_IPV6_FRAG));

	/* a later fragment: offset, no M */
	f_reset();
	f_eth(0x86dd);
	f_ip6(44);
	f_frag6(6, 100, 0);
	zeros(16);
	f_done();
	CHECK_INT(dec(DLT_EN10MB), -ENOTSUP);
	CHECK(only(CTR_PKT_IPV6_FRAG));

	/* a fragment behind destination options whose chain continues:
	 * may be TCP, counted as a fragment */
	f_reset();
	f_eth(0x86dd);
	f_ip6(60);
	f_ext6(60, 44, 8);
	f_frag6(60, 0, 1);
	zeros(16);
	f_done();
	CHECK_INT(dec(DLT_EN10MB), -ENOTSUP);
	CHECK(only(CTR_PKT_IPV6_FRAG));

	/* an atomic fragment is a whole packet (RFC 6946) */
	f_reset();
	f_eth(0x86dd);
	f_ip6(44);
	f_frag6(6, 0, 0);
	f_tcp(TCP_ACK, 0, "atomic");
	f_done();
	CHECK_INT(dec(DLT_EN10MB), 0);
	CHECK(only(CTR_PKT_TCP));
	check_tcp_fields(6, "atomic");

	/* a UDP fragment is "not TCP" */
	f_reset();
	f_eth(0x86dd);
	f_ip6(44);
	f_frag6(17, 0, 1);
	zeros(16);
	f_done();
	CHECK_INT(dec(DLT_EN10MB), -EPROTONOSUPPORT);
	CHECK(only(CTR_PKT_NON_TCP));
}

TEST(non_ip_and_non_tcp)
{
	f_reset();
	f_eth(0x0806);          /* ARP */
	zeros(28);
	CHECK_INT(dec(DLT_EN10MB), -EPROTONOSUPPORT);
	CHECK(only(CTR_PKT_NON_IP));

	f_reset();
	f_eth(46);              /* 802.3 length field, LLC follows */
	zeros(46);
	CHECK_INT(dec(DLT_EN10MB), -EPROTONOSUPPORT);
	CHECK(only(CTR_PKT_NON_IP));

	f_reset();
	f_eth(0x8100);          /* tagged ARP */
	f_tag(5, 0x0806);
	zeros(28);
	CHECK_INT(dec(DLT_EN10MB), -EPROTONOSUPPORT);
	CHECK(only(CTR_PKT_NON_IP));

	f_reset();
	f_eth(0x0800);
	f_ip4(17, 0);           /* UDP */
	put16(53);
	put16(53);
	put16(8);
	put16(0);
	f_done();
	CHECK_INT(dec(DLT_EN10MB), -EPROTONOSUPPORT);
	CHECK(only(CTR_PKT_NON_TCP));

	f_reset();
	f_eth(0x0800);
	f_ip4(1, 0);            /* ICMP echo */
	put32(0x08000000);
	put32(0);
	f_done();
	CHECK_INT(dec(DLT_EN10MB), -EPROTONOSUPPORT);
	CHECK(only(CTR_PKT_NON_TCP));

	f_reset();
	f_eth(0x86dd);
	f_ip6(58);              /* ICMPv6 */
	put32(0x80000000);
	put32(0);
	f_done();
	CHECK_INT(dec(DLT_EN10MB), -EPROTONOSUPPORT);
	CHECK(only(CTR_PKT_NON_TCP));
}

TEST(bad_ip_headers)
{
	f_reset();
	f_eth(0x0800);
	f_ip4(6, 0);
	f_tcp(TCP_ACK, 0, "x");
	f_done();

	F.d[F.ip_off] = 0x44;                /* IHL 4 */
	CHECK_INT(dec(DLT_EN10MB), -EINVAL);
	CHECK(only(CTR_PKT_BAD_IP));
	F.d[F.ip_off] = 0x65;                /* version 6 under 0x0800 */
	CHECK_INT(dec(DLT_EN10MB), -EINVAL);
	CHECK(only(CTR_PKT_BAD_IP));
	F.d[F.ip_off] = 0x45;
	set16(F.ip_off + 2, 19);             /* total length < header */
	CHECK_INT(dec(DLT_EN10MB), -EINVAL);
	CHECK(only(CTR_PKT_BAD_IP));

	/* total length longer than the frame was on the wire: the receiver
	 * drops it, so do we (not a snaplen cut: wirelen == caplen) */
	set16(F.ip_off + 2, (uint16_t)(F.n - F.ip_off + 100));
	CHECK_INT(dec(DLT_EN10MB), -EMSGSIZE);
	CHECK(only(CTR_PKT_TRUNC_IP));

	/* an IPv6 payload length too short for the extension header's
	 * first two bytes (the rest of the frame is padding) */
	f_reset();
	f_eth(0x86dd);
	f_ip6(60);
	f_ext6(60, 6, 8);
	f_tcp(TCP_ACK, 0, "x");
	set16(F.ip_off + 4, 1);
	CHECK_INT(dec(DLT_EN10MB), -EINVAL);
	CHECK(only(CTR_PKT_BAD_IP));

	/* IPv6 payload length longer than the frame on the wire */
	f_reset();
	f_eth(0x86dd);
	f_ip6(6);
	f_tcp(TCP_ACK, 0, "x");
	f_done();
	set16(F.ip_off + 4, 500);
	CHECK_INT(dec(DLT_EN10MB), -EMSGSIZE);
	CHECK(only(CTR_PKT_TRUNC_IP));
}

TEST(bad_tcp_headers)
{
	f_reset();
	f_eth(0x0800);
	f_ip4(6, 0);
	f_tcp(TCP_ACK, 0, "0123456789");
	f_done();

	F.d[F.l4_off + 12] = 4 << 4;           /* data offset 4 */
	CHECK_INT(dec(DLT_EN10MB), -EINVAL);
	CHECK(only(CTR_PKT_BAD_TCP));
	F.d[F.l4_off + 12] = 15 << 4;          /* 60 > 30 bytes in datagram */
	CHECK_INT(dec(DLT_EN10MB), -EINVAL);
	CHECK(only(CTR_PKT_BAD_TCP));
	F.d[F.l4_off + 12] = 5 << 4;
	set16(F.ip_off + 2, 20 + 19);          /* 19 bytes of L4 in the IP */
	CHECK_INT(dec(DLT_EN10MB), -EINVAL);
	CHECK(only(CTR_PKT_BAD_TCP));
	set16(F.ip_off + 2, 20 + 20);          /* header only, rest padding */
	CHECK_INT(dec(DLT_EN10MB), 0);
	CHECK_INT(P.payload_len, 0);
	CHECK_INT(P.payload_missing, 0);
}

/* Cut a complete frame at every length from 0 to full, with the wire
 * length saying the full frame existed (a snaplen cut). Below link_end the
 * link header is cut, below ip_end the IP headers, below tcp_end the TCP
 * header; from there on the segment decodes with the rest missing. */
static void check_every_cut(int linktype, uint32_t link_end, uint32_t ip_end)
{
	uint32_t full = F.n, tcp_end = F.pay_off;
	int bad = 0;

	for (uint32_t cap = 0; cap <= full; cap++) {
		int rc = dec_cut(linktype, cap, full);
		enum rw_counter want = cap < link_end ? CTR_PKT_TRUNC_LINK :
				       cap < ip_end ? CTR_PKT_TRUNC_IP :
				       cap < tcp_end ? CTR_PKT_TRUNC_TCP :
				       CTR_PKT_TCP;

		if (want != CTR_PKT_TCP) {
			if (rc != -EMSGSIZE || !only(want))
				bad++;
			continue;
		}
		if (rc != 0 || C.v[CTR_PKT_TCP] != 1 ||
		    P.payload_len != cap - tcp_end ||
		    P.payload_missing != full - cap ||
		    C.v[CTR_PKT_SNAP_CUT] != (cap < full) ||
		    ctr_total() != 1 + (cap < full))
			bad++;
	}
	if (bad)
		printf("#   linktype %d: %d of %u cut lengths wrong\n", linktype,
		       bad, full + 1);
	CHECK_INT(bad, 0);
}

TEST(truncated_at_every_offset)
{
	/* Ethernet, QinQ, IPv4 with options, TCP with options */
	f_reset();
	f_eth(0x88a8);
	f_tag(1, 0x8100);
	f_tag(2, 0x0800);
	f_ip4(6, 2);
	f_tcp(TCP_ACK, 3, "MAIL FROM:<a@b>\r\n");
	f_done();
	check_every_cut(DLT_EN10MB, F.ip_off, F.l4_off);

	/* Ethernet, IPv6 with hop-by-hop, AH, an atomic fragment and
	 * destination options */
	f_reset();
	f_eth(0x86dd);
	f_ip6(0);
	f_ext6(0, 51, 16);
	f_ext6(51, 44, 12);
	f_frag6(60, 0, 0);
	f_ext6(60, 6, 24);
	f_tcp(TCP_ACK, 1, "RCPT TO:<c@d>\r\n");
	f_done();
	check_every_cut(DLT_EN10MB, F.ip_off, F.l4_off);

	/* cooked v2 */
	f_reset();
	f_sll2(0x0800);
	f_ip4(6, 0);
	f_tcp(TCP_ACK, 0, "DATA\r\n");
	f_done();
	check_every_cut(DLT_LINUX_SLL2, F.ip_off, F.l4_off);

	/* cooked v1 */
	f_reset();
	f_sll(0x86dd);
	f_ip6(6);
	f_tcp(TCP_ACK, 0, "QUIT\r\n");
	f_done();
	check_every_cut(DLT_LINUX_SLL, F.ip_off, F.l4_off);

	/* loopback */
	f_reset();
	f_null(2, 0);
	f_ip4(6, 0);
	f_tcp(TCP_ACK, 0, "CONNECT a:443 HTTP/1.1\r\n");
	f_done();
	check_every_cut(DLT_NULL, F.ip_off, F.l4_off);

	/* raw IPv6: no link header at all */
	f_reset();
	f_ip6(6);
	f_tcp(TCP_ACK, 0, "\x05\x01\x00");
	f_done();
	check_every_cut(DLT_RAW, 0, F.l4_off);
}

/* A frame cut short without the wire length saying so: not a snaplen cut
 * but a lie in the IP length, dropped once the IP header is complete. */
TEST(short_frame_without_snaplen_is_dropped)
{
	f_reset();
	f_eth(0x0800);
	f_ip4(6, 0);
	f_tcp(TCP_ACK, 0, "hello world");
	f_done();
	CHECK_INT(dec_cut(DLT_EN10MB, F.n - 3, F.n - 3), -EMSGSIZE);
	CHECK(only(CTR_PKT_TRUNC_IP));
	/* wirelen 0 ("unknown") is taken as caplen */
	CHECK_INT(dec_cut(DLT_EN10MB, F.n - 3, 0), -EMSGSIZE);
	CHECK(only(CTR_PKT_TRUNC_IP));
	CHECK_INT(dec_cut(DLT_EN10MB, F.n, 0), 0);
	CHECK_INT(P.wire_len, F.n);
}

int main(void)
{
	RUN(ethernet_ipv4_tcp);
	RUN(ethernet_ipv6_tcp);
	RUN(vlan_tags);
	RUN(linux_cooked);
	RUN(raw_ip);
	RUN(null_and_loop);
	RUN(unsupported_linktype);
	RUN(ipv4_and_tcp_options);
	RUN(ethernet_padding_and_fcs_trimmed);
	RUN(gso_lengths);
	RUN(ipv4_fragments_skipped);
	RUN(ipv6_extension_headers);
	RUN(ipv6_fragments);
	RUN(non_ip_and_non_tcp);
	RUN(bad_ip_headers);
	RUN(bad_tcp_headers);
	RUN(truncated_at_every_offset);
	RUN(short_frame_without_snaplen_is_dropped);
	free(copy);
	return t_done();
}
