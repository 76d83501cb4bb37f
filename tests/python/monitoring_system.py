"""A county's monitoring system (舆情监测系统) as a vendor would write it: grpcio with the
intake certificate `fenghuo ca issue intake COUNTY SYSTEM` wrote, unmodified, and stubs
generated from proto/ by grpcio-tools. Prints one JSON object.

    monitoring_system.py ADDR --ca ca.crt --cert intake-510104-yuqing-1.crt \
        --key intake-510104-yuqing-1.key COMMAND [--posts N]

COMMAND:
- `stream`: sends a made-up day of findings with SubmitStream: N distinct posts (every
  tenth mentions 拆迁补偿, spread over 50 accounts), then for every fifth post another
  sighting at the same URL with tracking parameters and newer figures, for every tenth a
  copy of its text at another URL, and for every twentieth the same observation again.
  Prints the server's summary and what the system sent.
- `submit`: one observation with Submit, twice (idempotent), and one refused (negative
  views). Prints both replies and the refusal's status code.
- `denied`: tries ListItems, which an intake certificate may not call; prints the code.
"""

import argparse
import json
import pathlib
import time

import grpc

import fenghuo_stubs


def stubs():
    return fenghuo_stubs.generate("intake")


def channel(args):
    read = lambda p: pathlib.Path(p).read_bytes()
    creds = grpc.ssl_channel_credentials(
        root_certificates=read(args.ca),
        private_key=read(args.key),
        certificate_chain=read(args.cert),
    )
    return grpc.secure_channel(args.addr, creds)


def day(pb, posts, now_ms):
    """The made-up findings, in the order a crawler would send them."""
    sent = []
    for i in range(posts):
        topic = "某村拆迁补偿款迟迟未发放" if i % 10 == 0 else "市民反映道路施工噪音扰民"
        sent.append(pb.Observation(
            url=f"https://weibo.com/u/{i % 50}/status/{i}",
            platform="weibo",
            account=f"@user_{i % 50}",
            text=f"{topic}，第{i}条帖子，现场情况持续关注中",
            captured_at_ms=now_ms - (posts - i) * 1000,
            engagement=pb.Engagement(views=100 + i, reposts=i % 40, comments=3, likes=7),
            keywords=["拆迁"] if i % 10 == 0 else ["施工"],
            system_id=f"p{i}",
        ))
    for i in range(0, posts, 5):
        sent.append(pb.Observation(
            url=f"http://www.weibo.com/u/{i % 50}/status/{i}/?utm_source=share#comments",
            platform="weibo",
            account=f"@user_{i % 50}",
            text=f"转发：第{i}条",
            captured_at_ms=now_ms - 500,
            engagement=pb.Engagement(views=5000 + i, reposts=200, comments=30, likes=70),
            system_id=f"s{i}",
        ))
    for i in range(0, posts, 10):
        topic = "某村拆迁补偿款迟迟未发放"
        sent.append(pb.Observation(
            url=f"https://bbs.example.cn/thread/{i}",
            platform="某论坛",
            # The same text, laid out differently: the same content hash.
            text=f"  {topic}，第{i}条帖子，现场情况持续关注中 \n",
            captured_at_ms=now_ms - 600,
            system_id=f"c{i}",
        ))
    for i in range(0, posts, 20):
        sent.append(sent[i])
    return sent


def stream(ch, pb, rpc, posts):
    now_ms = int(time.time() * 1000)
    sent = day(pb, posts, now_ms)
    started = time.monotonic()
    summary = rpc.IntakeStub(ch).SubmitStream(iter(sent), timeout=600)
    return {
        "sent": len(sent),
        "seconds": round(time.monotonic() - started, 3),
        "received": summary.received,
        "new_items": summary.new_items,
        "sightings": summary.sightings,
        "repeats": summary.repeats,
        "refused": summary.refused,
        "refusals": list(summary.refusals),
    }


def submit(ch, pb, rpc):
    service = rpc.IntakeStub(ch)
    obs = pb.Observation(
        url="https://www.douyin.com/video/777",
        platform="douyin",
        account="@li_si",
        text="某小区业主聚集维权，要求开发商兑现承诺",
        captured_at_ms=int(time.time() * 1000),
        engagement=pb.Engagement(views=250000, reposts=1500, comments=900, likes=4000),
        system_id="v777",
    )
    first = service.Submit(obs, timeout=10)
    again = service.Submit(obs, timeout=10)
    bad = pb.Observation()
    bad.CopyFrom(obs)
    bad.system_id = "v778"
    bad.engagement.views = -3
    try:
        service.Submit(bad, timeout=10)
        refused = "OK"
    except grpc.RpcError as e:
        refused = f"{e.code().name}: {e.details()}"
    return {
        "first": {"item_id": first.item_id, "recorded": first.recorded},
        "again": {"item_id": again.item_id, "recorded": again.recorded},
        "refused": refused,
    }


def denied(ch, pb, rpc):
    try:
        rpc.IntakeStub(ch).ListItems(pb.ListItemsRequest(), timeout=10)
        return {"code": "OK"}
    except grpc.RpcError as e:
        return {"code": e.code().name, "details": e.details()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("addr")
    parser.add_argument("--ca", required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("command", choices=["stream", "submit", "denied"])
    args = parser.parse_args()
    pb, rpc = stubs()
    with channel(args) as ch:
        if args.command == "stream":
            result = stream(ch, pb, rpc, args.posts)
        elif args.command == "submit":
            result = submit(ch, pb, rpc)
        else:
            result = denied(ch, pb, rpc)
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
