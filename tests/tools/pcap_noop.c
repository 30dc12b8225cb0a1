/* pcap_noop.c - the cheapest possible libpcap read loop over a capture.
 *
 *   pcap_noop FILE      prints "packets N bytes N wire_bytes N"
 *
 * bench/run.sh uses it as the physical limit of reading a pcap on this
 * machine: pcap_open_offline + pcap_next_ex, count packets and captured
 * bytes, nothing else. A sensor that reads the same file through libpcap
 * cannot be faster than this. It touches the first byte of every packet so
 * the loop cannot be optimised into "read headers only" (libpcap has copied
 * the whole record into its buffer anyway).
 */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	char ebuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *data;
	uint64_t pkts = 0, bytes = 0, wire = 0;
	unsigned sink = 0;
	pcap_t *p;
	int r;

	if (argc != 2) {
		fprintf(stderr, "usage: pcap_noop FILE\n");
		return 2;
	}
	p = pcap_open_offline(argv[1], ebuf);
	if (!p) {
		fprintf(stderr, "pcap_noop: cannot read %s: %s\n", argv[1], ebuf);
		return 1;
	}
	while ((r = pcap_next_ex(p, &h, &data)) == 1) {
		pkts++;
		bytes += h->caplen;
		wire += h->len;
		if (h->caplen)
			sink ^= data[0];
	}
	if (r == PCAP_ERROR) {
		fprintf(stderr, "pcap_noop: %s: read error after %llu packets: %s\n",
			argv[1], (unsigned long long)pkts, pcap_geterr(p));
		pcap_close(p);
		return 1;
	}
	pcap_close(p);
	printf("packets %llu bytes %llu wire_bytes %llu sink %u\n",
	       (unsigned long long)pkts, (unsigned long long)bytes,
	       (unsigned long long)wire, sink);
	return 0;
}
