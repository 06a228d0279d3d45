#!/bin/bash
# Builds the scenario guest: Debian bookworm with systemd, the distro nginx on :80, Docker,
# sshd, sudo, busybox and Debian's cloud-init (NoCloud only, and off unless the harness
# boots the guest without cloud-init=disabled), plus the scenario runner. Every input of
# this recipe lives in this directory; the harness hashes the directory to key its image
# cache, so any edit here builds a new image.
#
# Usage: build-rootfs.sh OUTDIR MIRROR
#   writes OUTDIR/base.img (raw ext4, the guest's /dev/vda), OUTDIR/vmlinuz and
#   OUTDIR/initrd.img. MIRROR is a Debian mirror URL taken from the host's apt sources.
set -euo pipefail

out=$1
mirror=$2
here=$(cd "$(dirname "$0")" && pwd)
rootfs=$out/rootfs
suite=bookworm
# The guest disk: room for the system (about 1.2 GB), Docker's layers and a 1 GiB swap file.
disk_size=4G

step() { printf '== %s: %s\n' "$(date +%T)" "$*"; }

step "debootstrap $suite"
debootstrap --variant=minbase \
  --include=systemd-sysv,dbus,linux-image-cloud-amd64,nginx-light,iproute2,procps,kmod,udev,openssh-server,ca-certificates \
  "$suite" "$rootfs" "$mirror" >"$out/debootstrap.log" 2>&1 || {
  tail -n 40 "$out/debootstrap.log"
  tail -n 40 "$rootfs/debootstrap/debootstrap.log" 2>/dev/null || true
  exit 1
}

# Nothing may start inside the build chroot.
printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
chmod 0755 "$rootfs/usr/sbin/policy-rc.d"

step "apt-get install docker.io apparmor busybox-static curl cloud-init sudo"
chroot "$rootfs" env DEBIAN_FRONTEND=noninteractive LC_ALL=C \
  apt-get install -y -q --no-install-recommends docker.io apparmor busybox-static curl \
  cloud-init sudo \
  >"$out/apt.log" 2>&1 || {
  tail -n 40 "$out/apt.log"
  exit 1
}
chroot "$rootfs" apt-get clean
rm -f "$rootfs/usr/sbin/policy-rc.d"

step "configure"
# The recipe's own files: fstab, hostname, the scenario unit and its runner.
cp -a "$here/rootfs/." "$rootfs/"
mkdir -p "$rootfs/var/log/journal" "$rootfs/var/lib/hostfix-scenario"
# A throwaway guest without network: an empty root password helps when debugging by hand.
chroot "$rootfs" passwd -dq root
chroot "$rootfs" systemctl enable -q nginx.service docker.service ssh.service hostfix-scenario.service
# Timers that would only add noise (and I/O) to a short-lived guest.
chroot "$rootfs" systemctl mask -q apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer \
  fstrim.timer man-db.timer dpkg-db-backup.timer 2>/dev/null || true
# Every guest is a copy of this image and so shares its machine id; they never meet.
test -s "$rootfs/etc/machine-id"

step "kernel and initrd"
cp "$(ls "$rootfs"/boot/vmlinuz-* | sort -V | tail -n 1)" "$out/vmlinuz"
cp "$(ls "$rootfs"/boot/initrd.img-* | sort -V | tail -n 1)" "$out/initrd.img"

step "mkfs.ext4 -d ($(du -sh "$rootfs" | cut -f1))"
mkfs.ext4 -q -F -d "$rootfs" -L root "$out/base.img" "$disk_size"
rm -rf --one-file-system "$rootfs"
step "done"
