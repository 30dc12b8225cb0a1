/* main.c - relaywatch command line: capture front-ends -> engine -> outputs */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "capture_ebpf.h"
#include "capture_nfq.h"
#include "capture_pcap.h"
#include "counters.h"
#include "dispatch.h"
#include "csum.h"
#include "engine.h"
#include "eve.h"
#include "firewall.h"
#include "json.h"
#include "output.h"
#include "rules.h"

#define MAX_INPUTS 64
#define RULES_INSTALLED "/usr/share/relaywatch/rules"

/* The shipped rules: next to the binary in a build tree (build/relaywatch
 * -> rules/), then installed (PREFIX/bin/relaywatch ->
 * PREFIX/share/relaywatch/rules), then RULES_INSTALLED. NULL if none is a
 * directory. */
static const char *rules_default(void)
{
	static char found[PATH_MAX];
	char exe[PATH_MAX], cand[PATH_MAX + 64];
	struct stat st;
	ssize_t n;

	if (found[0])
		return found;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		const char *dir = dirname(exe);
		const char *rel[] = { "../rules", "../share/relaywatch/rules" };
		for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
			snprintf(cand, sizeof(cand), "%s/%s", dir, rel[i]);
			if (stat(cand, &st) == 0 && S_ISDIR(st.st_mode) &&
			    realpath(cand, found))
				return found;
		}
	}
	if (stat(RULES_INSTALLED, &st) == 0 && S_ISDIR(st.st_mode)) {
		snprintf(found, sizeof(found), "%s", RULES_INSTALLED);
		return found;
	}
	return NULL;
}

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: relaywatch -r FILE [-r FILE...] [options]     read captures\n"
"       relaywatch -i IFACE [-i IFACE...] [options]   live capture\n"
"\n"
"       relaywatch --nfqueue N[:M] [options]        inline (NFQUEUE)\n"
"       relaywatch firewall install [--nfqueue N[:M]] [--all-tcp] | status | remove\n"
"       relaywatch --check-rules [PATH] [--set NAME=VALUES...]\n"
"\n"
"Follows SMTP, HTTP-proxy and SOCKS conversations (both sides) and writes\n"
"Suricata EVE-compatible JSON lines: alert, smtp, http, socks, flow, stats.\n"
"\n"
"  -r, --read FILE          pcap or pcapng file (repeatable, read in order)\n"
"  -i, --interface IFACE    live capture (repeatable)\n"
"      --nfqueue N[:M]      inline: verdicts on the packets of NFQUEUE\n"
"                           queues N..M (one engine thread each; block\n"
"                           rules drop, alerts say \"blocked\"); the\n"
"                           iptables rules: relaywatch firewall install\n"
"      --queue-maxlen N     kernel queue length per queue (default 4096)\n"
"      --queue-rcvbuf BYTES netlink socket buffer per queue (default 8 MB)\n"
"      --queue-stall-ms MS  an engine thread busy on one packet longer\n"
"                           than this (default 2000): its queue is unbound,\n"
"                           traffic passes unseen (--queue-bypass)\n"
"      --inline-policy P    block (default) or monitor: every packet is\n"
"                           accepted, block rules alert (\"allowed\",\n"
"                           rule_action \"block\"): what would be blocked\n"
"      --capture METHOD     live capture: ebpf (TC clsact, default when it\n"
"                           loads; falls back to pcap, saying why), pcap\n"
"      --all-tcp            libpcap live capture: inspect all TCP (proxies\n"
"                           on odd ports), not only the configured ports\n"
"                           (eBPF always sends up the first payload\n"
"                           packets of every flow)\n"
"  -e, --eve PATH           write records to PATH ('-' = stdout, default)\n"
"  -w, --workers N          engine workers (default 1 for -r, cores for -i)\n"
"      --smtp-ports LIST    default 25,587,2525\n"
"      --smtps-ports LIST   implicit TLS SMTP, default 465\n"
"      --http-proxy-ports LIST  default 3128,8080,8000,8118,8123,8888,80\n"
"      --socks-ports LIST   default 1080,1081,9050\n"
"      --max-flows N        flow table entries per worker (default 65536;\n"
"                           when full the least recently active flow is\n"
"                           closed and counted)\n"
"      --max-parsers N      parser states per worker (default 16384)\n"
"      --reasm-mem BYTES    out-of-order buffer per worker (default 64 MB)\n"
"      --flow-timeout SEC   idle timeout (default 600)\n"
"      --embryonic-timeout SEC  idle timeout of a flow without payload yet\n"
"                           (SYN, handshake; default 30)\n"
"      --checksum MODE      auto (default: check IPv4/TCP checksums of\n"
"                           parsed streams, drop bad ones as the receiver\n"
"                           does, stop checking a host whose every packet is\n"
"                           bad: offload), on (always), off (never)\n"
"      --all-flows          a flow record for every TCP flow, not only\n"
"                           those carrying a parsed protocol\n"
"      --no-stats           no stats record at the end\n"
"\n"
"Rules (relaywatch.rules(5)): verdicts written as alert records\n"
"      --rules PATH         a .rules file or a directory of them (default:\n"
"                           the shipped rules: rules/ next to build/, else\n"
"                           PREFIX/share/relaywatch/rules, else\n"
"                           " RULES_INSTALLED "; here: %s)\n"
"      --set NAME=V[,V...]  set a rule set (HOME_NET, TRUSTED_NETS,\n"
"                           LOCAL_DOMAINS, SMTP_SERVERS, PROXY_SERVERS...),\n"
"                           replacing its value; repeatable, last one wins\n"
"      --check-rules [PATH] load the rules (default as --rules), print every\n"
"                           error as file:line:col and the warnings, exit 1\n"
"                           on any error; nothing else runs\n"
"      --no-rules           no rule engine (protocol records only)\n"
"      A rule file with an error is never half-loaded: relaywatch exits 1.\n"
"      With --workers > 1 the workers share one rule state (thresholds,\n"
"      rate limits, correlations such as relay.confirmed, proxy.egress),\n"
"      updated in packet order: any number of workers gives the alerts of\n"
"      one.\n"
"  -h, --help               this text\n", rules_default() ? rules_default() :
	"none found");
}

