# Scenario 2, persistence: a swap file made by hostfix is active again after a real reboot,
# from fstab alone (hostfix does not run on the second boot before the checks), and fstab
# keeps exactly one line for it.
. "$SCENARIO_DIR/lib.sh"

case "$SCENARIO_BOOT" in
1)
  block fstab-before cat /etc/fstab
  hf swap-ensure swap ensure --size 512M --path /swapfile --persist fstab
  block swaps-1 cat /proc/swaps
  block fstab-1 cat /etc/fstab
  request_reboot
  ;;
2)
  # First, before anything else: what systemd activated at boot.
  block swaps-2 cat /proc/swaps
  result swap-unit "$(systemctl show -p ActiveState --value swapfile.swap)"
  result swap-unit-source "$(systemctl show -p SourcePath --value swapfile.swap)"
  # The binary lives only on the handoff disk: nothing on the root disk could have run it.
  result hostfix-on-root-disk "$(find / -xdev -type f -name hostfix 2>/dev/null)"
  block fstab-2 cat /etc/fstab
  hf swap-ensure-again swap ensure --size 512M --path /swapfile --persist fstab
  block fstab-3 cat /etc/fstab
  block swaps-3 cat /proc/swaps
  ;;
*)
  fail "unexpected boot $SCENARIO_BOOT"
  ;;
esac
