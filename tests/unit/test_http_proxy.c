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
#include "http_proxy.h"
#include "json.h"

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
	};
	static const char *no[] = {
		"GET / HTTP/1.1\r\n",
		"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n",
		"\x16\x03\x01\x02\x00",
		"\x05\x01\x00",
		"EHLO example.com\r\n",
		"CONNECT a:25 SMTP/1.0\r\n",
		"get http://a/ HTTP/1.1\r\n",
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
	RUN(probe_detects_proxy_requests);
	RUN(probe_in_tunnel_accepts_origin_form);
	return t_done();
}