struct run {
	struct output_set outs;
	struct ebpf_capture *ebpf;
	struct dispatch *d;
};

static void ebpf_on_pkt(void *arg, struct pkt *p)
{
	struct run *r = arg;
	dispatch_packet(r->d, p);
}

/* engine -> kernel: bypass (inspect = 0) or keep inspecting a flow */
static void ebpf_inspect(void *arg, const struct pkt *p, int inspect)
{
	struct run *r = arg;
	if (r->ebpf)
		ebpf_capture_set_flow(r->ebpf, p, inspect);
}

/* The eBPF counters, nested like the others ("ebpf":{"drop":{...}}) */
static int ebpf_counters(void *arg, const struct pkt *p, uint64_t pkts[2],
			 uint64_t bytes[2])
{
	struct run *r = arg;
	return r->ebpf ? ebpf_capture_flow_counters(r->ebpf, p, pkts, bytes)
		       : -ENODEV;
}

static void write_ebpf_stats(struct json *j, const struct ebpf_stats *st)
{
	const char *names[RW_CTR__COUNT + EBPF_U__COUNT];
	uint64_t vals[RW_CTR__COUNT + EBPF_U__COUNT];
	int n = 0;

	for (int i = 0; i < RW_CTR__COUNT; i++, n++) {
		names[n] = ebpf_kern_counter_names[i];
		vals[n] = st->kern[i];
	}
	for (int i = 0; i < EBPF_U__COUNT; i++, n++) {
		names[n] = ebpf_user_counter_names[i];
		vals[n] = st->user[i];
	}
	eve_counters(j, names, vals, n);
}

/* Load and attach the TC program; on failure *err says why in one line. */
static int open_ebpf(struct run *r, const struct live_opts *live,
		     const struct engine_config *cfg, char *err, size_t errlen)
{
	uint16_t ports[RW_MAX_PORTS];
	struct ebpf_opts o = {0};
	const uint16_t *lists[] = { cfg->smtp_ports, cfg->smtp_tls_ports,
				    cfg->http_proxy_ports, cfg->socks_ports };
	const int ns[] = { cfg->n_smtp_ports, cfg->n_smtp_tls_ports,
			   cfg->n_http_proxy_ports, cfg->n_socks_ports };
	int n = 0, dropped = 0;

	for (int l = 0; l < 4; l++)
		for (int i = 0; i < ns[l]; i++) {
			if (n < RW_MAX_PORTS)
				ports[n++] = lists[l][i];
			else
				dropped++;
		}
	if (dropped)
		fprintf(stderr, "relaywatch: ebpf: only %d ports are always "
			"inspected in the kernel; %d more are found by content "
			"(first packets of every flow)\n", RW_MAX_PORTS, dropped);
	for (int i = 0; i < live->n_ifnames && i < EBPF_MAX_IFACES; i++)
		o.ifnames[i] = live->ifnames[i];
	o.n_ifnames = live->n_ifnames;
	o.ports = ports;
	o.n_ports = n;
	return ebpf_capture_open(&o, &r->ebpf, err, errlen);
}

