/* pkt.h - one decoded TCP segment, the unit every capture front-end hands
 * to the engine (pcap offline/live after decode_packet(), or the eBPF ring
 * buffer reader, which fills it directly).
 *
 * The payload pointer borrows the front-end's buffer: it is valid only for
 * the duration of engine_packet(). Nothing here is owned.
 */
#ifndef RW_PKT_H
#define RW_PKT_H

#include <stdint.h>
#include <stddef.h>

#define PKT_MAX_VLAN 2

/* TCP flag bits, as on the wire */
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_URG 0x20

struct pkt {
	uint64_t ts_us;          /* packet time, microseconds since the epoch */
	uint8_t  family;         /* 4 or 6 */
	uint8_t  nvlan;          /* number of 802.1Q/802.1ad tags (0..2) */
	uint16_t vlan[PKT_MAX_VLAN]; /* VLAN ids, outermost first */
	uint8_t  src[16];        /* IPv4 in the first 4 bytes, rest zero */
	uint8_t  dst[16];
	uint16_t sport, dport;   /* host byte order */
	uint32_t seq, ack;       /* host byte order */
	uint8_t  tcp_flags;
	uint16_t win;
	const uint8_t *payload;  /* TCP payload actually captured */
	uint32_t payload_len;    /* bytes at payload */
	uint32_t payload_missing;/* payload bytes on the wire but not captured
	                          * (snaplen or ring truncation): the engine
	                          * reports them to the parser as a gap */
	uint32_t wire_len;       /* original frame length (stats) */
	const uint8_t *l3;       /* IP header (NULL: not available, as from
	                          * the eBPF ring): l3, the TCP header at
	                          * l3 + l3_len and the payload at
	                          * l3 + l3_len + l4_len are contiguous, so the
	                          * engine can check checksums (csum.h) */
	uint16_t l3_len;         /* IP header bytes, IPv6 extensions included */
	uint16_t l4_len;         /* TCP header bytes, options included */
	uint64_t index;          /* sequence number of the packet in the run,
	                          * set by the dispatcher (output ordering) */
};

#endif
