"""What a county's notifications reach, as the vendors' own servers would take them: an SMTP
server (aiosmtpd) and the WeCom, DingTalk and Feishu group-robot endpoints and a Standard
Webhooks receiver, each checking the payload shape and signature as its documentation says
and answering as it does (HTTP 200 with an error code in the body for the robots).

Usage: notify_receivers.py OUT_DIR --dingtalk-secret S --feishu-secret S --webhook-secret
whsec_... [--down-first N]. Prints {"smtp": port, "http": port} on its first line. Every
accepted message is appended to OUT_DIR/received.jsonl as {"channel", "title", "text", ...};
refused ones to OUT_DIR/refused.jsonl with the reason. With --down-first N the DingTalk
endpoint answers 503 to its first N correctly signed requests (a robot down for a while).
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from aiosmtpd.controller import Controller
from standardwebhooks.webhooks import Webhook

args = argparse.ArgumentParser()
args.add_argument("out")
args.add_argument("--dingtalk-secret", required=True)
args.add_argument("--feishu-secret", required=True)
args.add_argument("--webhook-secret", required=True)
args.add_argument("--down-first", type=int, default=0)
opts = args.parse_args()

lock = threading.Lock()
down_left = [opts.down_first]


def write(name, record):
    with lock, open(os.path.join(opts.out, name), "a", encoding="utf-8") as f:
        f.write(json.dumps(record, ensure_ascii=False) + "\n")


def hmac_b64(key, msg):
    return base64.b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode()


class Mailbox:
    async def handle_DATA(self, server, session, envelope):
        from email import message_from_bytes
        from email.header import decode_header, make_header

        msg = message_from_bytes(envelope.content)
        body = msg.get_payload(decode=True)
        text = body.decode(msg.get_content_charset() or "utf-8") if body else ""
        write(
            "received.jsonl",
            {
                "channel": "email",
                "to": envelope.rcpt_tos,
                "from": envelope.mail_from,
                "title": str(make_header(decode_header(msg.get("Subject", "")))),
                "text": text,
            },
        )
        return "250 OK"


class Robots(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def refuse(self, channel, why, status, body):
        write("refused.jsonl", {"channel": channel, "why": why})
        self.answer(status, body)

    def do_POST(self):
        url = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        raw = self.rfile.read(int(self.headers.get("content-length", "0")))
        try:
            body = json.loads(raw)
        except ValueError:
            return self.refuse(url.path, "not JSON", 400, {"errcode": 40001, "errmsg": "bad json"})
        if url.path == "/wecom":
            # WeCom: the key is in the URL; markdown.content is the message.
            if q.get("key") != "wecom-key" or body.get("msgtype") != "markdown":
                return self.refuse("wecom", "key or msgtype", 200, {"errcode": 93000, "errmsg": "invalid webhook url"})
            content = body["markdown"]["content"]
            write("received.jsonl", {"channel": "wecom", "title": content.split("\n")[0], "text": content})
            return self.answer(200, {"errcode": 0, "errmsg": "ok"})
        if url.path == "/dingtalk":
            # DingTalk 加签: sign = Base64(HmacSHA256(secret, timestamp + "\n" + secret)),
            # timestamp in ms within an hour.
            ts, sign = q.get("timestamp", ""), q.get("sign", "")
            secret = opts.dingtalk_secret
            want = hmac_b64(secret.encode(), f"{ts}\n{secret}".encode())
            fresh = ts.isdigit() and abs(int(ts) - time.time() * 1000) < 3600 * 1000
            if q.get("access_token") != "ding-token" or not fresh or not hmac.compare_digest(sign, want):
                return self.refuse("dingtalk", "sign", 200, {"errcode": 310000, "errmsg": "sign not match"})
            # Down for a while: busy to correctly signed requests too.
            if down_left[0] > 0:
                down_left[0] -= 1
                write("refused.jsonl", {"channel": "dingtalk", "why": "down"})
                return self.answer(503, {"errcode": -1, "errmsg": "system busy"})
            md = body.get("markdown") or {}
            if body.get("msgtype") != "markdown" or not md.get("title") or not md.get("text"):
                return self.refuse("dingtalk", "shape", 200, {"errcode": 40035, "errmsg": "missing param"})
            write("received.jsonl", {"channel": "dingtalk", "title": md["title"], "text": md["text"]})
            return self.answer(200, {"errcode": 0, "errmsg": "ok"})
        if url.path == "/feishu":
            # Feishu 签名校验: sign = Base64(HmacSHA256(key = timestamp + "\n" + secret, "")),
            # timestamp in seconds within an hour.
            ts, sign = str(body.get("timestamp", "")), body.get("sign", "")
            want = hmac_b64(f"{ts}\n{opts.feishu_secret}".encode(), b"")
            fresh = ts.isdigit() and abs(int(ts) - time.time()) < 3600
            if not fresh or not hmac.compare_digest(sign, want):
                return self.refuse("feishu", "sign", 200, {"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time"})
            text = (body.get("content") or {}).get("text")
            if body.get("msg_type") != "text" or not text:
                return self.refuse("feishu", "shape", 200, {"code": 9499, "msg": "Bad Request"})
            write("received.jsonl", {"channel": "feishu", "title": text.split("\n")[0], "text": text})
            return self.answer(200, {"code": 0, "msg": "success", "data": {}})
        if url.path == "/webhook":
            try:
                Webhook(opts.webhook_secret).verify(raw, dict(self.headers))
            except Exception as e:  # noqa: BLE001 - any failure is a refusal
                return self.refuse("webhook", f"signature: {e}", 401, {"error": "bad signature"})
            write("received.jsonl", {"channel": "webhook", "title": body.get("title"), "text": body.get("text"), "link": body.get("link"), "event": body.get("event")})
            return self.answer(204, {})
        return self.refuse(url.path, "no such endpoint", 404, {"errcode": 404})


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


smtp_port = free_port()
smtp = Controller(Mailbox(), hostname="127.0.0.1", port=smtp_port)
smtp.start()
http = ThreadingHTTPServer(("127.0.0.1", 0), Robots)
print(json.dumps({"smtp": smtp_port, "http": http.server_address[1]}), flush=True)
try:
    http.serve_forever()
finally:
    smtp.stop()
    sys.exit(0)
