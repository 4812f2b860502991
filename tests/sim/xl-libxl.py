#!/usr/bin/env python3
"""A stand-in for libxl's disk add and remove, for the simulator tests of blkbackd's xl
hotplug script: the same xenstore nodes, waits, bounds and script runs as libxl 4.17 and
4.20 (tools/libs/light/libxl_disk.c device_disk_add, libxl_device.c
libxl__device_generic_add, libxl__wait_device_connection, device_hotplug,
device_hotplug_child_death_cb, libxl__initiate_device_generic_remove,
libxl__device_destroy, libxl_xshelp.c libxl__xs_path_cleanup), over the raw xs_wire.h
protocol. Run it in dom0: `xensim run Domain-0 -- python3 xl-libxl.py ...`.

  attach DOMID DEVID TARGET --script PATH [--kind vbd3|vbd] [--format aio|vhd] [--mode w|r]
      xl block-attach: kind vbd3 is 4.19+'s backendtype=tap (params FORMAT:TARGET, type
      vbd3), kind vbd 4.17's phy with script= (params TARGET, type phy). Exit 0 when the
      script's add exited 0; else 1, printing libxl's "script: <hotplug-error>" line.
  detach DOMID DEVID --script PATH [--kind vbd3|vbd] [--force off|auto|on]
      off: xl block-detach (libxl_device_disk_safe_remove); auto: libxl_device_disk_remove;
      on: what xl destroy does to each device (libxl__devices_destroy). Exit 0 when libxl
      would report success.
  present PATH...
      print those of the paths that exist (for the tests' checks).
Every line it prints starts with "libxl:"; the script's stdout and stderr go to stderr,
as libxl sends them to xl's stderr."""
import os
import select
import socket
import struct
import subprocess
import sys
import time

(DIRECTORY, READ, WATCH, UNWATCH, TXN_START, TXN_END, WRITE, MKDIR, RM, SET_PERMS,
 WATCH_EVENT, ERROR) = 1, 2, 4, 5, 6, 7, 11, 12, 13, 14, 15, 16
INIT_TIMEOUT, DESTROY_TIMEOUT, HOTPLUG_TIMEOUT = 10, 10, 40    # libxl_internal.h
INITIALISING, INITWAIT, CLOSING, CLOSED = 1, 2, 5, 6


class XsError(Exception):
    pass


class Xs:
    """One xenstore connection; watch events are queued while waiting for answers."""

    def __init__(self):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(os.environ["XENSTORED_PATH"])
        self.events = []
        self.rid = 0

    def _recv(self, n):
        b = b""
        while len(b) < n:
            c = self.s.recv(n - len(b))
            if not c:
                sys.exit("libxl: xenstored closed the connection")
            b += c
        return b

    def _msg(self):
        typ, _, _, n = struct.unpack("<IIII", self._recv(16))
        return typ, self._recv(n)

    def ask(self, typ, body, t=0):
        self.rid += 1
        self.s.sendall(struct.pack("<IIII", typ, self.rid, t, len(body)) + body)
        while True:
            rtyp, data = self._msg()
            if rtyp == WATCH_EVENT:
                self.events.append(data)
                continue
            if rtyp == ERROR:
                raise XsError(data.rstrip(b"\0").decode())
            return data

    def read(self, path, t=0):
        try:
            return self.ask(READ, path.encode() + b"\0", t).decode()
        except XsError as e:
            if str(e) == "ENOENT":
                return None
            raise

    def directory(self, path, t=0):
        try:
            data = self.ask(DIRECTORY, path.encode() + b"\0", t)
        except XsError as e:
            if str(e) == "ENOENT":
                return None
            raise
        return [x.decode() for x in data.split(b"\0") if x]

    def write(self, path, value, t=0):
        self.ask(WRITE, path.encode() + b"\0" + value.encode(), t)

    def mkdir(self, path, t=0):
        self.ask(MKDIR, path.encode() + b"\0", t)

    def rm(self, path, t=0):
        """True if removed, False if it was absent."""
        try:
            self.ask(RM, path.encode() + b"\0", t)
            return True
        except XsError as e:
            if str(e) == "ENOENT":
                return False
            raise

    def set_perms(self, path, perms, t=0):
        self.ask(SET_PERMS, path.encode() + b"\0" + b"".join(p.encode() + b"\0" for p in perms), t)

    def transact(self, body):
        """Run body(t) in a transaction, again while the commit says EAGAIN."""
        while True:
            t = int(self.ask(TXN_START, b"\0").rstrip(b"\0"))
            try:
                ret = body(t)
            except BaseException:
                try:
                    self.ask(TXN_END, b"F\0", t)
                except XsError:
                    pass
                raise
            try:
                self.ask(TXN_END, b"T\0", t)
                return ret
            except XsError as e:
                if str(e) != "EAGAIN":
                    raise

    def watch(self, path, token):
        self.ask(WATCH, path.encode() + b"\0" + token.encode() + b"\0")

    def unwatch(self, path, token):
        self.ask(UNWATCH, path.encode() + b"\0" + token.encode() + b"\0")

    def next_event(self, timeout):
        """Wait up to timeout seconds for a watch event; False if none came."""
        if self.events:
            self.events.pop(0)
            return True
        if timeout <= 0 or not select.select([self.s], [], [], timeout)[0]:
            return False
        typ, data = self._msg()
        if typ != WATCH_EVENT:
            sys.exit("libxl: unexpected xenstore message %d" % typ)
        return True


