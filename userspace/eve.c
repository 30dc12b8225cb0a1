/* eve.c - shared EVE record parts (see eve.h) */
#include "eve.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void eve_addr(int family, const uint8_t *a, char *out, size_t cap)
{
	if (!inet_ntop(family == 6 ? AF_INET6 : AF_INET, a, out,
		       (socklen_t)cap))
		snprintf(out, cap, "?");
}

void eve_header(struct json *j, uint64_t ts_us, uint64_t flow_id,
		const char *event_type, const struct eve_endpoints *ep,
		const char *community_id)
{
	char a[INET6_ADDRSTRLEN];

	json_obj_open(j, NULL);
	json_ts(j, "timestamp", ts_us);
	json_u64(j, "flow_id", flow_id);
	json_str(j, "event_type", event_type);
	if (ep->nvlan) {
		json_arr_open(j, "vlan");
		for (int i = 0; i < ep->nvlan; i++)
			json_u64(j, NULL, ep->vlan[i]);
		json_arr_close(j);
	}
	eve_addr(ep->family, ep->src, a, sizeof(a));
	json_str(j, "src_ip", a);
	json_u64(j, "src_port", ep->sport);
	eve_addr(ep->family, ep->dst, a, sizeof(a));
	json_str(j, "dest_ip", a);
	json_u64(j, "dest_port", ep->dport);
	json_str(j, "proto", "TCP");
	if (community_id && community_id[0])
		json_str(j, "community_id", community_id);
}

const char *eve_tunnel_type(enum tunnel_type t)
{
	switch (t) {
	case TUNNEL_HTTP_CONNECT: return "http_connect";
	case TUNNEL_SOCKS4: return "socks4";
	case TUNNEL_SOCKS5: return "socks5";
	default: return "none";
	}
}

struct named { const char *name; uint64_t v; };

static int named_cmp(const void *a, const void *b)
{
	return strcmp(((const struct named *)a)->name,
		      ((const struct named *)b)->name);
}

/* number of leading dot-separated components a and b share */
static int common_parts(const char *a, const char *b)
{
	int n = 0;

	for (;;) {
		const char *da = strchr(a, '.'), *db = strchr(b, '.');
		size_t la = da ? (size_t)(da - a) : strlen(a);
		size_t lb = db ? (size_t)(db - b) : strlen(b);
		if (!da || !db || la != lb || memcmp(a, b, la))
			return n;
		n++;
		a = da + 1;
		b = db + 1;
	}
}

void eve_counters(struct json *j, const char *const *names,
		  const uint64_t *vals, int n)
{
	struct named sorted[256];
	const char *prev = "";
	int depth = 0;

	if (n > 256)
		n = 256;
	for (int i = 0; i < n; i++)
		sorted[i] = (struct named){ names[i], vals[i] };
	qsort(sorted, (size_t)n, sizeof(sorted[0]), named_cmp);
	for (int i = 0; i < n; i++) {
		const char *name = sorted[i].name;
		int keep = common_parts(prev, name);
		const char *p = name;
		char part[64];

		while (depth > keep) {
			json_obj_close(j);
			depth--;
		}
		for (int k = 0; k < depth; k++)
			p = strchr(p, '.') + 1;
		for (const char *dot; (dot = strchr(p, '.')); p = dot + 1) {
			size_t l = (size_t)(dot - p);
			if (l >= sizeof(part))
				l = sizeof(part) - 1;
			memcpy(part, p, l);
			part[l] = '\0';
			json_obj_open(j, part);
			depth++;
		}
		json_u64(j, p, sorted[i].v);
		prev = name;
	}
	while (depth-- > 0)
		json_obj_close(j);
}

void eve_stats_begin(struct json *j, uint64_t ts_us,
		     const struct rw_counters *c)
{
	json_obj_open(j, NULL);
	json_ts(j, "timestamp", ts_us);
	json_str(j, "event_type", "stats");
	json_obj_open(j, "stats");
	eve_counters(j, rw_counter_names, c->v, CTR__COUNT);
}
