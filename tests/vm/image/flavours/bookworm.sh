# Flavour bookworm: Debian 12 with systemd as PID 1, the distro nginx (nginx-light) on :80,
# Docker, sshd, sudo, busybox and Debian's cloud-init. The guest every scenario boots unless
# it asks for another flavour. Sourced by build-rootfs.sh; sets:
#   suite     the Debian release debootstrap installs
#   include   debootstrap --include (the init and what must be there from the start)
#   packages  what apt-get installs in the chroot afterwards (--no-install-recommends)
#   init      systemd or sysv: how the recipe enables services and the scenario runner
#   services  the services enabled at boot (besides the scenario runner)
suite=bookworm
include=systemd-sysv,dbus,linux-image-cloud-amd64,nginx-light,iproute2,procps,kmod,udev,openssh-server,ca-certificates
packages="docker.io apparmor busybox-static curl cloud-init sudo"
init=systemd
services="nginx docker ssh"
