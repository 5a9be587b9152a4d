#!/usr/bin/env python3
"""flood.py: connection-flood load against a cmon server (bench/flood.sh).

Holds IDLE connections that send nothing and SLOW slowloris connections that
send one header byte every SLOW_EVERY seconds, spread over many 127.0.x.y
source addresses (PER_ADDR each, under the server's per-IP limit), and
reopens any the server cuts, for DURATION seconds.  Meanwhile two clients
measure what users see: a reader (GET /api/v1/tests?limit=100 and /healthz,
a new connection each, as a browser tab polling) and an agent (POST
/api/v1/agent/heartbeat and /api/v1/agent/results with a valid agent token).
Prints one JSON object: per client the count, success rate and p50/p99/max
latency, and the flood's connection counts.  Loopback only; bounded in
count and time.
"""
import http.client
import json
import os
import selectors
import socket
import sys
import threading
import time

PORT = int(os.environ["PORT"])
IDLE = int(os.environ.get("IDLE", "10000"))
SLOW = int(os.environ.get("SLOW", "2000"))
PER_ADDR = int(os.environ.get("PER_ADDR", "100"))
SLOW_EVERY = float(os.environ.get("SLOW_EVERY", "3"))
DURATION = float(os.environ.get("DURATION", "60"))
READER_TOKEN = os.environ["READER_TOKEN"]
AGENT_TOKEN = os.environ["AGENT_TOKEN"]
SLOW_REQ = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 4000


def source_addr(i, base):
    n = base + i // PER_ADDR  # 127.0.(n>>8).(n&255), skipping .0 and .1
    return "127.0.%d.%d" % (n // 250, 2 + n % 250)


class Flood:
    def __init__(self):
        self.sel = selectors.DefaultSelector()
        self.conns = {}  # sock -> [kind, index, sent, next_send]
        self.opened = self.reopened = self.failed = 0
        self.stop = False

    def open(self, kind, i):
        base = 0 if kind == "idle" else 250 * 40
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.bind((source_addr(i, base), 0))
            s.connect_ex(("127.0.0.1", PORT))
        except OSError:
            self.failed += 1
            s.close()
            return
        self.conns[s] = [kind, i, 0, time.monotonic() + SLOW_EVERY]
        self.sel.register(s, selectors.EVENT_READ)
        self.opened += 1

    def run(self, until):
        for i in range(IDLE):
            self.open("idle", i)
        for i in range(SLOW):
            self.open("slow", i)
        while time.monotonic() < until:
            for key, _ in self.sel.select(timeout=0.2):
                s = key.fileobj
                try:
                    data = s.recv(4096)
                except OSError:
                    data = b""
                if not data:  # cut by the server: come back, as an attacker would
                    kind, i = self.conns.pop(s)[:2]
                    self.sel.unregister(s)
                    s.close()
                    self.reopened += 1
                    self.open(kind, i)
            now = time.monotonic()
            for s, c in list(self.conns.items()):
                if c[0] == "slow" and now >= c[3] and c[2] < len(SLOW_REQ):
                    try:
                        s.send(SLOW_REQ[c[2]:c[2] + 1])
                        c[2] += 1
                    except OSError:
                        pass
                    c[3] = now + SLOW_EVERY
        for s in list(self.conns):
            s.close()


class Probe:
    """One client's requests: a new connection per request, 5 s timeout."""

    def __init__(self, name):
        self.name, self.lat, self.ok, self.n, self.errors = name, [], 0, 0, {}

    def call(self, method, path, token, body=None):
        t = time.monotonic()
        self.n += 1
        try:
            c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=5)
            h = {"Authorization": "Bearer " + token}
            if body is not None:
                h["Content-Type"] = "application/json"
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            r.read()
            c.close()
            status = r.status
        except OSError as e:
            status = type(e).__name__
        self.lat.append(time.monotonic() - t)
        if status in (200, 201):
            self.ok += 1
        else:
            self.errors[str(status)] = self.errors.get(str(status), 0) + 1

    def summary(self):
        lat = sorted(self.lat) or [0]
        pick = lambda q: round(lat[min(len(lat) - 1, int(q * len(lat)))] * 1000, 1)
        return {"requests": self.n, "success_pct": round(100.0 * self.ok / max(self.n, 1), 2),
                "p50_ms": pick(0.5), "p99_ms": pick(0.99), "max_ms": round(lat[-1] * 1000, 1),
                "errors": self.errors}


def reader(p, until):
    while time.monotonic() < until:
        p.call("GET", "/api/v1/tests?limit=100", READER_TOKEN)
        p.call("GET", "/healthz", READER_TOKEN)
        time.sleep(0.1)


def agent(p, until):
    batch = 0
    while time.monotonic() < until:
        p.call("POST", "/api/v1/agent/heartbeat", AGENT_TOKEN, "{}")
        batch += 1
        p.call("POST", "/api/v1/agent/results", AGENT_TOKEN,
               json.dumps({"batch": batch, "results": []}))
        time.sleep(0.2)


def main():
    start = time.monotonic()
    until = start + DURATION
    flood = Flood()
    ft = threading.Thread(target=flood.run, args=(until,))
    ft.start()
    time.sleep(min(5.0, DURATION / 4))  # let the flood build up before measuring
    rp, ap = Probe("reader"), Probe("agent")
    threads = [threading.Thread(target=reader, args=(rp, until)),
               threading.Thread(target=agent, args=(ap, until))]
    for t in threads:
        t.start()
    for t in threads + [ft]:
        t.join()
    print(json.dumps({"flood": {"idle": IDLE, "slow": SLOW, "opened": flood.opened,
                                "reopened_after_cut": flood.reopened,
                                "open_failed": flood.failed},
                      "reader": rp.summary(), "agent": ap.summary()}))


if __name__ == "__main__":
    sys.exit(main())
