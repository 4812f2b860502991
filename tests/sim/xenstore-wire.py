#!/usr/bin/env python3
"""Raw xs_wire.h client for tests/sim/xenstore.sh: checks what the xenstore tools cannot
reach (errors, quotas, malformed messages). Connects to $XENSTORED_PATH; run it with
`xensim run DOMAIN -- python3 xenstore-wire.py CHECK`. Exit 0 on success, 1 with a message."""
import os
import select
import socket
import struct
import sys
import time

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
    # Made unreadable: who could read it before hears of it too (xenstored does so).
    d0.call("SET_PERMS", "/local/domain/0/hidden", "n0")
    d0.write("/local/domain/%s/data/sync" % dom, "2")
    ev = g.event()
    assert ev == [b"/local/domain/0/hidden", b"h"], "no event when made unreadable: %s" % ev
    assert g.event() == [b"data/sync", b"s"]
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


def txn_start(c):
    return int(c.call("TXN_START", "").rstrip(b"\0"))


def check_txn_new():
    """A transaction that creates a directory and touches it again commits; one that
    creates a node somebody else creates meanwhile does not."""
    a, b = Conn(), Conn()
    for attempt in range(3):
        tx = txn_start(a)
        a.write("data/new%d/a" % attempt, "1", tx=tx)
        a.write("data/new%d/b" % attempt, "2", tx=tx)
        a.call("MKDIR", "data/new%d/c/d" % attempt, tx=tx)
        a.write("data/new%d/c/d/e" % attempt, "3", tx=tx)
        try:
            a.call("TXN_END", "T", tx=tx)
        except XsError as e:
            raise AssertionError("commit of a transaction creating data/new%d: %s"
                                 % (attempt, e))
        assert a.call("READ", "data/new%d/b" % attempt) == b"2"
        assert a.call("READ", "data/new%d/c/d/e" % attempt) == b"3"
    tx = txn_start(a)
    a.write("data/race/a", "1", tx=tx)
    a.write("data/race/b", "1", tx=tx)
    b.write("data/race/b", "other")
    expect_err("EAGAIN", a.call, "TXN_END", "T", tx=tx)
    assert b.call("READ", "data/race/b") == b"other"
    expect_err("ENOENT", b.call, "READ", "data/race/a")
    print("transactions creating directories OK")


def check_txn_rewrite():
    """A transaction that removes a directory and writes into it again commits (what a
    frontend republishing its queue-N/ nodes does); a change to a removed child made
    meanwhile by somebody else still conflicts."""
    a, b = Conn(), Conn()
    a.write("data/rw/q0/ref", "1")
    a.write("data/rw/q1/ref", "2")
    tx = txn_start(a)
    a.call("RM", "data/rw", tx=tx)
    a.write("data/rw/q0/ref", "3", tx=tx)
    try:
        a.call("TXN_END", "T", tx=tx)
    except XsError as e:
        raise AssertionError("commit of rm + rewrite of a child: %s" % e)
    assert b.call("READ", "data/rw/q0/ref") == b"3"
    expect_err("ENOENT", b.call, "READ", "data/rw/q1/ref")
    a.write("data/rw/q1/ref", "2")
    tx = txn_start(a)
    a.call("RM", "data/rw", tx=tx)
    a.write("data/rw/q1/ref", "4", tx=tx)
    b.write("data/rw/q1/ref", "other")
    expect_err("EAGAIN", a.call, "TXN_END", "T", tx=tx)
    assert b.call("READ", "data/rw/q1/ref") == b"other"
    print("transactions removing and rewriting a directory OK")


