/* json.h - a small JSON writer into a caller-owned fixed buffer.
 *
 * No allocation. If the buffer fills, the writer sets j->overflow and writes
 * nothing more; the caller drops the record and counts it. Every string is
 * escaped so the output is valid JSON (and valid UTF-8) whatever the input
 * bytes: control characters, quotes and backslashes are escaped, valid
 * UTF-8 passes through, and every byte that is not part of a valid UTF-8
 * sequence is written as \u00XX (its Latin-1 reading), so nothing is lost.
 *
 * key is NULL for array elements and for the top-level object.
 */
#ifndef RW_JSON_H
#define RW_JSON_H

#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_DEPTH 16

struct json {
	char *buf;
	size_t len, cap;
	int overflow;
	int depth;
	uint8_t first[JSON_MAX_DEPTH]; /* no comma needed before next member */
};

void json_init(struct json *j, char *buf, size_t cap);
void json_reset(struct json *j);
void json_obj_open(struct json *j, const char *key);
void json_obj_close(struct json *j);
void json_arr_open(struct json *j, const char *key);
void json_arr_close(struct json *j);
void json_str(struct json *j, const char *key, const char *s);
void json_strn(struct json *j, const char *key, const void *s, size_t n);
void json_u64(struct json *j, const char *key, uint64_t v);
void json_i64(struct json *j, const char *key, int64_t v);
void json_bool(struct json *j, const char *key, int v);
void json_null(struct json *j, const char *key);
/* a pre-formatted JSON value (number, nested document) */
void json_raw(struct json *j, const char *key, const char *raw);
/* "key":["name",...] for each set bit i of bits (names[i], i < n);
 * nothing when no bit is set */
void json_flags(struct json *j, const char *key, uint32_t bits,
		const char *const *names, int n);
/* ISO 8601 with microseconds and +0000 offset, as Suricata's timestamp */
void json_ts(struct json *j, const char *key, uint64_t ts_us);

/* Escape n bytes of s into out (cap bytes incl. NUL), without quotes.
 * Returns the length written, or -1 if it did not fit. */
int json_escape(char *out, size_t cap, const void *s, size_t n);

#endif
