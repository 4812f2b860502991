#!/usr/bin/env python3
"""Raw xs_wire.h client for tests/sim/xenstore.sh: checks what the xenstore tools cannot
reach (errors, quotas, malformed messages). Connects to $XENSTORED_PATH; run it with
`xensim run DOMAIN -- python3 xenstore-wire.py CHECK`. Exit 0 on success, 1 with a message."""
import os
import socket
import struct
import sys

TYPES = dict(CONTROL=0, DIRECTORY=1, READ=2, GET_PERMS=3, WATCH=4, UNWATCH=5, TXN_START=6,
             TXN_END=7, INTRODUCE=8, RELEASE=9, GET_DOMAIN_PATH=10, WRITE=11, MKDIR=12, RM=13,
             SET_PERMS=14, WATCH_EVENT=15, ERROR=16, IS_INTRODUCED=17, RESUME=18,
             SET_TARGET=19, RESET_WATCHES=21, DIRECTORY_PART=22)


class XsError(Exception):
    pass


class Conn:
    def __init__(self, path=None):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path or os.environ["XENSTORED_PATH"])
        self.req = 0
        self.events = []

    def send_raw(self, typ, payload, tx=0, length=None):
        self.req += 1
        n = len(payload) if length is None else length
        self.s.sendall(struct.pack("<IIII", typ, self.req, tx, n) + payload)
        return self.req

    def recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.s.recv(n - len(buf))
            if not chunk:
                raise EOFError("connection closed by xenstored")
            buf += chunk
        return buf

    def recv_msg(self):
        typ, req, tx, n = struct.unpack("<IIII", self.recv_exact(16))
        return typ, req, tx, self.recv_exact(n)

    def reply(self, req):
        """The reply to request req; watch events seen meanwhile go to self.events."""
        while True:
            typ, rid, _, body = self.recv_msg()
            if typ == TYPES["WATCH_EVENT"]:
                self.events.append(body.split(b"\0")[:2])
                continue
            if rid != req:
                raise AssertionError("reply to request %d while waiting for %d" % (rid, req))
            if typ == TYPES["ERROR"]:
                raise XsError(body.rstrip(b"\0").decode())
            return typ, body

    def call(self, name, *args, tx=0, raw=None):
        payload = raw if raw is not None else b"".join(a.encode() + b"\0" for a in args)
        return self.reply(self.send_raw(TYPES[name], payload, tx))[1]

    def write(self, path, value, tx=0):
        return self.call("WRITE", raw=path.encode() + b"\0" + value.encode(), tx=tx)

    def event(self):
        if self.events:
            return self.events.pop(0)
        typ, _, _, body = self.recv_msg()
        if typ != TYPES["WATCH_EVENT"]:
            raise AssertionError("expected a watch event, got type %d" % typ)
        return body.split(b"\0")[:2]


def expect_err(err, fn, *args, **kw):
    try:
        fn(*args, **kw)
    except XsError as e:
        if str(e) != err:
            raise AssertionError("expected %s, got %s" % (err, e))
        return
    raise AssertionError("expected %s, the request succeeded" % err)


def check_protocol():
    """Errors for bad requests, as xenstored answers them; the connection stays usable."""
    c = Conn()
    expect_err("EINVAL", c.call, "READ", raw=b"/local")           # no NUL
    expect_err("EINVAL", c.reply, c.send_raw(999, b"x\0"))         # unknown type
    expect_err("EINVAL", c.reply, c.send_raw(TYPES["WATCH_EVENT"], b"a\0b\0"))
    expect_err("EINVAL", c.call, "READ", "/a//b")                  # bad path
    expect_err("EINVAL", c.call, "READ", "/a/")
    expect_err("EINVAL", c.call, "READ", "/a b")
    expect_err("ENOENT", c.call, "READ", "/local/domain/0/nope")
    expect_err("ENOENT", c.call, "READ", "/nope/deeper", tx=12345)  # no such transaction
    expect_err("EINVAL", c.call, "RM", "/")
    expect_err("EINVAL", c.call, "CONTROL", "no-such-command")
    c.write("/t/a/b", "1")                                          # implicit parents
    assert c.call("READ", "/t/a") == b"", "implicit parent not empty"
    assert c.call("DIRECTORY", "/t") == b"a\0"
    assert c.call("GET_DOMAIN_PATH", "3") == b"/local/domain/3\0"
    assert c.call("IS_INTRODUCED", "0") == b"T\0"
    assert c.call("IS_INTRODUCED", "999") == b"F\0"
    c.call("RM", "/t/a/nothing")                                    # absent child: fine
    expect_err("ENOENT", c.call, "RM", "/t/none/deeper")
    # A big directory: E2BIG on DIRECTORY, complete through DIRECTORY_PART.
    names = ["n%03d-%s" % (i, "x" * 40) for i in range(200)]
    for n in names:
        c.write("/t/big/" + n, "")
    expect_err("E2BIG", c.call, "DIRECTORY", "/t/big")
    got, off = [], 0
    while True:
        body = c.call("DIRECTORY_PART", "/t/big", str(off))
        gen, rest = body.split(b"\0", 1)
        assert gen.isdigit(), "generation missing"
        got += [x.decode() for x in rest.split(b"\0")[:-1] if x]
        off += len(rest)
        if rest.endswith(b"\0\0") or rest == b"\0":
            break
    assert got == names, "DIRECTORY_PART lost names: %d of %d" % (len(got), len(names))
    c.call("RM", "/t")
    # A payload over XENSTORE_PAYLOAD_MAX closes the connection (xenstored does too).
    c.send_raw(TYPES["READ"], b"", length=5000)
    try:
        c.recv_msg()
        raise AssertionError("a 5000 byte payload was accepted")
    except (EOFError, ConnectionResetError):
        pass
    # ... and the server still serves a new connection.
    assert Conn().call("READ", "/local/domain/0/domid") == b"0"
    print("protocol errors OK")


