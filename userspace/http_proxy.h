/* http_proxy.h - HTTP forward-proxy parser (CONNECT and absolute-form).
 *
 * Follows both directions of an HTTP/1.x conversation with a forward proxy:
 * requests (method, request-target, the headers that matter for proxy abuse)
 * and responses (status, Proxy-Authenticate), keep-alive and pipelining,
 * bodies skipped by Content-Length or chunked framing. A CONNECT answered 2xx
 * turns the conversation into a tunnel whose bytes go to the sink.
 *
 * Events (obj = const struct http_tx *, valid during the call only):
 *   EV_HTTP_REQUEST  request headers complete (before the proxy answers)
 *   EV_HTTP_RECORD   the response is complete (headers and body; for a
 *                    granted CONNECT or a bodiless response: its headers),
 *                    or the flow ended with the transaction unfinished.
 *                    Emitted after the body so that "length" is exact.
 *
 * Credentials are never kept: of Proxy-Authorization only the scheme token
 * ("Basic") is stored, the line buffer holding the header is wiped, and the
 * userinfo of an absolute URI ("ftp://user:pw@host/") is cut from the
 * stored target (flagged).
 *
 * Caps (all counted, see counters.h "http"):
 *   HTTP_LINE_BUF     bytes of a line kept for parsing; a longer line is
 *                     parsed from its first HTTP_LINE_BUF bytes (its fields
 *                     are capped lower anyway) plus its last bytes
 *                     (HTTP_LINE_TAIL: the version of a long request line)
 *   HTTP_LINE_MAX     a line with no LF after this many bytes is cut: parsed
 *                     as it is, the rest discarded up to the LF,
 *                     CTR_HTTP_LINE_TOO_LONG
 *   HTTP_PENDING_MAX  pipelined requests waiting for their responses; one
 *                     more forces out the oldest as an unanswered record,
 *                     CTR_HTTP_PENDING_CAP
 *   HTTP_EARLY_MAX    client bytes after a CONNECT and before its answer;
 *                     the excess is passed to the tunnel as a gap,
 *                     CTR_HTTP_EARLY_DATA_CAP
 *
 * Gaps: inside a body the body just gets shorter; inside a header block the
 * message is flagged "gap", its remaining headers are lost and that side
 * resyncs on the next request line / status line (lines that do not start
 * one are skipped); inside a tunnel the gap goes to sink->tunnel_gap.
 */
#ifndef RW_HTTP_PROXY_H
#define RW_HTTP_PROXY_H

#include <stddef.h>
#include <stdint.h>
#include "proto.h"

#define HTTP_LINE_BUF      1024
#define HTTP_LINE_TAIL     16
#define HTTP_LINE_MAX      8192
#define HTTP_PENDING_MAX   4
#define HTTP_EARLY_MAX     4096

#define HTTP_METHOD_MAX    24
#define HTTP_TARGET_MAX    512
#define HTTP_SCHEME_MAX    16
#define HTTP_PATH_MAX      256
#define HTTP_HOSTHDR_MAX   256
#define HTTP_UA_MAX        256
#define HTTP_PROTO_MAX     16
#define HTTP_REASON_MAX    64
#define HTTP_AUTHSCHEME_MAX 24
#define HTTP_CHALLENGE_MAX 128

enum http_form {
	HTTP_FORM_NONE = 0,   /* no request seen (response without request) */
	HTTP_FORM_ORIGIN,     /* GET /path */
	HTTP_FORM_AUTHORITY,  /* CONNECT host:port */
	HTTP_FORM_ABSOLUTE,   /* GET http://host/path */
	HTTP_FORM_ASTERISK,   /* OPTIONS * */
};

