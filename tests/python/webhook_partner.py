"""A partner website's side of Fenghuo's webhooks, written with the maintained Python
`standardwebhooks` library as docs/partners.md tells a partner to:

  serve    an HTTPS receiver: each POST is checked with Webhook(secret).verify(body, headers)
           (401 otherwise) and written as one JSON line to --out; prints its port, then serves
           until killed.
  callback one signed callback to the gateway (Webhook(secret).sign(...)): prints the HTTP
           status and the answer's body as one JSON line.
"""

import argparse
import json
import ssl
import sys
import threading
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def serve(args):
    wh = Webhook(open(args.secret_file).read().strip())
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            record = {"webhook_id": self.headers.get("webhook-id")}
            try:
                # One call: headers, timestamp tolerance, every v1 signature.
                record["body"] = wh.verify(body, dict(self.headers))
                status = 204
            except WebhookVerificationError as e:
                record["refused"] = str(e)
                status = 401
            with lock, open(args.out, "a") as f:
                f.write(json.dumps(record) + "\n")
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print(server.server_address[1], flush=True)
    server.serve_forever()


def callback(args):
    wh = Webhook(open(args.secret_file).read().strip())
    body = args.body.encode()
    msg_id = "msg_" + uuid.uuid4().hex
    now = datetime.now(tz=timezone.utc)
    headers = {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": wh.sign(msg_id, now, body),
    }
    req = urllib.request.Request(args.url, data=body, headers=headers, method="POST")
    ctx = ssl.create_default_context(cafile=args.ca)
    try:
        with urllib.request.urlopen(req, context=ctx) as r:
            status, text = r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode()
    print(json.dumps({"status": status, "body": text}))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--secret-file", required=True)
    s.add_argument("--cert", required=True)
    s.add_argument("--key", required=True)
    s.add_argument("--out", required=True)
    c = sub.add_parser("callback")
    c.add_argument("--secret-file", required=True)
    c.add_argument("--url", required=True)
    c.add_argument("--ca", required=True)
    c.add_argument("--body", required=True)
    args = p.parse_args()
    {"serve": serve, "callback": callback}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
