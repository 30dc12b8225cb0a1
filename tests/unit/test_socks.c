/* test_socks.c - SOCKS parser: transcripts in, events out.
 *
 * Every transcript runs whole, one byte at a time and in random chunks (the
 * direction order kept); the event log (the EVE JSON of each record, a line
 * per request and tunnel event) and the tunnel bytes must be identical.
 * Byte strings are split after each \x escape ("\x03" "www") so that a
 * following hex letter is not read as part of the escape.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <stdlib.h>
#include <string.h>
#include "t.h"
#include "proto.h"
#include "socks.h"
#include "json.h"

#define PH_OPS socks_ops
#define PH_TX struct socks_tx
#define PH_REQUEST_EV EV_SOCKS_REQUEST
#define PH_EVENT_TYPE "socks"
#define PH_PORT 1080

static int ph_request_line(char *line, size_t cap, const struct socks_tx *tx)
{
	return snprintf(line, cap, "REQUEST %u %u %u %.200s %u\n", tx->attempt,
			tx->version, tx->command, tx->target_host,
			tx->target_port);
}

#include "proto_harness.h"

/* ------------------------------------------------------------------ */
/* SOCKS4 / 4a                                                         */

TEST(socks4_connect_granted)
{
	/* arkime socks-http-example.pcap */
	static const struct chunk t[] = {
		C("\x04\x01\x00\x50\x5d\xb8\xd8\x77\x00"),
		S("\x00\x5a\xdf\xb2\x0a\xb4\x9c\xf9"),
		C("GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n"),
		S("HTTP/1.1 200 OK\r\n"),
	};
	struct result *r = run_all(t, N(t));

	CHECK_INT(r->n_req, 1);
	CHECK_INT(r->n_rec, 1);
	CHECK_INT(r->rec[0].version, 4);
	CHECK_INT(r->rec[0].command, SOCKS_CMD_CONNECT);
	CHECK_STR(r->rec[0].target_host, "93.184.216.119");
	CHECK_INT(r->rec[0].target_port, 80);
	CHECK_INT(r->rec[0].reply_code, 0x5a);
	CHECK_INT(r->rec[0].granted, 1);
	CHECK_INT(r->rec[0].has_user, 0);
	CHECK_INT(r->n_open, 1);
	CHECK_INT(r->ti.type, TUNNEL_SOCKS4);
	CHECK_STR(r->ti.target_host, "93.184.216.119");
	CHECK_TUN(r, DIR_TO_SERVER, "GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n");
	CHECK_TUN(r, DIR_TO_CLIENT, "HTTP/1.1 200 OK\r\n");
	CHECK_INT(r->wants_data, 1);
	CHECK_HAS(r->log, "RECORD {\"socks\":{\"version\":4,\"attempt\":1,"
		  "\"command\":\"CONNECT\",\"target_host\":\"93.184.216.119\","
		  "\"target_port\":80,\"target_type\":\"ipv4\",\"user\":null,"
		  "\"auth_ok\":null,\"reply_code\":90,\"granted\":true,"
		  "\"bound_host\":\"10.180.156.249\",\"bound_port\":57266}}");
}

TEST(socks4a_hostname_and_user)
{
	/* arkime socks4-https.pcap */
	static const struct chunk t[] = {
		C("\x04\x01\x01\xbb\x00\x00\x00\x01" "fd7bcf7b5c9e1d\x00" "login.live.com\x00"),
		S("\x00\x5a\x01\xbb\x83\xfd\x3d\x50"),
		S("\x16\x03\x03"),
	};
	struct result *r = run_all(t, N(t));

	CHECK_INT(r->rec[0].is_4a, 1);
	CHECK_STR(r->rec[0].target_host, "login.live.com");
	CHECK_INT(r->rec[0].target_port, 443);
	CHECK_STR(r->rec[0].user, "fd7bcf7b5c9e1d");
	CHECK_INT(r->rec[0].atyp, SOCKS_ATYP_DOMAIN);
	CHECK_STR(r->ti.target_host, "login.live.com");
	CHECK_INT(r->ti.target_port, 443);
	CHECK_TUN(r, DIR_TO_CLIENT, "\x16\x03\x03");
	CHECK_HAS(r->log, "\"socks4a\":true");
	CHECK_HAS(r->log, "\"user\":\"fd7bcf7b5c9e1d\"");
}

