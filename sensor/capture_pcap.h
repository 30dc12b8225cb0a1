/* capture_pcap.h - libpcap front-ends: offline files (pcap and pcapng) and
 * live interfaces. Both decode each frame (decode_packet) and hand TCP
 * segments to the dispatcher. */
#ifndef RW_CAPTURE_PCAP_H
#define RW_CAPTURE_PCAP_H

#include <signal.h>
#include <stdint.h>
#include "counters.h"
#include "csum.h"
#include "dispatch.h"

/* Read a whole capture file. Returns 0, or -1 with a one-line reason in
 * err. Packets before a read error are kept (and said so in err). */
int capture_pcap_file(const char *path, struct dispatch *d,
		      struct rw_counters *ctr, char *err, size_t errlen);

/* --checksum auto: sample the first CSUM_SAMPLE frames of each file into
 * t (csum.h), so the engines know the offloaded hosts before the first
 * packet (stdin "-" is not sampled). */
void capture_pcap_sample_csum(const char *const *paths, int n,
			      struct csum_table *t);

struct live_opts {
	const char *ifnames[8];
	int n_ifnames;
	int snaplen;              /* default 262144 */
	int buffer_bytes;         /* kernel buffer, default 32 MB */
	const char *filter;       /* BPF filter expression */
};

/* Build the kernel filter from the configured ports: "tcp and (port a or
 * port b ...)" or plain "tcp" when all TCP must be inspected (odd-port
 * proxies). */
void capture_pcap_filter(const struct engine_config *c, int all_tcp,
			 char *out, size_t cap);

/* Capture until *stop is set. Returns 0 or -1 with the reason in err.
 * Kernel drops (pcap_stats) are added to the counters at the end. */
int capture_pcap_live(const struct live_opts *o, struct dispatch *d,
		      struct rw_counters *ctr, volatile sig_atomic_t *stop,
		      char *err, size_t errlen);

#endif
