#!/usr/bin/env python3
"""webhook_receiver.py: a webhook endpoint for the alert tests.

Listens on 127.0.0.1:PORT, answers 500 to the first --fail-first POSTs and 200
after, and appends one JSON line per request to --out: the try number, the
status it answered, whether X-Cmon-Signature matched the HMAC-SHA256 of the
body under --secret, and the body itself.  Standard library only.
"""
import argparse
import hashlib
import hmac
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True, help="0: any free port (see --port-file)")
    ap.add_argument("--port-file", help="written with the bound port once listening")
    ap.add_argument("--secret", required=True)
    ap.add_argument("--fail-first", type=int, default=0)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    state = {"n": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state["n"] += 1
            want = "sha256=" + hmac.new(args.secret.encode(), body, hashlib.sha256).hexdigest()
            got = self.headers.get("X-Cmon-Signature", "")
            status = 500 if state["n"] <= args.fail_first else 200
            rec = {"try": state["n"], "status": status, "path": self.path,
                   "signatureOk": hmac.compare_digest(want, got), "signature": got,
                   "contentType": self.headers.get("Content-Type", ""),
                   "body": json.loads(body)}
            with open(args.out, "a") as f:
                f.write(json.dumps(rec, sort_keys=True) + "\n")
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, fmt, *a):
            sys.stderr.write("webhook_receiver: " + (fmt % a) + "\n")

    srv = HTTPServer(("127.0.0.1", args.port), Handler)
    if args.port_file:  # written whole, then renamed: a reader never sees half
        with open(args.port_file + ".tmp", "w") as f:
            f.write("%d\n" % srv.server_address[1])
        os.rename(args.port_file + ".tmp", args.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
