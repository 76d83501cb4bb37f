"""A partner's or operator's Python client, written the way docs/partners.md shows: grpcio
with the files `fenghuo ca issue` wrote, unmodified. Prints one JSON object per command.

    grpc_client.py ADDR --ca ca.crt --cert partner-weibo.crt --key partner-weibo.key COMMAND

COMMAND is `health` (grpc.health.v1 Check), `reflection` (the services listed by server
reflection, v1 and v1alpha), or `partner` (Subscribe from cursor 0, Acknowledge and Respond to
the first request, with stubs generated from proto/ by grpcio-tools).
"""

import argparse
import json
import pathlib

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2

import fenghuo_stubs


def channel(args):
    read = lambda p: pathlib.Path(p).read_bytes()
    creds = grpc.ssl_channel_credentials(
        root_certificates=read(args.ca),
        private_key=read(args.key),
        certificate_chain=read(args.cert),
    )
    return grpc.secure_channel(args.addr, creds)


def health(ch):
    reply = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=10)
    return {"status": health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)}


def list_services(ch, version):
    # v1 and v1alpha carry the same messages under two service names.
    call = ch.stream_stream(
        f"/grpc.reflection.{version}.ServerReflection/ServerReflectionInfo",
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )
    replies = call(iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10)
    return sorted(s.name for r in replies for s in r.list_services_response.service)


def reflection(ch):
    return {"v1": list_services(ch, "v1"), "v1alpha": list_services(ch, "v1alpha")}


def stubs():
    """Generates Python stubs for fenghuo/v1/disposal.proto, as a partner would."""
    return fenghuo_stubs.generate("disposal")


def partner(ch):
    pb, rpc = stubs()
    service = rpc.PartnerServiceStub(ch)
    stream = service.Subscribe(pb.SubscribeRequest(cursor=0), timeout=60)
    message = next(m for m in stream if m.kind == "request")
    stream.cancel()
    request = message.request
    ack = service.Acknowledge(pb.PartnerAcknowledgeRequest(id=request.id), timeout=10)
    answer = pb.PartnerRespondRequest(
        id=request.id, outcome="removed", reason="违反社区规定", reference="WB-2026-1"
    )
    first = service.Respond(answer, timeout=10)
    again = service.Respond(answer, timeout=10)
    return {
        "cursor": message.cursor,
        "id": request.id,
        "urls": list(request.urls),
        "action": request.action,
        "deadline_ms": request.deadline_ms,
        "acknowledged": ack.state,
        "answered": first.state,
        "again_unchanged": again.unchanged,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("addr")
    parser.add_argument("--ca", required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("command", choices=["health", "reflection", "partner"])
    args = parser.parse_args()
    with channel(args) as ch:
        result = {"health": health, "reflection": reflection, "partner": partner}[args.command](ch)
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
