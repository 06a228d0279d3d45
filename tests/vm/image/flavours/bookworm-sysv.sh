# Flavour bookworm-sysv: Debian 12 with sysvinit-core as PID 1 (no systemd running, so no
# journal and no systemctl), the distro nginx on :80 and sshd, both from their init scripts.
# No Docker and no cloud-init: the scenarios on this guest are about the init system (a
# service stopped and disabled through its init script, fstab, an orderly reboot through
# shutdown), and a smaller image builds faster. ifupdown brings up the loopback (without
# systemd nothing else does: requests to 127.0.0.1 would fail). See bookworm.sh for the variables.
suite=bookworm
include=sysvinit-core,linux-image-cloud-amd64,nginx-light,iproute2,procps,kmod,udev,openssh-server,ca-certificates
packages="ifupdown busybox-static curl sudo"
init=sysv
services="nginx ssh"