TEST(socks4_refused)
{
	static const struct chunk t[] = {
		C("\x04\x01\x00\x19\x0a\x00\x00\x01" "bob\x00"),
		S("\x00\x5b\x00\x00\x00\x00\x00\x00"),
	};
	struct result *r = run_all(t, N(t));

	CHECK_INT(r->n_rec, 1);
	CHECK_INT(r->rec[0].reply_code, 0x5b);
	CHECK_INT(r->rec[0].granted, 0);
	CHECK_INT(r->n_open, 0);
	CHECK_HAS(r->log, "\"granted\":false");
}

/* ------------------------------------------------------------------ */
/* SOCKS5                                                              */

TEST(socks5_noauth_domain_connect_smtp)
{
	/* arkime socks5-smtp-503.pcap, plus early data */
	static const struct chunk t[] = {
		C("\x05\x01\x00"),
		S("\x05\x00"),
		C("\x05\x01\x00\x03\x0e" "010.000.00.003\x00\x19"),
		C("EHLO early\r\n"),
		S("\x05\x00\x00\x01\x0a\x00\x00\x01\xd1\xcd"
		  "220 mx ESMTP\r\n"),
		C("EHLO User\r\n"),
		S("250-mx Hello\r\n"),
	};
	struct result *r = run_all(t, N(t));

	CHECK_INT(r->n_req, 1);
	CHECK_INT(r->n_rec, 1);
	CHECK_INT(r->rec[0].version, 5);
	CHECK_INT(r->rec[0].atyp, SOCKS_ATYP_DOMAIN);
	CHECK_STR(r->rec[0].target_host, "010.000.00.003");
	CHECK_INT(r->rec[0].target_port, 25);
	CHECK_INT(r->rec[0].n_methods, 1);
	CHECK_INT(r->rec[0].method_chosen, 0);
	CHECK_INT(r->rec[0].reply_code, 0);
	CHECK_INT(r->rec[0].granted, 1);
	CHECK_INT(r->rec[0].early_data_len, 12);
	CHECK_INT(r->ti.type, TUNNEL_SOCKS5);
	CHECK_STR(r->ti.target_host, "010.000.00.003");
	CHECK_INT(r->ti.target_port, 25);
	CHECK_TUN(r, DIR_TO_SERVER, "EHLO early\r\nEHLO User\r\n");
	CHECK_TUN(r, DIR_TO_CLIENT, "220 mx ESMTP\r\n250-mx Hello\r\n");
	CHECK_INT(r->ctr.v[CTR_SOCKS_EARLY_DATA], 1);
	CHECK(strstr(r->log, "REQUEST 1 5 1 010.000.00.003 25\n") == r->log);
	CHECK_HAS(r->log, "{\"socks\":{\"version\":5,\"attempt\":1,"
		  "\"command\":\"CONNECT\",\"target_host\":\"010.000.00.003\","
		  "\"target_port\":25,\"target_type\":\"domain\","
		  "\"methods_offered\":[0],\"method_chosen\":0,\"user\":null,"
		  "\"auth_ok\":null,\"reply_code\":0,\"granted\":true,"
		  "\"bound_host\":\"10.0.0.1\",\"bound_port\":53709,"
		  "\"early_data\":12,\"anomalies\":[\"early_data\"]}}");
}

