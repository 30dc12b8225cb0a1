/* test_nfq.c - inline mode's pieces that need no kernel: the --nfqueue
 * argument, the kernel's queue drop counts (/proc line format) and the
 * firewall chain's rules (connmark block, ports in multiport chunks of
 * 15, --queue-bypass always). The datapath itself: tests/e2e_nfq.sh. */
#include <errno.h>
#include "t.h"
#include "capture_nfq.h"
#include "firewall.h"

TEST(queue_argument)
{
	struct rwnfq_opts o;

	rwnfq_opts_default(&o);
	CHECK_INT(rwnfq_parse_queues("3", &o), 0);
	CHECK_INT(o.qfirst, 3);
	CHECK_INT(o.qlast, 3);
	CHECK_INT(rwnfq_parse_queues("0:1", &o), 0);
	CHECK_INT(o.qfirst, 0);
	CHECK_INT(o.qlast, 1);
	CHECK_INT(rwnfq_parse_queues("2:1", &o), -EINVAL);
	CHECK_INT(rwnfq_parse_queues("0:16", &o), -EINVAL);  /* 17 queues */
	CHECK_INT(rwnfq_parse_queues("0:15", &o), 0);
	CHECK_INT(rwnfq_parse_queues("", &o), -EINVAL);
	CHECK_INT(rwnfq_parse_queues("1:", &o), -EINVAL);
	CHECK_INT(rwnfq_parse_queues("70000", &o), -EINVAL);
	CHECK_INT(rwnfq_parse_queues("1x", &o), -EINVAL);
}

TEST(kernel_drop_counts)
{
	const char *proc =
		"    0  12345     0 2 65535     0     0       17  1\n"
		"    1  12346     3 2 65535    42     7      900  1\n";
	uint64_t qd = 1, ud = 1;

	CHECK_INT(rwnfq_parse_proc(proc, 1, &qd, &ud), 0);
	CHECK_INT(qd, 42);
	CHECK_INT(ud, 7);
	CHECK_INT(rwnfq_parse_proc(proc, 0, &qd, &ud), 0);
	CHECK_INT(qd, 0);
	CHECK_INT(rwnfq_parse_proc(proc, 2, &qd, &ud), -ENOENT);
	CHECK_INT(rwnfq_parse_proc("", 0, &qd, &ud), -ENOENT);
}

TEST(firewall_chain_rules)
{
	uint16_t ports[20];
	char out[4096];
	int n;

	for (int i = 0; i < 20; i++)
		ports[i] = (uint16_t)(1000 + i);
	n = firewall_rules(ports, 20, 0, 1, 0, out, sizeof(out));
	CHECK_INT(n, 11);   /* 9 connmark/mark rules, 2 multiport chunks */
	/* a decided connection skips the queue, before the NFQUEUE rules */
	const char *done = strstr(out, "-m connmark --mark 0x800000/0x800000 -j RETURN\n");
	CHECK(done != NULL);
	CHECK(done && strstr(out, "NFQUEUE") > done);
	CHECK(strstr(out, "-m mark --mark 0x800000/0x800000 -j CONNMARK "
		     "--set-xmark 0x800000/0x800000\n") != NULL);
	/* the ends' RSTs pass first, then the blocked connection is reset */
	CHECK(strstr(out, "-p tcp --tcp-flags RST RST -m connmark --mark "
		     "0x400000/0x400000 -j RETURN\n") == out);
	CHECK(strstr(out, "-p tcp -m connmark --mark 0x400000/0x400000 -j "
		     "REJECT --reject-with tcp-reset\n") != NULL);
	CHECK(strstr(out, "-m connmark --mark 0x400000/0x400000 -j DROP\n") != NULL);
	CHECK(strstr(out, "-m mark --mark 0x400000/0x400000 -j CONNMARK "
		     "--set-xmark 0x400000/0x400000\n") != NULL);
	CHECK(strstr(out, "--ports 1000,1001,1002,1003,1004,1005,1006,1007,"
		     "1008,1009,1010,1011,1012,1013,1014 -j NFQUEUE "
		     "--queue-balance 0:1 --queue-bypass\n") != NULL);
	CHECK(strstr(out, "--ports 1015,1016,1017,1018,1019 -j NFQUEUE") != NULL);
	CHECK(strstr(out, "connbytes") == NULL);
	n = firewall_rules(ports, 2, 4, 4, 1, out, sizeof(out));
	CHECK_INT(n, 11);
	CHECK(strstr(out, "--ports 1000,1001 -j NFQUEUE --queue-num 4 "
		     "--queue-bypass\n") != NULL);
	CHECK(strstr(out, "--connbytes 0:8") != NULL);
	/* every NFQUEUE rule bypasses when nobody listens */
	int q = 0, b = 0;
	for (const char *s = out; (s = strstr(s, "NFQUEUE")); s++)
		q++;
	for (const char *s = out; (s = strstr(s, "--queue-bypass")); s++)
		b++;
	CHECK_INT(q, b);
	CHECK_INT(firewall_rules(ports, 20, 0, 0, 1, out, 64), -ENOSPC);
}

int main(void)
{
	RUN(queue_argument);
	RUN(kernel_drop_counts);
	RUN(firewall_chain_rules);
	return t_done();
}
