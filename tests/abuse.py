#!/usr/bin/env python3
"""abuse.py - clients that misbehave on purpose, for the limits tests
(tests/sh/t033[5-9]*.sh) and scripts/bench-abuse.sh.

    abuse.py MODE --addr HOST:PORT [--source IP] [--conns N] [--seconds S]

Modes (each keeps --conns connections at it for --seconds, opening a new
one whenever the daemon closes one, unless --once):
  slowloris  sends a real Put frame one byte every --interval seconds
  noread     sends Get requests for --key as fast as the socket takes them
             and never reads an answer
  flood      opens connections and holds them (a refused one gets an Error
             frame and is closed by the daemon)
  garbage    sends --garbage (random | oversized | version) and waits for
             the answer and the close, again and again (random: a whole
             frame whose payload does not decode; the connection stays
             open, and each answer brings another)
  slowput    a well-behaved slow client: sends one Put of --size bytes at
             --rate bytes per second and waits for its answer (answered=1
             when it is a PutResponse)

It prints STARTED when the abuse begins, and at the end one line
  RESULT mode=M opened=N cut=C cut_ms_min=.. cut_ms_med=.. cut_ms_max=..
         refused=R replies=E held=H sent_bytes=B open_failures=F answered=A
         silent=S pending=P
and a line "MSG <text>" for each distinct error message the daemon sent.
cut_ms is the time from a connection's first byte sent (or its opening,
for flood) to the daemon closing it; held counts the connections open at
the end that the daemon never answered (for flood: those it accepted);
silent the connections the daemon closed without a word (a penalised
source's, closed as soon as accepted), pending those whose connect had
not completed at the end (a penalised source's SYNs, dropped).  Frames are built by hand as
proto/frame.h says: 4-byte big-endian length, version byte 1, a packed
quorum.Envelope.
"""
import argparse
import errno
import os
import random
import selectors
import socket
import statistics
import struct
import sys
import time


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def pb_uint(field, v):
    return varint(field << 3) + varint(v)


def pb_bytes(field, b):
    return varint((field << 3) | 2) + varint(len(b)) + b


def frame(payload, version=1):
    return struct.pack(">IB", len(payload), version) + payload


def get_frame(rid, key, timeout_ms=2000):
    body = pb_bytes(1, key.encode()) + pb_uint(3, 1) + pb_uint(4, timeout_ms)
    return frame(pb_uint(1, rid) + pb_bytes(16, body))


def put_frame(rid, key, value, timeout_ms=2000):
    body = (pb_bytes(1, key.encode()) + pb_bytes(4, value) +
            pb_uint(7, timeout_ms) + pb_uint(8, rid))
    return frame(pb_uint(1, rid) + pb_bytes(18, body))


def pb_fields(buf):
    """(field, value) of each field of a protobuf message; values of
    length-delimited fields are bytes, varints are ints."""
    i = 0
    while i < len(buf):
        key, i = read_varint(buf, i)
        field, wt = key >> 3, key & 7
        if wt == 0:
            v, i = read_varint(buf, i)
        elif wt == 2:
            n, i = read_varint(buf, i)
            v, i = buf[i:i + n], i + n
        elif wt == 1:
            v, i = buf[i:i + 8], i + 8
        elif wt == 5:
            v, i = buf[i:i + 4], i + 4
        else:
            return
        yield field, v


def read_varint(buf, i):
    shift = v = 0
    while True:
        b = buf[i]
        i += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return v, i


def error_of(payload):
    """(code, message) of an Error envelope, or None."""
    for field, v in pb_fields(payload):
        if field == 2 and isinstance(v, bytes):
            code, msg = 0, ""
            for f, x in pb_fields(v):
                if f == 1:
                    code = x - (1 << 64) if x >= 1 << 63 else x
                elif f == 2:
                    msg = x.decode(errors="replace")
            return code, msg
    return None