def log(msg):
    print("libxl: " + msg, flush=True)


def devstate_wait(xs, path, wanted, timeout):
    """libxl__ev_devstate_wait: watch path until it reads wanted, ignoring any other
    state; "timeout", "removed" or "ok"."""
    xs.watch(path, "devstate")
    end = time.monotonic() + timeout
    try:
        while True:
            if not xs.next_event(end - time.monotonic()):
                return "timeout"
            s = xs.read(path)
            if s is None:
                return "removed"
            if int(s or 0) == wanted:
                return "ok"
    finally:
        xs.unwatch(path, "devstate")
        xs.events.clear()


class Device:
    def __init__(self, args):
        self.domid, self.devid, self.kind = int(args.domid), int(args.devid), args.kind
        self.script = os.path.abspath(args.script)
        self.be = "/local/domain/0/backend/%s/%d/%d" % (self.kind, self.domid, self.devid)
        self.fe = "/local/domain/%d/device/vbd/%d" % (self.domid, self.devid)
        self.lx = "/libxl/%d/device/vbd/%d" % (self.domid, self.devid)

    def run_script(self, action):
        """device_hotplug: the script with libxl's environment (libxl_linux.c
        get_hotplug_env), stdin /dev/null, stdout to stderr, killed after 40 s."""
        env = dict(os.environ, script=self.script, XENBUS_TYPE=self.kind,
                   XENBUS_PATH="backend/%s/%d/%d" % (self.kind, self.domid, self.devid),
                   XENBUS_BASE_PATH="backend")
        try:
            p = subprocess.run([self.script, action], env=env, stdin=subprocess.DEVNULL,
                               stdout=sys.stderr, timeout=HOTPLUG_TIMEOUT)
        except subprocess.TimeoutExpired:
            log("error: %s %s: killed after %d s" % (self.script, action, HOTPLUG_TIMEOUT))
            return 1
        return p.returncode

    def destroy(self, xs):
        """libxl__device_destroy, run in dom0 as the toolstack and backend domain."""
        def body(t):
            for path in (self.fe, self.lx, self.be):
                path_cleanup(xs, t, path)
        xs.transact(body)


def path_cleanup(xs, t, path):
    """libxl__xs_path_cleanup: remove path, then each parent that is empty, valueless."""
    if not xs.rm(path, t):
        return
    while "/" in path:
        path = path[:path.rindex("/")]
        if not path:
            break
        if xs.read(path, t) != "" or xs.directory(path, t) != []:
            break
        xs.rm(path, t)


