# Flavour trixie-podman: Debian 13 with systemd and Podman instead of Docker (podman, conmon,
# crun; no Docker engine, no docker-proxy), the distro nginx on :80, sshd, sudo and busybox.
# No cloud-init. See bookworm.sh for the variables.
suite=trixie
include=systemd-sysv,dbus,linux-image-cloud-amd64,nginx,iproute2,procps,kmod,udev,openssh-server,ca-certificates
packages="podman conmon crun catatonit netavark aardvark-dns apparmor busybox-static curl sudo"
init=systemd
services="nginx ssh"
