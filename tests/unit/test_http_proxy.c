/* test_http_proxy.c - HTTP proxy parser: transcripts in, events out.
 *
 * Every transcript runs whole, one byte at a time and in random chunks (the
 * direction order kept); the event log (the EVE JSON of each record, a line
 * per request and tunnel event) and the tunnel bytes must be identical.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <stdlib.h>
#include <string.h>
#include "t.h"
#include "proto.h"
#include "engine.h"
#include "http_proxy.h"
#include "json.h"
#include "rules.h"

#define PH_OPS http_proxy_ops
#define PH_TX struct http_tx
#define PH_REQUEST_EV EV_HTTP_REQUEST
#define PH_EVENT_TYPE "http"
#define PH_PORT 3128

static int ph_request_line(char *line, size_t cap, const struct http_tx *tx)
{
	return snprintf(line, cap, "REQUEST %u %s %.200s\n", tx->id,
			tx->method, tx->target);
}

#include "proto_harness.h"

/* ------------------------------------------------------------------ */
/* CONNECT                                                             */

TEST(connect_smtp_granted_with_early_data)
{
	static const struct chunk t[] = {
		C("CONNECT smtp.example:25 HTTP/1.1\r\n"
		  "Host: smtp.example:25\r\n"
		  "User-Agent: relaytest/1.0\r\n"
		  "\r\n"
		  "EHLO early\r\n"),                       /* early data */
		S("HTTP/1.1 200 Connection established\r\n"
		  "Proxy-agent: test\r\n"
		  "\r\n"
		  "220 smtp.example ESMTP\r\n"),           /* same segment */
		C("EHLO client\r\n"),
		S("250 smtp.example\r\n"),
		C("QUIT\r\n"),
	};
	struct result *r = run_all(t, N(t));

	CHECK_INT(r->n_req, 1);
	CHECK_INT(r->n_rec, 1);
	CHECK_INT(r->n_open, 1);
	CHECK_INT(r->ti.type, TUNNEL_HTTP_CONNECT);
	CHECK_STR(r->ti.target_host, "smtp.example");
	CHECK_INT(r->ti.target_port, 25);
	CHECK_TUN(r, DIR_TO_SERVER, "EHLO early\r\nEHLO client\r\nQUIT\r\n");
	CHECK_TUN(r, DIR_TO_CLIENT, "220 smtp.example ESMTP\r\n250 smtp.example\r\n");
	CHECK_STR(r->rec[0].method, "CONNECT");
	CHECK_INT(r->rec[0].form, HTTP_FORM_AUTHORITY);
	CHECK_INT(r->rec[0].status, 200);
	CHECK_INT(r->rec[0].tunnel_granted, 1);
	CHECK_INT(r->rec[0].early_data_len, 12);
	CHECK_INT(r->ctr.v[CTR_HTTP_EARLY_DATA], 1);
	CHECK_INT(r->ctr.v[CTR_HTTP_BAD_TARGET], 0);
	CHECK_INT(r->wants_data, 1);
	/* the request event comes before the record, the tunnel after */
	CHECK(strstr(r->log, "REQUEST 1 CONNECT smtp.example:25\n") == r->log);
	CHECK(strstr(r->log, "RECORD") < strstr(r->log, "TUNNEL_OPEN 1 smtp.example 25"));
	CHECK_HAS(r->log, "\"http\":{\"hostname\":\"smtp.example\",\"http_port\":25,"
		  "\"url\":\"smtp.example:25\",\"http_user_agent\":\"relaytest/1.0\","
		  "\"http_method\":\"CONNECT\",\"protocol\":\"HTTP/1.1\","
		  "\"status\":200,\"length\":0,\"proxy\":{\"tx_id\":1,"
		  "\"form\":\"authority\",\"target_host\":\"smtp.example\","
		  "\"target_port\":25");
	CHECK_HAS(r->log, "\"proxy_auth\":null");
	CHECK_HAS(r->log, "\"tunnel\":true");
	CHECK_HAS(r->log, "\"early_data\":12");
	CHECK_HAS(r->log, "\"anomalies\":[\"early_data\"]");
}

/* zeek/Traces/http/connect-with-smtp.pcap: "host:port / HTTP/1.0" and a
 * header line without a colon */
TEST(connect_real_world_odd_form)
{
	static const struct chunk t[] = {
		C("CONNECT mailin03.sul.t-online.de:25 / HTTP/1.0\r\n"
		  "Mozilla 4.0 (compatible; MSIE 5.01; Windows NT 5.0)\r\n"
		  "\r\n"),
		S("HTTP/1.0 200 Connection established\r\n\r\n"),
		S("220 mailin03.sul.t-online.de T-Online ESMTP receiver fssmtpd ready.\r\n"),
		C("HELO 208.191.73.21\r\n"),
	};
	struct result *r = run_all(t, N(t));

	CHECK_INT(r->n_open, 1);
	CHECK_STR(r->ti.target_host, "mailin03.sul.t-online.de");
	CHECK_INT(r->ti.target_port, 25);
	CHECK_INT(r->rec[0].anomalies & HTTP_ANOM_TARGET_TRAILING,
		  HTTP_ANOM_TARGET_TRAILING);
	CHECK_INT(r->rec[0].anomalies & HTTP_ANOM_BAD_HEADER,
		  HTTP_ANOM_BAD_HEADER);
	CHECK_STR(r->rec[0].protocol, "HTTP/1.0");
	CHECK_INT(r->ctr.v[CTR_HTTP_BAD_TARGET], 1);
	CHECK_TUN(r, DIR_TO_SERVER, "HELO 208.191.73.21\r\n");
	CHECK_TUN(r, DIR_TO_CLIENT, "220 mailin03.sul.t-online.de T-Online ESMTP receiver fssmtpd ready.\r\n");
}

TEST(connect_refused_403_discards_early_data)
{
	static const struct chunk t[] = {
		C("CONNECT mx.example:25 HTTP/1.1\r\nHost: mx.example:25\r\n\r\n"),
		C("EHLO x\r\n"),
		S("HTTP/1.1 403 Forbidden\r\nContent-Length: 9\r\n"
		  "Connection: keep-alive\r\n\r\nforbidden"),
		C("GET http://www.example.com/ HTTP/1.1\r\nHost: www.example.com\r\n\r\n"),
		S("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"),
	};
	struct result *r = run_all(t, N(t));

	CHECK_INT(r->n_open, 0);
	CHECK_INT(r->n_rec, 2);
	CHECK_INT(r->rec[0].status, 403);
	CHECK_STR(r->rec[0].reason, "Forbidden");
	CHECK_INT(r->rec[0].tunnel_granted, 0);
	CHECK_INT(r->rec[0].resp_body_len, 9);
	CHECK_INT(r->rec[0].early_data_len, 8);
	CHECK(r->rec[0].anomalies & HTTP_ANOM_EARLY_DATA_DISCARDED);
	CHECK_INT(r->rec[1].status, 200);
	CHECK_INT(r->rec[1].form, HTTP_FORM_ABSOLUTE);
	CHECK_INT(r->rec[1].resp_body_len, 2);
	CHECK_INT(r->tun_len[0] + r->tun_len[1], 0);
	CHECK_HAS(r->log, "\"early_data_discarded\"");
}

