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
 *   HTTP_PENDING_MAX  pipelined requests kept in full (struct http_tx) while
 *                     they wait for their responses. One more forces the
 *                     oldest out as a record without response (anomaly
 *                     pipeline_overflow, CTR_HTTP_PENDING_CAP); it stays in
 *                     the pipeline as a compact entry so that pairing stays
 *                     exact: its response is framed (and counted,
 *                     CTR_HTTP_UNRECORDED_RESPONSE) but not recorded
 *   HTTP_PIPE_RUNS    the compact entries are runs of requests that frame
 *                     their responses alike (HEAD: no body; anything else),
 *                     of any length: 1000 pipelined GETs are one run. A
 *                     CONNECT is never compact: the client side stops
 *                     parsing requests after one until it is answered, so it
 *                     is always the newest pending request, kept in full.
 *                     More than HTTP_PIPE_RUNS runs pending at once (an
 *                     attacker interleaving HEAD and GET) makes the flow
 *                     "unpaired" for good (CTR_HTTP_UNPAIRED): responses are
 *                     still framed but never paired again, the records of
 *                     pending requests carry anomaly "unpaired" and no
 *                     status, and a CONNECT still pending then is recorded
 *                     with its request facts but its tunnel is not followed.
 *                     A status is never given to the wrong request.
 *   HTTP_EARLY_MAX    client bytes after a CONNECT and before its answer;
 *                     the excess is passed to the tunnel as a gap,
 *                     CTR_HTTP_EARLY_DATA_CAP
 *
 * Methods are matched without regard to case ("connect", "Head"): RFC 9110
 * makes them case-sensitive, but Squid (relaxed_header_parser, the default)
 * and Privoxy accept any case, and the sensor must see what a proxy would
 * act on. The method is recorded as sent.
 *
 * Proxy traffic and plain web. The parser follows every HTTP conversation
 * on a proxy port, and port 80 is one by default, so most of what it sees
 * can be requests to a web server. A transaction is proxy traffic
 * (tx->proxy) when its request is absolute-form or a CONNECT (of any
 * target form), when its origin-form request names another port in Host
 * (a gateway asked for "mx:25"), when the answer comes from a proxy (407,
 * Proxy-Authenticate, Proxy-Agent), or once the flow carried any of these.
 * Every transaction raises its facts (EV_HTTP_REQUEST, EV_HTTP_RECORD) for
 * the rules; the engine writes the http record only for proxy traffic and
 * inside tunnels (counter http.origin_form_not_recorded).
 *   A flow is plain web, and wants_data() turns 0 so that the engine and
 * the eBPF front-end bypass it, when its first HTTP_PLAIN_WEB_TX
 * transactions were origin-form (or "*") requests without a proxy sign,
 * each answered the way a web server answers (2xx, 3xx, 401, 404, no proxy
 * header) while a proxy answers origin-form with 400, and nothing else is
 * pending or partly parsed on the client side. Decided at the end of the
 * last of those responses' headers, so that its body is not read (counter
 * http.bypass.plain_web). Never inside a tunnel, never once the flow is
 * unpaired or showed a proxy sign.
 *   Trade-off: a server that is both a web server and an open proxy on the
 * same port (Apache with ProxyRequests On, Polipo) can be used unseen by a
 * client that first makes HTTP_PLAIN_WEB_TX ordinary requests on a
 * connection, waits for the answers, and only then sends its proxy request
 * on that same connection. Each new connection starts over, proxy requests
 * pipelined before the decision are seen, and the requests before it have
 * raised their facts. A pure forward proxy (Squid, tinyproxy, Privoxy)
 * answers origin-form with an error and is never bypassed. The threshold
 * only guards against a client that probes with one origin-form request
 * first; a single-request web flow (a download) is not bypassed.
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
#define HTTP_PIPE_RUNS     32
#define HTTP_EARLY_MAX     4096
#define HTTP_PLAIN_WEB_TX  2

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
	HTTP_ANOM_UNPAIRED         = 1u << 24, /* pipelining cap: no pairing */
};
#define HTTP_ANOM__BITS 25

/* the methods the parser acts on (framing, tunnels); any case */
enum http_method {
	HTTP_METHOD_NONE = 0,   /* no request (response without request) */
	HTTP_METHOD_OTHER,
	HTTP_METHOD_CONNECT,
	HTTP_METHOD_HEAD,
};

struct http_tx {
	uint32_t id;                 /* 1-based, per flow, request order */
	char method[HTTP_METHOD_MAX];           /* as sent */
	uint8_t meth;                           /* enum http_method */
	uint8_t proxy;                          /* proxy traffic: see above */
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
/* the method token m (n bytes, any case) */
enum http_method http_method_of(const char *m, size_t n);

/* the state block the engine allocates (ops.state_size); opaque */
struct http_proxy_state;

#endif
