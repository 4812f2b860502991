#!/usr/bin/env python3
"""A few xenstore operations over the raw xs_wire.h protocol, for the simulator tests that
need no Xen tools: run in a domain with `xensim run DOMAIN -- python3 xs-raw.py OP...`.
The operations run in order on one connection:
  read PATH          print the node's value; fail if absent
  write PATH VALUE   write the node
  wait PATH          wait (20 s at most) until the node exists
Exit 0 when every operation worked, else 1 with xenstore's error."""
import os
import socket
import struct
import sys
import time

READ, WRITE, ERROR = 2, 11, 16


def ask(s, typ, body):
    """Send one request, return (type, body) of its answer."""
    s.sendall(struct.pack("<IIII", typ, 1, 0, len(body)) + body)
    hdr = b""
    while len(hdr) < 16:
        hdr += s.recv(16 - len(hdr))
    rtyp, _, _, n = struct.unpack("<IIII", hdr)
    data = b""
    while len(data) < n:
        data += s.recv(n - len(data))
    return rtyp, data


def main(args):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(os.environ["XENSTORED_PATH"])
    while args:
        op, path = args[0], args[1].encode() + b"\0"
        if op == "write":
            rtyp, data = ask(s, WRITE, path + args[2].encode())
            args = args[3:]
        elif op == "read":
            rtyp, data = ask(s, READ, path)
            if rtyp == READ:
                print(data.decode())
            args = args[2:]
        elif op == "wait":
            for _ in range(2000):
                rtyp, data = ask(s, READ, path)
                if rtyp == READ:
                    break
                time.sleep(0.01)
            else:
                sys.exit("xenstore: %s never appeared in 20 s" % path[:-1].decode())
            args = args[2:]
        else:
            sys.exit("xs-raw.py: unknown operation " + op)
        if rtyp == ERROR:
            sys.exit("xenstore: %s %s: %s" % (op, path[:-1].decode(),
                                              data.rstrip(b"\0").decode()))


main(sys.argv[1:])
