/* t.h - the tiny unit-test harness every tests/unit/test_*.c uses.
 *
 * Output is TAP-like, one line per test: "ok - suite/name" or
 * "not ok - suite/name", with the failed checks printed as "#" lines above.
 * tests/run.sh counts these lines over every suite and prints the closing
 * "N passed, N failed, N skipped" line CI reads.
 *
 *   TEST(parses_helo) { CHECK(x == 1); CHECK_STR(a, "b"); }
 *   int main(void) { RUN(parses_helo); return t_done(); }
 */
#ifndef RW_T_H
#define RW_T_H

#include <stdio.h>
#include <string.h>
#include <stdint.h>

static int t_pass, t_fail, t_cur_fail;

#define TEST(name) static void name(void)

#define CHECK(cond) do { \
	if (!(cond)) { \
		printf("#   %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
		t_cur_fail = 1; \
	} \
} while (0)

#define CHECK_INT(a, b) do { \
	long long t_a_ = (long long)(a), t_b_ = (long long)(b); \
	if (t_a_ != t_b_) { \
		printf("#   %s:%d: %s == %lld, expected %lld\n", __FILE__, \
		       __LINE__, #a, t_a_, t_b_); \
		t_cur_fail = 1; \
	} \
} while (0)

#define CHECK_STR(a, b) do { \
	const char *t_a_ = (a), *t_b_ = (b); \
	if (!t_a_ || !t_b_ || strcmp(t_a_, t_b_) != 0) { \
		printf("#   %s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, \
		       __LINE__, #a, t_a_ ? t_a_ : "(null)", t_b_ ? t_b_ : "(null)"); \
		t_cur_fail = 1; \
	} \
} while (0)

#define RUN(name) do { \
	t_cur_fail = 0; \
	name(); \
	const char *t_s_ = strrchr(__FILE__, '/'); \
	printf("%s - %s/%s\n", t_cur_fail ? "not ok" : "ok", \
	       t_s_ ? t_s_ + 1 : __FILE__, #name); \
	if (t_cur_fail) t_fail++; else t_pass++; \
	fflush(stdout); \
} while (0)

static inline int t_done(void)
{
	printf("# %d passed, %d failed\n", t_pass, t_fail);
	return t_fail ? 1 : 0;
}

#endif