TEST(proxy_auth_407_then_retry_no_credentials)
{
	static const struct chunk t[] = {
		C("CONNECT secure.example:443 HTTP/1.1\r\nHost: secure.example:443\r\n\r\n"),
		S("HTTP/1.1 407 Proxy Authentication Required\r\n"
		  "Proxy-Authenticate: Basic realm=\"corp proxy\"\r\n"
		  "Content-Length: 0\r\n\r\n"),
		C("CONNECT secure.example:443 HTTP/1.1\r\nHost: secure.example:443\r\n"
		  "Proxy-Authorization: Basic dXNlcjpzM2NyM3RwYXNz\r\n"
		  "Proxy-Connection: keep-alive\r\n\r\n"),
		S("HTTP/1.1 200 Connection established\r\n\r\n"),
		C("\x16\x03\x01\x00\x05hello"),
	};
	struct result *r;

	t_secret = "dXNlcjpzM2NyM3RwYXNz";
	r = run_all(t, N(t));
	t_secret = NULL;
	CHECK_INT(r->n_rec, 2);
	CHECK_INT(r->rec[0].status, 407);
	CHECK_STR(r->rec[0].proxy_authenticate, "Basic realm=\"corp proxy\"");
	CHECK_INT(r->rec[0].proxy_auth_present, 0);
	CHECK_INT(r->rec[1].proxy_auth_present, 1);
	CHECK_STR(r->rec[1].proxy_auth_scheme, "Basic");
	CHECK_INT(r->rec[1].proxy_connection, 1);
	CHECK_INT(r->rec[1].tunnel_granted, 1);
	CHECK_HAS(r->log, "\"proxy_auth\":null,\"proxy_authenticate\":\"Basic realm=\\\"corp proxy\\\"\"");
	CHECK_HAS(r->log, "\"proxy_auth\":\"Basic\"");
	CHECK_HASNT(r->log, "dXNlcjpzM2NyM3RwYXNz");
	CHECK_HASNT(r->log, "s3cr3t");
	CHECK_TUN(r, DIR_TO_SERVER, "\x16\x03\x01\x00\x05hello");
}

TEST(connect_malformed_targets)
{
	static const struct chunk t[] = {
		C("CONNECT nopport.example HTTP/1.1\r\n\r\n"),
		S("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"),
		C("CONNECT / HTTP/1.1\r\nHost: fromhost.example:587\r\n\r\n"),
		S("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"),
		C("CONNECT [::1]:25 HTTP/1.1\r\n\r\n"),
		S("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"),
		C("CONNECT 2130706433:25 HTTP/1.1\r\n\r\n"),
		S("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"),
		C("CONNECT 0x7f.1:25 HTTP/1.1\r\n\r\n"),
		S("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"),
		C("CONNECT h.example:99999 HTTP/1.1\r\n\r\n"),
		S("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"),
		C("CONNECT 10.1.2.3:25 HTTP/1.1\r\n\r\n"),
		S("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"),
	};
	struct result *r = run_all(t, N(t));

	CHECK_INT(r->n_rec, 7);
	CHECK_STR(r->rec[0].target_host, "nopport.example");
	CHECK_INT(r->rec[0].target_port, 0);
	CHECK(r->rec[0].anomalies & HTTP_ANOM_TARGET_NO_PORT);
	CHECK(r->rec[1].anomalies & HTTP_ANOM_TARGET_PATH);
	CHECK(r->rec[1].anomalies & HTTP_ANOM_CONNECT_HOST_HDR);
	CHECK_STR(r->rec[1].target_host, "fromhost.example");
	CHECK_INT(r->rec[1].target_port, 587);
	CHECK_STR(r->rec[2].target_host, "::1");
	CHECK_INT(r->rec[2].target_port, 25);
	CHECK_INT(r->rec[2].anomalies, HTTP_ANOM_TARGET_IPV6);
	CHECK_STR(r->rec[3].target_host, "127.0.0.1");
	CHECK_STR(r->rec[3].target, "2130706433:25");
	CHECK(r->rec[3].anomalies & HTTP_ANOM_TARGET_ODD_IP);
	CHECK_STR(r->rec[4].target_host, "127.0.0.1");
	CHECK(r->rec[4].anomalies & HTTP_ANOM_TARGET_ODD_IP);
	CHECK(r->rec[5].anomalies & HTTP_ANOM_TARGET_BAD_PORT);
	CHECK_INT(r->rec[6].anomalies, 0);
	CHECK_STR(r->rec[6].target_host, "10.1.2.3");
	/* the IPv6 literal is noted but not malformed */
	CHECK_INT(r->ctr.v[CTR_HTTP_BAD_TARGET], 5);
	CHECK_HAS(r->log, "\"target_odd_ip\"");
	CHECK_HAS(r->log, "\"target_ipv6_literal\"");
}

TEST(early_data_over_cap_becomes_gap)
{
	static char big[HTTP_EARLY_MAX + 1000];
	struct chunk t[] = {
		C("CONNECT mx.example:25 HTTP/1.1\r\n\r\n"),
		CB(big, sizeof(big)),
		S("HTTP/1.1 200 OK\r\n\r\n"),
		C("after"),
	};
	struct result *r;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + i % 26);
	r = run_all(t, N(t));
	CHECK_INT(r->n_open, 1);
	CHECK_INT(r->tun_len[0], HTTP_EARLY_MAX + 5);
	CHECK(!memcmp(r->tun[0], big, HTTP_EARLY_MAX));
	CHECK(!memcmp(r->tun[0] + HTTP_EARLY_MAX, "after", 5));
	CHECK_HAS(r->log, "TUNNEL_GAP 0 1000\n");
	CHECK_INT(r->ctr.v[CTR_HTTP_EARLY_DATA_CAP], 1);
	CHECK(r->rec[0].anomalies & HTTP_ANOM_EARLY_DATA_LOST);
}

TEST(unanswered_connect_recorded_at_end)
{
	static const struct chunk t[] = {
		C("CONNECT mx.example:25 HTTP/1.1\r\n\r\nEHLO"),
	};
	struct result *r = run_all(t, N(t));

	CHECK_INT(r->n_req, 1);
	CHECK_INT(r->n_rec, 1);
	CHECK_INT(r->rec[0].status, 0);
	CHECK_HASNT(r->log, "\"status\"");
	CHECK(r->rec[0].anomalies & HTTP_ANOM_EARLY_DATA_DISCARDED);
}

/* ------------------------------------------------------------------ */
/* absolute form, keep-alive, bodies                                   */