static int run_ebpf(struct run *r)
{
	while (!stop_flag) {
		struct timespec now;
		int rc = ebpf_capture_poll(r->ebpf, 200, ebpf_on_pkt, r);
		if (rc < 0 && rc != -EINTR) {
			fprintf(stderr, "relaywatch: ebpf ring buffer: %s\n",
				strerror(-rc));
			return -1;
		}
		clock_gettime(CLOCK_REALTIME, &now);
		dispatch_tick(r->d, (uint64_t)now.tv_sec * 1000000u +
			      (uint64_t)now.tv_nsec / 1000);
		dispatch_drain(r->d);
	}
	return 0;
}

static void sink_write(void *arg, const char *line, size_t len)
{
	struct run *r = arg;
	output_set_write(&r->outs, line, len);
}

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000;
}

static void write_stats_core(struct run *r, struct rw_counters *sumin,
			     const struct engine_mem *mp, int workers,
			     uint64_t ts);

static void write_stats(struct run *r, struct dispatch *d,
			const struct rw_counters *front, uint64_t ts)
{
	struct rw_counters sum = *front;
	struct engine_mem m;

	dispatch_counters(d, &sum);
	dispatch_mem(d, &m);
	write_stats_core(r, &sum, &m, dispatch_workers(d), ts);
}

static void write_stats_nfq(struct run *r, struct rwnfq *q, uint64_t ts)
{
	struct rw_counters sum = {0};
	struct engine_mem m;

	rwnfq_counters(q, &sum);
	rwnfq_mem(q, &m);
	write_stats_core(r, &sum, &m, rwnfq_queues(q), ts);
}

static void write_stats_core(struct run *r, struct rw_counters *sumin,
			     const struct engine_mem *mp, int workers,
			     uint64_t ts)
{
	static char buf[256 * 1024];
	struct rw_counters sum = *sumin;
	struct ebpf_stats est;
	const struct engine_mem m = *mp;
	struct json j;

	if (r->ebpf) {
		/* eBPF mode: capture.* counts what reached user space (the
		 * kernel's own view is in "ebpf") */
		ebpf_capture_stats(r->ebpf, &est);
		sum.v[CTR_PKTS] += est.user[EBPF_U_PKTS];
		sum.v[CTR_BYTES] += est.user[EBPF_U_BYTES];
	}
	sum.v[CTR_OUT_RECORDS] = r->outs.records + 1;
	sum.v[CTR_OUT_DROPPED] = output_set_dropped(&r->outs);
	json_init(&j, buf, sizeof(buf));
	eve_stats_begin(&j, ts, &sum);
	json_obj_open(&j, "memory");
	json_u64(&j, "workers", (uint64_t)workers);
	json_u64(&j, "flow_entry_bytes", m.flow_entry_bytes);
	json_u64(&j, "flows_max", m.flows_max);
	json_u64(&j, "flows_peak", m.flows_peak);
	json_u64(&j, "parser_state_bytes", m.parser_state_bytes);
	json_u64(&j, "parsers_peak", m.parsers_peak);
	json_u64(&j, "reassembly_bytes_peak", m.reasm_bytes_peak);
	{
		struct rusage ru;
		getrusage(RUSAGE_SELF, &ru);
		json_u64(&j, "peak_rss_bytes", (uint64_t)ru.ru_maxrss * 1024);
	}
	json_obj_close(&j);
	if (r->ebpf)
		write_ebpf_stats(&j, &est);
	json_obj_close(&j);   /* stats */
	json_obj_close(&j);   /* record */
	if (!j.overflow)
		output_set_write(&r->outs, j.buf, j.len);
}

