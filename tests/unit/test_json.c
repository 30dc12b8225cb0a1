/* test_json.c - JSON writer: structure, escaping, overflow */
#include "t.h"
#include "json.h"

static char buf[4096];

TEST(nested_structure)
{
	struct json j;

	json_init(&j, buf, sizeof(buf));
	json_obj_open(&j, NULL);
	json_str(&j, "a", "x");
	json_arr_open(&j, "b");
	json_u64(&j, NULL, 1);
	json_i64(&j, NULL, -2);
	json_obj_open(&j, NULL);
	json_bool(&j, "t", 1);
	json_null(&j, "n");
	json_obj_close(&j);
	json_arr_close(&j);
	json_obj_close(&j);
	CHECK_STR(j.buf, "{\"a\":\"x\",\"b\":[1,-2,{\"t\":true,\"n\":null}]}");
	CHECK_INT(j.overflow, 0);
}

TEST(escapes_hostile_bytes)
{
	char out[256];
	static const char in[] = "a\"b\\c\r\n\t\x00\x1b\x7f\xff\xc3\xa9\xe2\x82";
	int n = json_escape(out, sizeof(out), in, sizeof(in) - 1);

	CHECK(n > 0);
	/* quotes/backslash/controls escaped, valid UTF-8 (é) kept, invalid
	 * bytes (0xff, truncated 3-byte seq) as \u00XX */
	CHECK_STR(out, "a\\\"b\\\\c\\r\\n\\t\\u0000\\u001b\\u007f\\u00ff\xc3\xa9\\u00e2\\u0082");
}

TEST(rejects_overlong_and_surrogates)
{
	char out[64];
	/* overlong '/' (c0 af) and a UTF-16 surrogate (ed a0 80) */
	json_escape(out, sizeof(out), "\xc0\xaf\xed\xa0\x80", 5);
	CHECK_STR(out, "\\u00c0\\u00af\\u00ed\\u00a0\\u0080");
}

TEST(overflow_is_flagged_not_written_past)
{
	char small[16];
	struct json j;

	json_init(&j, small, sizeof(small));
	json_obj_open(&j, NULL);
	json_str(&j, "key", "a long value that does not fit");
	CHECK_INT(j.overflow, 1);
	CHECK(j.len < sizeof(small));
}

TEST(timestamp_format)
{
	struct json j;

	json_init(&j, buf, sizeof(buf));
	json_ts(&j, NULL, 1700000000123456ull);
	CHECK_STR(j.buf, "\"2023-11-14T22:13:20.123456+0000\"");
}

int main(void)
{
	RUN(nested_structure);
	RUN(escapes_hostile_bytes);
	RUN(rejects_overlong_and_surrogates);
	RUN(overflow_is_flagged_not_written_past);
	RUN(timestamp_format);
	return t_done();
}
