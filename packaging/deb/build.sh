#!/bin/sh
# Builds the Debian package of hostfix: the binary and its copyright file, nothing else.
#
#   packaging/deb/build.sh                 # cargo build --release, then package it
#   packaging/deb/build.sh --binary PATH   # package an already built binary
#   packaging/deb/build.sh --out DIR       # where the .deb goes (default target/debian)
#
# Needs only dpkg-deb (always on Debian) and objdump (binutils) to compute the glibc
# dependency. Prints the path of the .deb.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
binary=
out="$top/target/debian"
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "build.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [ -z "$binary" ]; then
  (cd "$top" && cargo build --release --quiet)
  binary="$top/target/release/hostfix"
fi
[ -x "$binary" ] || { echo "build.sh: $binary is not an executable" >&2; exit 2; }

version=$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$top/Cargo.toml" | head -n 1)
arch=$(dpkg --print-architecture)
# The newest GLIBC_x.y symbol version the binary needs is its libc6 dependency.
glibc=$(objdump -T "$binary" | sed -n 's/.*GLIBC_\([0-9.]*\).*/\1/p' | sort -t. -k1,1n -k2,2n | tail -n 1)

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
install -D -m 0755 "$binary" "$stage/usr/bin/hostfix"
strip --strip-unneeded "$stage/usr/bin/hostfix" 2>/dev/null || true
install -d "$stage/usr/share/doc/hostfix" "$stage/DEBIAN"
cat > "$stage/usr/share/doc/hostfix/copyright" <<COPY
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: hostfix

Files: *
License: MIT or Apache-2.0
COPY
size=$(du -sk "$stage/usr" | cut -f1)
cat > "$stage/DEBIAN/control" <<CONTROL
Package: hostfix
Version: $version
Architecture: $arch
Maintainer: hostfix developers <hostfix@localhost>
Installed-Size: $size
Depends: libc6 (>= ${glibc:-2.17})
Section: admin
Priority: optional
Description: idempotent, risk-ranked fixes for Linux hosts
 hostfix creates and persists swap files, finds and frees the processes,
 units and packages holding a port, checks memory and disk thresholds and
 reboots only when needed and when its guard allows. Every command plans
 its steps least risky first; see hostfix --help.
CONTROL
mkdir -p "$out"
deb="$out/hostfix_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"
