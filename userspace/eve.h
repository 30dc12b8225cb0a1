/* eve.h - the parts of an EVE record every event type shares, and the
 * stats record. */
#ifndef RW_EVE_H
#define RW_EVE_H

#include <stdint.h>
#include "counters.h"
#include "json.h"
#include "proto.h"

struct eve_endpoints {
	int family;
	const uint8_t *src, *dst;   /* src = the client */
	uint16_t sport, dport;
	int nvlan;
	const uint16_t *vlan;
};

/* Open the top-level object and write timestamp, flow_id, event_type,
 * vlan, src_ip, src_port, dest_ip, dest_port, proto, community_id. The
 * caller adds its objects and closes with json_obj_close(). */
void eve_header(struct json *j, uint64_t ts_us, uint64_t flow_id,
		const char *event_type, const struct eve_endpoints *ep,
		const char *community_id);

const char *eve_tunnel_type(enum tunnel_type t);

/* format an address (family 4 or 6) */
void eve_addr(int family, const uint8_t *a, char *out, size_t cap);

/* Write counters as nested objects, one level per dot of their names
 * ("flow.closed.fin" -> "flow":{"closed":{"fin":N}}); at most 256. */
void eve_counters(struct json *j, const char *const *names,
		  const uint64_t *vals, int n);

/* {"timestamp":..,"event_type":"stats","stats":{...}}: counters nested by
 * the dots of their names, then extra members added by the caller. */
void eve_stats_begin(struct json *j, uint64_t ts_us,
		     const struct rw_counters *c);

#endif