TEST(socks5_userpass_fail_then_success)
{
	static const struct chunk t[] = {
		/* arkime socks-http-pass.pcap: two tries, here on one flow */
		C("\x05\x03\x00\x01\x02"),
		S("\x05\x02"),
		C("\x01\x08" "testuser\x08" "wrongpwd"),
		S("\x01\xff"),
		C("\x05\x03\x00\x01\x02"),
		S("\x05\x02"),
		C("\x01\x08" "testuser\x0a" "s3cr3tpass"),
		S("\x01\x00"),
		C("\x05\x01\x00\x01\x5d\xb8\xd8\x77\x00\x50"),
		S("\x05\x00\x00\x01\x0a\xb4\x9c\xf9\x81\xbe"),
		C("GET / HTTP/1.1\r\n\r\n"),
	};
	struct result *r;

	t_secret = "s3cr3tpass";
	r = run_all(t, N(t));
	t_secret = "wrongpwd";
	r = run_all(t, N(t));
	t_secret = NULL;
	CHECK_INT(r->n_rec, 2);
	CHECK_INT(r->rec[0].attempt, 1);
	CHECK_STR(r->rec[0].user, "testuser");
	CHECK_INT(r->rec[0].auth_ok, 0);
	CHECK_INT(r->rec[0].granted, 0);
	CHECK_INT(r->rec[0].req_seen, 0);
	CHECK_INT(r->rec[1].attempt, 2);
	CHECK_INT(r->rec[1].auth_ok, 1);
	CHECK_INT(r->rec[1].method_chosen, 2);
	CHECK_INT(r->rec[1].n_methods, 3);
	CHECK_STR(r->rec[1].target_host, "93.184.216.119");
	CHECK_INT(r->rec[1].granted, 1);
	CHECK_INT(r->ctr.v[CTR_SOCKS_AUTH_FAIL], 1);
	CHECK_HAS(r->log, "\"methods_offered\":[0,1,2],\"method_chosen\":2,"
		  "\"user\":\"testuser\",\"auth_ok\":false");
	CHECK_HAS(r->log, "\"user\":\"testuser\",\"auth_ok\":true");
	CHECK_HASNT(r->log, "s3cr3t");
	CHECK_HASNT(r->log, "wrongpwd");
	CHECK_TUN(r, DIR_TO_SERVER, "GET / HTTP/1.1\r\n\r\n");
}

TEST(socks5_no_acceptable_method_then_retry)
{
	static const struct chunk t[] = {
		C("\x05\x02\x00\x01"),
		S("\x05\xff"),
		C("\x05\x01\x02"),
		S("\x05\x02"),
		C("\x01\x03" "bob\x05" "alice"),
		S("\x01\x00"),
		C("\x05\x01\x00\x01\xc0\xa8\x00\x02\x00\x16"),
		S("\x05\x00\x00\x01\xc0\xa8\x00\x01\xda\x8f"),
	};
	struct result *r;

	t_secret = "alice";
	r = run_all(t, N(t));
	t_secret = NULL;
	CHECK_INT(r->n_rec, 2);
	CHECK_INT(r->rec[0].method_chosen, 0xff);
	CHECK_INT(r->rec[0].granted, 0);
	CHECK_STR(r->rec[1].user, "bob");
	CHECK_STR(r->rec[1].target_host, "192.168.0.2");
	CHECK_INT(r->rec[1].target_port, 22);
	CHECK_INT(r->rec[1].granted, 1);
	CHECK_HAS(r->log, "\"method_chosen\":255");
}

TEST(socks5_ipv6_target)
{
	static const struct chunk t[] = {
		C("\x05\x01\x00"),
		S("\x05\x00"),
		C("\x05\x01\x00\x04\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x25\x00\x19"),
		S("\x05\x00\x00\x04\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x04\x00"),
	};
	struct result *r = run_all(t, N(t));

	CHECK_STR(r->rec[0].target_host, "2001:db8::25");
	CHECK_INT(r->rec[0].target_port, 25);
	CHECK_INT(r->rec[0].atyp, SOCKS_ATYP_IPV6);
	CHECK_STR(r->rec[0].bound_host, "2001:db8::1");
	CHECK_INT(r->rec[0].bound_port, 1024);
	CHECK_STR(r->ti.target_host, "2001:db8::25");
	CHECK_HAS(r->log, "\"target_type\":\"ipv6\"");
}

