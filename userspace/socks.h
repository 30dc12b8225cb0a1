/* socks.h - SOCKS4 / SOCKS4a / SOCKS5 parser (both directions).
 *
 * Follows the handshake of one TCP conversation with a SOCKS server:
 * SOCKS5 greeting and method choice, RFC 1929 username/password
 * sub-negotiation, request (CONNECT / BIND / UDP ASSOCIATE with an IPv4,
 * domain or IPv6 target) and reply; SOCKS4 and 4a request and reply. A
 * granted CONNECT (or the second reply of a granted BIND) turns the rest
 * of the conversation into a tunnel whose bytes go to the sink.
 *
 * One "attempt" is one negotiation: greeting .. reply. A client may start
 * a new attempt on the same connection after the server refused
 * (method FF, failed authentication, refused request); each attempt is
 * its own record (tx->attempt counts them from 1).
 *
 * Events (obj = const struct socks_tx *, valid during the call only):
 *   EV_SOCKS_REQUEST  the request was parsed (before the reply)
 *   EV_SOCKS_RECORD   the attempt ended: final reply, method FF, failed
 *                     authentication, malformed input, gap, end of flow
 *
 * The password of RFC 1929 is skipped byte by byte: it is never copied
 * anywhere, not even into a scratch buffer.
 *
 * Policies (counted, see counters.h "socks"):
 *   malformed input (wrong version, unknown address type, zero methods,
 *   a user id or host without NUL within 255 bytes, server talking out of
 *   turn) ends parsing of the flow: CTR_SOCKS_MALFORMED, the attempt is
 *   recorded, wants_data() becomes 0. A gap before the tunnel does the
 *   same (a binary handshake cannot be resynced): CTR_SOCKS_GAP.
 *   Client bytes after the request and before the reply (early data) are
 *   kept up to SOCKS_EARLY_MAX and passed to the tunnel when it opens; the
 *   excess is passed as a gap (CTR_SOCKS_EARLY_DATA_CAP). Refused: dropped.
 *   Methods beyond SOCKS_METHODS_MAX are counted, not stored. A method we
 *   do not parse (GSSAPI, private) ends parsing after the record.
 *   Reverse SOCKS5 (a backconnect proxy: the side that opened the
 *   connection is the SOCKS server) is found by socks_probe(), which says
 *   PROBE_YES_REVERSED; the engine then feeds the parser with the
 *   directions swapped (proto_init.reversed) and the record says
 *   "reverse":true. Reverse SOCKS4 is not detected.
 */
#ifndef RW_SOCKS_H
#define RW_SOCKS_H

#include <stddef.h>
#include <stdint.h>
#include "proto.h"

#define SOCKS_METHODS_MAX 16
#define SOCKS_USER_MAX    256
#define SOCKS_BOUND_MAX   64
#define SOCKS_EARLY_MAX   2048

enum socks_cmd {
	SOCKS_CMD_NONE = 0,
	SOCKS_CMD_CONNECT = 1,
	SOCKS_CMD_BIND = 2,
	SOCKS_CMD_UDP_ASSOCIATE = 3,
};

enum socks_atyp {
	SOCKS_ATYP_NONE = 0,
	SOCKS_ATYP_IPV4 = 1,
	SOCKS_ATYP_DOMAIN = 3,
	SOCKS_ATYP_IPV6 = 4,
};

enum socks_anomaly {
	SOCKS_ANOM_MALFORMED         = 1u << 0,
	SOCKS_ANOM_GAP               = 1u << 1,
	SOCKS_ANOM_EARLY_DATA        = 1u << 2,  /* client data before reply */
	SOCKS_ANOM_EARLY_DATA_LOST   = 1u << 3,  /* over the cap / gap */
	SOCKS_ANOM_EARLY_DATA_DISCARDED = 1u << 4, /* and the request refused */
	SOCKS_ANOM_INCOMPLETE        = 1u << 5,  /* flow ended mid-attempt */
	SOCKS_ANOM_UNKNOWN_COMMAND   = 1u << 6,
	SOCKS_ANOM_METHOD_NOT_OFFERED = 1u << 7, /* server chose another */
	SOCKS_ANOM_METHOD_UNPARSED   = 1u << 8,  /* GSSAPI, private: stop */
	SOCKS_ANOM_REPLY_VERSION     = 1u << 9,  /* odd version in a reply */
	SOCKS_ANOM_FIELD_TRUNCATED   = 1u << 10,
	SOCKS_ANOM_BAD_DOMAIN        = 1u << 11, /* empty / control bytes */
	SOCKS_ANOM_UNKNOWN_REPLY     = 1u << 12, /* reply code out of range */
	SOCKS_ANOM_PIPELINED         = 1u << 13, /* client did not wait */
};
#define SOCKS_ANOM__BITS 14

struct socks_tx {
	uint32_t attempt;              /* 1-based on this connection */
	uint8_t version;               /* 4 or 5; 0 = unknown */
	uint8_t is_4a;
	uint8_t command;               /* enum socks_cmd, raw if unknown */
	uint8_t atyp;                  /* enum socks_atyp (SOCKS4: IPV4) */
	char target_host[TUNNEL_HOST_MAX]; /* NUL-terminated */
	uint16_t target_host_len;
	uint16_t target_port;
	uint8_t methods_offered[SOCKS_METHODS_MAX];
	uint8_t n_methods;             /* stored */
	uint8_t n_methods_total;       /* as announced */
	int16_t method_chosen;         /* -1 = unknown */
	uint8_t has_user;
	char user[SOCKS_USER_MAX];     /* SOCKS4 user id / RFC 1929 name */
	uint16_t user_len;
	int8_t auth_ok;                /* -1 unknown, 0 failed, 1 ok */
	int16_t reply_code;            /* -1 none; SOCKS4: 90..93 */
	uint8_t granted;
	uint8_t has_bound;
	char bound_host[SOCKS_BOUND_MAX];
	uint16_t bound_port;
	uint8_t greet_seen, auth_sent, req_seen, n_replies;
	uint32_t early_data_len;
	uint32_t anomalies;            /* enum socks_anomaly bits */
	uint8_t reverse;               /* the SOCKS client is the side that
	                                * accepted the TCP connection */
};

const char *socks_anomaly_name(uint32_t bit);
const char *socks_cmd_name(uint8_t cmd);

struct socks_state;

#endif
