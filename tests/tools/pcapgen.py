#!/usr/bin/env python3
"""pcapgen.py - write classic pcap files of scripted TCP conversations.

Python 3 standard library only. Frames are Ethernet (DLT_EN10MB) + IPv4 or
IPv6 + TCP with correct IPv4 header and TCP checksums unless a test asks for
a wrong one (the checksum is then the attack, or the capture artefact).

    from pcapgen import PcapWriter, Conn
    with PcapWriter("x.pcap") as w:
        c = Conn(w, "198.51.100.7", 40001, "10.0.0.25", 25)
        c.handshake()
        c.s(b"220 mx ESMTP\\r\\n")          # server sends (seq/ack automatic)
        c.c(b"EHLO x\\r\\n")                # client sends
        c.seg("c", seq=c.cseq, data=b"RSET\\r\\n", bad_tcp_csum=True)
        c.rst("s", seq=c.sseq + 10**7)      # forged, out of window
        c.pieces("c", b"MAIL FROM:<a@b>\r\n", 4)   # 4-byte pieces, last first
        c.close()                           # FIN, FIN, ACK

Conn.c()/s() split data into MSS-sized segments and advance the sender's
sequence number; Conn.pieces() sends data in small pieces out of order; Conn.seg() injects any segment (seq, ack, flags, payload,
checksum overrides) without touching the conversation's state unless
advance=True. Every frame advances the writer's clock by `step` seconds;
PcapWriter.sleep() adds idle time.

Fast paths for big captures (about 1 us of Python per packet):
syn_flood() writes N spoofed SYNs from preformatted templates, and
PcapWriter.frame_fast() writes one TCP frame with a cheap checksum.

Frame options (Conn.c/s/seg/rst/fin and tcp_frame):
    bad_tcp_csum=True   the correct TCP checksum with its bits flipped
    tcp_csum=N          this exact TCP checksum value
    offload=True        the TCP checksum field holds only the folded
                        pseudo-header sum, as a host with TX checksum
                        offload hands its own frames to the capture
    bad_ip_csum=True    the correct IPv4 header checksum, flipped
    ip_csum=N           this exact IPv4 header checksum value
    ttl=N, ip_id=N, win=N, options=BYTES (TCP options, padded to 4)
"""
import random
import socket
import struct
import sys

LINKTYPE_ETHERNET = 1
FLAG_BITS = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, "A": 0x10, "U": 0x20}
EPOCH = 1767225600  # 2026-01-01T00:00:00Z


def flags_of(f):
    """'SA', 'PA', 'R', 'FA' or an int -> the TCP flag byte."""
    if isinstance(f, int):
        return f
    v = 0
    for ch in f.upper():
        v |= FLAG_BITS[ch]
    return v


def csum_sum(data):
    """Ones' complement sum of data as 16-bit big-endian words, folded to
    16 bits (0..0xffff). Uses 65536 == 1 (mod 65535): the sum of the words
    is the big-endian number mod 65535, computed in C by int()."""
    if len(data) & 1:
        data = data + b"\0"
    s = int.from_bytes(data, "big") % 0xFFFF
    if s == 0 and any(data):
        s = 0xFFFF      # non-zero data summing to "minus zero"
    return s


def csum_fold(s):
    while s > 0xFFFF:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def inet_csum(data):
    return ~csum_sum(data) & 0xFFFF


def addr_bytes(a):
    """'10.0.0.1' / '2001:db8::1' / bytes -> (family, packed)."""
    if isinstance(a, (bytes, bytearray)):
        return (4 if len(a) == 4 else 6), bytes(a)
    if ":" in a:
        return 6, socket.inet_pton(socket.AF_INET6, a)
    return 4, socket.inet_aton(a)


def mac_of(packed):
    """A locally administered MAC derived from the address (stable)."""
    return b"\x02\x00" + packed[-4:]


