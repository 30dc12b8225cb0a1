/* firewall.c - relaywatch's iptables rules for inline mode.
 *
 * Everything lives in one chain of the filter table, RELAYWATCH, reached
 * by one jump at the head of INPUT, FORWARD and OUTPUT (a proxy or mail
 * server on the gateway itself is seen both ways too):
 *
 *   -m connmark --mark B/B -j DROP        a blocked connection, in the
 *                                         kernel from then on
 *   -m mark --mark B/B -j CONNMARK --set-xmark B/B
 *   -m mark --mark B/B -j DROP            relaywatch's DROP verdict comes
 *                                         back as NF_REPEAT with mark B:
 *                                         the connection is marked, the
 *                                         packet dropped
 *   -p tcp -m multiport --ports P,... -j NFQUEUE --queue-balance N:M
 *                       --queue-bypass    the configured SMTP and proxy
 *                                         ports (either side)
 *   [--all-tcp] -p tcp -m connbytes --connbytes 0:8 --connbytes-dir both
 *       --connbytes-mode packets -j NFQUEUE ...   the first packets of
 *                                         every other TCP connection
 *   -m comment --comment relaywatch:filter-new -j RETURN   (only when the
 *                                         filter table did not exist)
 *
 * --queue-bypass: with no relaywatch bound to the queue the kernel
 * accepts, so a stopped or killed relaywatch never stops traffic. B is
 * NFQ_MARK_BLOCK (capture_nfq.h).
 *
 * install is idempotent: the chain is flushed and refilled, a jump is added
 * only where none exists. remove deletes the jumps and the chain, so
 * iptables-save shows what it showed before install. One limit: iptables
 * cannot delete a table, so when the filter table did not exist before
 * install (a fresh namespace with iptables-nft), remove leaves it empty
 * and says so. IPv4 only (ip6tables: not yet).
 *
 * iptables is run as a program (no shell): RELAYWATCH_IPTABLES names
 * another one (iptables-legacy). "-w" waits for the xtables lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "capture_nfq.h"
#include "engine.h"
#include "firewall.h"

#define FW_MAX_ARGS 48
#define FW_OUT 65536
#define FW_NEW_TABLE "relaywatch:filter-new"

static const char *ipt(void)
{
	const char *e = getenv("RELAYWATCH_IPTABLES");
	return e && *e ? e : "iptables";
}

/* run argv; its stdout into out (NUL-terminated, may be NULL), stderr
 * passed through unless quiet. Returns the exit status, or -1. */
