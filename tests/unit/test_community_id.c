/* test_community_id.c - Community ID v1 against the spec's baseline values
 * (community-id-spec baseline/baseline_deflt.json and baseline_seed1.json),
 * both directions of each flow, IPv4 and IPv6.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <sys/socket.h>

#include "community_id.h"
#include "t.h"

/* tuple from text; returns the community id (static buffer) or an error */
static const char *cid(const char *s, const char *d, int sport, int dport,
		       int proto, int seed)
{
	static char out[COMMUNITY_ID_LEN];
	uint8_t sa[16] = { 0 }, da[16] = { 0 };
	int fam = strchr(s, ':') ? 6 : 4;
	int af = fam == 6 ? AF_INET6 : AF_INET;
	int rc;

	if (inet_pton(af, s, sa) != 1 || inet_pton(af, d, da) != 1)
		return "bad address in test";
	rc = community_id_v1_tuple(fam, sa, da, (uint16_t)sport,
				   (uint16_t)dport, (uint8_t)proto,
				   (uint16_t)seed, out, sizeof(out));
	if (rc)
		return "error";
	return out;
}

TEST(tcp_ipv4_seed0)
{
	CHECK_STR(cid("128.232.110.120", "66.35.250.204", 34855, 80, 6, 0),
		  "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
	CHECK_STR(cid("66.35.250.204", "128.232.110.120", 80, 34855, 6, 0),
		  "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
}

TEST(tcp_ipv4_seed1)
{
	CHECK_STR(cid("128.232.110.120", "66.35.250.204", 34855, 80, 6, 1),
		  "1:3V71V58M3Ksw/yuFALMcW0LAHvc=");
	CHECK_STR(cid("66.35.250.204", "128.232.110.120", 80, 34855, 6, 1),
		  "1:3V71V58M3Ksw/yuFALMcW0LAHvc=");
}

TEST(tcp_ipv6_seed0)
{
	CHECK_STR(cid("2001:470:e5bf:dead:4957:2174:e82c:4887",
		      "2607:f8b0:400c:c03::1a", 63943, 25, 6, 0),
		  "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=");
	CHECK_STR(cid("2607:f8b0:400c:c03::1a",
		      "2001:470:e5bf:dead:4957:2174:e82c:4887", 25, 63943, 6, 0),
		  "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=");
}

TEST(tcp_ipv6_seed1)
{
	CHECK_STR(cid("2001:470:e5bf:dead:4957:2174:e82c:4887",
		      "2607:f8b0:400c:c03::1a", 63943, 25, 6, 1),
		  "1:eJYTW6AOzFLlSUoESovMjnu7rMw=");
	CHECK_STR(cid("2607:f8b0:400c:c03::1a",
		      "2001:470:e5bf:dead:4957:2174:e82c:4887", 25, 63943, 6, 1),
		  "1:eJYTW6AOzFLlSUoESovMjnu7rMw=");
}

/* same address both sides: the port decides the order (SCTP 7 -> 7 has
 * equal ports too, so this also covers the full tie) */
TEST(udp_sctp_and_portless)
{
	CHECK_STR(cid("192.168.1.52", "8.8.8.8", 54585, 53, 17, 0),
		  "1:d/FP5EW3wiY1vCndhwleRRKHowQ=");
	CHECK_STR(cid("8.8.8.8", "192.168.1.52", 53, 54585, 17, 1),
		  "1:Q9We8WO3piVF8yEQBNJF4uiSVrI=");
	CHECK_STR(cid("192.168.170.56", "192.168.170.8", 7, 7, 132, 0),
		  "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=");
	/* RSVP has no ports: whatever is passed is ignored */
	CHECK_STR(cid("10.1.12.1", "10.1.12.2", 0, 0, 46, 0),
		  "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=");
	CHECK_STR(cid("10.1.12.2", "10.1.12.1", 1234, 99, 46, 1),
		  "1:rYir8gphR31noO9iDRQmF/BteEI=");
}

/* equal addresses: ordering falls to the ports, both directions agree */
TEST(equal_addresses_order_by_port)
{
	char a[COMMUNITY_ID_LEN], b[COMMUNITY_ID_LEN];

	strcpy(a, cid("127.0.0.1", "127.0.0.1", 40000, 25, 6, 0));
	strcpy(b, cid("127.0.0.1", "127.0.0.1", 25, 40000, 6, 0));
	CHECK_STR(a, b);
	CHECK(strncmp(a, "1:", 2) == 0);
	CHECK_INT(strlen(a), 30);
	/* and differs from another port pair */
	CHECK(strcmp(a, cid("127.0.0.1", "127.0.0.1", 40001, 25, 6, 0)) != 0);
}

TEST(from_pkt)
{
	struct pkt p = { 0 };
	char out[COMMUNITY_ID_LEN];

	p.family = 6;
	inet_pton(AF_INET6, "2607:f8b0:400c:c03::1a", p.src);
	inet_pton(AF_INET6, "2001:470:e5bf:dead:4957:2174:e82c:4887", p.dst);
	p.sport = 25;
	p.dport = 63943;
	CHECK_INT(community_id_v1(&p, 0, out, sizeof(out)), 0);
	CHECK_STR(out, "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=");

	memset(&p, 0, sizeof(p));
	p.family = 4;
	inet_pton(AF_INET, "128.232.110.120", p.src);
	inet_pton(AF_INET, "66.35.250.204", p.dst);
	p.sport = 34855;
	p.dport = 80;
	CHECK_INT(community_id_v1(&p, 1, out, sizeof(out)), 0);
	CHECK_STR(out, "1:3V71V58M3Ksw/yuFALMcW0LAHvc=");
}

TEST(errors)
{
	uint8_t a[16] = { 1 }, b[16] = { 2 };
	char out[COMMUNITY_ID_LEN];

	CHECK_INT(community_id_v1_tuple(5, a, b, 1, 2, 6, 0, out, sizeof(out)),
		  -EINVAL);
	CHECK_INT(community_id_v1_tuple(4, a, b, 1, 2, 1, 0, out, sizeof(out)),
		  -EPROTONOSUPPORT);
	CHECK_INT(community_id_v1_tuple(4, a, b, 1, 2, 58, 0, out, sizeof(out)),
		  -EPROTONOSUPPORT);
	memset(out, 'x', sizeof(out));
	CHECK_INT(community_id_v1_tuple(4, a, b, 1, 2, 6, 0, out,
					COMMUNITY_ID_LEN - 1), -ENOSPC);
	CHECK_INT(out[0], '\0');
	CHECK_INT(community_id_v1_tuple(4, a, b, 1, 2, 6, 0, out,
					COMMUNITY_ID_LEN), 0);
	CHECK_INT(strlen(out), COMMUNITY_ID_LEN - 1);
}

int main(void)
{
	RUN(tcp_ipv4_seed0);
	RUN(tcp_ipv4_seed1);
	RUN(tcp_ipv6_seed0);
	RUN(tcp_ipv6_seed1);
	RUN(udp_sctp_and_portless);
	RUN(equal_addresses_order_by_port);
	RUN(from_pkt);
	RUN(errors);
	return t_done();
}