def tcp_frame(src, dst, sport, dport, seq, ack, flags, payload=b"",
              win=64240, ttl=64, ip_id=0, options=b"", tcp_csum=None,
              ip_csum=None, bad_tcp_csum=False, bad_ip_csum=False,
              offload=False):
    """One Ethernet frame carrying a TCP segment. src/dst: strings or packed."""
    fam, s = addr_bytes(src)
    fam2, d = addr_bytes(dst)
    if fam != fam2:
        raise ValueError("address families differ: %r %r" % (src, dst))
    flags = flags_of(flags)
    if options and len(options) % 4:
        options = options + b"\x01" * (4 - len(options) % 4)   # NOP pad
    thl = 20 + len(options)
    tcp = struct.pack("!HHIIBBHHH", sport & 0xFFFF, dport & 0xFFFF,
                      seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, (thl // 4) << 4,
                      flags, win & 0xFFFF, 0, 0) + options
    tlen = thl + len(payload)
    if fam == 4:
        pseudo = s + d + struct.pack("!BBH", 0, 6, tlen)
    else:
        pseudo = s + d + struct.pack("!IxxxB", tlen, 6)
    if tcp_csum is None:
        if offload:
            # CHECKSUM_PARTIAL: the stack leaves the folded pseudo-header
            # sum for the NIC to finish; the capture sees it as is
            tcp_csum = csum_sum(pseudo)
        else:
            tcp_csum = inet_csum(pseudo + tcp + payload)
            if bad_tcp_csum:
                tcp_csum ^= 0xFFFF
                if tcp_csum == inet_csum(pseudo + tcp + payload):
                    tcp_csum ^= 1
    tcp = tcp[:16] + struct.pack("!H", tcp_csum & 0xFFFF) + tcp[18:]
    if fam == 4:
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + tlen, ip_id & 0xFFFF,
                         0x4000, ttl, 6, 0, s, d)
        if ip_csum is None:
            ip_csum = inet_csum(ip)
            if bad_ip_csum:
                ip_csum = (ip_csum ^ 0x5A5A) or 1
        ip = ip[:10] + struct.pack("!H", ip_csum & 0xFFFF) + ip[12:]
        eth = mac_of(d) + mac_of(s) + b"\x08\x00"
    else:
        ip = struct.pack("!IHBB16s16s", 0x60000000, tlen, 6, ttl, s, d)
        eth = mac_of(d) + mac_of(s) + b"\x86\xdd"
    return eth + ip + tcp + payload


class PcapWriter:
    """Classic pcap (microsecond timestamps), Ethernet link type."""

    def __init__(self, path, snaplen=262144, t0=EPOCH, step=0.0001):
        self.f = open(path, "wb", buffering=1 << 20)
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0,
                                 snaplen, LINKTYPE_ETHERNET))
        self.t_us = int(t0 * 1000000)
        self.step_us = int(step * 1000000)
        self.snaplen = snaplen
        self.count = 0

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def close(self):
        if self.f:
            self.f.close()
            self.f = None

    def sleep(self, seconds):
        self.t_us += int(seconds * 1000000)

    def frame(self, data, wirelen=None):
        """Write one frame at the current time, then advance the clock."""
        cap = data[:self.snaplen]
        self.f.write(struct.pack("<IIII", self.t_us // 1000000,
                                 self.t_us % 1000000, len(cap),
                                 wirelen if wirelen is not None else len(data)))
        self.f.write(cap)
        self.t_us += self.step_us
        self.count += 1

    def tcp(self, *a, **kw):
        self.frame(tcp_frame(*a, **kw))

    def frame_fast(self, src4, dst4, sport, dport, seq, ack, flags,
                   payload=b"", win=64240):
        """IPv4 frame, correct checksums, no options: for bulk traffic
        (src4/dst4 packed 4-byte addresses)."""
        tlen = 20 + len(payload)
        tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF,
                          ack & 0xFFFFFFFF, 0x50, flags, win, 0, 0)
        c = inet_csum(src4 + dst4 + b"\0\x06" + tlen.to_bytes(2, "big") +
                      tcp + payload)
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + tlen, 0, 0x4000, 64,
                         6, 0, src4, dst4)
        ipc = inet_csum(ip)
        self.frame(mac_of(dst4) + mac_of(src4) + b"\x08\x00" + ip[:10] +
                   ipc.to_bytes(2, "big") + ip[12:] + tcp[:16] +
                   c.to_bytes(2, "big") + tcp[18:] + payload)


