"""A monitoring system that can only POST: sends observations to a county node's
`POST /intake/v1/observations`, authenticated with its bearer token and a Standard Webhooks
signature of the body (Webhook(secret).sign(...)). Prints the HTTP status and body as JSON.

  intake_push.py URL CA TOKEN_FILE SECRET_FILE BODY [--tamper]

--tamper changes the body after signing (the node must answer 401).
"""

import argparse
import json
import ssl
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timezone

from standardwebhooks.webhooks import Webhook


def main():
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("ca")
    p.add_argument("token_file")
    p.add_argument("secret_file")
    p.add_argument("body", help="the JSON body: one observation or an array of them")
    p.add_argument("--tamper", action="store_true")
    args = p.parse_args()

    token = open(args.token_file).read().strip()
    wh = Webhook(open(args.secret_file).read().strip())
    body = args.body
    msg_id = "msg_" + uuid.uuid4().hex
    now = datetime.now(tz=timezone.utc)
    signature = wh.sign(msg_id, now, body)
    if args.tamper:
        body = body.replace("拆迁", "拆除")
    headers = {
        "Content-Type": "application/json",
        "Authorization": "Bearer " + token,
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }
    req = urllib.request.Request(
        args.url, data=body.encode(), headers=headers, method="POST"
    )
    ctx = ssl.create_default_context(cafile=args.ca)
    try:
        with urllib.request.urlopen(req, context=ctx) as r:
            status, text = r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode()
    print(json.dumps({"status": status, "body": text}, ensure_ascii=False))


if __name__ == "__main__":
    main()
