#!/bin/bash
# Builds a scenario guest of one flavour (flavours/FLAVOUR.sh says which Debian release,
# init, engine and services; see flavours/bookworm.sh), plus the scenario runner. Every
# input of this recipe lives in this directory; the harness hashes this script, rootfs/ and
# the flavour's own files (flavours/FLAVOUR.sh, flavours/FLAVOUR/) to key its image cache,
# so any edit of them builds a new image of that flavour (and only of that flavour, when
# the edit is in its own files).
#
# Usage: build-rootfs.sh OUTDIR MIRROR [FLAVOUR]
#   writes OUTDIR/base.img (raw ext4, the guest's /dev/vda), OUTDIR/vmlinuz and
#   OUTDIR/initrd.img. MIRROR is a Debian mirror URL taken from the host's apt sources.
#   FLAVOUR defaults to bookworm.
set -euo pipefail

out=$1
mirror=$2
flavour=${3:-bookworm}
here=$(cd "$(dirname "$0")" && pwd)
rootfs=$out/rootfs
# The guest disk: room for the system (about 1.2 GB), Docker's layers and a 1 GiB swap file.
disk_size=4G

step() { printf '== %s: %s\n' "$(date +%T)" "$*"; }

case $flavour in
*/* | .* | '') echo "build-rootfs.sh: bad flavour '$flavour'" >&2 && exit 2 ;;
esac
if [ ! -f "$here/flavours/$flavour.sh" ]; then
  echo "build-rootfs.sh: no flavour '$flavour' (flavours/*.sh)" >&2
  exit 2
fi
suite= include= packages= init= services=
# shellcheck source=/dev/null
. "$here/flavours/$flavour.sh"

step "debootstrap $suite ($flavour)"
debootstrap --variant=minbase --include="$include" \
  "$suite" "$rootfs" "$mirror" >"$out/debootstrap.log" 2>&1 || {
  tail -n 40 "$out/debootstrap.log"
  tail -n 40 "$rootfs/debootstrap/debootstrap.log" 2>/dev/null || true
  exit 1
}

# Nothing may start inside the build chroot.
printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
chmod 0755 "$rootfs/usr/sbin/policy-rc.d"

step "apt-get install $packages"
# shellcheck disable=SC2086 # a list of package names
chroot "$rootfs" env DEBIAN_FRONTEND=noninteractive LC_ALL=C \
  apt-get install -y -q --no-install-recommends $packages \
  >"$out/apt.log" 2>&1 || {
  tail -n 40 "$out/apt.log"
  exit 1
}
chroot "$rootfs" apt-get clean
rm -f "$rootfs/usr/sbin/policy-rc.d"

step "configure ($init)"
# The recipe's own files: fstab, hostname, the scenario unit and its runner; then the
# flavour's own (the sysvinit guests' init script).
cp -a "$here/rootfs/." "$rootfs/"
if [ -d "$here/flavours/$flavour/rootfs" ]; then
  cp -a "$here/flavours/$flavour/rootfs/." "$rootfs/"
fi
mkdir -p "$rootfs/var/lib/hostfix-scenario"
# A throwaway guest without network: an empty root password helps when debugging by hand.
chroot "$rootfs" passwd -dq root
case $init in
systemd)
  mkdir -p "$rootfs/var/log/journal"
  for s in $services hostfix-scenario; do
    chroot "$rootfs" systemctl enable -q "$s.service"
  done
  # Timers that would only add noise (and I/O) to a short-lived guest.
  chroot "$rootfs" systemctl mask -q apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer \
    fstrim.timer man-db.timer dpkg-db-backup.timer 2>/dev/null || true
  # Every guest is a copy of this image and so shares its machine id; they never meet.
  test -s "$rootfs/etc/machine-id"
  ;;
sysv)
  # PID 1 is sysvinit's init (a symlink into systemd would mean systemd-sysv came in).
  case $(readlink "$rootfs/sbin/init" || true) in
  *systemd*)
    echo "build-rootfs.sh: flavour $flavour: /sbin/init is systemd's" >&2
    exit 1
    ;;
  esac
  chroot "$rootfs" dpkg-query -W -f='${db:Status-Abbrev}\n' sysvinit-core | grep -q '^ii'
  for s in $services hostfix-scenario; do
    chroot "$rootfs" update-rc.d "$s" defaults >/dev/null
    chroot "$rootfs" update-rc.d "$s" enable >/dev/null
  done
  ;;
*)
  echo "build-rootfs.sh: flavour $flavour: unknown init '$init'" >&2
  exit 1
  ;;
esac

step "kernel and initrd"
cp "$(ls "$rootfs"/boot/vmlinuz-* | sort -V | tail -n 1)" "$out/vmlinuz"
cp "$(ls "$rootfs"/boot/initrd.img-* | sort -V | tail -n 1)" "$out/initrd.img"

step "mkfs.ext4 -d ($(du -sh "$rootfs" | cut -f1))"
mkfs.ext4 -q -F -d "$rootfs" -L root "$out/base.img" "$disk_size"
rm -rf --one-file-system "$rootfs"
step "done"