class Conn:
    """One TCP connection between a client and a server.

    cseq / sseq: the next sequence number each side sends; each side's
    default ACK is the other's next sequence number (it got everything).
    side arguments: "c" (client) or "s" (server).
    offload: "c" or "s": every frame that side sends has the partial
    (offload) TCP checksum.
    """

    def __init__(self, w, client, cport, server, sport, isn_c=None,
                 isn_s=None, mss=1460, win=64240, offload=None, rng=None):
        # deterministic: the same script writes the same bytes
        rng = rng or random.Random("%s|%d|%s|%d" % (client, cport, server,
                                                    sport))
        self.w = w
        self.cfam, self.caddr = addr_bytes(client)
        self.sfam, self.saddr = addr_bytes(server)
        self.cport, self.sport = cport, sport
        self.isn_c = isn_c if isn_c is not None else rng.getrandbits(32)
        self.isn_s = isn_s if isn_s is not None else rng.getrandbits(32)
        self.cseq = (self.isn_c + 1) & 0xFFFFFFFF
        self.sseq = (self.isn_s + 1) & 0xFFFFFFFF
        self.mss = mss
        self.win = win
        self.offload = offload
        self.ip_id = {"c": rng.getrandbits(16), "s": rng.getrandbits(16)}

    # ---- low level -------------------------------------------------------
    def _ends(self, side):
        if side == "c":
            return self.caddr, self.saddr, self.cport, self.sport
        if side == "s":
            return self.saddr, self.caddr, self.sport, self.cport
        raise ValueError("side must be 'c' or 's', not %r" % (side,))

    def next_seq(self, side):
        return self.cseq if side == "c" else self.sseq

    def _set_next(self, side, v):
        if side == "c":
            self.cseq = v & 0xFFFFFFFF
        else:
            self.sseq = v & 0xFFFFFFFF

    def seg(self, side, data=b"", seq=None, ack=None, flags=None,
            advance=False, **kw):
        """Inject one segment from side. seq defaults to the side's next
        sequence number, ack to the peer's; flags to PA with data, A
        without. advance=True moves the side's sequence past the data
        (and the SYN/FIN flags)."""
        src, dst, sp, dp = self._ends(side)
        if seq is None:
            seq = self.next_seq(side)
        if ack is None:
            ack = self.next_seq("s" if side == "c" else "c")
        if flags is None:
            flags = "PA" if data else "A"
        flags = flags_of(flags)
        kw.setdefault("win", self.win)
        if self.offload == side and "tcp_csum" not in kw:
            kw.setdefault("offload", True)
        self.ip_id[side] = (self.ip_id[side] + 1) & 0xFFFF
        kw.setdefault("ip_id", self.ip_id[side])
        self.w.tcp(src, dst, sp, dp, seq, ack if flags & 0x10 else 0, flags,
                   data, **kw)
        if advance:
            n = len(data) + (1 if flags & 0x03 else 0)
            self._set_next(side, seq + n)
        return seq

    # ---- conversation ----------------------------------------------------
    def handshake(self, mss_option=True):
        opt = struct.pack("!BBH", 2, 4, self.mss) if mss_option else b""
        self.seg("c", seq=self.isn_c, flags="S", options=opt)
        self.seg("s", seq=self.isn_s, ack=self.cseq, flags="SA", options=opt)
        self.seg("c", flags="A")

    def send(self, side, data, mss=None, ack_each=False, **kw):
        """Data from side, split into segments of at most mss bytes (the
        connection's MSS by default); ack_each: the peer ACKs each one."""
        mss = mss or self.mss
        peer = "s" if side == "c" else "c"
        off = 0
        while True:
            chunk = data[off:off + mss]
            self.seg(side, chunk, advance=True, **kw)
            if ack_each:
                self.seg(peer, flags="A")
            off += len(chunk)
            if off >= len(data):
                break
        return self

    def pieces(self, side, data, size, order="reverse", **kw):
        """data from side cut into size-byte pieces sent in `order`:
        "reverse", "shuffle" (seeded), or a list of piece indexes (may
        repeat or omit pieces: retransmissions, holes). The side's
        sequence number ends past all of data."""
        base = self.next_seq(side)
        n = (len(data) + size - 1) // size
        if order == "reverse":
            idx = list(range(n - 1, -1, -1))
        elif order == "shuffle":
            idx = list(range(n))
            random.Random(base).shuffle(idx)
        else:
            idx = list(order)
        for i in idx:
            self.seg(side, data[i * size:(i + 1) * size], seq=base + i * size,
                     **kw)
        self._set_next(side, base + len(data))
        return self

    def c(self, data, **kw):
        return self.send("c", data, **kw)

    def s(self, data, **kw):
        return self.send("s", data, **kw)

    def ack(self, side, ack=None, **kw):
        """A pure ACK from side (default: acknowledging all the peer sent)."""
        return self.seg(side, flags="A", ack=ack, **kw)

    def rst(self, side, seq=None, ack=None, flags="RA", **kw):
        return self.seg(side, seq=seq, ack=ack, flags=flags, **kw)

    def fin(self, side, data=b"", **kw):
        return self.seg(side, data, flags="FPA" if data else "FA",
                        advance=True, **kw)

    def close(self, first="c"):
        """Orderly close: FIN from `first`, FIN from the other, last ACK."""
        other = "s" if first == "c" else "c"
        self.fin(first)
        self.fin(other)
        self.ack(first)