TEST(socks5_udp_associate)
{
	static const struct chunk t[] = {
		C("\x05\x01\x00"),
		S("\x05\x00"),
		C("\x05\x03\x00\x01\x00\x00\x00\x00\x00\x00"),
		S("\x05\x00\x00\x01\x0a\x00\x00\x01\x13\x88"),
	};
	struct result *r = run_all(t, N(t));

	CHECK_INT(r->n_rec, 1);
	CHECK_INT(r->rec[0].command, SOCKS_CMD_UDP_ASSOCIATE);
	CHECK_INT(r->rec[0].granted, 1);
	CHECK_INT(r->rec[0].bound_port, 5000);
	CHECK_INT(r->n_open, 0);
	CHECK_INT(r->wants_data, 0);
	CHECK_HAS(r->log, "\"command\":\"UDP_ASSOCIATE\"");
}

TEST(socks5_refused_reply)
{
	static const struct chunk t[] = {
		C("\x05\x01\x00"),
		S("\x05\x00"),
		C("\x05\x01\x00\x03\x0b" "mx.example.\x00\x19"),
		C("EHLO"),
		S("\x05\x02\x00\x01\x00\x00\x00\x00\x00\x00"),
	};
	struct result *r = run_all(t, N(t));

	CHECK_INT(r->n_rec, 1);
	CHECK_INT(r->rec[0].reply_code, 2);
	CHECK_INT(r->rec[0].granted, 0);
	CHECK(r->rec[0].anomalies & SOCKS_ANOM_EARLY_DATA_DISCARDED);
	CHECK_INT(r->n_open, 0);
	CHECK_INT(r->tun_len[0], 0);
}

TEST(socks5_bind_two_replies)
{
	static const struct chunk t[] = {
		C("\x05\x01\x00"),
		S("\x05\x00"),
		C("\x05\x02\x00\x01\x0a\x00\x00\x09\x00\x00"),
		S("\x05\x00\x00\x01\x0a\x00\x00\x01\x30\x39"),  /* listening */
		S("\x05\x00\x00\x01\x0a\x00\x00\x09\xc0\x00"),  /* peer came */
		S("data from peer"),
	};
	struct result *r = run_all(t, N(t));

	CHECK_INT(r->n_rec, 1);
	CHECK_INT(r->rec[0].command, SOCKS_CMD_BIND);
	CHECK_INT(r->rec[0].n_replies, 2);
	CHECK_INT(r->rec[0].granted, 1);
	CHECK_STR(r->rec[0].bound_host, "10.0.0.9");
	CHECK_INT(r->n_open, 1);
	CHECK_TUN(r, DIR_TO_CLIENT, "data from peer");
}

TEST(socks5_pipelined_client)
{
	/* greeting, auth and request in one segment, replies in one */
	static const struct chunk t[] = {
		C("\x05\x01\x02" "\x01\x01" "u\x01" "p" "\x05\x01\x00\x01\x7f\x00\x00\x01\x00\x19"),
		S("\x05\x02" "\x01\x00" "\x05\x00\x00\x01\x7f\x00\x00\x01\x00\x19" "220 hi\r\n"),
	};
	struct result *r = run_all(t, N(t));

	CHECK_INT(r->n_rec, 1);
	CHECK_STR(r->rec[0].user, "u");
	CHECK_INT(r->rec[0].auth_ok, 1);
	CHECK_INT(r->rec[0].granted, 1);
	CHECK(r->rec[0].anomalies & SOCKS_ANOM_PIPELINED);
	CHECK_TUN(r, DIR_TO_CLIENT, "220 hi\r\n");
}

/* ------------------------------------------------------------------ */
/* hostile input                                                       */

