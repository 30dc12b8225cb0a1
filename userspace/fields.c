/* fields.c - the field registry (see fields.h) */
#include <errno.h>
#include <string.h>
#include "fields.h"

const struct field_info field_table[F__COUNT] = {
#define RULE_FIELD_ROW(id, nm, ty, mask, der, bs) \
	[id] = { .name = nm, .type = ty, .triggers = (mask), .derive = der, \
		 .base = bs },
	RULE_FIELDS(RULE_FIELD_ROW)
#undef RULE_FIELD_ROW
};

const char *const trigger_names[TRIG__COUNT] = {
#define RULE_TRIG_NAME(id, nm) [id] = nm,
	RULE_TRIGGERS(RULE_TRIG_NAME)
#undef RULE_TRIG_NAME
};

/* Linear scans: these run at rule-load time only, never per packet. */
int field_lookup(const char *name, size_t n)
{
	for (int i = 0; i < F__COUNT; i++)
		if (strlen(field_table[i].name) == n &&
		    memcmp(field_table[i].name, name, n) == 0)
			return i;
	return -ENOENT;
}

int trigger_lookup(const char *name, size_t n)
{
	for (int i = 0; i < TRIG__COUNT; i++)
		if (strlen(trigger_names[i]) == n &&
		    memcmp(trigger_names[i], name, n) == 0)
			return i;
	return -ENOENT;
}

const char *field_type_name(enum field_type t)
{
	switch (t) {
	case FT_IP: return "ip";
	case FT_INT: return "int";
	case FT_STR: return "string";
	case FT_BOOL: return "bool";
	case FT_STRLIST: return "string list";
	}
	return "?";
}

int field_alternatives(int field, int out[4])
{
	switch (field) {
	case F_PROXY_HOST:
		out[0] = F_HTTP_PROXY_HOST;
		out[1] = F_SOCKS_HOST;
		out[2] = F_TUNNEL_HOST;
		return 3;
	case F_PROXY_PORT:
		out[0] = F_HTTP_PROXY_PORT;
		out[1] = F_SOCKS_PORT;
		out[2] = F_TUNNEL_PORT;
		return 3;
	}
	return 0;
}