/* tx->anomalies bits; http_anomaly_name() gives the JSON name */
enum http_anomaly {
	HTTP_ANOM_TARGET_NO_PORT   = 1u << 0,  /* CONNECT host */
	HTTP_ANOM_TARGET_BAD_PORT  = 1u << 1,  /* not 1..65535 digits */
	HTTP_ANOM_TARGET_TRAILING  = 1u << 2,  /* CONNECT h:25 / HTTP/1.0 */
	HTTP_ANOM_TARGET_PATH      = 1u << 3,  /* CONNECT / or h:25/x */
	HTTP_ANOM_TARGET_IPV6      = 1u << 4,  /* [::1]:25 (noted, legal) */
	HTTP_ANOM_TARGET_ODD_IP    = 1u << 5,  /* 2130706433, 0x7f.1, 0177.0.0.1 */
	HTTP_ANOM_TARGET_BAD_HOST  = 1u << 6,  /* empty, bad chars, bad brackets */
	HTTP_ANOM_TARGET_USERINFO  = 1u << 7,  /* user:pw@ in the target (cut) */
	HTTP_ANOM_LINE_TOO_LONG    = 1u << 8,
	HTTP_ANOM_FIELD_TRUNCATED  = 1u << 9,
	HTTP_ANOM_BAD_HEADER       = 1u << 10, /* header line without ':' */
	HTTP_ANOM_EARLY_DATA       = 1u << 11, /* client data before CONNECT reply */
	HTTP_ANOM_EARLY_DATA_LOST  = 1u << 12, /* ...over the cap or with a gap */
	HTTP_ANOM_EARLY_DATA_DISCARDED = 1u << 13, /* ...and CONNECT refused */
	HTTP_ANOM_NO_REQUEST       = 1u << 14, /* response with no request */
	HTTP_ANOM_BAD_STATUS_LINE  = 1u << 15,
	HTTP_ANOM_BAD_REQUEST_LINE = 1u << 16, /* no/odd HTTP version */
	HTTP_ANOM_BAD_LENGTH       = 1u << 17, /* bad or conflicting C-L */
	HTTP_ANOM_TE_AND_CL        = 1u << 18, /* both: smuggling indicator */
	HTTP_ANOM_BAD_CHUNK        = 1u << 19,
	HTTP_ANOM_GAP              = 1u << 20,
	HTTP_ANOM_PENDING_OVERFLOW = 1u << 21, /* forced out by pipelining cap */
	HTTP_ANOM_INCOMPLETE       = 1u << 22, /* flow ended mid-message */
	HTTP_ANOM_CONNECT_HOST_HDR = 1u << 23, /* CONNECT target taken from Host */
};
#define HTTP_ANOM__BITS 24

struct http_tx {
	uint32_t id;                 /* 1-based, per flow, request order */
	char method[HTTP_METHOD_MAX];
	char protocol[HTTP_PROTO_MAX];          /* request "HTTP/1.1" */
	char target[HTTP_TARGET_MAX];           /* raw request-target, capped */
	uint16_t target_len;
	enum http_form form;
	char scheme[HTTP_SCHEME_MAX];           /* lowercased, "" if none */
	char target_host[TUNNEL_HOST_MAX];      /* IPv6 without brackets; odd
	                                         * numeric IPv4 normalized */
	uint16_t target_port;                   /* 0 = unknown */
	uint8_t target_port_explicit;
	char path[HTTP_PATH_MAX];
	char host_hdr[HTTP_HOSTHDR_MAX];        /* Host header value */
	char user_agent[HTTP_UA_MAX];
	uint8_t has_host_hdr, has_user_agent;
	uint8_t proxy_auth_present;
	char proxy_auth_scheme[HTTP_AUTHSCHEME_MAX]; /* "Basic"; never creds */
	uint8_t via, forwarded, xff, proxy_connection;
	uint8_t req_done;                       /* request headers complete */
	uint8_t resp_started, resp_done;
	char resp_protocol[HTTP_PROTO_MAX];
	uint16_t status;                        /* 0 = no response */
	char reason[HTTP_REASON_MAX];
	char proxy_authenticate[HTTP_CHALLENGE_MAX]; /* first challenge */
	uint8_t has_proxy_authenticate;
	uint64_t req_body_len, resp_body_len;   /* bytes seen */
	uint32_t early_data_len;                /* bytes before CONNECT reply */
	uint32_t anomalies;                     /* enum http_anomaly bits */
	uint8_t tunnel_granted;
};

const char *http_anomaly_name(uint32_t bit);
const char *http_form_name(enum http_form f);

/* the state block the engine allocates (ops.state_size); opaque */
struct http_proxy_state;

#endif
