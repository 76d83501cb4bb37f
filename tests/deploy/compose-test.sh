#!/usr/bin/env bash
# The container deployment end to end: builds fenghuo:latest, brings up the compose province
# (deploy/compose) under a project name of its own, has the partner simulator answer a
# disposal request and the dashboard answer on its published port, writes a risk at a county
# and sees it reach its neighbour and the gateway, cuts a county off its links with
# `docker network disconnect`, writes on both sides, reconnects, and checks that every node
# converged with each risk exactly once. Tears everything down on exit, whatever happened.
#
#   tests/deploy/compose-test.sh            # FENGHUO_SKIP_BUILD=1: use the image as it is
#
# Skips (exit 0) only when no Docker engine answers. Nothing is pulled; the only traffic is
# between the containers it starts.
set -euo pipefail
cd "$(dirname "$0")/../.."

say() { echo "== compose-test: $*"; }
fail() {
  echo "compose-test: FAILED: $*" >&2
  exit 1
}

if ! docker info >/dev/null 2>&1; then
  say "SKIPPED: no Docker engine answers (docker info failed)"
  exit 0
fi
if docker compose version >/dev/null 2>&1; then
  COMPOSE=(docker compose)
elif command -v docker-compose >/dev/null; then
  COMPOSE=(docker-compose)
else
  fail "a Docker engine answers but neither \`docker compose\` nor docker-compose is installed"
fi
if command -v jq >/dev/null; then
  JSON=jq
elif command -v python3 >/dev/null; then
  JSON=python3
else
  fail "needs jq or python3 to read the CLI's --json output"
fi

export FENGHUO_IMAGE=${FENGHUO_IMAGE:-fenghuo:latest}
# The dashboard on a port Docker chooses: a fixed one may be taken on a CI host.
export FENGHUO_DASHBOARD_PORT=
PROJECT="fenghuo-test-$$-$(date +%s)"
DC=("${COMPOSE[@]}" -p "$PROJECT" -f deploy/compose/docker-compose.yaml)
TIMEOUT=60
LOG=$(mktemp)
WEB_CA=$(mktemp)

cleanup() {
  local rc=$?
  set +e
  local label="label=com.docker.compose.project=$PROJECT"
  if [ "$rc" -ne 0 ] && [ -n "$(docker ps -aq --filter "$label")" ]; then
    say "logs (the test failed)"
    "${DC[@]}" logs --no-color --tail 40 2>&1
  fi
  say "tearing down $PROJECT"
  "${DC[@]}" down -v --remove-orphans -t 5 >/dev/null 2>&1
  # Whatever `down` left (a container it no longer knows, a network still in use).
  docker ps -aq --filter "$label" | xargs -r docker rm -f >/dev/null 2>&1
  docker network ls -q --filter "$label" | xargs -r docker network rm >/dev/null 2>&1
  docker volume ls -q --filter "$label" | xargs -r docker volume rm >/dev/null 2>&1
  rm -f "$LOG" "$WEB_CA"
  exit "$rc"
}
trap cleanup EXIT

if [ "${FENGHUO_SKIP_BUILD:-}" = 1 ]; then
  say "using the image $FENGHUO_IMAGE as it is (FENGHUO_SKIP_BUILD=1)"
else
  say "building the image"
  start=$SECONDS
  deploy/docker/build-image.sh
  say "image built in $((SECONDS - start))s"
fi
# Compose would otherwise try to pull a missing image from a registry.
docker image inspect "$FENGHUO_IMAGE" >/dev/null 2>&1 ||
  fail "no image $FENGHUO_IMAGE (build it with deploy/docker/build-image.sh)"
test_start=$SECONDS

say "bringing the province up (project $PROJECT): PKI steps, gateway, 3 counties, partner"
if ! "${DC[@]}" up -d >"$LOG" 2>&1; then
  cat "$LOG" >&2
  fail "docker compose up"
fi
say "up in $((SECONDS - test_start))s"

# The container of a compose service.
cid() {
  local id
  id=$("${DC[@]}" ps -q "$1")
  [ -n "$id" ] || fail "no container for service $1"
  echo "$id"
}
declare -A CID
for s in gateway county-510104 county-510105 county-510106 partner partner-register; do
  CID[$s]=$(cid "$s")
done

# Runs the CLI inside a member's container (gateway or a county code) as its staff member on
# duty, against the node on localhost: no network path needed, so it works while cut off.
fh() {
  local member=$1 service code port
  shift
  if [ "$member" = gateway ]; then
    service=gateway code=51 port=7400
  else
    service=county-$member code=$member port=7401
  fi
  docker exec "${CID[$service]}" /fenghuo --node "https://localhost:$port" \
    --cert "/etc/fenghuo/pki/staff-$code-duty.crt" \
    --key "/etc/fenghuo/pki/staff-$code-duty.key" "$@"
}

# The ids of every risk a member holds (its own and those shared with it), one per line,
# duplicates kept: convergence must not store a risk twice.
risk_ids() {
  local out
  out=$(fh "$1" risk list --origin all --all --json) || return 1
  if [ "$JSON" = jq ]; then
    jq -r '.[].id' <<<"$out"
  else
    python3 -c 'import json, sys; print("\n".join(r["id"] for r in json.load(sys.stdin)))' <<<"$out"
  fi
}

# Lines as one line, for messages.
words() { tr '\n' ' ' <<<"$1"; }

