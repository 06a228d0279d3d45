# A host without systemd (Debian 12, sysvinit-core as PID 1, no journal), proved with a real
# reboot. Boot 1: nginx from its init script holds :80 (`port who` names the script);
# `hostfix port free 80` disables and
# stops it through update-rc.d and service (a second run changes nothing); `swap ensure`
# persists through fstab; doctor names the init and says there is no journal; `hostfix
# reboot` reboots through the host's own shutdown. Boot 2 (hostfix did not run before the
# checks): :80 still free, nginx still disabled, the swap file active from fstab; the first
# `hostfix reboot` of this boot confirms the reboot; every operation again changes nothing.
. "$SCENARIO_DIR/lib.sh"

rc_links() {
  find /etc/rc0.d /etc/rc1.d /etc/rc2.d /etc/rc3.d /etc/rc4.d /etc/rc5.d /etc/rc6.d \
    -name '[SK][0-9][0-9]nginx' | sort
}

case "$SCENARIO_BOOT" in
1)
  result pid1 "$(cat /proc/1/comm)"
  result init "$(if has_systemd; then echo systemd; else echo sysv; fi)"
  result journal-dirs "$(ls -d /run/log/journal /var/log/journal 2>/dev/null || true)"
  result nginx-1 "$(svc_state nginx)"
  block listeners-1 listeners
  block rc-links-1 rc_links
  hf port-who port who 80
  block port-who-text "$HOSTFIX" port who 80
  hf port-free-dry --dry-run port free 80
  block listeners-dry listeners
  hf port-free port free 80 || true
  block listeners-2 listeners
  result nginx-2 "$(svc_state nginx)"
  block rc-links-2 rc_links
  block disabled-record cat /var/lib/hostfix/disabled-services.json || true
  hf port-free-again port free 80 || true
  block fstab-before cat /etc/fstab
  hf swap-ensure swap ensure --size 256M --path /swapfile --persist fstab || true
  block swaps-1 cat /proc/swaps
  block fstab-1 cat /etc/fstab
  hf doctor-1 doctor || true
  block doctor-text "$HOSTFIX" doctor || true
  # The reboot: through the host's own shutdown. This script (and the runner) are ended by
  # the shutdown; a TERM is not a failure of the scenario.
  trap 'exit 0' TERM
  result reboot-at-uptime "$(cut -d' ' -f1 /proc/uptime)"
  hf reboot reboot --reason sysv-scenario || true
  sleep 120
  fail "still up 120 s after hostfix reboot"
  ;;
2)
  # First, before hostfix runs: what the boot itself brought up.
  block swaps-2 cat /proc/swaps
  block listeners-3 listeners
  result nginx-3 "$(svc_state nginx)"
  block rc-links-3 rc_links
  result hostfix-on-root-disk "$(find / -xdev -type f -name hostfix 2>/dev/null)"
  # The guard's confirmation: the cap keeps a second reboot from happening here.
  hf reboot-confirm --max-risk additive reboot --if-needed || true
  hf port-free-boot2 port free 80 || true
  hf swap-ensure-again swap ensure --size 256M --path /swapfile --persist fstab || true
  block fstab-2 cat /etc/fstab
  hf doctor-2 doctor || true
  ;;
*)
  fail "unexpected boot $SCENARIO_BOOT"
  ;;
esac