static int run(char *const argv[], char *out, size_t cap, int quiet)
{
	int pfd[2], st;
	pid_t pid;
	size_t n = 0;

	if (pipe(pfd) < 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (pid == 0) {
		dup2(pfd[1], 1);
		if (quiet) {
			int fd = open("/dev/null", O_WRONLY);
			if (fd >= 0)
				dup2(fd, 2);
		}
		close(pfd[0]);
		close(pfd[1]);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		char tmp[4096];
		ssize_t r = read(pfd[0], tmp, sizeof(tmp));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (out && n + 1 < cap) {
			size_t k = (size_t)r < cap - 1 - n ? (size_t)r : cap - 1 - n;
			memcpy(out + n, tmp, k);
			n += k;
		}
	}
	close(pfd[0]);
	if (out && cap)
		out[n] = '\0';
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* iptables -w <words of line> (words split on spaces; a word in double
 * quotes may not contain spaces here: none of ours do) */
static int ipt_line(const char *line, int quiet)
{
	char buf[1024], *argv[FW_MAX_ARGS], *save = NULL;
	int n = 0;

	snprintf(buf, sizeof(buf), "%s", line);
	argv[n++] = (char *)ipt();
	argv[n++] = (char *)"-w";
	for (char *t = strtok_r(buf, " ", &save); t && n < FW_MAX_ARGS - 1;
	     t = strtok_r(NULL, " ", &save))
		argv[n++] = t;
	argv[n] = NULL;
	return run(argv, NULL, 0, quiet);
}

static int iptf(int quiet, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int iptf(int quiet, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	return ipt_line(line, quiet);
}

int firewall_rules(const uint16_t *ports, int nports, unsigned qfirst,
		   unsigned qlast, int all_tcp, char *out, size_t cap)
{
	char q[64];
	size_t len = 0;
	int n = 0;

#define EMIT(...) do { \
		int w_ = snprintf(out + len, cap - len, __VA_ARGS__); \
		if (w_ < 0 || (size_t)w_ >= cap - len) \
			return -ENOSPC; \
		len += (size_t)w_; \
		n++; \
	} while (0)
	if (qfirst == qlast)
		snprintf(q, sizeof(q), "--queue-num %u", qfirst);
	else
		snprintf(q, sizeof(q), "--queue-balance %u:%u", qfirst, qlast);
	out[0] = '\0';
	EMIT("-m connmark --mark 0x%x/0x%x -j DROP\n", NFQ_MARK_BLOCK,
	     NFQ_MARK_BLOCK);
	EMIT("-m mark --mark 0x%x/0x%x -j CONNMARK --set-xmark 0x%x/0x%x\n",
	     NFQ_MARK_BLOCK, NFQ_MARK_BLOCK, NFQ_MARK_BLOCK, NFQ_MARK_BLOCK);
	EMIT("-m mark --mark 0x%x/0x%x -j DROP\n", NFQ_MARK_BLOCK,
	     NFQ_MARK_BLOCK);
	/* multiport takes at most 15 ports per rule */
	for (int i = 0; i < nports; i += 15) {
		char list[15 * 6 + 1];
		size_t l = 0;
		for (int k = i; k < nports && k < i + 15; k++)
			l += (size_t)snprintf(list + l, sizeof(list) - l, "%s%u",
					      k > i ? "," : "", ports[k]);
		EMIT("-p tcp -m multiport --ports %s -j NFQUEUE %s "
		     "--queue-bypass\n", list, q);
	}
	if (all_tcp)
		EMIT("-p tcp -m connbytes --connbytes 0:8 --connbytes-dir both "
		     "--connbytes-mode packets -j NFQUEUE %s --queue-bypass\n", q);
#undef EMIT
	return n;
}

static const char *const HOOKS[] = { "INPUT", "FORWARD", "OUTPUT" };

static int chain_exists(void)
{
	return iptf(1, "-n -L %s", FW_CHAIN) == 0;
}

static int filter_table_exists(void)
{
	char *out = malloc(FW_OUT);
	char save[64];
	char *argv[] = { save, NULL };
	int rc;

	if (!out)
		return 1;
	snprintf(save, sizeof(save), "%s-save", ipt());
	rc = run(argv, out, FW_OUT, 1) == 0 && strstr(out, "*filter\n");
	free(out);
	return rc;
}

static int chain_marked_new(void)
{
	return iptf(1, "-C %s -m comment --comment %s -j RETURN", FW_CHAIN,
		    FW_NEW_TABLE) == 0;
}

static void collect_ports(const struct engine_config *c, uint16_t *ports,
			  int *n)
{
	const uint16_t *lists[] = { c->smtp_ports, c->smtp_tls_ports,
				    c->http_proxy_ports, c->socks_ports };
	const int ns[] = { c->n_smtp_ports, c->n_smtp_tls_ports,
			   c->n_http_proxy_ports, c->n_socks_ports };

	*n = 0;
	for (int l = 0; l < 4; l++)
		for (int i = 0; i < ns[l]; i++) {
			int dup = 0;
			for (int k = 0; k < *n; k++)
				dup |= ports[k] == lists[l][i];
			if (!dup)
				ports[(*n)++] = lists[l][i];
		}
}

static int install(const struct rwnfq_opts *o, const struct engine_config *c,
		   int all_tcp)
{
	uint16_t ports[4 * ENGINE_MAX_PORTS];
	char rules[8192];
	int nports, nr, fresh_table = 0;

	collect_ports(c, ports, &nports);
	nr = firewall_rules(ports, nports, o->qfirst, o->qlast, all_tcp, rules,
			    sizeof(rules));
	if (nr < 0) {
		fprintf(stderr, "relaywatch: firewall: too many rules\n");
		return 1;
	}
	if (chain_exists()) {
		fresh_table = chain_marked_new();
		if (iptf(0, "-F %s", FW_CHAIN) != 0)
			return 1;
	} else {
		fresh_table = !filter_table_exists();
		if (iptf(0, "-N %s", FW_CHAIN) != 0) {
			fprintf(stderr, "relaywatch: firewall: cannot create "
				"chain %s with %s (root? iptables installed?)\n",
				FW_CHAIN, ipt());
			return 1;
		}
	}
	for (char *l = rules, *nl; *l; l = nl + 1) {
		nl = strchr(l, '\n');
		*nl = '\0';
		if (iptf(0, "-A %s %s", FW_CHAIN, l) != 0) {
			fprintf(stderr, "relaywatch: firewall: rule refused: "
				"-A %s %s\n", FW_CHAIN, l);
			return 1;
		}
	}
	if (fresh_table &&
	    iptf(0, "-A %s -m comment --comment %s -j RETURN", FW_CHAIN,
		 FW_NEW_TABLE) != 0)
		return 1;
	for (size_t i = 0; i < sizeof(HOOKS) / sizeof(HOOKS[0]); i++) {
		if (iptf(1, "-C %s -j %s", HOOKS[i], FW_CHAIN) == 0)
			continue;
		if (iptf(0, "-I %s 1 -j %s", HOOKS[i], FW_CHAIN) != 0)
			return 1;
	}
	printf("relaywatch: firewall installed: chain %s (%d rules), jumps "
	       "from INPUT, FORWARD, OUTPUT; queues %u..%u with "
	       "--queue-bypass\n", FW_CHAIN, nr, o->qfirst, o->qlast);
	return 0;
}

static int status(void)
{
	char *out = malloc(FW_OUT);
	char *argv[] = { (char *)ipt(), (char *)"-w", (char *)"-S",
			 (char *)FW_CHAIN, NULL };
	int on = chain_exists(), rc = on ? 0 : 3;

	if (!out)
		return 1;
	if (!on) {
		printf("relaywatch firewall: not installed (%s)\n", ipt());
	} else {
		printf("relaywatch firewall: installed (%s)\n", ipt());
		for (size_t i = 0; i < sizeof(HOOKS) / sizeof(HOOKS[0]); i++)
			printf("  jump from %-7s %s\n", HOOKS[i],
			       iptf(1, "-C %s -j %s", HOOKS[i], FW_CHAIN) == 0 ?
			       "yes" : "MISSING");
		if (run(argv, out, FW_OUT, 0) == 0)
			fputs(out, stdout);
	}
	FILE *f = fopen("/proc/net/netfilter/nfnetlink_queue", "r");
	if (f) {
		char line[256];
		printf("queues bound (queue portid waiting copy_mode copy_range"
		       " queue_dropped user_dropped id 1):\n");
		while (fgets(line, sizeof(line), f))
			printf("  %s", line);
		fclose(f);
	}
	free(out);
	return rc;
}

static int remove_fw(void)
{
	int fresh;

	if (!chain_exists()) {
		printf("relaywatch: firewall not installed: nothing to do\n");
		return 0;
	}
	fresh = chain_marked_new();
	for (size_t i = 0; i < sizeof(HOOKS) / sizeof(HOOKS[0]); i++)
		while (iptf(1, "-D %s -j %s", HOOKS[i], FW_CHAIN) == 0)
			;
	if (iptf(0, "-F %s", FW_CHAIN) != 0 || iptf(0, "-X %s", FW_CHAIN) != 0)
		return 1;
	printf("relaywatch: firewall removed\n");
	if (fresh)
		printf("relaywatch: note: the filter table did not exist before "
		       "install; iptables cannot delete a table, so it stays "
		       "(empty)\n");
	return 0;
}

static void fw_usage(FILE *f)
{
	fprintf(f,
"usage: relaywatch firewall install [--nfqueue N[:M]] [--all-tcp]\n"
"                               [--smtp-ports L] [--smtps-ports L]\n"
"                               [--http-proxy-ports L] [--socks-ports L]\n"
"       relaywatch firewall status\n"
"       relaywatch firewall remove\n"
"iptables program: $RELAYWATCH_IPTABLES, default iptables\n");
}

int firewall_main(int argc, char **argv)
{
	enum { O_NFQ = 256, O_ALLTCP, O_SMTP, O_SMTPS, O_HTTP, O_SOCKS };
	static const struct option lo[] = {
		{"nfqueue", required_argument, 0, O_NFQ},
		{"all-tcp", no_argument, 0, O_ALLTCP},
		{"smtp-ports", required_argument, 0, O_SMTP},
		{"smtps-ports", required_argument, 0, O_SMTPS},
		{"http-proxy-ports", required_argument, 0, O_HTTP},
		{"socks-ports", required_argument, 0, O_SOCKS},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	struct engine_config cfg;
	struct rwnfq_opts o;
	int all_tcp = 0, c;
	const char *cmd;

	if (argc < 2) {
		fw_usage(stderr);
		return 2;
	}
	cmd = argv[1];
	engine_config_default(&cfg);
	rwnfq_opts_default(&o);
	optind = 2;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		int bad = 0;
		switch (c) {
		case O_NFQ: bad = rwnfq_parse_queues(optarg, &o) < 0; break;
		case O_ALLTCP: all_tcp = 1; break;
		case O_SMTP:
			bad = engine_parse_ports(optarg, cfg.smtp_ports, &cfg.n_smtp_ports) < 0;
			break;
		case O_SMTPS:
			bad = engine_parse_ports(optarg, cfg.smtp_tls_ports, &cfg.n_smtp_tls_ports) < 0;
			break;
		case O_HTTP:
			bad = engine_parse_ports(optarg, cfg.http_proxy_ports, &cfg.n_http_proxy_ports) < 0;
			break;
		case O_SOCKS:
			bad = engine_parse_ports(optarg, cfg.socks_ports, &cfg.n_socks_ports) < 0;
			break;
		case 'h': fw_usage(stdout); return 0;
		default: fw_usage(stderr); return 2;
		}
		if (bad) {
			fprintf(stderr, "relaywatch: bad value for %s: '%s'\n",
				argv[optind - 1], optarg);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "relaywatch: unexpected argument '%s'\n",
			argv[optind]);
		return 2;
	}
	if (!strcmp(cmd, "install"))
		return install(&o, &cfg, all_tcp);
	if (!strcmp(cmd, "status"))
		return status();
	if (!strcmp(cmd, "remove"))
		return remove_fw();
	fw_usage(stderr);
	return 2;
}