/* inline: the queue threads decide, this thread writes the records */
static int run_nfq(struct run *r, const struct rwnfq_opts *o,
		   struct engine_config *cfg, const struct line_sink *sink,
		   int stats)
{
	char err[512];
	struct rwnfq *q;
	int rc;

	cfg->inline_mode = !o->monitor;
	q = rwnfq_open(o, cfg, sink, err, sizeof(err));
	ruleset_unref(cfg->rules);   /* each engine holds its own */
	cfg->rules = NULL;
	if (!q) {
		fprintf(stderr, "relaywatch: %s\n", err);
		output_set_close(&r->outs);
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	rc = rwnfq_run(q, &stop_flag) < 0;
	if (stats)
		write_stats_nfq(r, q, now_us());
	rwnfq_close(q);
	output_set_flush(&r->outs);
	output_set_close(&r->outs);
	return rc;
}

int main(int argc, char **argv)
{
	enum { O_SMTP = 256, O_SMTPS, O_HTTP, O_SOCKS, O_MAXF, O_MAXP, O_RMEM,
	       O_TIMEOUT, O_EMBRYO, O_CSUM, O_ALLF, O_NOSTATS, O_CAPTURE, O_ALLTCP, O_RULES,
	       O_SET, O_CHECK, O_NORULES, O_NFQ, O_QMAXLEN, O_QRCVBUF, O_IPOLICY, O_QSTALL };
	static const struct option lo[] = {
		{"read", required_argument, 0, 'r'},
		{"interface", required_argument, 0, 'i'},
		{"eve", required_argument, 0, 'e'},
		{"workers", required_argument, 0, 'w'},
		{"smtp-ports", required_argument, 0, O_SMTP},
		{"smtps-ports", required_argument, 0, O_SMTPS},
		{"http-proxy-ports", required_argument, 0, O_HTTP},
		{"socks-ports", required_argument, 0, O_SOCKS},
		{"max-flows", required_argument, 0, O_MAXF},
		{"max-parsers", required_argument, 0, O_MAXP},
		{"reasm-mem", required_argument, 0, O_RMEM},
		{"flow-timeout", required_argument, 0, O_TIMEOUT},
		{"embryonic-timeout", required_argument, 0, O_EMBRYO},
		{"checksum", required_argument, 0, O_CSUM},
		{"all-flows", no_argument, 0, O_ALLF},
		{"no-stats", no_argument, 0, O_NOSTATS},
		{"capture", required_argument, 0, O_CAPTURE},
		{"all-tcp", no_argument, 0, O_ALLTCP},
		{"rules", required_argument, 0, O_RULES},
		{"set", required_argument, 0, O_SET},
		{"check-rules", optional_argument, 0, O_CHECK},
		{"no-rules", no_argument, 0, O_NORULES},
		{"nfqueue", required_argument, 0, O_NFQ},
		{"queue-maxlen", required_argument, 0, O_QMAXLEN},
		{"queue-rcvbuf", required_argument, 0, O_QRCVBUF},
		{"inline-policy", required_argument, 0, O_IPOLICY},
		{"queue-stall-ms", required_argument, 0, O_QSTALL},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	const char *files[MAX_INPUTS];
	struct live_opts live = {0};
	int nfiles = 0, workers = 0, stats = 1, all_tcp = 0, rc = 0, c;
	enum { CAP_AUTO, CAP_EBPF, CAP_PCAP } capture = CAP_AUTO;
	const char *eve_path = "-";
	struct engine_config cfg;
	struct rw_counters front = {0};
	struct run r = {0};
	struct dispatch *d;
	char err[512];
	const char *rules_path = NULL, *check_path = NULL;
	int no_rules = 0, check = 0, nset = 0;
	struct rule_vars vars = {0};
	struct ruleset *rules = NULL;
	struct rwnfq_opts nfo;
	int use_nfq = 0;

	if (argc > 1 && !strcmp(argv[1], "firewall"))
		return firewall_main(argc - 1, argv + 1);
	engine_config_default(&cfg);
	rwnfq_opts_default(&nfo);
	while ((c = getopt_long(argc, argv, "r:i:e:w:h", lo, NULL)) != -1) {
		char *end;
		unsigned long v;
		int bad = 0;

		switch (c) {
		case 'r':
			if (nfiles >= MAX_INPUTS) {
				fprintf(stderr, "relaywatch: at most %d -r files\n",
					MAX_INPUTS);
				return 2;
			}
			files[nfiles++] = optarg;
			break;
		case 'i':
			if (live.n_ifnames >= 8) {
				fprintf(stderr, "relaywatch: at most 8 -i\n");
				return 2;
			}
			live.ifnames[live.n_ifnames++] = optarg;
			break;
		case 'e': eve_path = optarg; break;
		case 'w':
			v = strtoul(optarg, &end, 10);
			bad = *end || v < 1 || v > DISPATCH_MAX_WORKERS;
			workers = (int)v;
			break;
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
		case O_MAXF:
			v = strtoul(optarg, &end, 10);
			bad = *end || v < 16 || v > (1ul << 26);
			cfg.max_flows = (uint32_t)v;
			break;
		case O_MAXP:
			v = strtoul(optarg, &end, 10);
			bad = *end || v < 1 || v > (1ul << 24);
			cfg.max_parsers = (uint32_t)v;
			break;
		case O_RMEM:
			v = strtoul(optarg, &end, 10);
			bad = *end || v < 4096;
			cfg.reasm_mem = v;
			break;
		case O_TIMEOUT:
			v = strtoul(optarg, &end, 10);
			bad = *end || v < 1 || v > 86400;
			cfg.flow_timeout_s = (uint32_t)v;
			break;
		case O_EMBRYO:
			v = strtoul(optarg, &end, 10);
			bad = *end || v < 1 || v > 86400;
			cfg.embryonic_timeout_s = (uint32_t)v;
			break;
		case O_CSUM:
			cfg.checksum = csum_parse_mode(optarg);
			bad = cfg.checksum < 0;
			break;
		case O_ALLF: cfg.flow_records_all = 1; break;
		case O_NOSTATS: stats = 0; break;
		case O_ALLTCP: all_tcp = 1; break;
		case O_NFQ:
			bad = rwnfq_parse_queues(optarg, &nfo) < 0;
			use_nfq = 1;
			break;
		case O_QMAXLEN:
			v = strtoul(optarg, &end, 10);
			bad = *end || v < 16 || v > (1ul << 20);
			nfo.queue_maxlen = (uint32_t)v;
			break;
		case O_IPOLICY:
			if (!strcmp(optarg, "monitor"))
				nfo.monitor = 1;
			else if (!strcmp(optarg, "block"))
				nfo.monitor = 0;
			else
				bad = 1;
			break;
		case O_QSTALL:
			v = strtoul(optarg, &end, 10);
			bad = *end || v < 10 || v > 600000;
			nfo.stall_ms = (uint32_t)v;
			break;
		case O_QRCVBUF:
			v = strtoul(optarg, &end, 10);
			bad = *end || v < 65536 || v > (1ul << 30);
			nfo.rcvbuf = (int)v;
			break;
		case O_RULES: rules_path = optarg; break;
		case O_NORULES: no_rules = 1; break;
		case O_CHECK:
			check = 1;
			check_path = optarg;
			break;
		case O_SET:
			nset++;
			if (rule_vars_parse_arg(&vars, optarg, nset) < 0) {
				fprintf(stderr, "relaywatch: --set takes "
					"NAME=VALUE[,VALUE...], not '%s'\n",
					optarg);
				rule_vars_free(&vars);
				return 2;
			}
			break;
		case O_CAPTURE:
			if (!strcmp(optarg, "pcap"))
				capture = CAP_PCAP;
			else if (!strcmp(optarg, "ebpf"))
				capture = CAP_EBPF;
			else
				bad = 1;
			break;
		case 'h': usage(stdout); rule_vars_free(&vars); return 0;
		default: usage(stderr); rule_vars_free(&vars); return 2;
		}
		if (bad) {
			fprintf(stderr, "relaywatch: bad value for %s: '%s'\n",
				argv[optind - 1], optarg);
			rule_vars_free(&vars);
			return 2;
		}
	}
	if (check) {
		/* "--check-rules PATH" (getopt wants "--check-rules=PATH") */
		if (!check_path && optind < argc)
			check_path = argv[optind++];
		if (!check_path)
			check_path = rules_path ? rules_path : rules_default();
		if (optind < argc) {
			fprintf(stderr, "relaywatch: unexpected argument '%s'\n",
				argv[optind]);
			rule_vars_free(&vars);
			return 2;
		}
		if (!check_path) {
			fprintf(stderr, "relaywatch: no shipped rules found "
				"(rules/ next to the build directory, "
				RULES_INSTALLED "): give a PATH\n");
			rule_vars_free(&vars);
			return 1;
		}
		rc = rules_check(check_path, &vars, stdout);
		rule_vars_free(&vars);
		return rc;
	}
	if (optind < argc) {
		fprintf(stderr, "relaywatch: unexpected argument '%s'\n",
			argv[optind]);
		return 2;
	}
	if (use_nfq && (nfiles || live.n_ifnames)) {
		fprintf(stderr, "relaywatch: --nfqueue runs alone (not with "
			"-r or -i yet)\n");
		return 2;
	}
	if (!nfiles && !live.n_ifnames && !use_nfq) {
		usage(stderr);
		return 2;
	}
	if (nfiles && live.n_ifnames) {
		fprintf(stderr, "relaywatch: use -r or -i, not both\n");
		return 2;
	}
	if (!workers)
		workers = nfiles ? 1 : (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (workers < 1)
		workers = 1;

	/* Rules before any output is opened: a rule file with errors stops
	 * the run before a single record is written. */
	if (!no_rules) {
		struct rule_diags rd = {0};
		const char *path = rules_path ? rules_path : rules_default();

		if (!path) {
			fprintf(stderr, "relaywatch: no shipped rules found "
				"(rules/ next to the build directory, "
				RULES_INSTALLED "): running without rules; "
				"use --rules PATH, or --no-rules to say so\n");
		} else {
			rules = ruleset_load(path, &vars, &rd);
			rule_diags_print(&rd, stderr);
			if (!rules) {
				fprintf(stderr, "relaywatch: %s: %d error%s in "
					"the rules, nothing loaded (check with "
					"--check-rules)\n", path, rd.nerrors,
					rd.nerrors == 1 ? "" : "s");
				rule_diags_free(&rd);
				rule_vars_free(&vars);
				return 1;
			}
			rule_diags_free(&rd);
		}
	} else if (vars.n) {
		fprintf(stderr, "relaywatch: --set has no effect with "
			"--no-rules\n");
	}
	rule_vars_free(&vars);
	cfg.rules = rules;

	struct output *o = output_file_open(eve_path);
	if (!o) {
		fprintf(stderr, "relaywatch: cannot open %s: %s\n", eve_path,
			strerror(errno));
		ruleset_unref(rules);
		return 1;
	}
	output_set_add(&r.outs, o);
	struct line_sink sink = { &r, sink_write };
	if (use_nfq)
		return run_nfq(&r, &nfo, &cfg, &sink, stats);
	if (live.n_ifnames && capture != CAP_PCAP) {
		if (open_ebpf(&r, &live, &cfg, err, sizeof(err)) < 0) {
			if (capture == CAP_EBPF) {
				fprintf(stderr, "relaywatch: %s\n", err);
				output_set_close(&r.outs);
				ruleset_unref(rules);
				return 1;
			}
			fprintf(stderr, "relaywatch: %s; falling back to "
				"libpcap\n", err);
			r.ebpf = NULL;
		}
	}
	struct csum_table csum_seed;
	if (nfiles && cfg.checksum == CSUM_AUTO) {
		csum_table_init(&csum_seed, 0);
		capture_pcap_sample_csum((const char *const *)files, nfiles,
					 &csum_seed);
		cfg.csum_seed = &csum_seed;
		ctr_add(&front, CTR_CSUM_OFFLOAD_HOSTS,
			csum_table_offloaded(&csum_seed));
		csum_table_say(&csum_seed);
	}
	d = dispatch_new(workers, &cfg, &sink, ebpf_inspect, &r);
	r.d = d;
	if (d && r.ebpf)
		dispatch_set_flow_counters(d, ebpf_counters);
	/* each engine holds its own reference now */
	ruleset_unref(rules);
	cfg.rules = rules = NULL;
	if (!d) {
		fprintf(stderr, "relaywatch: cannot allocate the engine "
			"(--max-flows %u, --workers %d): out of memory\n",
			cfg.max_flows, workers);
		output_set_close(&r.outs);
		return 1;
	}
	if (nfiles) {
		for (int i = 0; i < nfiles; i++) {
			if (capture_pcap_file(files[i], d, &front, err,
					      sizeof(err)) < 0) {
				fprintf(stderr, "relaywatch: %s\n", err);
				rc = 1;
			}
		}
	} else {
		char filter[2048];
		signal(SIGINT, on_signal);
		signal(SIGTERM, on_signal);
		capture_pcap_filter(&cfg, all_tcp, filter, sizeof(filter));
		live.filter = filter;
		if (r.ebpf) {
			if (run_ebpf(&r) < 0)
				rc = 1;
		} else if (capture_pcap_live(&live, d, &front, &stop_flag, err,
					     sizeof(err)) < 0) {
			fprintf(stderr, "relaywatch: %s\n", err);
			rc = 1;
		}
	}
	dispatch_finish(d);
	if (stats)
		write_stats(&r, d, &front, now_us());
	dispatch_free(d);
	ebpf_capture_close(r.ebpf);
	output_set_flush(&r.outs);
	output_set_close(&r.outs);
	return rc;
}