class Conn:
    def __init__(self, ab):
        self.ab = ab
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                             struct.pack("ii", 1, 0))
        if ab.args.rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF,
                                 ab.args.rcvbuf)
        if ab.args.source:
            self.sock.bind((ab.args.source, 0))
        self.sock.setblocking(False)
        self.opened = time.monotonic()
        self.first_byte = None
        self.out = b""
        self.sent = 0
        self.rid = 1
        self.inbuf = b""
        self.connected = False
        self.answered_nothing = True
        self.next_send = 0.0
        try:
            self.sock.connect((ab.host, ab.port))
        except BlockingIOError:
            pass
        ab.sel.register(self.sock, selectors.EVENT_READ | selectors.EVENT_WRITE,
                        self)


class Abuse:
    def __init__(self, args):
        self.args = args
        host, port = args.addr.rsplit(":", 1)
        self.host, self.port = host, int(port)
        self.sel = selectors.DefaultSelector()
        self.conns = set()
        self.opened = 0
        self.cut = []
        self.refused = 0
        self.replies = 0
        self.msgs = {}
        self.sent_bytes = 0
        self.open_failures = 0
        self.answered = 0
        self.silent = 0

    # ---- what each mode sends ----
    def fill(self, c, now):
        mode = self.args.mode
        if mode == "slowloris":
            if not c.out and c.sent == 0:
                c.out = put_frame(1, "/abuse/slow", b"s" * self.args.size)
            if now >= c.next_send and c.out:
                c.next_send = now + self.args.interval
                return c.out[:1]
            return b""
        if mode == "noread":
            if len(c.out) < 65536:
                for _ in range(256):
                    c.out += get_frame(c.rid, self.args.key)
                    c.rid += 1
            return c.out
        if mode == "garbage":
            if c.sent == 0 and not c.out:
                kind = self.args.garbage
                if kind == "random":
                    c.out = b"\x00\x00\x10\x00\x01" + os.urandom(4096)
                elif kind == "oversized":
                    c.out = struct.pack(">IB", 0x7FFFFFFF, 1) + b"x" * 64
                else:
                    c.out = frame(b"\x08\x01", version=7)
            return c.out
        if mode == "slowput":
            if c.sent == 0 and not c.out:
                c.out = put_frame(1, self.args.key, b"p" * self.args.size,
                                  timeout_ms=5000)
            budget = int((now - (c.first_byte or now)) * self.args.rate +
                         4096) - c.sent
            return c.out[:max(0, min(budget, 65536))]
        return b""      # flood: say nothing

    def open_one(self):
        try:
            c = Conn(self)
        except OSError as e:
            self.open_failures += 1
            if e.errno in (errno.EMFILE, errno.ENFILE, errno.EADDRNOTAVAIL):
                return None
            raise
        self.conns.add(c)
        self.opened += 1
        return c

    def close(self, c, by_daemon):
        if c not in self.conns:
            return      # a failed write closed it, and the read saw it
        now = time.monotonic()
        if by_daemon:
            start = c.first_byte if c.first_byte is not None else c.opened
            self.cut.append((now - start) * 1000.0)
            if c.answered_nothing and not c.inbuf:
                self.silent += 1
        try:
            self.sel.unregister(c.sock)
        except (KeyError, ValueError):
            pass
        c.sock.close()
        self.conns.discard(c)

    def on_read(self, c):
        try:
            data = c.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.close(c, True)
            return
        c.inbuf += data
        while len(c.inbuf) >= 5:
            n = struct.unpack(">I", c.inbuf[:4])[0]
            if len(c.inbuf) < 5 + n:
                break
            payload, c.inbuf = c.inbuf[5:5 + n], c.inbuf[5 + n:]
            c.answered_nothing = False
            self.replies += 1
            if self.args.mode == "garbage" and self.args.garbage == "random":
                c.sent = 0      # answered and still open: another one
                self.on_write(c, time.monotonic())
            if self.args.mode == "slowput":
                self.answered += error_of(payload) is None
            err = error_of(payload)
            if err is not None:
                text = "code=%d %s" % err
                self.msgs[text] = self.msgs.get(text, 0) + 1
                if "too many" in err[1]:
                    self.refused += 1

    def on_write(self, c, now):
        data = self.fill(c, now)
        if not data:
            return
        try:
            n = c.sock.send(data)
        except BlockingIOError:
            return
        except OSError:
            self.close(c, True)
            return
        if n > 0 and c.first_byte is None:
            c.first_byte = now
        c.sent += n
        self.sent_bytes += n
        c.out = c.out[n:]

    def on_event(self, c, ev, now):
        mode = self.args.mode
        if not c.connected and ev & selectors.EVENT_WRITE:
            c.connected = True
            # flood and slowloris only wait to read from now on (slowloris
            # trickles from the loop's clock); noread only writes, so a
            # reply it never reads does not wake it again and again: a
            # close shows as an error on the write side.
            if mode in ("flood", "slowloris", "garbage", "slowput"):
                self.sel.modify(c.sock, selectors.EVENT_READ, c)
            elif mode == "noread":
                self.sel.modify(c.sock, selectors.EVENT_WRITE, c)
        if mode == "garbage" and c.connected and c.sent == 0:
            self.on_write(c, now)
        if ev & selectors.EVENT_READ and mode != "noread":
            self.on_read(c)
        elif ev & selectors.EVENT_WRITE and mode == "noread":
            self.on_write(c, now)
        if mode == "slowput" and ev & selectors.EVENT_READ and \
                c in self.conns and self.answered:
            self.close(c, False)

    def run(self):
        a = self.args
        # For whoever measures the abuse: from here on it is under way
        # (the interpreter's start is not part of it).
        print("STARTED", flush=True)
        end = time.monotonic() + a.seconds
        while time.monotonic() < end:
            now = time.monotonic()
            while len(self.conns) < a.conns and not (
                    a.once and self.opened >= a.conns):
                if self.open_one() is None:
                    break
            if a.once and not self.conns:
                break
            for key, ev in self.sel.select(0.05):
                if key.data in self.conns:
                    self.on_event(key.data, ev, time.monotonic())
            if a.mode in ("slowloris", "slowput"):
                now = time.monotonic()
                for c in list(self.conns):
                    if c.connected:
                        self.on_write(c, now)
        # An answer or a close may be on its way: give it a moment (no
        # new connections), then count as held the connections that were
        # answered nothing.
        settle = time.monotonic() + 0.3
        while self.conns and time.monotonic() < settle:
            for key, ev in self.sel.select(0.05):
                c = key.data
                if c in self.conns and ev & selectors.EVENT_READ and \
                        a.mode != "noread":
                    self.on_read(c)
        held = sum(1 for c in self.conns if not c.inbuf and
                   c.answered_nothing)
        pending = sum(1 for c in self.conns if not c.connected)
        for c in list(self.conns):
            self.close(c, False)
        cut = sorted(self.cut)

        def fmt(v):
            return "%.0f" % v
        print("RESULT mode=%s opened=%d cut=%d cut_ms_min=%s cut_ms_med=%s "
              "cut_ms_max=%s refused=%d replies=%d held=%d sent_bytes=%d "
              "open_failures=%d answered=%d silent=%d pending=%d" % (
                  a.mode, self.opened, len(cut),
                  fmt(cut[0]) if cut else "-",
                  fmt(statistics.median(cut)) if cut else "-",
                  fmt(cut[-1]) if cut else "-",
                  self.refused, self.replies, held, self.sent_bytes,
                  self.open_failures, self.answered, self.silent,
                  pending))
        for m, n in sorted(self.msgs.items()):
            print("MSG %s (x%d)" % (m, n))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("mode", choices=["slowloris", "noread", "flood",
                                    "garbage", "slowput"])
    p.add_argument("--addr", required=True)
    p.add_argument("--source", default="")
    p.add_argument("--conns", type=int, default=10)
    p.add_argument("--seconds", type=float, default=5)
    p.add_argument("--once", action="store_true",
                   help="open --conns connections in all, not again")
    p.add_argument("--interval", type=float, default=0.5)
    p.add_argument("--size", type=int, default=1024)
    p.add_argument("--rate", type=float, default=65536)
    p.add_argument("--rcvbuf", type=int, default=0,
                   help="SO_RCVBUF: a small one stalls the sender sooner")
    p.add_argument("--key", default="/abuse/big")
    p.add_argument("--garbage", default="random",
                   choices=["random", "oversized", "version"])
    args = p.parse_args()
    random.seed(1)
    Abuse(args).run()


if __name__ == "__main__":
    sys.exit(main())