# A field of a JSON object, by its dotted path (outcome.outcome); "null" when absent.
field() {
  if [ "$JSON" = jq ]; then
    jq -r ".$1"
  else
    python3 -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v.get(k) if isinstance(v, dict) else None
print("null" if v is None else v)' "$1"
  fi
}

# Waits until `member` holds every risk id given.
wait_for() {
  local member=$1 deadline=$((SECONDS + TIMEOUT)) ids missing
  shift
  while :; do
    missing=()
    ids=$(risk_ids "$member" 2>/dev/null || true)
    for id in "$@"; do
      grep -qx "$id" <<<"$ids" || missing+=("$id")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    [ $SECONDS -lt $deadline ] || fail "$member still lacks ${missing[*]} after ${TIMEOUT}s (holds: $(words "$ids"))"
    sleep 0.5
  done
}

# Writes a risk at a county, shared with its neighbours (and so the province); prints its id.
write_risk() {
  local county=$1 title=$2 id
  id=$(fh "$county" risk add --title "$title" --focus major-event \
    --source "https://video.example/$county/$RANDOM" --json | field id)
  fh "$county" risk share "$id" --scope neighbours >/dev/null
  echo "$id"
}

say "waiting for the gateway and the counties to report healthy (fenghuo feeds)"
deadline=$((SECONDS + TIMEOUT))
for s in gateway county-510104 county-510105 county-510106; do
  until [ "$(docker inspect -f '{{.State.Health.Status}}' "${CID[$s]}")" = healthy ]; do
    [ $SECONDS -lt $deadline ] || fail "$s is not healthy after ${TIMEOUT}s"
    sleep 1
  done
done
rc=$(docker inspect -f '{{.State.ExitCode}} {{.State.Status}}' "${CID[partner-register]}")
[ "$rc" = "0 exited" ] || fail "registering the partner simulator at the gateway: $rc"

say "asking the partner (simulator) to act, from 510105: gateway → webhook → callback → 510105"
req=$(fh 510105 disposal request --partner weibo --url https://weibo.example/compose-test \
  --action take-down --reason "compose test" --legal-basis "compose test" --deadline 1h \
  --json | field id)
deadline=$((SECONDS + TIMEOUT))
until [ "$(fh 510105 disposal show "$req" --json | field outcome.outcome)" = removed ]; do
  [ $SECONDS -lt $deadline ] || fail "no outcome for $req from the partner after ${TIMEOUT}s"
  sleep 0.5
done
say "$req: the partner reported \"removed\""

if command -v curl >/dev/null; then
  say "the dashboard on its published port, checked against the web CA"
  port=$("${DC[@]}" port gateway 8443 | sed 's/.*://')
  docker cp "${CID[gateway]}:/etc/fenghuo/pki/ca-web.crt" "$WEB_CA"
  code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 10 --cacert "$WEB_CA" \
    "https://localhost:$port/") || fail "the dashboard on 127.0.0.1:$port does not answer over TLS"
  case $code in
    2* | 3*) say "dashboard answered $code" ;;
    *) fail "the dashboard answered $code" ;;
  esac
fi

say "writing a risk at 510104; waiting for its neighbour 510105 and the gateway"
r1=$(write_risk 510104 "Compose test: before the cut")
wait_for 510105 "$r1"
wait_for gateway "$r1"
say "$r1 arrived at 510105 and the gateway"

say "cutting 510104 off (its links to the gateway and to 510105)"
CUT=(link-gateway-510104 link-510104-510105)
for n in "${CUT[@]}"; do
  docker network disconnect "${PROJECT}_$n" "${CID[county-510104]}"
done

say "writing on both sides of the cut"
r2=$(write_risk 510104 "Compose test: written while cut off")
r3=$(write_risk 510105 "Compose test: written by the other side")
# The rest of the province still syncs; once it has, check the cut held.
wait_for gateway "$r3"
for m in 510105 gateway; do
  ids=$(risk_ids "$m")
  if grep -qx "$r2" <<<"$ids"; then fail "$r2 reached $m across the cut"; fi
done
say "$r3 reached the gateway; $r2 stayed behind the cut"

say "reconnecting 510104"
for n in "${CUT[@]}"; do
  # The alias is what peers dial; `network connect` alone would not restore it.
  docker network connect --alias county-510104 "${PROJECT}_$n" "${CID[county-510104]}"
done

say "waiting for convergence"
for m in 510104 510105 gateway; do
  wait_for "$m" "$r1" "$r2" "$r3"
done
# Exactly once, and the same on both sides of the cut: each node lists the same ids, none
# twice.
expected=$(printf '%s\n' "$r1" "$r2" "$r3" | sort)
for m in 510104 510105 gateway; do
  got=$(risk_ids "$m" | sort)
  [ "$got" = "$expected" ] || fail "$m holds [$(words "$got")], expected [$(words "$expected")] once each"
done
say "510104, 510105 and the gateway each hold $r1, $r2, $r3 exactly once"

say "stopping everything and running \`up\` again: the setup keeps the CA, the nodes their data"
"${DC[@]}" stop -t 10 >>"$LOG" 2>&1 || fail "stop failed"
if ! "${DC[@]}" up -d >>"$LOG" 2>&1; then
  cat "$LOG" >&2
  fail "a second \`up\` failed"
fi
for s in gateway county-510104; do
  CID[$s]=$(cid "$s")
done
wait_for gateway "$r1" "$r2" "$r3"
got=$(risk_ids gateway | sort)
[ "$got" = "$expected" ] || fail "after the second up the gateway holds [$(words "$got")]"
say "the second \`up\` came back with the same data"

say "PASSED in $((SECONDS - test_start))s after the build"
