/* decode.h - link layer + IPv4/IPv6 + TCP header decoding for the pcap
 * front-ends (offline files and live capture). The eBPF front-end fills
 * struct pkt itself and does not come through here.
 *
 * decode_packet() turns one captured frame into a struct pkt when the frame
 * carries a TCP segment. Every other outcome is a negative return with
 * exactly one decode counter incremented that says why, so nothing is lost
 * silently. It never reads past caplen, never allocates, never validates
 * checksums (checksum offload leaves wrong values in captures of locally
 * sent traffic, and the endpoints' NICs verified them anyway).
 *
 * Link types (pcap DLT values, as pcap_datalink() returns them):
 *   DLT_EN10MB      Ethernet, up to PKT_MAX_VLAN (2) 802.1Q (0x8100),
 *                   802.1ad (0x88a8) or old QinQ (0x9100) tags; a third tag
 *                   is CTR_PKT_VLAN_DEEP. Ethertypes < 0x0600 (802.3
 *                   length, LLC) are non-IP.
 *   DLT_LINUX_SLL   Linux cooked v1 (16 byte header); VLAN tags after it
 *   DLT_LINUX_SLL2  Linux cooked v2 (20 byte header)  are walked too.
 *   DLT_RAW, 101    raw IP, version from the first nibble. 101 is
 *                   LINKTYPE_RAW, which libpcap normally maps to DLT_RAW (12
 *                   on Linux, 14 on BSD/OS) but a caller reading the file
 *                   header itself may pass.
 *   DLT_IPV4/IPV6   raw IP of one version (228/229); a mismatching version
 *                   nibble is CTR_PKT_BAD_IP.
 *   DLT_NULL        4-byte address family, host order; DLT_LOOP: network
 *                   order. Both are accepted in either byte order, because a
 *                   file written on a host of the other endianness keeps the
 *                   writer's order and the values cannot collide.
 *                   AF_INET is 2; AF_INET6 is 24 (NetBSD/OpenBSD), 28
 *                   (FreeBSD) or 30 (macOS); 10 (Linux) is accepted too.
 *
 * IPv4: options are skipped. The frame is trimmed to the IP total length
 * (Ethernet padding, trailing FCS). A total length of 0 means "use what was
 * captured": GSO/TSO super-packets seen by pcap on veth or loopback carry
 * either 0 or their real (up to 64 KB) length, and BIG TCP uses 0 above
 * 64 KB. Fragments (MF set or offset != 0) of TCP are not reassembled:
 * they are counted as CTR_PKT_IPV4_FRAG and skipped. SMTP and proxy traffic
 * over fragmented TCP is vanishingly rare (TCP uses PMTU discovery and
 * sets DF), and reassembly would expose per-flow memory to anyone who can
 * send fragments; the visible counter says if it ever matters. Fragments
 * of other protocols count as CTR_PKT_NON_TCP (the protocol field is in
 * every fragment), so the fragment counter means "TCP data not seen".
 *
 * IPv6: up to DECODE_MAX_IPV6_EXT extension headers are walked (hop-by-hop,
 * routing, destination options, AH); more is CTR_PKT_IPV6_EXT_LOOP. A
 * fragment header is CTR_PKT_IPV6_FRAG (same reasoning as IPv4) unless it
 * is an atomic fragment (offset 0, M clear: RFC 6946, the receiver treats
 * it as a whole packet, so do we), or its next header is clearly not TCP
 * (UDP, ICMPv6, ...: CTR_PKT_NON_TCP). ESP, no-next-header and anything
 * else are CTR_PKT_NON_TCP. Payload length 0 (jumbogram, BIG TCP) means
 * "use what was captured".
 *
 * Truncation: wirelen says how long the frame was on the wire. When the IP
 * length says more bytes exist than were captured and the frame was cut by
 * the snaplen (wirelen > caplen), the segment is still decoded: payload is
 * what was captured and payload_missing the rest (CTR_PKT_SNAP_CUT counts
 * such segments, on top of CTR_PKT_TCP). When the IP length claims more
 * than the frame ever had on the wire, the receiving stack drops the packet
 * (Linux ip_rcv: "len > skb->len"), so we drop it too (CTR_PKT_TRUNC_IP):
 * otherwise a forged length would make the sensor see data the endpoint
 * never did. A wirelen below caplen (0 for "unknown") counts as caplen.
 * Headers cut by the snaplen are CTR_PKT_TRUNC_LINK / _TRUNC_IP /
 * _TRUNC_TCP; headers that contradict themselves are CTR_PKT_BAD_IP /
 * CTR_PKT_BAD_TCP.
 */
#ifndef RW_DECODE_H
#define RW_DECODE_H

#include <stdint.h>
#include "counters.h"
#include "pkt.h"

/* LINKTYPE_RAW as written in pcap file headers (libpcap maps it to DLT_RAW) */
#define DECODE_LINKTYPE_RAW 101

/* IPv6 extension headers walked before giving up (CTR_PKT_IPV6_EXT_LOOP) */
#define DECODE_MAX_IPV6_EXT 8

/* Decode one captured frame of pcap link type `linktype`.
 *   data, caplen   the captured bytes (data may be NULL when caplen is 0)
 *   wirelen        the frame's length on the wire (pcap_pkthdr.len)
 *   ts_us          capture time, microseconds since the epoch
 * Returns 0 when *out holds a TCP segment: every field is set except
 * out->index, which is left untouched (the dispatcher owns it);
 * out->payload points into data. CTR_PKT_TCP is incremented, and
 * CTR_PKT_SNAP_CUT too when out->payload_missing > 0.
 * Otherwise returns a negative value and increments exactly one other
 * CTR_PKT_* counter:
 *   -EPROTONOSUPPORT  CTR_PKT_LINKTYPE, _NON_IP, _NON_TCP (not for us)
 *   -ENOTSUP          CTR_PKT_IPV4_FRAG, _IPV6_FRAG (fragment, skipped)
 *   -EMSGSIZE         CTR_PKT_TRUNC_LINK, _TRUNC_IP, _TRUNC_TCP
 *   -EINVAL           CTR_PKT_BAD_IP, _BAD_TCP, _IPV6_EXT_LOOP,
 *                     _VLAN_DEEP (malformed or beyond our limits)
 * *out is unspecified after a failure (index still untouched). ctr may be
 * NULL. */
int decode_packet(int linktype, const uint8_t *data, uint32_t caplen,
		  uint32_t wirelen, uint64_t ts_us, struct pkt *out,
		  struct rw_counters *ctr);

#endif
