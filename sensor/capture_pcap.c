/* capture_pcap.c - libpcap offline and live front-ends */
#include "capture_pcap.h"

#include <errno.h>
#include <poll.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "decode.h"

struct pcap_ctx {
	struct dispatch *d;
	struct rw_counters *ctr;
	int linktype;
	int nano;
};

static void on_frame(u_char *user, const struct pcap_pkthdr *h,
		     const u_char *bytes)
{
	struct pcap_ctx *c = (struct pcap_ctx *)user;
	uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000u +
		      (uint64_t)(c->nano ? h->ts.tv_usec / 1000 : h->ts.tv_usec);
	struct pkt p;

	ctr_inc(c->ctr, CTR_PKTS);
	ctr_add(c->ctr, CTR_BYTES, h->len);
	p.index = 0;
	if (decode_packet(c->linktype, bytes, h->caplen, h->len, ts, &p,
			  c->ctr) < 0)
		return;
	dispatch_packet(c->d, &p);
}

struct sample_ctx {
	struct csum_table *t;
	int linktype;
	unsigned n;
};

static void on_sample(u_char *user, const struct pcap_pkthdr *h,
		      const u_char *bytes)
{
	struct sample_ctx *s = (struct sample_ctx *)user;
	struct pkt p;
	int now;

	p.index = 0;
	if (decode_packet(s->linktype, bytes, h->caplen, h->len, 0, &p,
			  NULL) < 0)
		return;
	enum csum_result r = csum_check_pkt(&p);
	if (r != CSUM_UNKNOWN)
		csum_table_note(s->t, &p, r, 2, 0, &now);
	s->n++;
}

void capture_pcap_sample_csum(const char *const *paths, int n,
			      struct csum_table *t)
{
	char ebuf[PCAP_ERRBUF_SIZE];

	for (int i = 0; i < n; i++) {
		struct sample_ctx s = { t, 0, 0 };
		pcap_t *p;

		if (!strcmp(paths[i], "-"))
			continue;     /* stdin cannot be read twice */
		p = pcap_open_offline(paths[i], ebuf);
		if (!p)
			continue;     /* the real read says why */
		s.linktype = pcap_datalink(p);
		pcap_loop(p, CSUM_SAMPLE, on_sample, (u_char *)&s);
		pcap_close(p);
	}
}

int capture_pcap_file(const char *path, struct dispatch *d,
		      struct rw_counters *ctr, char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE];
	struct pcap_ctx c = { d, ctr, 0, 0 };
	pcap_t *p;
	int r;

	p = pcap_open_offline_with_tstamp_precision(path,
			PCAP_TSTAMP_PRECISION_MICRO, ebuf);
	if (!p) {
		snprintf(err, errlen, "cannot read %s: %s", path, ebuf);
		return -1;
	}
	c.linktype = pcap_datalink(p);
	r = pcap_loop(p, -1, on_frame, (u_char *)&c);
	if (r == PCAP_ERROR) {
		snprintf(err, errlen, "%s: read error after some packets "
			 "(kept): %s", path, pcap_geterr(p));
		pcap_close(p);
		return -1;
	}
	pcap_close(p);
	return 0;
}

void capture_pcap_filter(const struct engine_config *c, int all_tcp,
			 char *out, size_t cap)
{
	const uint16_t *lists[] = { c->smtp_ports, c->smtp_tls_ports,
				    c->http_proxy_ports, c->socks_ports };
	const int ns[] = { c->n_smtp_ports, c->n_smtp_tls_ports,
			   c->n_http_proxy_ports, c->n_socks_ports };
	size_t o;
	int first = 1;

	if (all_tcp) {
		snprintf(out, cap, "tcp");
		return;
	}
	o = (size_t)snprintf(out, cap, "tcp and (");
	for (int l = 0; l < 4; l++)
		for (int i = 0; i < ns[l] && o < cap; i++) {
			o += (size_t)snprintf(out + o, cap - o, "%sport %u",
					      first ? "" : " or ", lists[l][i]);
			first = 0;
		}
	if (first)
		snprintf(out, cap, "tcp");
	else if (o < cap)
		snprintf(out + o, cap - o, ")");
}

int capture_pcap_live(const struct live_opts *o, struct dispatch *d,
		      struct rw_counters *ctr, volatile sig_atomic_t *stop,
		      char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE];
	pcap_t *h[8] = {0};
	struct pcap_ctx c[8];
	struct pollfd pfd[8];
	int n = o->n_ifnames, rc = -1;

	for (int i = 0; i < n; i++) {
		struct bpf_program prog;

		h[i] = pcap_create(o->ifnames[i], ebuf);
		if (!h[i]) {
			snprintf(err, errlen, "%s: %s", o->ifnames[i], ebuf);
			goto out;
		}
		pcap_set_snaplen(h[i], o->snaplen ? o->snaplen : 262144);
		pcap_set_promisc(h[i], 1);
		pcap_set_immediate_mode(h[i], 1);
		pcap_set_buffer_size(h[i], o->buffer_bytes ? o->buffer_bytes :
				     32 << 20);
		if (pcap_activate(h[i]) < 0) {
			snprintf(err, errlen, "%s: cannot capture: %s",
				 o->ifnames[i], pcap_geterr(h[i]));
			goto out;
		}
		if (o->filter && o->filter[0]) {
			if (pcap_compile(h[i], &prog, o->filter, 1,
					 PCAP_NETMASK_UNKNOWN) < 0 ||
			    pcap_setfilter(h[i], &prog) < 0) {
				snprintf(err, errlen, "%s: filter \"%s\": %s",
					 o->ifnames[i], o->filter,
					 pcap_geterr(h[i]));
				goto out;
			}
			pcap_freecode(&prog);
		}
		pcap_setnonblock(h[i], 1, ebuf);
		c[i] = (struct pcap_ctx){ d, ctr, pcap_datalink(h[i]), 0 };
		pfd[i].fd = pcap_get_selectable_fd(h[i]);
		pfd[i].events = POLLIN;
	}
	while (!*stop) {
		struct timespec now;
		int r = poll(pfd, (nfds_t)n, 200);

		if (r < 0 && errno != EINTR) {
			snprintf(err, errlen, "poll: %s", strerror(errno));
			goto out;
		}
		for (int i = 0; i < n; i++)
			if (r > 0 && (pfd[i].revents & (POLLIN | POLLERR)))
				pcap_dispatch(h[i], 1024, on_frame,
					      (u_char *)&c[i]);
		clock_gettime(CLOCK_REALTIME, &now);
		dispatch_tick(d, (uint64_t)now.tv_sec * 1000000u +
			      (uint64_t)now.tv_nsec / 1000);
		dispatch_drain(d);
	}
	rc = 0;
out:
	for (int i = 0; i < n; i++) {
		struct pcap_stat st;
		if (!h[i])
			continue;
		if (rc == 0 && pcap_stats(h[i], &st) == 0) {
			ctr_add(ctr, CTR_CAP_KERNEL_DROP, st.ps_drop);
			ctr_add(ctr, CTR_CAP_IF_DROP, st.ps_ifdrop);
		}
		pcap_close(h[i]);
	}
	return rc;
}
