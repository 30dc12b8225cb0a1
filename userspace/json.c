/* json.c - JSON writer into a fixed buffer (see json.h) */
#include "json.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

void json_init(struct json *j, char *buf, size_t cap)
{
	j->buf = buf;
	j->cap = cap;
	json_reset(j);
}

void json_reset(struct json *j)
{
	j->len = 0;
	j->overflow = 0;
	j->depth = 0;
	j->first[0] = 1;
	if (j->cap)
		j->buf[0] = '\0';
}

static void put(struct json *j, const char *s, size_t n)
{
	if (j->overflow)
		return;
	if (j->len + n + 1 > j->cap) {
		j->overflow = 1;
		return;
	}
	memcpy(j->buf + j->len, s, n);
	j->len += n;
	j->buf[j->len] = '\0';
}

static void putc_(struct json *j, char c)
{
	put(j, &c, 1);
}

/* Length of the valid UTF-8 sequence at s (n bytes available), or 0 if the
 * byte at s does not start one. Rejects overlongs, surrogates, > U+10FFFF. */
static size_t utf8_seq(const uint8_t *s, size_t n)
{
	uint8_t c = s[0];
	size_t len;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

/* bytes copied as they are: printable ASCII but the quote and backslash */
static const uint8_t plain[256] = {
	[0x20] = 1, [0x21] = 1, [0x23 ... 0x5b] = 1, [0x5d ... 0x7e] = 1,
};

int json_escape(char *out, size_t cap, const void *src, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const uint8_t *s = src;
	size_t o = 0;

	for (size_t i = 0; i < n;) {
		char tmp[8];
		size_t run = i;

		/* fast path: a run of printable ASCII that needs no escape */
		while (run < n && plain[s[run]])
			run++;
		if (run > i) {
			if (o + (run - i) + 1 > cap)
				return -1;
			memcpy(out + o, s + i, run - i);
			o += run - i;
			i = run;
			continue;
		}
		size_t tl = 0, adv = 1;
		uint8_t c = s[i];

		switch (c) {
		case '"': tmp[0] = '\\'; tmp[1] = '"'; tl = 2; break;
		case '\\': tmp[0] = '\\'; tmp[1] = '\\'; tl = 2; break;
		case '\n': tmp[0] = '\\'; tmp[1] = 'n'; tl = 2; break;
		case '\r': tmp[0] = '\\'; tmp[1] = 'r'; tl = 2; break;
		case '\t': tmp[0] = '\\'; tmp[1] = 't'; tl = 2; break;
		default:
			if (c >= 0x20 && c < 0x7f) {
				tmp[0] = (char)c;
				tl = 1;
			} else if (c >= 0x80 && (adv = utf8_seq(s + i, n - i))) {
				if (o + adv + 1 > cap)
					return -1;
				memcpy(out + o, s + i, adv);
				o += adv;
				i += adv;
				continue;
			} else {
				/* control, DEL, or a byte outside valid UTF-8 */
				adv = 1;
				memcpy(tmp, "\\u00", 4);
				tmp[4] = hex[c >> 4];
				tmp[5] = hex[c & 15];
				tl = 6;
			}
		}
		if (o + tl + 1 > cap)
			return -1;
		memcpy(out + o, tmp, tl);
		o += tl;
		i += adv;
	}
	if (o + 1 > cap)
		return -1;
	out[o] = '\0';
	return (int)o;
}

static void put_escaped(struct json *j, const void *s, size_t n)
{
	int r;

	if (j->overflow)
		return;
	putc_(j, '"');
	if (j->overflow)
		return;
	r = json_escape(j->buf + j->len, j->cap - j->len, s, n);
	if (r < 0) {
		j->overflow = 1;
		return;
	}
	j->len += (size_t)r;
	putc_(j, '"');
}

/* comma and "key": before a member */
static void member(struct json *j, const char *key)
{
	if (!j->first[j->depth])
		putc_(j, ',');
	j->first[j->depth] = 0;
	if (key) {
		/* keys are the program's own literals (never wire bytes): no
		 * escaping needed, checked in debug builds */
		size_t n = strlen(key);

		if (j->overflow)
			return;
		if (j->len + n + 4 > j->cap) {
			j->overflow = 1;
			return;
		}
		j->buf[j->len] = '"';
		memcpy(j->buf + j->len + 1, key, n);
		j->buf[j->len + 1 + n] = '"';
		j->buf[j->len + 2 + n] = ':';
		j->len += n + 3;
		j->buf[j->len] = '\0';
	}
}

static void open_(struct json *j, const char *key, char c)
{
	member(j, key);
	putc_(j, c);
	if (j->depth + 1 >= JSON_MAX_DEPTH) {
		j->overflow = 1;
		return;
	}
	j->first[++j->depth] = 1;
}

static void close_(struct json *j, char c)
{
	if (j->depth > 0)
		j->depth--;
	putc_(j, c);
}

void json_obj_open(struct json *j, const char *key) { open_(j, key, '{'); }
void json_obj_close(struct json *j) { close_(j, '}'); }
void json_arr_open(struct json *j, const char *key) { open_(j, key, '['); }
void json_arr_close(struct json *j) { close_(j, ']'); }

void json_strn(struct json *j, const char *key, const void *s, size_t n)
{
	member(j, key);
	put_escaped(j, s, n);
}

void json_str(struct json *j, const char *key, const char *s)
{
	if (!s) {
		json_null(j, key);
		return;
	}
	json_strn(j, key, s, strlen(s));
}

void json_u64(struct json *j, const char *key, uint64_t v)
{
	char tmp[24];
	int i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	member(j, key);
	put(j, tmp + i, sizeof(tmp) - (size_t)i);
}

void json_i64(struct json *j, const char *key, int64_t v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%lld", (long long)v);

	member(j, key);
	put(j, tmp, (size_t)n);
}

void json_bool(struct json *j, const char *key, int v)
{
	member(j, key);
	if (v)
		put(j, "true", 4);
	else
		put(j, "false", 5);
}

void json_null(struct json *j, const char *key)
{
	member(j, key);
	put(j, "null", 4);
}

void json_raw(struct json *j, const char *key, const char *raw)
{
	member(j, key);
	put(j, raw, strlen(raw));
}

void json_flags(struct json *j, const char *key, uint32_t bits,
		const char *const *names, int n)
{
	if (!bits)
		return;
	json_arr_open(j, key);
	for (int i = 0; i < n && i < 32; i++)
		if (bits & (1u << i))
			json_str(j, NULL, names[i]);
	json_arr_close(j);
}

void json_ts(struct json *j, const char *key, uint64_t ts_us)
{
	char tmp[48];
	time_t sec = (time_t)(ts_us / 1000000);
	struct tm tm;
	size_t n;

	gmtime_r(&sec, &tm);
	n = strftime(tmp, sizeof(tmp), "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(tmp + n, sizeof(tmp) - n, ".%06u+0000",
			      (unsigned)(ts_us % 1000000));
	member(j, key);
	putc_(j, '"');
	put(j, tmp, n);
	putc_(j, '"');
}
