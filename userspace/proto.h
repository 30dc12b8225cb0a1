/* proto.h - the contract between the engine and every protocol parser.
 *
 * A parser is a resumable state machine over the two byte streams of one TCP
 * conversation (or of a tunnel inside one). The engine:
 *   - picks the parser by port or by content (ops->probe),
 *   - gives it a fixed-size state block of ops->state_size bytes (from a
 *     bounded pool: parsers never malloc),
 *   - calls ops->feed() with in-order bytes of each direction, both
 *     directions interleaved in capture time order, in chunks of any size
 *     (one byte at a time must give the same events as the whole stream),
 *   - calls ops->gap() when bytes were lost (the parser resyncs),
 *   - calls ops->end() once when the flow ends (flush pending records).
 *
 * The parser reports through the sink: events (records and the facts rules
 * act on) and, for proxies, the bytes of a granted tunnel.
 */
#ifndef RW_PROTO_H
#define RW_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include "counters.h"

struct json;

enum app_proto {
	APP_UNKNOWN = 0,   /* not decided yet */
	APP_SMTP,
	APP_HTTP_PROXY,
	APP_SOCKS,
	APP_NONE,          /* decided: nothing we parse (bypass) */
	APP__COUNT
};

enum {
	DIR_TO_SERVER = 0, /* bytes sent by the client (the side that opened) */
	DIR_TO_CLIENT = 1, /* bytes sent by the server */
};

/* Event types. Each names the struct passed as obj (see the parser's
 * header). *_RECORD events become EVE records; the others are facts for the
 * rule engine, raised the moment they are known (a command before its reply:
 * inline mode can act on it). */
enum proto_event {
	EV_SMTP_RECORD = 1,   /* struct smtp_tx: a finished transaction */
	EV_SMTP_COMMAND,      /* struct smtp_tx: a client command was parsed;
	                       * tx->last_cmd says which */
	EV_SMTP_REPLY,        /* struct smtp_tx: a reply was paired with its
	                       * command; tx->last_cmd, tx->last_reply */
	EV_HTTP_RECORD = 32,  /* struct http_tx: request+response done */
	EV_HTTP_REQUEST,      /* struct http_tx: request headers complete */
	EV_SOCKS_RECORD = 64, /* struct socks_tx: request+reply done */
	EV_SOCKS_REQUEST,     /* struct socks_tx: request parsed */
};

enum tunnel_type {
	TUNNEL_NONE = 0,
	TUNNEL_HTTP_CONNECT,
	TUNNEL_SOCKS4,
	TUNNEL_SOCKS5,
};

#define TUNNEL_HOST_MAX 256

struct tunnel_info {
	enum tunnel_type type;
	char target_host[TUNNEL_HOST_MAX]; /* NUL-terminated, may be an IP literal */
	uint16_t target_port;
};

struct proto_sink {
	void *ctx;
	/* a record or a fact; obj is valid only during the call */
	void (*event)(void *ctx, enum proto_event type, const void *obj,
		      uint64_t ts_us);
	/* a proxy granted a tunnel: from now on the parser passes the tunnel's
	 * bytes (each direction, in order) to tunnel_data, losses to tunnel_gap */
	void (*tunnel_open)(void *ctx, const struct tunnel_info *ti,
			    uint64_t ts_us);
	void (*tunnel_data)(void *ctx, int dir, const uint8_t *d, size_t n,
			    uint64_t ts_us);
	void (*tunnel_gap)(void *ctx, int dir, size_t n, uint64_t ts_us);
};

/* what the engine knows about the conversation when the parser starts */
struct proto_init {
	uint16_t server_port;
	int implicit_tls;   /* e.g. SMTP on 465: record it, parse nothing */
	int midstream;      /* picked up without the handshake */
	int reversed;       /* PROBE_YES_REVERSED: the engine feeds the TCP
	                     * server's bytes as dir 0 (the protocol's client) */
	int in_tunnel;      /* the payload of a granted tunnel */
};

enum probe_result {
	PROBE_NO = 0,  /* not this protocol */
	PROBE_YES,     /* this protocol */
	PROBE_MORE,    /* need more bytes to say */
	PROBE_YES_REVERSED, /* this protocol, with the roles swapped: the side
	                     * that accepted the connection speaks the client
	                     * part (a backconnect proxy bot serving SOCKS to
	                     * the controller it connected to) */
};

struct proto_ops {
	const char *name;
	enum app_proto id;
	size_t state_size;
	void (*init)(void *st, const struct proto_sink *sink,
		     struct rw_counters *ctr, const struct proto_init *pi);
	void (*feed)(void *st, int dir, const uint8_t *d, size_t n,
		     uint64_t ts_us);
	void (*gap)(void *st, int dir, size_t n, uint64_t ts_us);
	void (*end)(void *st, uint64_t ts_us);
	/* Content detection on the first bytes of each direction seen so far
	 * (cli: client->server, srv: server->client; either may be empty). */
	enum probe_result (*probe)(const uint8_t *cli, size_t cn,
				   const uint8_t *srv, size_t sn);
	/* Optional: the same inside a granted tunnel, where the client talks
	 * to the final server (plain HTTP: an origin-form request). NULL:
	 * probe is used there too. */
	enum probe_result (*probe_tunnel)(const uint8_t *cli, size_t cn,
					  const uint8_t *srv, size_t sn);
	/* Nonzero while the parser still needs this flow's bytes (0 after
	 * STARTTLS, inside an opaque tunnel...): lets the sensor bypass. */
	int (*wants_data)(const void *st);
	/* Write the record's protocol object(s) into the open top-level JSON
	 * object (e.g. "smtp":{...}) and return the EVE event_type, or NULL if
	 * this event type is not a record. */
	const char *(*eve)(struct json *j, enum proto_event type,
			   const void *obj);
};

extern const struct proto_ops smtp_ops;
extern const struct proto_ops http_proxy_ops;
extern const struct proto_ops socks_ops;

#endif