TEST(absolute_get_keepalive_chunked)
{
	static const struct chunk t[] = {
		C("GET http://www.example.com/a?x=1 HTTP/1.1\r\n"
		  "Host: www.example.com\r\n"
		  "User-Agent: curl/8.0\r\n"
		  "Proxy-Connection: Keep-Alive\r\n"
		  "Via: 1.1 edge\r\n"
		  "X-Forwarded-For: 10.0.0.1\r\n"
		  "Forwarded: for=10.0.0.1\r\n"
		  "\r\n"),
		S("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		  "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n"),
		C("HEAD HTTP://www.example.com:8080/b HTTP/1.1\r\nHost: www.example.com:8080\r\n\r\n"),
		S("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"),
		C("POST ftp://files.example/up HTTP/1.1\r\nContent-Length: 4\r\n\r\nDATA"),
		S("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"),
	};
	struct result *r = run_all(t, N(t));

	CHECK_INT(r->n_req, 3);
	CHECK_INT(r->n_rec, 3);
	CHECK_INT(r->rec[0].form, HTTP_FORM_ABSOLUTE);
	CHECK_STR(r->rec[0].scheme, "http");
	CHECK_STR(r->rec[0].target_host, "www.example.com");
	CHECK_INT(r->rec[0].target_port, 80);
	CHECK_STR(r->rec[0].path, "/a?x=1");
	CHECK_INT(r->rec[0].resp_body_len, 11);
	CHECK_INT(r->rec[0].via, 1);
	CHECK_INT(r->rec[0].xff, 1);
	CHECK_INT(r->rec[0].forwarded, 1);
	CHECK_INT(r->rec[0].proxy_connection, 1);
	CHECK_STR(r->rec[1].method, "HEAD");
	CHECK_STR(r->rec[1].scheme, "http");
	CHECK_INT(r->rec[1].target_port, 8080);
	CHECK_INT(r->rec[1].resp_body_len, 0);
	CHECK_STR(r->rec[2].scheme, "ftp");
	CHECK_INT(r->rec[2].target_port, 21);
	CHECK_INT(r->rec[2].req_body_len, 4);
	CHECK_INT(r->rec[2].status, 201);
	CHECK_INT(r->ctr.v[CTR_HTTP_REQUESTS], 3);
	CHECK_INT(r->ctr.v[CTR_HTTP_RESPONSES], 4);
	CHECK_HAS(r->log, "\"http\":{\"hostname\":\"www.example.com\","
		  "\"url\":\"http://www.example.com/a?x=1\","
		  "\"http_user_agent\":\"curl/8.0\",\"http_method\":\"GET\","
		  "\"protocol\":\"HTTP/1.1\",\"status\":200,\"length\":11,");
	CHECK_HAS(r->log, "\"via\":true,\"forwarded\":true,\"x_forwarded_for\":true,\"proxy_connection\":true");
}

TEST(pipelined_requests)
{
	static const struct chunk t[] = {
		C("GET http://a.example/1 HTTP/1.1\r\nHost: a.example\r\n\r\n"
		  "GET http://a.example/2 HTTP/1.1\r\nHost: a.example\r\n\r\n"
		  "GET http://b.example/3 HTTP/1.1\r\nHost: b.example\r\n\r\n"),
		S("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA"
		  "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nBB"
		  "HTTP/1.1 204 No Content\r\n\r\n"),
	};
	struct result *r = run_all(t, N(t));

	CHECK_INT(r->n_rec, 3);
	CHECK_STR(r->rec[0].path, "/1");
	CHECK_INT(r->rec[0].status, 200);
	CHECK_STR(r->rec[1].path, "/2");
	CHECK_INT(r->rec[1].status, 404);
	CHECK_INT(r->rec[1].resp_body_len, 2);
	CHECK_STR(r->rec[2].target_host, "b.example");
	CHECK_INT(r->rec[2].status, 204);
}

TEST(pipeline_cap_forces_oldest_out)
{
	static const struct chunk t[] = {
		C("GET http://a/1 HTTP/1.1\r\n\r\nGET http://a/2 HTTP/1.1\r\n\r\n"
		  "GET http://a/3 HTTP/1.1\r\n\r\nGET http://a/4 HTTP/1.1\r\n\r\n"
		  "GET http://a/5 HTTP/1.1\r\n\r\n"),
	};
	struct result *r = run_all(t, N(t));

	CHECK_INT(r->n_rec, 5);
	CHECK_STR(r->rec[0].path, "/1");
	CHECK(r->rec[0].anomalies & HTTP_ANOM_PENDING_OVERFLOW);
	CHECK_STR(r->rec[4].path, "/5");
	CHECK_INT(r->ctr.v[CTR_HTTP_PENDING_CAP], 1);
}

TEST(origin_form_by_port_and_read_to_close)
{
	static const struct chunk t[] = {
		C("GET /index.html HTTP/1.0\r\nHost: intranet.example:8080\r\n\r\n"),
		S("HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<html>"),
		S("</html>"),
	};
	struct result *r = run_all(t, N(t));

	CHECK_INT(r->n_rec, 1);
	CHECK_INT(r->rec[0].form, HTTP_FORM_ORIGIN);
	CHECK_STR(r->rec[0].target_host, "intranet.example");
	CHECK_INT(r->rec[0].target_port, 8080);
	CHECK_INT(r->rec[0].resp_body_len, 13);
	CHECK_HAS(r->log, "\"url\":\"/index.html\"");
	CHECK_HAS(r->log, "\"form\":\"origin\"");
	CHECK_HAS(r->log, "\"host_header\":\"intranet.example:8080\"");
}

TEST(userinfo_never_stored)
{
	static const struct chunk t[] = {
		C("GET ftp://anna:hunter2pw@ftp.example/pub/ HTTP/1.1\r\nHost: ftp.example\r\n\r\n"),
		S("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
	};
	struct result *r;

	t_secret = "hunter2pw";
	r = run_all(t, N(t));
	t_secret = NULL;
	CHECK_STR(r->rec[0].target, "ftp://ftp.example/pub/");
	CHECK_STR(r->rec[0].target_host, "ftp.example");
	CHECK(r->rec[0].anomalies & HTTP_ANOM_TARGET_USERINFO);
}

TEST(long_lines_capped)
{
	static char req[HTTP_LINE_MAX * 2 + 512];
	static char url[3000];
	size_t o = 0;
	struct chunk t[3];

	memset(url, 'u', sizeof(url));
	o += (size_t)sprintf(req + o, "GET http://long.example/%.*s HTTP/1.1\r\n",
			     (int)sizeof(url), url);
	o += (size_t)sprintf(req + o, "X-Big: ");
	memset(req + o, 'x', HTTP_LINE_MAX + 100);
	o += HTTP_LINE_MAX + 100;
	o += (size_t)sprintf(req + o, "\r\nUser-Agent: after/1\r\n\r\n");
	t[0] = (struct chunk)CB(req, o);
	t[1] = (struct chunk)S("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	t[2] = (struct chunk)C("GET http://next.example/ HTTP/1.1\r\n\r\n");
	struct result *r = run_all(t, 3);

	CHECK_INT(r->n_rec, 2);
	CHECK_STR(r->rec[0].protocol, "HTTP/1.1"); /* from the line's tail */
	CHECK_STR(r->rec[0].target_host, "long.example");
	CHECK_STR(r->rec[0].user_agent, "after/1");
	CHECK(r->rec[0].anomalies & HTTP_ANOM_LINE_TOO_LONG);
	CHECK(r->rec[0].anomalies & HTTP_ANOM_FIELD_TRUNCATED);
	CHECK_INT(r->rec[0].status, 200);
	CHECK_STR(r->rec[1].target_host, "next.example");
	CHECK_INT(r->ctr.v[CTR_HTTP_LINE_TOO_LONG], 1);
}

TEST(gaps_resync)
{
	static const struct chunk t[] = {
		C("GET http://a.example/ HTTP/1.1\r\n\r\n"),
		S("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789"),
		GAP(DIR_TO_CLIENT, 50),                 /* inside the body */
		S("0123456789012345678901234567890123456789"),
		C("GET http://b.example/ HTTP/1.1\r\nHost: b"),
		GAP(DIR_TO_SERVER, 300),                /* inside headers */
		C("xx\r\n\r\nGET http://c.example/ HTTP/1.1\r\n\r\n"),
		S("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
		  "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
	};
	struct result *r = run_all(t, N(t));

	CHECK_INT(r->n_rec, 3);
	CHECK_INT(r->rec[0].resp_body_len, 50);
	CHECK(r->rec[0].anomalies & HTTP_ANOM_GAP);
	CHECK_STR(r->rec[1].target_host, "b.example");
	CHECK(r->rec[1].anomalies & HTTP_ANOM_GAP);
	CHECK_INT(r->rec[1].req_done, 0);
	CHECK_STR(r->rec[2].target_host, "c.example");
	CHECK_INT(r->rec[2].status, 200);
	CHECK_INT(r->ctr.v[CTR_HTTP_GAP], 1);
}

TEST(tunnel_gap_passed_on)
{
	static const struct chunk t[] = {
		C("CONNECT a.example:443 HTTP/1.1\r\n\r\n"),
		S("HTTP/1.1 200 OK\r\n\r\n"),
		C("abc"), GAP(DIR_TO_SERVER, 10), C("def"),
		GAP(DIR_TO_CLIENT, 7), S("xyz"),
	};
	struct result *r = run_all(t, N(t));

	CHECK_TUN(r, DIR_TO_SERVER, "abcdef");
	CHECK_TUN(r, DIR_TO_CLIENT, "xyz");
	CHECK_HAS(r->log, "TUNNEL_GAP 0 10\nTUNNEL_GAP 1 7\n");
}

TEST(not_http_stops)
{
	static const struct chunk t[] = {
		CB("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n", 12),
		C("GET http://a/ HTTP/1.1\r\n\r\n"),
	};
	struct result *r = run_all(t, N(t));

	CHECK_INT(r->n_rec, 0);
	CHECK_INT(r->wants_data, 0);
	CHECK_INT(r->ctr.v[CTR_HTTP_MALFORMED], 1);
}

TEST(upgrade_101_stops)
{
	static const struct chunk t[] = {
		C("GET http://ws.example/chat HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"),
		S("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello"),
	};
	struct result *r = run_all(t, N(t));

	CHECK_INT(r->n_rec, 1);
	CHECK_INT(r->rec[0].status, 101);
	CHECK_INT(r->wants_data, 0);
}

TEST(midstream_response_without_request)
{
	static const struct chunk t[] = {
		S("ody tail\r\nHTTP/1.1 302 Found\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n"),
		C("der: x\r\n\r\nGET http://a.example/ HTTP/1.1\r\n\r\n"),
		S("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
	};
	static const struct proto_init pi = { .server_port = 8080, .midstream = 1 };
	struct result *r = run_all_pi(t, N(t), &pi);

	CHECK_INT(r->n_rec, 2);
	CHECK_INT(r->rec[0].status, 302);
	CHECK(r->rec[0].anomalies & HTTP_ANOM_NO_REQUEST);
	CHECK_HAS(r->log, "\"form\":\"none\"");
	CHECK_STR(r->rec[1].target_host, "a.example");
	CHECK_INT(r->rec[1].status, 200);
}

TEST(te_and_cl_and_bad_chunk)
{
	static const struct chunk t[] = {
		C("POST http://a.example/ HTTP/1.1\r\nContent-Length: 3\r\n"
		  "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"),
		C("GET http://b.example/ HTTP/1.1\r\n\r\n"),
		S("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
		  "junk after the broken chunk\r\n"
		  "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
	};
	struct result *r = run_all(t, N(t));

	CHECK_INT(r->n_rec, 2);
	CHECK(r->rec[0].anomalies & HTTP_ANOM_TE_AND_CL);
	CHECK_INT(r->rec[0].req_body_len, 3);
	CHECK(r->rec[0].anomalies & HTTP_ANOM_BAD_CHUNK);
	/* the status line after the bad chunk was found by the resync */
	CHECK_STR(r->rec[1].target_host, "b.example");
	CHECK_INT(r->rec[1].status, 200);
}

/* ------------------------------------------------------------------ */
/* pipelining: exact pairing at any depth                              */

/* The status each response of the deep transcripts gives to request N
 * (its path is "/N"), so that a record paired with the wrong response is
 * caught whatever its position. */
static int pipe_head_every;     /* request N is a HEAD when N % this == 0 */

static unsigned pipe_status(unsigned n)
{
	return pipe_head_every && n % pipe_head_every == 0 ? 200 :
	       400 + n % 100;
}

static int pipe_statuses;       /* records with a status */
static int pipe_wrong;          /* ...with the wrong one */

static void pipe_check(const struct http_tx *tx)
{
	if (!tx->status)
		return;
	pipe_statuses++;
	if (tx->meth == HTTP_METHOD_CONNECT) {
		if (tx->status != 200 || !tx->tunnel_granted)
			pipe_wrong++;
		return;
	}
	if (tx->path[0] != '/' ||
	    tx->status != pipe_status((unsigned)atoi(tx->path + 1)))
		pipe_wrong++;
}

static char pipe_cli[200 * 1024], pipe_srv[200 * 1024];

/* n requests "/1".."/n" (a HEAD where pipe_head_every says), one
 * segment, then a CONNECT to mx.example:25; the responses in order (a HEAD
 * answer has a Content-Length and no body), the CONNECT's 200 and SMTP. */
static struct result *pipe_run(unsigned n, int with_connect)
{
	size_t c = 0, v = 0;
	struct chunk t[4];

	for (unsigned i = 1; i <= n; i++) {
		int head = pipe_head_every && i % pipe_head_every == 0;

		c += (size_t)sprintf(pipe_cli + c, "%s http://a.example/%u "
				     "HTTP/1.1\r\nHost: a.example\r\n\r\n",
				     head ? "HEAD" : "GET", i);
		if (head)
			v += (size_t)sprintf(pipe_srv + v, "HTTP/1.1 200 OK\r\n"
					     "Content-Length: 1234\r\n\r\n");
		else
			v += (size_t)sprintf(pipe_srv + v, "HTTP/1.1 %u No\r\n"
					     "Content-Length: 5\r\n\r\nnope!",
					     pipe_status(i));
	}
	if (with_connect) {
		c += (size_t)sprintf(pipe_cli + c, "CONNECT mx.example:25 "
				     "HTTP/1.1\r\nHost: mx.example:25\r\n\r\n");
		v += (size_t)sprintf(pipe_srv + v, "HTTP/1.1 200 Connection "
				     "established\r\n\r\n220 mx.example ESMTP\r\n");
	}
	t[0] = (struct chunk)CB(pipe_cli, c);
	t[1] = (struct chunk)SB(pipe_srv, v);
	t[2] = (struct chunk)C("EHLO spammer\r\n");
	t[3] = (struct chunk)S("250 mx.example\r\n");
	pipe_statuses = pipe_wrong = 0;
	t_on_record = pipe_check;
	struct result *r = run_all(t, with_connect ? 4 : 2);
	t_on_record = NULL;
	return r;
}

/* The bug of issue 8: four GETs before a CONNECT pushed the first out and
 * every later status went to the wrong request (a GET's 403 became the
 * CONNECT's answer, the tunnel was never seen). */
TEST(pipeline_4_gets_then_connect_pairs_exactly)
{
	pipe_head_every = 0;
	struct result *r = pipe_run(4, 1);

	CHECK_INT(r->n_req, 5);
	CHECK_INT(r->n_rec, 5);
	CHECK_STR(r->rec[0].path, "/1");
	CHECK(r->rec[0].anomalies & HTTP_ANOM_PENDING_OVERFLOW);
	CHECK_INT(r->rec[0].status, 0);
	CHECK_STR(r->rec[1].path, "/2");
	CHECK_INT(r->rec[1].status, 402);
	CHECK_INT(r->rec[3].status, 404);
	CHECK_STR(r->rec[4].method, "CONNECT");
	CHECK_INT(r->rec[4].status, 200);
	CHECK_INT(r->rec[4].tunnel_granted, 1);
	CHECK_INT(pipe_wrong, 0);
	CHECK_INT(pipe_statuses, PH_RUNS * 4);
	CHECK_INT(r->n_open, 1);
	CHECK_INT(r->ti.target_port, 25);
	CHECK_TUN(r, DIR_TO_SERVER, "EHLO spammer\r\n");
	CHECK_TUN(r, DIR_TO_CLIENT, "220 mx.example ESMTP\r\n250 mx.example\r\n");
	CHECK_INT(r->ctr.v[CTR_HTTP_PENDING_CAP], 1);
	CHECK_INT(r->ctr.v[CTR_HTTP_UNRECORDED_RESPONSE], 1);
	CHECK_INT(r->ctr.v[CTR_HTTP_UNPAIRED], 0);
}

/* The attacker's version: 1000 pipelined requests (HEADs among them, whose
 * answers have a length and no body) then a CONNECT to :25 granted. */
TEST(pipeline_1000_requests_then_connect_tunnel_seen)
{
	pipe_head_every = 97;
	struct result *r = pipe_run(1000, 1);

	CHECK_INT(r->n_req, 1001);
	CHECK_INT(r->n_rec, 1001);
	CHECK_INT(pipe_wrong, 0);
	CHECK_INT(pipe_statuses, PH_RUNS * 4); /* the ring's 3 GETs, CONNECT */
	CHECK_STR(r->last_rec.method, "CONNECT");
	CHECK_INT(r->last_rec.id, 1001);
	CHECK_INT(r->last_rec.status, 200);
	CHECK_INT(r->last_rec.tunnel_granted, 1);
	CHECK_INT(r->n_open, 1);
	CHECK_STR(r->ti.target_host, "mx.example");
	CHECK_INT(r->ti.target_port, 25);
	CHECK_TUN(r, DIR_TO_SERVER, "EHLO spammer\r\n");
	CHECK_TUN(r, DIR_TO_CLIENT, "220 mx.example ESMTP\r\n250 mx.example\r\n");
	CHECK_INT(r->ctr.v[CTR_HTTP_PENDING_CAP], 997);
	CHECK_INT(r->ctr.v[CTR_HTTP_UNRECORDED_RESPONSE], 997);
	CHECK_INT(r->ctr.v[CTR_HTTP_RESPONSES], 1001);
	CHECK_INT(r->ctr.v[CTR_HTTP_UNPAIRED], 0);
	CHECK_INT(r->wants_data, 1);
}

/* More HEAD/GET alternations than HTTP_PIPE_RUNS pending at once: the
 * order is lost, so the flow goes unpaired and no record gets a status,
 * not even the CONNECT's (its tunnel is not followed: http_proxy.h). */
TEST(pipeline_runs_cap_goes_unpaired_never_misattributes)
{
	pipe_head_every = 2;
	struct result *r = pipe_run(HTTP_PENDING_MAX + HTTP_PIPE_RUNS + 2, 1);

	CHECK_INT(r->ctr.v[CTR_HTTP_UNPAIRED], 1);
	CHECK_INT(pipe_statuses, 0);
	CHECK_INT(pipe_wrong, 0);
	CHECK_INT(r->n_open, 0);
	CHECK_INT(r->n_req, HTTP_PENDING_MAX + HTTP_PIPE_RUNS + 3);
	CHECK_INT(r->n_rec, HTTP_PENDING_MAX + HTTP_PIPE_RUNS + 3);
	CHECK_STR(r->last_rec.method, "CONNECT");
	CHECK(r->last_rec.anomalies & HTTP_ANOM_UNPAIRED);
	CHECK_HAS(r->log, "\"unpaired\"");

	/* HTTP_PIPE_RUNS runs (the CONNECT forces the last one out) are
	 * still exact */
	r = pipe_run(HTTP_PENDING_MAX + HTTP_PIPE_RUNS - 1, 1);
	CHECK_INT(r->ctr.v[CTR_HTTP_UNPAIRED], 0);
	CHECK_INT(pipe_wrong, 0);
	CHECK_INT(pipe_statuses, PH_RUNS * HTTP_PENDING_MAX);
	CHECK_INT(r->n_open, 1);
	pipe_head_every = 0;
}

/* A request forced out while its response is under way (and one behind
 * an interim 100): the responses still go to their own requests. */
TEST(pipeline_force_out_during_response_and_interim)
{
	static const struct chunk t[] = {
		C("GET http://a.example/1 HTTP/1.1\r\n\r\n"),
		S("HTTP/1.1 401 No\r\nContent-Length: 10\r\n\r\n01234"),
		C("GET http://a.example/2 HTTP/1.1\r\n\r\n"
		  "HEAD http://a.example/3 HTTP/1.1\r\n\r\n"
		  "GET http://a.example/4 HTTP/1.1\r\n\r\n"
		  "GET http://a.example/5 HTTP/1.1\r\n\r\n"
		  "HEAD http://a.example/6 HTTP/1.1\r\n\r\n"),
		S("56789"
		  "HTTP/1.1 100 Continue\r\n\r\n"
		  "HTTP/1.1 402 No\r\nContent-Length: 1\r\n\r\nx"
		  "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"
		  "HTTP/1.1 404 No\r\nTransfer-Encoding: chunked\r\n\r\n"
		  "3\r\nabc\r\n0\r\n\r\n"
		  "HTTP/1.1 100 Continue\r\n\r\n"
		  "HTTP/1.1 405 No\r\nContent-Length: 0\r\n\r\n"
		  "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"),
	};
	pipe_head_every = 3;   /* "/3" and "/6" are HEADs: 200 */
	pipe_statuses = pipe_wrong = 0;
	t_on_record = pipe_check;
	struct result *r = run_all(t, N(t));
	t_on_record = NULL;
	pipe_head_every = 0;

	CHECK_INT(r->n_rec, 6);
	CHECK_INT(pipe_wrong, 0);
	/* /1 and /2 were forced out: /1 with the status it had, /2 none */
	CHECK_STR(r->rec[0].path, "/1");
	CHECK_INT(r->rec[0].status, 401);
	CHECK_INT(r->rec[1].status, 0);
	CHECK_STR(r->rec[2].path, "/3");
	CHECK_INT(r->rec[2].status, 200);
	CHECK_INT(r->rec[2].resp_body_len, 0);
	CHECK_INT(r->rec[3].status, 404);
	CHECK_INT(r->rec[3].resp_body_len, 3);
	CHECK_INT(r->rec[5].status, 200);
	CHECK_INT(r->rec[5].resp_body_len, 0);
	CHECK_INT(r->rec[5].resp_done, 1);
	CHECK_INT(r->ctr.v[CTR_HTTP_UNRECORDED_RESPONSE], 2);
}

/* ------------------------------------------------------------------ */
/* methods: any case                                                   */

TEST(method_helper_any_case)
{
	CHECK_INT(http_method_of("CONNECT", 7), HTTP_METHOD_CONNECT);
	CHECK_INT(http_method_of("connect", 7), HTTP_METHOD_CONNECT);
	CHECK_INT(http_method_of("cOnNeCt", 7), HTTP_METHOD_CONNECT);
	CHECK_INT(http_method_of("CONNECTX", 8), HTTP_METHOD_OTHER);
	CHECK_INT(http_method_of("CONNEC", 6), HTTP_METHOD_OTHER);
	CHECK_INT(http_method_of("Head", 4), HTTP_METHOD_HEAD);
	CHECK_INT(http_method_of("GET", 3), HTTP_METHOD_OTHER);
	CHECK_INT(http_method_of("", 0), HTTP_METHOD_NONE);
}

/* Squid (relaxed_header_parser) and Privoxy take "connect": so does the
 * sensor, everywhere (tunnel, framing, form, records keep the case). */
TEST(mixed_case_connect_and_head)
{
	static const struct chunk t[] = {
		C("head http://a.example/x HTTP/1.1\r\n\r\n"
		  "Get http://a.example/y HTTP/1.1\r\n\r\n"),
		S("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
		  "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno"),
		C("connect smtp.example:25 HTTP/1.1\r\n\r\nEHLO early\r\n"),
		S("HTTP/1.1 200 Connection established\r\n\r\n220 smtp.example\r\n"),
		C("QUIT\r\n"),
	};
	struct result *r = run_all(t, N(t));

	CHECK_INT(r->n_rec, 3);
	CHECK_STR(r->rec[0].method, "head");
	CHECK_INT(r->rec[0].meth, HTTP_METHOD_HEAD);
	CHECK_INT(r->rec[0].status, 200);
	CHECK_INT(r->rec[0].resp_body_len, 0);
	CHECK_INT(r->rec[1].status, 404);
	CHECK_INT(r->rec[1].resp_body_len, 2);
	CHECK_STR(r->rec[2].method, "connect");
	CHECK_INT(r->rec[2].meth, HTTP_METHOD_CONNECT);
	CHECK_INT(r->rec[2].form, HTTP_FORM_AUTHORITY);
	CHECK_INT(r->rec[2].tunnel_granted, 1);
	CHECK_INT(r->rec[2].early_data_len, 12);
	CHECK_INT(r->n_open, 1);
	CHECK_INT(r->ti.target_port, 25);
	CHECK_TUN(r, DIR_TO_SERVER, "EHLO early\r\nQUIT\r\n");
	CHECK_TUN(r, DIR_TO_CLIENT, "220 smtp.example\r\n");
	CHECK_HAS(r->log, "\"http_method\":\"connect\"");
}

/* ------------------------------------------------------------------ */
/* proxy traffic and plain web                                         */

TEST(origin_form_is_a_fact_not_proxy_traffic)
{
	static const struct chunk t[] = {
		C("GET /index.html HTTP/1.1\r\nHost: www.example\r\n\r\n"),
		S("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"),
	};
	struct result *r = run_all(t, N(t));

	CHECK_INT(r->n_req, 1);       /* the rules still see the request */
	CHECK_INT(r->n_rec, 1);       /* ...and the response */
	CHECK_INT(r->req[0].proxy, 0);
	CHECK_INT(r->rec[0].proxy, 0);
	CHECK_INT(r->rec[0].status, 200);
	CHECK_INT(r->wants_data, 1);  /* one transaction is not enough */
}

TEST(proxy_signs_make_proxy_traffic)
{
	/* an absolute URI, then origin-form on the same flow */
	static const struct chunk a[] = {
		C("GET http://a.example/ HTTP/1.1\r\n\r\n"),
		S("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
		C("GET / HTTP/1.1\r\nHost: a.example\r\n\r\n"),
		S("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"),
	};
	struct result *r = run_all(a, N(a));
	CHECK_INT(r->rec[0].proxy, 1);
	CHECK_INT(r->rec[1].proxy, 1);

	/* origin-form pipelined before a CONNECT: the GET's record, written
	 * after the CONNECT was seen, is proxy traffic (a probe) */
	static const struct chunk b[] = {
		C("GET / HTTP/1.1\r\nHost: p\r\n\r\nCONNECT mx.example:25 HTTP/1.1\r\n\r\n"),
		S("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
		  "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"),
	};
	r = run_all(b, N(b));
	CHECK_INT(r->req[0].proxy, 0);
	CHECK_INT(r->rec[0].proxy, 1);
	CHECK_INT(r->rec[1].proxy, 1);

	/* a gateway asked for another port in Host; "CONNECT /"; a 407 */
	static const struct chunk c[] = {
		C("GET / HTTP/1.1\r\nHost: mx.example:25\r\n\r\n"),
		S("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n"),
	};
	r = run_all(c, N(c));
	CHECK_INT(r->req[0].proxy, 1);
	CHECK_INT(r->rec[0].proxy, 1);
	static const struct chunk d[] = {
		C("CONNECT / HTTP/1.1\r\nHost: www.example\r\n\r\n"),
		S("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"),
	};
	r = run_all(d, N(d));
	CHECK_INT(r->rec[0].form, HTTP_FORM_ORIGIN);
	CHECK_INT(r->rec[0].proxy, 1);
	static const struct chunk e[] = {
		C("GET / HTTP/1.1\r\nHost: www.example\r\n\r\n"),
		S("HTTP/1.1 407 Proxy Authentication Required\r\n"
		  "Proxy-Authenticate: Basic realm=\"p\"\r\nContent-Length: 0\r\n\r\n"),
	};
	r = run_all(e, N(e));
	CHECK_INT(r->req[0].proxy, 0);
	CHECK_INT(r->rec[0].proxy, 1);
	CHECK_STR(r->rec[0].proxy_authenticate, "Basic realm=\"p\"");
	/* the Host port is the server's own: plain web */
	static const struct chunk f[] = {
		C("GET / HTTP/1.1\r\nHost: www.example:3128\r\n\r\n"),
		S("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
	};
	r = run_all(f, N(f));
	CHECK_INT(r->rec[0].proxy, 0);
}

/* Two origin-form transactions answered as a web server answers: the flow
 * is bypassed at the second response's headers (its body unread), and,
 * the documented trade-off, a proxy request sent after that on the same
 * connection is not seen. */
TEST(plain_web_bypassed_after_two_transactions)
{
	static const struct chunk t[] = {
		C("GET / HTTP/1.1\r\nHost: www.example\r\n\r\n"),
		S("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"),
		C("GET /big.iso HTTP/1.1\r\nHost: www.example\r\n\r\n"),
		S("HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\nISO..."),
		C("CONNECT mx.example:25 HTTP/1.1\r\n\r\n"),
		S("...more of the body"),
	};
	struct result *r = run_all(t, N(t));

	CHECK_INT(r->wants_data, 0);
	CHECK_INT(r->ctr.v[CTR_HTTP_BYPASS_PLAIN_WEB], 1);
	CHECK_INT(r->n_req, 2);
	CHECK_INT(r->n_rec, 2);
	CHECK_INT(r->rec[1].status, 200);
	CHECK_INT(r->rec[1].resp_body_len, 0);
	CHECK_INT(r->rec[0].proxy + r->rec[1].proxy, 0);
}

TEST(plain_web_not_bypassed_when_in_doubt)
{
	/* a proxy answers origin-form with 400: the CONNECT after is seen */
	static const struct chunk a[] = {
		C("GET / HTTP/1.1\r\nHost: www.example\r\n\r\n"),
		S("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"),
		C("GET / HTTP/1.1\r\nHost: www.example\r\n\r\n"),
		S("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
		C("CONNECT mx.example:25 HTTP/1.1\r\n\r\n"),
		S("HTTP/1.1 200 Connection established\r\n\r\n220 mx\r\n"),
	};
	struct result *r = run_all(a, N(a));
	CHECK_INT(r->wants_data, 1);
	CHECK_INT(r->n_open, 1);
	CHECK_INT(r->ctr.v[CTR_HTTP_BYPASS_PLAIN_WEB], 0);

	/* the CONNECT pipelined behind the second GET */
	static const struct chunk b[] = {
		C("GET / HTTP/1.1\r\nHost: www.example\r\n\r\n"),
		S("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
		C("GET / HTTP/1.1\r\nHost: www.example\r\n\r\n"
		  "CONNECT mx.example:25 HTTP/1.1\r\n\r\n"),
		S("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
		  "HTTP/1.1 200 Connection established\r\n\r\n220 mx\r\n"),
	};
	r = run_all(b, N(b));
	CHECK_INT(r->n_open, 1);
	CHECK_INT(r->ctr.v[CTR_HTTP_BYPASS_PLAIN_WEB], 0);

	/* ...or only begun when the answer comes */
	static const struct chunk c[] = {
		C("GET / HTTP/1.1\r\nHost: www.example\r\n\r\n"),
		S("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
		C("GET / HTTP/1.1\r\nHost: www.example\r\n\r\nCONN"),
		S("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
		C("ECT mx.example:25 HTTP/1.1\r\n\r\n"),
		S("HTTP/1.1 200 Connection established\r\n\r\n220 mx\r\n"),
	};
	r = run_all(c, N(c));
	CHECK_INT(r->n_open, 1);
	CHECK_INT(r->ctr.v[CTR_HTTP_BYPASS_PLAIN_WEB], 0);

	/* a proxy header in the answer */
	static const struct chunk d[] = {
		C("GET / HTTP/1.1\r\nHost: www.example\r\n\r\n"),
		S("HTTP/1.1 200 OK\r\nProxy-Agent: x\r\nContent-Length: 0\r\n\r\n"),
		C("GET / HTTP/1.1\r\nHost: www.example\r\n\r\n"),
		S("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
	};
	r = run_all(d, N(d));
	CHECK_INT(r->wants_data, 1);
	CHECK_INT(r->rec[0].proxy, 1);
	CHECK_INT(r->rec[1].proxy, 1);

	/* inside a tunnel: never */
	static const struct chunk e[] = {
		C("GET / HTTP/1.1\r\nHost: www.example\r\n\r\n"),
		S("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
		C("GET / HTTP/1.1\r\nHost: www.example\r\n\r\n"),
		S("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
	};
	static const struct proto_init pi = { .server_port = 80, .in_tunnel = 1 };
	r = run_all_pi(e, N(e), &pi);
	CHECK_INT(r->wants_data, 1);
	CHECK_INT(r->ctr.v[CTR_HTTP_BYPASS_PLAIN_WEB], 0);
	/* ...and outside it the same transcript is bypassed */
	r = run_all(e, N(e));
	CHECK_INT(r->wants_data, 0);
}

/* ------------------------------------------------------------------ */
/* the engine: which transactions become http records, the bypass      */

struct eng_out {
	char buf[64 * 1024];
	size_t len;
	int http, alerts, bypass, bypassed_flows;
};

static void eo_record(void *arg, uint64_t idx, const char *line, size_t len)
{
	struct eng_out *o = arg;

	(void)idx;
	o->http += memmem(line, len, "\"event_type\":\"http\"", 19) != NULL;
	o->alerts += memmem(line, len, "\"event_type\":\"alert\"", 20) != NULL;
	o->bypassed_flows += memmem(line, len, "\"bypass\":\"local\"", 16) != NULL;
	if (o->len + len + 2 < sizeof(o->buf)) {
		memcpy(o->buf + o->len, line, len);
		o->len += len;
		o->buf[o->len++] = '\n';
		o->buf[o->len] = '\0';
	}
}

static void eo_inspect(void *arg, const struct pkt *p, int inspect)
{
	struct eng_out *o = arg;

	(void)p;
	o->bypass += !inspect;
}

/* one TCP conversation, packets built by hand */
struct conv {
	struct engine *e;
	uint16_t sport, dport;
	uint32_t seq[2];
};

static uint64_t conv_ts = 1000000;

static void conv_pkt(struct conv *c, int dir, uint8_t flags, const char *d)
{
	static const uint8_t cli[16] = {192, 0, 2, 1};
	static const uint8_t srv[16] = {198, 51, 100, 80};
	size_t n = d ? strlen(d) : 0;
	struct pkt p;

	memset(&p, 0, sizeof(p));
	p.family = 4;
	memcpy(p.src, dir ? srv : cli, 16);
	memcpy(p.dst, dir ? cli : srv, 16);
	p.sport = dir ? c->dport : c->sport;
	p.dport = dir ? c->sport : c->dport;
	p.seq = c->seq[dir];
	p.ack = c->seq[!dir];
	p.tcp_flags = flags;
	p.payload = (const uint8_t *)d;
	p.payload_len = (uint32_t)n;
	p.wire_len = (uint32_t)(54 + n);
	p.ts_us = conv_ts += 1000;
	engine_packet(c->e, &p);
	c->seq[dir] += (uint32_t)n + ((flags & (TCP_SYN | TCP_FIN)) ? 1 : 0);
}

/* handshake, the payloads (client, server, client...; NULL ends), FINs */
static void conv_run(struct engine *e, uint16_t sport, uint16_t dport,
		     const char *const *msgs)
{
	struct conv c = { e, sport, dport, { 1000, 5000 } };

	conv_pkt(&c, 0, TCP_SYN, NULL);
	conv_pkt(&c, 1, TCP_SYN | TCP_ACK, NULL);
	conv_pkt(&c, 0, TCP_ACK, NULL);
	for (int i = 0; msgs[i]; i++)
		conv_pkt(&c, i % 2, TCP_ACK | TCP_PSH, msgs[i]);
	conv_pkt(&c, 0, TCP_ACK | TCP_FIN, NULL);
	conv_pkt(&c, 1, TCP_ACK | TCP_FIN, NULL);
}

TEST(engine_writes_http_records_for_proxy_traffic_only)
{
	static const char *rules_text =
		"rule t.web { sid 9100001 on http.request "
		"when http.proxy.form is \"origin\" action alert "
		"msg \"web request {http.method}\" }";
	struct rule_source src = { "t.rules", rules_text, strlen(rules_text) };
	struct rule_diags diags = {0};
	struct ruleset *rs = ruleset_load_sources(&src, 1, NULL, &diags);
	static struct eng_out o;
	struct engine_output out = { .arg = &o, .record = eo_record,
				     .flow_inspect = eo_inspect };
	struct engine_config cfg;

	rule_diags_free(&diags);
	CHECK(rs != NULL);
	if (!rs)
		return;
	engine_config_default(&cfg);
	cfg.max_flows = 64;
	cfg.max_parsers = 64;
	cfg.reasm_mem = 1 << 20;
	cfg.rules = rs;
	struct engine *e = engine_new(&cfg, &out);
	CHECK(e != NULL);
	if (!e) {
		ruleset_unref(rs);
		return;
	}
	struct rw_counters *ctr = engine_counters(e);

	/* a web request on :80: a fact (the alert), no record */
	static const char *web[] = {
		"GET /index.html HTTP/1.1\r\nHost: www.example\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi", NULL };
	conv_run(e, 40001, 80, web);
	CHECK_INT(o.http, 0);
	CHECK_INT(o.alerts, 1);
	CHECK_INT(ctr->v[CTR_HTTP_ORIGIN_NOT_RECORDED], 1);

	/* an absolute-URI request: a record */
	static const char *abs[] = {
		"GET http://www.example/ HTTP/1.1\r\nHost: www.example\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", NULL };
	conv_run(e, 40002, 8080, abs);
	CHECK_INT(o.http, 1);
	CHECK_INT(o.alerts, 1);

	/* origin-form inside a CONNECT tunnel: records (with tunnel{}), and
	 * never a bypass however plain */
	static const char *tun[] = {
		"CONNECT www.example:80 HTTP/1.1\r\n\r\n",
		"HTTP/1.1 200 Connection established\r\n\r\n",
		"GET /a HTTP/1.1\r\nHost: www.example\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
		"GET /b HTTP/1.1\r\nHost: www.example\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
		"GET /c HTTP/1.1\r\nHost: www.example\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", NULL };
	conv_run(e, 40003, 3128, tun);
	CHECK_INT(o.http, 5);
	CHECK_INT(o.alerts, 4);
	CHECK_INT(o.bypass, 0);
	CHECK_HAS(o.buf, "\"url\":\"/c\"");
	CHECK_HAS(o.buf, "\"proxy_tunnel\":{\"type\":\"http_connect\"");
	CHECK_INT(ctr->v[CTR_HTTP_ORIGIN_NOT_RECORDED], 1);

	/* plain web: bypassed after two transactions, the capture told */
	static const char *plain[] = {
		"GET / HTTP/1.1\r\nHost: www.example\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
		"GET /x HTTP/1.1\r\nHost: www.example\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\nbody...",
		"GET /y HTTP/1.1\r\nHost: www.example\r\n\r\n",
		"...rest of the body", NULL };
	conv_run(e, 40004, 80, plain);
	CHECK_INT(o.http, 5);
	CHECK_INT(o.bypass, 1);
	CHECK_INT(o.bypassed_flows, 1);
	CHECK_INT(o.alerts, 6);            /* /y is not seen */
	CHECK_INT(ctr->v[CTR_HTTP_BYPASS_PLAIN_WEB], 1);
	CHECK_INT(ctr->v[CTR_HTTP_ORIGIN_NOT_RECORDED], 3);
	engine_finish(e, 0);
	engine_free(e);
	ruleset_unref(rs);
}

/* ------------------------------------------------------------------ */
/* probe                                                               */

static enum probe_result probe_s(const char *cli, const char *srv)
{
	return http_proxy_ops.probe((const uint8_t *)cli, strlen(cli),
				    (const uint8_t *)srv, strlen(srv));
}

TEST(probe_detects_proxy_requests)
{
	static const char *yes[] = {
		"CONNECT smtp.example:25 HTTP/1.1\r\n",
		"CONNECT mailin03.sul.t-online.de:25 / HTTP/1.0\r\n",
		"CONNECT / HTTP/1.1\r\n",
		"GET http://www.example.com/ HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET HTTP://bro.org/ HTTP/1.1\r\n",
		"POST https://a.example/x HTTP/1.0\n",
		"PROPFIND ftp://a.example/ HTTP/1.1\r\n",
		/* any case, as Squid and Privoxy take it */
		"get http://a/ HTTP/1.1\r\n",
		"connect smtp.example:25 HTTP/1.1\r\n",
		"Connect smtp.example:25 HTTP/1.0\r\n",
	};
	static const char *no[] = {
		"GET / HTTP/1.1\r\n",
		"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n",
		"\x16\x03\x01\x02\x00",
		"\x05\x01\x00",
		"EHLO example.com\r\n",
		"CONNECT a:25 SMTP/1.0\r\n",
		"get / HTTP/1.1\r\n",
		"connectx a:25 HTTP/1.1\r\n",
	};
	static const char *more[] = {
		"", "C", "CONN", "CONNECT smtp.exa", "GET ", "GET htt",
		"GET http:/", "GET http://a/ HTTP/1.1",
	};

	for (size_t i = 0; i < N(yes); i++) {
		CHECK_INT(probe_s(yes[i], ""), PROBE_YES);
		/* every prefix is "more" or "yes", never "no" */
		for (size_t k = 0; k < strlen(yes[i]); k++)
			CHECK(http_proxy_ops.probe((const uint8_t *)yes[i], k,
						   NULL, 0) != PROBE_NO);
	}
	for (size_t i = 0; i < N(no); i++)
		CHECK_INT(probe_s(no[i], ""), PROBE_NO);
	for (size_t i = 0; i < N(more); i++)
		CHECK_INT(probe_s(more[i], ""), PROBE_MORE);
	CHECK_INT(probe_s("", "220 mx ESMTP\r\n"), PROBE_NO);

	/* bounded: no line end after 4 KB */
	static char longl[5000];
	memcpy(longl, "CONNECT ", 8);
	memset(longl + 8, 'a', sizeof(longl) - 9);
	CHECK_INT(probe_s(longl, ""), PROBE_NO);
}

/* inside a tunnel the client talks to the final server: origin form too */
TEST(probe_in_tunnel_accepts_origin_form)
{
	static const char *yes[] = {
		"GET / HTTP/1.1\r\n",
		"GET /index.html HTTP/1.0\r\nHost: www.google.com\r\n\r\n",
		"CONNECT smtp.example:25 HTTP/1.1\r\n",
		"GET http://www.example.com/ HTTP/1.1\r\n",
	};
	static const char *no[] = {
		"GET index.html HTTP/1.1\r\n",
		"GET / SMTP/1.0\r\n",
		"\x16\x03\x01\x02\x00",
		"EHLO example.com\r\n",
	};
	const struct proto_ops *o = &http_proxy_ops;

	CHECK(o->probe_tunnel != NULL);
	if (!o->probe_tunnel)
		return;
	for (size_t i = 0; i < N(yes); i++) {
		size_t n = strlen(yes[i]);
		CHECK_INT(o->probe_tunnel((const uint8_t *)yes[i], n, NULL, 0),
			  PROBE_YES);
		for (size_t k = 0; k < n; k++)
			CHECK(o->probe_tunnel((const uint8_t *)yes[i], k,
					      NULL, 0) != PROBE_NO);
	}
	for (size_t i = 0; i < N(no); i++)
		CHECK_INT(o->probe_tunnel((const uint8_t *)no[i],
					  strlen(no[i]), NULL, 0), PROBE_NO);
	/* outside a tunnel an origin-form request is a web server's, not
	 * a proxy's */
	CHECK_INT(probe_s("GET / HTTP/1.1\r\n", ""), PROBE_NO);
}

int main(void)
{
	RUN(connect_smtp_granted_with_early_data);
	RUN(connect_real_world_odd_form);
	RUN(connect_refused_403_discards_early_data);
	RUN(proxy_auth_407_then_retry_no_credentials);
	RUN(connect_malformed_targets);
	RUN(early_data_over_cap_becomes_gap);
	RUN(unanswered_connect_recorded_at_end);
	RUN(absolute_get_keepalive_chunked);
	RUN(pipelined_requests);
	RUN(pipeline_cap_forces_oldest_out);
	RUN(origin_form_by_port_and_read_to_close);
	RUN(userinfo_never_stored);
	RUN(long_lines_capped);
	RUN(gaps_resync);
	RUN(tunnel_gap_passed_on);
	RUN(not_http_stops);
	RUN(upgrade_101_stops);
	RUN(midstream_response_without_request);
	RUN(te_and_cl_and_bad_chunk);
	RUN(pipeline_4_gets_then_connect_pairs_exactly);
	RUN(pipeline_1000_requests_then_connect_tunnel_seen);
	RUN(pipeline_runs_cap_goes_unpaired_never_misattributes);
	RUN(pipeline_force_out_during_response_and_interim);
	RUN(method_helper_any_case);
	RUN(mixed_case_connect_and_head);
	RUN(origin_form_is_a_fact_not_proxy_traffic);
	RUN(proxy_signs_make_proxy_traffic);
	RUN(plain_web_bypassed_after_two_transactions);
	RUN(plain_web_not_bypassed_when_in_doubt);
	RUN(engine_writes_http_records_for_proxy_traffic_only);
	RUN(probe_detects_proxy_requests);
	RUN(probe_in_tunnel_accepts_origin_form);
	return t_done();
}
