#!/usr/bin/env python3
"""Echo services for the end-to-end test: servers answer every TCP connection or UDP
datagram with "peer=ADDRESS" (the source address they saw), clients print the answer.

  echo.py serve ADDR tcp:PORT udp:PORT ...   (runs until killed)
  echo.py tcp HOST PORT [TIMEOUT]             (prints the answer; exit 1 on failure)
  echo.py udp HOST PORT [TIMEOUT]
  echo.py udpc HOST PORT [TIMEOUT]            (a connected UDP socket: the kernel drops an
                                               answer from any other address than HOST:PORT)
"""
import selectors
import socket
import sys


def serve(address, specs):
    selector = selectors.DefaultSelector()
    for spec in specs:
        protocol, port = spec.split(":")
        if protocol == "tcp":
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((address, int(port)))
            sock.listen(16)
        else:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind((address, int(port)))
        selector.register(sock, selectors.EVENT_READ, protocol)
    print("ready", flush=True)
    while True:
        for key, _ in selector.select():
            sock = key.fileobj
            if key.data == "tcp":
                connection, peer = sock.accept()
                with connection:
                    connection.sendall(("peer=%s\n" % peer[0]).encode())
            else:
                _, peer = sock.recvfrom(2048)
                sock.sendto(("peer=%s\n" % peer[0]).encode(), peer)


def client(protocol, host, port, timeout):
    if protocol == "tcp":
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            data = sock.recv(256)
    elif protocol == "udpc":
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(timeout)
            sock.connect((host, port))
            sock.send(b"ping")
            data = sock.recv(256)
    else:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(timeout)
            sock.sendto(b"ping", (host, port))
            data, _ = sock.recvfrom(256)
    sys.stdout.write(data.decode())


def main():
    if sys.argv[1] == "serve":
        serve(sys.argv[2], sys.argv[3:])
        return 0
    timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 3.0
    try:
        client(sys.argv[1], sys.argv[2], int(sys.argv[3]), timeout)
    except OSError as error:
        sys.stderr.write("%s %s:%s: %s\n" % (sys.argv[1], sys.argv[2], sys.argv[3], error))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