TEST(malformed_stops_cleanly)
{
	static const struct chunk bad_atyp[] = {
		C("\x05\x01\x00"), S("\x05\x00"),
		C("\x05\x01\x00\x09\x01\x02\x03\x04"),
		S("\x05\x00"),
	};
	static const struct chunk zero_methods[] = { C("\x05\x00\x05\x01") };
	static const struct chunk server_first[] = { S("220 smtp\r\n") };
	static const struct chunk bad_reply[] = {
		C("\x05\x01\x00"), S("\x07\x00"),
	};
	struct result *r = run_all(bad_atyp, N(bad_atyp));

	CHECK_INT(r->ctr.v[CTR_SOCKS_MALFORMED], 1);
	CHECK_INT(r->wants_data, 0);
	CHECK_INT(r->n_rec, 1);
	CHECK(r->rec[0].anomalies & SOCKS_ANOM_MALFORMED);
	CHECK_HAS(r->log, "\"malformed\"");
	r = run_all(zero_methods, N(zero_methods));
	CHECK_INT(r->ctr.v[CTR_SOCKS_MALFORMED], 1);
	CHECK_INT(r->wants_data, 0);
	r = run_all(server_first, N(server_first));
	CHECK_INT(r->ctr.v[CTR_SOCKS_MALFORMED], 1);
	CHECK_INT(r->n_rec, 0);
	r = run_all(bad_reply, N(bad_reply));
	CHECK_INT(r->ctr.v[CTR_SOCKS_MALFORMED], 1);
	CHECK_INT(r->n_rec, 1);
}

TEST(socks4_userid_without_nul_is_malformed)
{
	static char req[8 + 300];
	struct chunk t[1] = { CB(req, sizeof(req)) };
	struct result *r;

	memcpy(req, "\x04\x01\x00\x19\x01\x02\x03\x04", 8);
	memset(req + 8, 'A', sizeof(req) - 8);
	r = run_all(t, 1);
	CHECK_INT(r->ctr.v[CTR_SOCKS_MALFORMED], 1);
	CHECK_INT(r->wants_data, 0);
}

TEST(gaps)
{
	static const struct chunk in_handshake[] = {
		C("\x05\x01\x00"), GAP(DIR_TO_CLIENT, 2),
		C("\x05\x01\x00\x01\x01\x02\x03\x04\x00\x19"),
	};
	static const struct chunk in_tunnel[] = {
		C("\x05\x01\x00"), S("\x05\x00"),
		C("\x05\x01\x00\x01\x01\x02\x03\x04\x00\x19"),
		C("early"), GAP(DIR_TO_SERVER, 3), C("lost"),
		S("\x05\x00\x00\x01\x01\x02\x03\x04\x00\x19"),
		C("abc"), GAP(DIR_TO_CLIENT, 9), S("xyz"),
	};
	struct result *r = run_all(in_handshake, N(in_handshake));

	CHECK_INT(r->ctr.v[CTR_SOCKS_GAP], 1);
	CHECK_INT(r->wants_data, 0);
	CHECK_INT(r->n_rec, 1);
	CHECK(r->rec[0].anomalies & SOCKS_ANOM_GAP);
	r = run_all(in_tunnel, N(in_tunnel));
	CHECK_INT(r->n_open, 1);
	/* early bytes after a loss cannot be passed in order: all a gap */
	CHECK_TUN(r, DIR_TO_SERVER, "earlyabc");
	CHECK_HAS(r->log, "TUNNEL_GAP 0 7\nTUNNEL_GAP 1 9\n");
	CHECK_TUN(r, DIR_TO_CLIENT, "xyz");
}

TEST(unanswered_recorded_at_end)
{
	static const struct chunk t[] = {
		C("\x05\x01\x00"), S("\x05\x00"),
		C("\x05\x01\x00\x03\x07" "a.b.com\x00\x19"),
	};
	struct result *r = run_all(t, N(t));

	CHECK_INT(r->n_req, 1);
	CHECK_INT(r->n_rec, 1);
	CHECK(r->rec[0].anomalies & SOCKS_ANOM_INCOMPLETE);
	CHECK_HAS(r->log, "\"reply_code\":null");
}

/* ------------------------------------------------------------------ */
/* probe                                                               */

static enum probe_result probe_b(const char *cli, size_t cn, const char *srv,
				 size_t sn)
{
	return socks_ops.probe((const uint8_t *)cli, cn, (const uint8_t *)srv,
			       sn);
}
#define PB(c, s) probe_b(c, sizeof(c) - 1, s, sizeof(s) - 1)

