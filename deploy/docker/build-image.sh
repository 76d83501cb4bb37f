#!/usr/bin/env bash
# Builds the container image fenghuo:latest (or $FENGHUO_IMAGE): static binaries of
# fenghuo-node, fenghuo-gateway and fenghuo on an empty base (FROM scratch; nothing is pulled).
#
#   deploy/docker/build-image.sh
#
# One cargo invocation, in its own target folder (target/static) so the static flags do not
# invalidate the normal build and a second run reuses it.
set -euo pipefail
cd "$(dirname "$0")/../.."

IMAGE=${FENGHUO_IMAGE:-fenghuo:latest}
TRIPLE=x86_64-unknown-linux-gnu
export CARGO_TARGET_DIR=target/static
# An image carries no debug info: binaries a fifth of the size (backtraces keep function names).
export CARGO_PROFILE_RELEASE_DEBUG=false CARGO_PROFILE_RELEASE_STRIP=debuginfo
BIN=$CARGO_TARGET_DIR/$TRIPLE/release
CONTEXT=target/docker/context

step() { echo "== build-image: $*"; }

step "cargo build --release (static glibc, $CARGO_TARGET_DIR)"
# crt-static links glibc in; the explicit --target keeps the flag away from build scripts and
# proc macros, which must stay dynamic.
RUSTFLAGS="-C target-feature=+crt-static" \
  cargo build --release --target "$TRIPLE" -p fenghuo-node -p fenghuo-gateway

# Static glibc is enough in a scratch image: with no nsswitch.conf it falls back to its
# built-in files-then-DNS lookup, which resolves compose service names through Docker's DNS
# (tests/deploy/compose-test.sh depends on it).
step "checking the binaries are static"
for b in fenghuo-node fenghuo-gateway fenghuo; do
  # A scratch image has no loader or libraries: a dynamic binary would not start.
  if ! ldd "$BIN/$b" 2>&1 | grep -q -e "statically linked" -e "not a dynamic executable"; then
    echo "build-image: $BIN/$b is not statically linked:" >&2
    ldd "$BIN/$b" >&2
    exit 1
  fi
done

step "staging the build context in $CONTEXT"
rm -rf "$CONTEXT"
mkdir -p "$CONTEXT/rootfs/etc/fenghuo/pki" "$CONTEXT/rootfs/var/lib/fenghuo" "$CONTEXT/rootfs/tmp"
chmod 1777 "$CONTEXT/rootfs/tmp"
# Hard links where possible: the binaries are some 90 MB each and CI's disk is small.
for b in fenghuo-node fenghuo-gateway fenghuo; do
  ln -f "$BIN/$b" "$CONTEXT/$b" 2>/dev/null || cp "$BIN/$b" "$CONTEXT/$b"
done

step "docker build -t $IMAGE"
docker build -q -t "$IMAGE" -f deploy/docker/Dockerfile "$CONTEXT"

step "done: $IMAGE ($(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1 / 1e6}'))"
