/* firewall.h - `relaywatch firewall install | status | remove`: the
 * iptables rules that send what relaywatch must decide to its NFQUEUE
 * queues, in relaywatch's own chain. See firewall.c. */
#ifndef RW_FIREWALL_H
#define RW_FIREWALL_H

#include <stddef.h>
#include <stdint.h>

#define FW_CHAIN "RELAYWATCH"

/* argv[0] is "firewall"; returns the exit status */
int firewall_main(int argc, char **argv);

/* The rules of the chain, one iptables argument vector per line (words
 * separated by single spaces, no "-A CHAIN" prefix), for the given ports
 * and queues: written into out (exposed for the unit test). Returns the
 * number of rules, or -ENOSPC. */
int firewall_rules(const uint16_t *ports, int nports, unsigned qfirst,
		   unsigned qlast, int all_tcp, char *out, size_t cap);

#endif