# ---- floods ----------------------------------------------------------------

def syn_flood(w, n, dst, dport, seed=1, src_net=None):
    """n SYNs (20-byte TCP header, no options) to dst:dport from random
    sources and ports, one microsecond apart. Valid checksums; written from
    a preformatted buffer: about 1 us of Python per packet.
    src_net: (base, prefixlen) to draw sources from, else any address in
    1.0.0.0-223.255.255.255."""
    rng = random.Random(seed)
    _, d = addr_bytes(dst)
    d32 = int.from_bytes(d, "big")
    rec = 16 + 54
    batch = 4096
    buf = bytearray(rec * batch)
    tmpl = struct.pack("<IIII", 0, 0, 54, 54) + tcp_frame(
        b"\0\0\0\0", d, 0, dport, 0, 0, "S", win=64240)
    # the Ethernet source MAC is constant here (the real one would be the
    # router's anyway: spoofed sources are not on the link)
    for i in range(batch):
        buf[i * rec:(i + 1) * rec] = tmpl
    # ones' complement sums of everything but the varying words
    ip = bytearray(tmpl[16 + 14:16 + 34])
    ip[10:12] = b"\0\0"
    ip_fixed = csum_sum(bytes(ip))                      # src = 0, csum = 0
    hdr = bytearray(tmpl[16 + 34:16 + 54])
    hdr[16:18] = b"\0\0"
    tcp_fixed = csum_sum(d + b"\0\x06\0\x14" + bytes(hdr))
    if src_net:
        _, base = addr_bytes(src_net[0])
        base = int.from_bytes(base, "big")
        span = 1 << (32 - src_net[1])
    else:
        base, span = 0x01000000, 0xDF000000
    pack = struct.pack_into
    getbits = rng.getrandbits
    t = w.t_us
    done = 0
    while done < n:
        k = min(batch, n - done)
        off = 0
        for _ in range(k):
            r = getbits(80)
            src = base + (r & 0xFFFFFFFF) % span
            seq = (r >> 32) & 0xFFFFFFFF
            sport = 1024 + (r >> 64) % 64511
            sh, sl = src >> 16, src & 0xFFFF
            ipc = ip_fixed + sh + sl
            ipc = (ipc & 0xFFFF) + (ipc >> 16)
            ipc = ~((ipc & 0xFFFF) + (ipc >> 16)) & 0xFFFF
            tc = tcp_fixed + sh + sl + sport + (seq >> 16) + (seq & 0xFFFF)
            tc = (tc & 0xFFFF) + (tc >> 16)
            tc = ~((tc & 0xFFFF) + (tc >> 16)) & 0xFFFF
            pack("<II", buf, off, t // 1000000, t % 1000000)
            # IP checksum, src, dst, sport, dport, seq
            pack("!HIIHHI", buf, off + 40, ipc, src, d32, sport, dport, seq)
            pack("!H", buf, off + 66, tc)
            off += rec
            t += 1
        w.f.write(memoryview(buf)[:off])
        done += k
    w.t_us = t
    w.count += n


def main():
    """pcapgen.py synflood OUT N [DST DPORT]: a plain SYN flood capture."""
    if len(sys.argv) >= 4 and sys.argv[1] == "synflood":
        dst = sys.argv[4] if len(sys.argv) > 4 else "10.0.0.25"
        dport = int(sys.argv[5]) if len(sys.argv) > 5 else 25
        with PcapWriter(sys.argv[2]) as w:
            syn_flood(w, int(sys.argv[3]), dst, dport)
        return 0
    print(main.__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