TEST(probe_detects_socks)
{
	static const char g5[] = "\x05\x02\x00\x02";
	static const char r4a[] = "\x04\x01\x01\xbb\x00\x00\x00\x01" "id\x00" "login.live.com\x00";

	CHECK_INT(PB("\x05\x01\x00", ""), PROBE_YES);
	CHECK_INT(PB("\x05\x01\x00", "\x05\x00"), PROBE_YES);
	CHECK_INT(PB("\x05\x01\x00", "\x05\x02"), PROBE_NO); /* not offered */
	CHECK_INT(PB("\x05\x03\x00\x01\x02", ""), PROBE_YES);
	CHECK_INT(PB("\x05\x01\x02\x01\x01" "u", ""), PROBE_YES); /* optimistic */
	CHECK_INT(PB("\x05\x02\x00", ""), PROBE_MORE);
	CHECK_INT(PB("\x05", ""), PROBE_MORE);
	CHECK_INT(PB("\x05\x00", ""), PROBE_NO);
	CHECK_INT(PB("\x05\x01\x00GET", ""), PROBE_NO);
	CHECK_INT(PB("\x05\x01\x42", ""), PROBE_NO);
	CHECK_INT(PB("\x04\x01\x00\x50\x5d\xb8\xd8\x77\x00", ""), PROBE_YES);
	CHECK_INT(PB("\x04\x01\x00\x50\x5d\xb8\xd8\x77\x00", "\x00\x5a\x00\x00\x00\x00\x00\x00"), PROBE_YES);
	CHECK_INT(PB("\x04\x01\x00\x50\x5d\xb8\xd8\x77\x00", "HTTP/1.1"), PROBE_NO);
	CHECK_INT(PB("\x04\x03\x00\x50\x5d\xb8\xd8\x77\x00", ""), PROBE_NO);
	CHECK_INT(PB("\x04\x01\x00\x00\x5d\xb8\xd8\x77\x00", ""), PROBE_NO);
	CHECK_INT(PB("\x04\x01\x00\x50\x5d\xb8\xd8\x77" "bob", ""), PROBE_MORE);
	CHECK_INT(PB("", ""), PROBE_MORE);
	CHECK_INT(PB("", "220 mx\r\n"), PROBE_NO);
	CHECK_INT(PB("GET / HTTP/1.1\r\n", ""), PROBE_MORE); /* reverse: the other side decides */
	CHECK_INT(PB("GET / HTTP/1.1\r\n","HTTP/1.1 200 OK\r\n"), PROBE_NO);
	CHECK_INT(PB("\x16\x03\x01", ""), PROBE_MORE); /* reverse: the other side decides */
	CHECK_INT(PB("\x16\x03\x01","HTTP/1.1 200 OK\r\n"), PROBE_NO);
	CHECK_INT(probe_b(r4a, sizeof(r4a) - 1, "", 0), PROBE_YES);
	for (size_t k = 1; k < sizeof(r4a) - 1; k++)
		CHECK_INT(probe_b(r4a, k, "", 0), PROBE_MORE);
	for (size_t k = 1; k < sizeof(g5) - 1; k++)
		CHECK_INT(probe_b(g5, k, "", 0), PROBE_MORE);
}

/* Backconnect proxy (arkime socks5-reverse.pcap): the bot connected to
 * its controller, logged in, and the controller greets it as a SOCKS5
 * client. The probe says so; the engine then skips the login and feeds
 * the parser with the directions swapped (proto_init.reversed). */
