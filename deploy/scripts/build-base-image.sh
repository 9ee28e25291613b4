#!/usr/bin/env bash
# Build the images' base (Debian bookworm + python3) without Docker Hub: debootstrap from the
# Debian mirror apt already uses here, then `docker import`.
#
#   deploy/scripts/build-base-image.sh [IMAGE]       (default xcloud-base:bookworm)
#   FORCE=1 ...            rebuild even when the image exists
#   DEBIAN_MIRROR=URL ...  another mirror (default: the first deb.debian.org-style URI of apt)
#
# Needs root, debootstrap and a Docker engine (DOCKER_HOST is honoured).
set -euo pipefail

IMAGE="${1:-xcloud-base:bookworm}"
SUITE=bookworm
# python3-venv brings ensurepip (the images' venv); ca-certificates lets pip reach PyPI over TLS.
PACKAGES=python3,python3-venv,ca-certificates

if [ "${FORCE:-0}" != 1 ] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "base image $IMAGE already present (FORCE=1 rebuilds it)"
  exit 0
fi

apt_mirror() {
  # The "URIs:" (deb822) or "deb URL" (one-line) entry of the main Debian archive.
  grep -hoE '^(URIs:[[:space:]]*|deb[[:space:]]+)https?://[^[:space:]]+/debian/?([[:space:]]|$)' \
      /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null \
    | grep -oE 'https?://[^[:space:]]+' | head -n1 || true
}
MIRROR="${DEBIAN_MIRROR:-$(apt_mirror)}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
SECURITY_MIRROR="${MIRROR%/debian}/debian-security"

command -v debootstrap >/dev/null || { echo "debootstrap is missing: apt-get install -y debootstrap" >&2; exit 1; }
ROOT="$(mktemp -d /var/tmp/xcloud-base.XXXXXX)"
trap 'rm -rf "$ROOT"' EXIT

echo "debootstrap $SUITE from $MIRROR into $ROOT"
nice -n 10 debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOT" "$MIRROR" >/dev/null

# Security and point-release updates, so that the base is not frozen at the release's day.
cat > "$ROOT/etc/apt/sources.list" <<SOURCES
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SECURITY_MIRROR $SUITE-security main
SOURCES
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
chroot "$ROOT" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get -y -qq upgrade \
  && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/*.log'
: > "$ROOT/etc/resolv.conf"  # the engine writes its own at run time

tar --numeric-owner -C "$ROOT" -c . | docker import \
  --change 'ENV LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["/bin/bash"]' \
  --message "debootstrap $SUITE ($PACKAGES) from $MIRROR" - "$IMAGE"
echo "built base image $IMAGE"