def attach(xs, args):
    d = Device(args)
    protocol = "x86_64-abi"
    if d.kind == "vbd3":
        bents = [("params", "%s:%s" % (args.format, args.target)), ("script", d.script)]
        btype = "vbd3"
    else:
        bents = [("params", args.target), ("script", d.script)]
        btype = "phy"
    vdev = args.vdev
    bents += [("frontend-id", str(d.domid)), ("online", "1"), ("removable", "0"),
              ("bootable", "1"), ("state", str(INITIALISING)), ("dev", vdev),
              ("type", btype), ("mode", args.mode), ("device-type", "disk"),
              ("discard-enable", "1"), ("specification", "xen")]
    fents = [("backend-id", "0"), ("state", str(INITIALISING)),
             ("virtual-device", str(d.devid)), ("device-type", "disk"), ("trusted", "1"),
             ("protocol", protocol)]

    def body(t):    # device_disk_add's transaction: libxl__device_exists, generic_add
        if xs.read(d.be, t) is not None or xs.read(d.fe, t) is not None:
            return False
        xs.rm(d.lx, t)
        xs.write(d.lx + "/frontend", d.fe, t)
        xs.write(d.lx + "/backend", d.be, t)
        xs.rm(d.fe, t)
        xs.mkdir(d.fe, t)
        xs.set_perms(d.fe, ["n%d" % d.domid, "r0"], t)
        xs.write(d.fe + "/backend", d.be, t)
        for k, v in fents:
            xs.write(d.fe + "/" + k, v, t)
        xs.rm(d.be, t)
        xs.mkdir(d.be, t)
        xs.set_perms(d.be, ["n0", "r%d" % d.domid], t)
        xs.write(d.be + "/frontend", d.fe, t)
        for k, v in bents:
            xs.write(d.be + "/" + k, v, t)
        for k, v in bents:
            xs.write(d.lx + "/" + k, v, t)
        return True
    if not xs.transact(body):
        log("error: device already exists in xenstore")
        return 1
    got = devstate_wait(xs, d.be + "/state", INITWAIT, INIT_TIMEOUT)
    if got != "ok":
        log("error: unable to add device with path %s (backend state: %s)" % (d.be, got))
        print("libxl_device_disk_add failed.", file=sys.stderr)
        return 1
    log("backend %s in InitWait: running %s add" % (d.be, d.script))
    status = d.run_script("add")
    if status:
        err = xs.read(d.be + "/hotplug-error")
        if err is not None:
            log("error: script: %s" % err)
        log("error: Unable to add vbd with id %d" % d.devid)
        print("libxl_device_disk_add failed.", file=sys.stderr)
        return 1
    log("added %s" % d.be)
    return 0


def detach(xs, args):
    d = Device(args)
    force = args.force
    while True:     # libxl__initiate_device_generic_remove
        def body(t):
            if force == "on":
                path_cleanup(xs, t, d.fe)
            state = xs.read(d.be + "/state", t)
            if state is None:
                return None
            xs.write(d.be + "/online", "0", t)
            if int(state or 0) != CLOSED:
                xs.write(d.be + "/state", str(CLOSING), t)
            return state
        if xs.transact(body) is None:
            log("backend %s already removed, cleanup frontend only" % d.be)
            d.destroy(xs)
            return 0
        got = devstate_wait(xs, d.be + "/state", CLOSED, DESTROY_TIMEOUT)
        if got == "timeout" and force == "auto":
            log("timeout reached, initiating forced remove")
            force = "on"
            continue
        if got != "ok":
            log("error: unable to remove device with path %s (backend state: %s)" %
                (d.be, got))
            if force == "on":
                d.destroy(xs)
            return 1
        break
    log("backend %s Closed: running %s remove" % (d.be, d.script))
    d.run_script("remove")     # its status is ignored on remove
    d.destroy(xs)
    log("removed %s" % d.be)
    return 0


def present(xs, paths):
    for path in paths:
        if xs.read(path) is not None:
            print(path)
    return 0


def main():
    import argparse
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="op", required=True)
    a = sub.add_parser("attach")
    a.add_argument("domid")
    a.add_argument("devid")
    a.add_argument("target")
    a.add_argument("--vdev", default="xvdb")
    a.add_argument("--kind", default="vbd3", choices=["vbd3", "vbd"])
    a.add_argument("--format", default="aio")
    a.add_argument("--mode", default="w", choices=["w", "r"])
    a.add_argument("--script", required=True)
    r = sub.add_parser("detach")
    r.add_argument("domid")
    r.add_argument("devid")
    r.add_argument("--kind", default="vbd3", choices=["vbd3", "vbd"])
    r.add_argument("--force", default="off", choices=["off", "auto", "on"])
    r.add_argument("--script", required=True)
    sub.add_parser("present").add_argument("paths", nargs="+")
    args = p.parse_args()
    xs = Xs()
    if args.op == "present":
        sys.exit(present(xs, args.paths))
    sys.exit(attach(xs, args) if args.op == "attach" else detach(xs, args))


main()
