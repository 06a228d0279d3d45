# Scenario 3, the reboot guard. A reboot need that comes back at every boot (like a package
# that always wants one), and `hostfix reboot --if-needed --once provision-v1` in a unit
# that runs at every boot, as cloud-init would run it. The guest must reboot exactly once.
# Then a unit with no --once (it would reboot at every boot, forever) is stopped by
# --min-uptime; and the same command without that guard does reboot.
#
# Boots: 1 installs the units and reboots (the runner's reboot); 2: the unit reboots the
# guest (the runner never gets to run); 3: the unit refuses, the loop unit is installed,
# power off; then a second qemu run with -no-reboot: 4: both units refuse at boot; the
# unguarded command reboots the guest, which ends qemu. The stage is told by how often the
# provisioning unit has run (its log on the root disk), not by the runner's boot counter:
# the runner does not run on a boot the unit reboots.
. "$SCENARIO_DIR/lib.sh"

d=/var/lib/hostfix-scenario/at-boot

collect() {
  block at-boot-log cat "$d/log"
  for f in "$d"/*.json; do
    [ -e "$f" ] || continue
    b=$(basename "$f" .json)
    block "at-boot.$b" cat "$f"
    block "at-boot.$b.trail" cat "$d/$b.err"
  done
  block journal-boots journalctl --list-boots --no-pager -q
  # Diagnostics only.
  block ledger sh -c 'ls -lR /var/lib/hostfix; for f in $(find /var/lib/hostfix -type f); do echo "== $f"; cat "$f"; echo; done' || true
  result reboot-required "$(ls /run/reboot-required 2>&1)"
}

# No log yet (the first boot): none.
provision_runs=$(grep -c ' provision start' "$d/log" 2>/dev/null) || true
result provision-runs "${provision_runs:-0}"
case "${provision_runs:-0}" in
0)
  install -m 0755 "$HOSTFIX" /usr/local/bin/hostfix
  mkdir -p "$d"
  cat >/usr/local/sbin/hostfix-at-boot <<'SH'
#!/bin/sh
# hostfix-at-boot NAME ARGS...: runs hostfix at boot and keeps what it said on the root disk.
name=$1
shift
id=$(cat /proc/sys/kernel/random/boot_id)
d=/var/lib/hostfix-scenario/at-boot
echo "$id $name start uptime=$(cut -d' ' -f1 /proc/uptime)" >>"$d/log"
sync
/usr/local/bin/hostfix --json -v "$@" >"$d/$id.$name.json" 2>"$d/$id.$name.err"
echo "$id $name rc=$?" >>"$d/log"
sync
SH
  chmod 0755 /usr/local/sbin/hostfix-at-boot
  cat >/etc/systemd/system/reboot-need.service <<'UNIT'
[Unit]
Description=A reboot need at every boot (like a package that always wants one)
DefaultDependencies=no
After=local-fs.target
Before=sysinit.target

[Service]
Type=oneshot
ExecStart=/bin/sh -c 'echo hostfix-test >/run/reboot-required.pkgs; echo "*** System restart required ***" >/run/reboot-required'

[Install]
WantedBy=sysinit.target
UNIT
  cat >/etc/systemd/system/hostfix-provision.service <<'UNIT'
[Unit]
Description=Provisioning: reboot once if needed (as cloud-init would run it at every boot)
After=reboot-need.service docker.service nginx.service

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/hostfix-at-boot provision reboot --if-needed --once provision-v1

[Install]
WantedBy=multi-user.target
UNIT
  systemctl daemon-reload
  systemctl enable -q reboot-need.service hostfix-provision.service
  block enabled systemctl is-enabled reboot-need.service hostfix-provision.service
  request_reboot
  ;;
1)
  # The provisioning unit should have rebooted the guest before this runner got here.
  collect
  fail "the runner ran on the boot the provisioning unit should have rebooted"
  ;;
2)
  collect
  # A unit that would reboot at every boot, forever: the need never goes away. Its own
  # state dir, so that only --min-uptime can stop it.
  cat >/etc/systemd/system/hostfix-loop.service <<'UNIT'
[Unit]
Description=Reboot if needed, guarded only by --min-uptime
After=hostfix-provision.service

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/hostfix-at-boot loop reboot --if-needed --min-uptime 10m --state-dir /var/lib/hostfix-loop

[Install]
WantedBy=multi-user.target
UNIT
  systemctl daemon-reload
  systemctl enable -q hostfix-loop.service
  ;;
3)
  collect
  result uptime "$(cut -d' ' -f1 /proc/uptime)"
  # The same command without the guard, with a fresh state dir (no ledger, so no other
  # rule applies): it reboots, which ends this qemu run (-no-reboot).
  result unguarded "starting"
  hf unguarded reboot --if-needed --state-dir /var/lib/hostfix-unguarded
  sleep 60
  fail "still up 60 s after the unguarded reboot"
  ;;
*)
  collect
  fail "the provisioning unit ran $provision_runs times"
  ;;
esac