TEST(probe_reverse_socks5)
{
	static const char login[] = "\x4e\x5a\x8d\x08\x87\x4e";
	static const char greet_req[] = "\x05\x01\x00"
		"\x05\x01\x00\x01\x4a\x7d\x83\x67\x00\x50";

	/* greeting then a request from the accepting side */
	CHECK_INT(probe_b(login, 6, greet_req, sizeof(greet_req) - 1),
		  PROBE_YES_REVERSED);
	CHECK_INT(probe_b("", 0, greet_req, sizeof(greet_req) - 1),
		  PROBE_YES_REVERSED);
	/* greeting only: the connecting side's method reply decides */
	CHECK_INT(probe_b(login, 6, "\x05\x01\x00", 3), PROBE_MORE);
	CHECK_INT(PB("\x4e\x5a\x05\x00", "\x05\x01\x00"), PROBE_YES_REVERSED);
	CHECK_INT(PB("\x4e\x5a\x05\x02", "\x05\x01\x00"), PROBE_MORE);
	/* prefixes of the accepting side's bytes: more until the request's
	 * header (version, command, reserved, address type) is complete */
	for (size_t k = 1; k < 3 + 4; k++)
		CHECK_INT(probe_b(login, 6, greet_req, k), PROBE_MORE);
	for (size_t k = 3 + 4; k < sizeof(greet_req); k++)
		CHECK_INT(probe_b(login, 6, greet_req, k), PROBE_YES_REVERSED);
	/* the accepting side has not spoken yet: wait for it */
	CHECK_INT(probe_b(login, 6, "", 0), PROBE_MORE);
	/* the connecting side opened as a SOCKS client: forward, not
	 * reverse, even when the other side's reply does not fit */
	CHECK_INT(PB("\x05\x01\x00", "\x05\x02"), PROBE_NO);
	/* not SOCKS from the accepting side */
	CHECK_INT(PB("", "\x05\x0a\x00"), PROBE_NO);
	CHECK_INT(PB("", "\x05\x01\x00\x05\x09\x00\x01"), PROBE_NO);
	CHECK_INT(PB("", "\x05\x01\x00GET / HTTP/1.1\r\n"), PROBE_NO);
	/* a long opening from the connecting side is some other protocol */
	static char longc[100];
	memset(longc, 'A', sizeof(longc));
	CHECK_INT(probe_b(longc, sizeof(longc), "\x05\x01\x00", 3), PROBE_NO);
}

TEST(reversed_roles_recorded)
{
	/* as the engine feeds it: the controller's bytes as dir 0 */
	static const struct chunk t[] = {
		C("\x05\x01\x00" "\x05\x01\x00\x01\x4a\x7d\x83\x67\x00\x50"),
		S("\x05\x00" "\x05\x00\x00\x01\x4a\x7d\x83\x67\x00\x50"),
		C("GET / HTTP/1.1\r\n"),
	};
	static const struct proto_init pi = { .server_port = 8855,
					      .reversed = 1 };
	struct result *r = run_all_pi(t, N(t), &pi);

	CHECK_INT(r->n_rec, 1);
	CHECK_INT(r->rec[0].granted, 1);
	CHECK_INT(r->rec[0].reverse, 1);
	CHECK_STR(r->rec[0].target_host, "74.125.131.103");
	CHECK_INT(r->rec[0].target_port, 80);
	CHECK_TUN(r, DIR_TO_SERVER, "GET / HTTP/1.1\r\n");
	CHECK_HAS(r->log, "\"granted\":true,\"reverse\":true");
	/* the same bytes without the flag: no "reverse" */
	r = run_all(t, N(t));
	CHECK_HASNT(r->log, "reverse");
}

int main(void)
{
	RUN(socks4_connect_granted);
	RUN(socks4a_hostname_and_user);
	RUN(socks4_refused);
	RUN(socks5_noauth_domain_connect_smtp);
	RUN(socks5_userpass_fail_then_success);
	RUN(socks5_no_acceptable_method_then_retry);
	RUN(socks5_ipv6_target);
	RUN(socks5_udp_associate);
	RUN(socks5_refused_reply);
	RUN(socks5_bind_two_replies);
	RUN(socks5_pipelined_client);
	RUN(malformed_stops_cleanly);
	RUN(socks4_userid_without_nul_is_malformed);
	RUN(gaps);
	RUN(unanswered_recorded_at_end);
	RUN(probe_detects_socks);
	RUN(probe_reverse_socks5);
	RUN(reversed_roles_recorded);
	return t_done();
}
