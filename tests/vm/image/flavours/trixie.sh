# Flavour trixie: Debian 13 (systemd 257, cgroup v2 only, apt 3, /usr merged) with the same
# services as bookworm: the distro nginx on :80 (trixie has no nginx-light: the package is
# nginx), Docker (its client is the package docker-cli on trixie, only recommended by
# docker.io), sshd, sudo, busybox and cloud-init. See bookworm.sh for the variables.
suite=trixie
include=systemd-sysv,dbus,linux-image-cloud-amd64,nginx,iproute2,procps,kmod,udev,openssh-server,ca-certificates
packages="docker.io docker-cli apparmor busybox-static curl cloud-init sudo"
init=systemd
services="nginx docker ssh"