def check_watch():
    """Relative watch: initial fire, relative event paths, token echoed; ancestor removal."""
    c = Conn()
    dom = os.environ["XENSIM_DOMID"]
    c.call("WATCH", "data/w", "tok1")
    assert c.event() == [b"data/w", b"tok1"], "initial fire"
    c.write("data/w/x", "1")
    assert c.event() == [b"data/w/x", b"tok1"], "relative event"
    c.call("WATCH", "/local/domain/%s/data/w/x" % dom, "tok2")
    assert c.event() == [b"/local/domain/%s/data/w/x" % dom.encode(), b"tok2"]
    expect_err("EEXIST", c.call, "WATCH", "data/w", "tok1")
    c.call("RM", "data/w")
    got = sorted([c.event(), c.event()])
    assert got == sorted([[b"data/w", b"tok1"],
                          [b"/local/domain/%s/data/w/x" % dom.encode(), b"tok2"]]), got
    c.call("UNWATCH", "data/w", "tok1")
    expect_err("ENOENT", c.call, "UNWATCH", "data/w", "tok1")
    c.call("RESET_WATCHES")
    print("watches OK")


def check_events():
    """A guest gets no event for a node it may not read (dom0's socket makes dom0)."""
    g = Conn()
    d0 = Conn(os.environ["XENSIM_DIR"] + "/dom0/xenstored")
    dom = os.environ["XENSIM_DOMID"]
    g.call("WATCH", "/local/domain/0/hidden", "h")
    g.call("WATCH", "data/sync", "s")
    assert sorted([g.event(), g.event()]) == [[b"/local/domain/0/hidden", b"h"],
                                              [b"data/sync", b"s"]], "initial events"
    d0.write("/local/domain/0/hidden", "secret")
    d0.write("/local/domain/%s/data/sync" % dom, "1")
    ev = g.event()
    assert ev == [b"data/sync", b"s"], "got %s before the sync event" % ev
    d0.call("SET_PERMS", "/local/domain/0/hidden", "n0", "r" + dom)
    assert g.event() == [b"/local/domain/0/hidden", b"h"], "no event once readable"
    print("event permissions OK")


def check_txn():
    """A transaction sees its own writes only; a conflicting change gives EAGAIN."""
    a, b = Conn(), Conn()
    a.write("data/t", "a")
    tx = int(a.call("TXN_START", "").rstrip(b"\0"))
    assert a.call("READ", "data/t", tx=tx) == b"a"
    a.write("data/t", "b", tx=tx)
    a.write("data/new", "n", tx=tx)
    assert b.call("READ", "data/t") == b"a", "transaction write leaked out"
    expect_err("ENOENT", b.call, "READ", "data/new")
    a.call("TXN_END", "T", tx=tx)
    assert b.call("READ", "data/t") == b"b" and b.call("READ", "data/new") == b"n"
    tx = int(a.call("TXN_START", "").rstrip(b"\0"))
    assert a.call("READ", "data/t", tx=tx) == b"b"
    b.write("data/t", "c")
    a.write("data/t", "d", tx=tx)
    expect_err("EAGAIN", a.call, "TXN_END", "T", tx=tx)
    assert b.call("READ", "data/t") == b"c", "a failed commit changed the store"
    expect_err("ENOENT", a.call, "TXN_END", "T", tx=tx)
    print("transactions OK")


def check_quota():
    """An unprivileged domain's quotas, with xenstored's errors."""
    c = Conn()
    n = 0
    try:
        # 50 per directory: a directory's names count towards its own size quota.
        for n in range(2000):
            c.write("data/d%d/%d" % (n // 50, n % 50), "v")
    except XsError as e:
        assert str(e) == "ENOSPC", "node quota gave %s" % e
    else:
        raise AssertionError("2000 nodes accepted")
    print("node quota hit after %d nodes" % n)
    assert 900 < n <= 1000, "node quota hit after %d nodes, not about 1000" % n
    expect_err("ENOSPC", c.write, "data/big", "x" * 3000)  # node size, and quota
    for i in range(128):
        c.call("WATCH", "data/w%d" % i, "t")
    expect_err("E2BIG", c.call, "WATCH", "data/w128", "t")
    for i in range(10):
        c.call("TXN_START", "")
    expect_err("ENOSPC", c.call, "TXN_START", "")
    expect_err("EACCES", c.call, "INTRODUCE", "5", "0", "0")
    expect_err("EACCES", c.call, "CONTROL", "print", "x")
    print("quotas OK")


def check_flood():
    """Send requests without reading replies until xenstored stops reading us."""
    c = Conn()
    c.s.setblocking(False)
    sent = 0
    msg = struct.pack("<IIII", TYPES["READ"], 1, 0, 9) + b"data/big\0"
    try:
        while sent < 200000:
            c.s.send(msg)
            sent += 1
    except BlockingIOError:
        pass
    print("flood: %d requests sent before the socket filled" % sent)
    assert sent < 200000, "xenstored kept reading a client that never reads"
    # Stay connected until told to go (stdin closes).
    sys.stdin.read()


def main():
    check = {"protocol": check_protocol, "watch": check_watch, "txn": check_txn,
             "events": check_events,
             "quota": check_quota, "flood": check_flood}[sys.argv[1]]
    try:
        check()
    except (AssertionError, XsError, EOFError) as e:
        print("FAIL %s: %s" % (sys.argv[1], e))
        sys.exit(1)


main()