def check_txn_quota():
    """Transactions are held to the node quota at commit: each fits alone, together they
    do not, and the one that does not fit leaves nothing behind."""
    c = Conn()
    # The directories first: siblings created in two transactions conflict.
    for i in range(3):
        for d in range(8):
            c.call("MKDIR", "data/q%d/d%d" % (i, d))
    txs = [txn_start(c) for _ in range(3)]
    for i, tx in enumerate(txs):
        for n in range(400):
            c.write("data/q%d/d%d/%d" % (i, n // 50, n % 50), "v", tx=tx)
    c.call("TXN_END", "T", tx=txs[0])
    c.call("TXN_END", "T", tx=txs[1])
    expect_err("ENOSPC", c.call, "TXN_END", "T", tx=txs[2])
    expect_err("ENOENT", c.call, "READ", "data/q2/d0/0")
    assert c.call("READ", "data/q1/d7/49") == b"v"
    print("node quota held at commit OK")


def check_conns():
    """Connections, transactions and watches are limited per domain, not per connection;
    a transaction does not copy the store."""
    conns = [Conn() for _ in range(8)]
    extra = Conn()  # accepted by the kernel, closed by xenstored
    try:
        extra.call("READ", "name")
        raise AssertionError("a 9th connection of one domain was served")
    except (EOFError, ConnectionResetError, BrokenPipeError):
        pass
    pid = open(os.environ["XENSIM_DIR"] + "/xensim.pid").read().split()[0]
    def rss():
        for line in open("/proc/%s/status" % pid):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    before = rss()
    txs = []
    for i in range(10):
        c = conns[i % 4]
        tx = txn_start(c)
        txs.append((c, tx))
        c.call("READ", "name", tx=tx)
    grown = rss() - before
    print("10 transactions on a big store: daemon RSS +%d KiB" % grown)
    assert grown < 8192, "10 transactions took %d KiB: the store was copied" % grown
    expect_err("ENOSPC", conns[5].call, "TXN_START", "")
    for c, tx in txs:
        c.call("TXN_END", "F", tx=tx)
    for i in range(128):
        conns[i % 8].call("WATCH", "data/cw%d" % i, "t")
    expect_err("E2BIG", conns[3].call, "WATCH", "data/cw128", "t")
    conns[0].s.close()
    assert Conn().call("READ", "name"), "no connection after one closed"
    print("per-domain limits OK")


def check_bigstore():
    """dom0: make a store big enough that copying it would show."""
    c = Conn()
    val = "v" * 100
    for k in range(0, 10000, 500):
        for n in range(k, k + 500):
            c.send_raw(TYPES["WRITE"], ("/local/domain/0/big/k%d" % n).encode() + b"\0" +
                       val.encode())
        for n in range(k, k + 500):
            typ, _, _, body = c.recv_msg()
            assert typ == TYPES["WRITE"], body
    print("10000 nodes written")


def check_home():
    """The home directory, name and domid are dom0's; the guest reads them and writes
    where libxl lets it."""
    c = Conn()
    dom = os.environ["XENSIM_DOMID"]
    home = "/local/domain/" + dom
    assert c.call("GET_PERMS", home) == ("n0\0r%s\0" % dom).encode(), \
        c.call("GET_PERMS", home)
    assert c.call("GET_PERMS", "name") == ("n0\0r%s\0" % dom).encode()
    expect_err("EACCES", c.write, "name", "guest1")
    expect_err("EACCES", c.write, "domid", "0")
    expect_err("EACCES", c.call, "RM", home)
    expect_err("EACCES", c.call, "RM", "name")
    expect_err("EACCES", c.write, "newdir/x", "1")
    expect_err("EACCES", c.write, "device/vbd/51712/state", "1")
    for d in ["data", "drivers", "feature", "attr", "error", "control/shutdown",
              "control/feature-reboot", "device/suspend/event-channel"]:
        c.write(d, "")
        assert c.call("GET_PERMS", d) == ("n%s\0" % dom).encode(), d
    print("home permissions OK")


def check_unpause():
    """A paused connection whose output drains while a watch event is queued on it (not
    from its own EPOLLOUT) is served again."""
    dom = os.environ["XENSIM_DOMID"]
    d0path = os.environ["XENSIM_DIR"] + "/dom0/xenstored"
    c = Conn()
    c.write("data/big", "x" * 2000)
    c.call("WATCH", "data/unp", "u")
    assert c.event() == [b"data/unp", b"u"]
    # dom0 connections made after c come before it in xenstored's list: a write to
    # data/unp queues their 20000 events first, which gives c time to read its socket.
    ws = []
    for w in range(10):
        wc = Conn(d0path)
        for k in range(0, 2000, 200):
            for n in range(k, k + 200):
                wc.send_raw(TYPES["WATCH"], b"/local/domain/%s/data/unp\0t%d\0"
                            % (dom.encode(), n))
            for _ in range(400):  # replies and initial events
                wc.recv_msg()
        ws.append(wc)
    d0 = Conn(d0path)
    # Flood c until xenstored pauses it and its socket is full both ways.
    c.s.setblocking(False)
    msg = struct.pack("<IIII", TYPES["READ"], 7, 0, 9) + b"data/big\0"
    sent = 0
    try:
        while True:
            if c.s.send(msg) != len(msg):
                break  # a partial request: never complete, never answered
            sent += 1
    except BlockingIOError:
        pass
    # In one read of xenstored: a READ (its reply tells that xenstored is busy with this
    # batch) and the slow write that queues c's event last.
    rd = b"/local/domain/0/domid\0"
    wr = b"/local/domain/%s/data/unp\0" % dom.encode() + b"1"
    d0.s.sendall(struct.pack("<IIII", TYPES["READ"], 1, 0, len(rd)) + rd +
                 struct.pack("<IIII", TYPES["WRITE"], 2, 0, len(wr)) + wr)
    d0.recv_msg()
    buf = b""
    try:
        while True:
            chunk = c.s.recv(1 << 20)
            if not chunk:
                raise EOFError("connection closed by xenstored")
            buf += chunk
    except BlockingIOError:
        pass
    d0.recv_msg()
    # Every request of the flood must be answered; a stall shows as silence.
    got, event = 0, False
    deadline = time.monotonic() + 20
    while got < sent:
        while len(buf) >= 16:
            typ, _, _, n = struct.unpack("<IIII", buf[:16])
            if len(buf) < 16 + n:
                break
            if typ == TYPES["WATCH_EVENT"]:
                event = True
            else:
                got += 1
            buf = buf[16 + n:]
        if got >= sent:
            break
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([c.s], [], [], left)[0]:
            raise AssertionError("stalled: %d of %d replies in 20 s" % (got, sent))
        chunk = c.s.recv(1 << 20)
        if not chunk:
            raise EOFError("connection closed by xenstored")
        buf += chunk
    print("unpaused: %d replies%s" % (got, ", and the event" if event else ""))
    for wc in ws:
        wc.s.close()


def check_holder():
    """Connect, then exit leaving the connection to a child; print both pids."""
    c = Conn()
    c.call("READ", "name")
    child = os.fork()
    if child == 0:
        os.dup2(os.open("/dev/null", os.O_WRONLY), 1)
        try:
            c.s.recv(1)  # until xenstored closes the connection
        except OSError:
            pass
        os._exit(0)
    print(os.getpid(), child, flush=True)
    os._exit(0)


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
             "events": check_events, "txnnew": check_txn_new, "txnrewrite": check_txn_rewrite, "txnquota": check_txn_quota,
             "conns": check_conns, "bigstore": check_bigstore, "home": check_home,
             "unpause": check_unpause, "holder": check_holder,
             "quota": check_quota, "flood": check_flood}[sys.argv[1]]
    try:
        check()
    except (AssertionError, XsError, EOFError, ConnectionError) as e:
        print("FAIL %s: %s" % (sys.argv[1], e))
        sys.exit(1)


main()
