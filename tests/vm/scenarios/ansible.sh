# Real Ansible: the test runs ansible-playbook on this machine against the guest, over SSH
# through a qemu user-network forward. This script only makes the guest reachable (the NIC
# qemu gives it, the test's public key for root) and then waits: at the first boot for the
# reboot the playbook asks for, at the second for the test to say it is done (it creates
# /run/hostfix-scenario/done over SSH). The assertions read the host over SSH.
. "$SCENARIO_DIR/lib.sh"

# qemu's user network: the guest is 10.0.2.15, the host side 10.0.2.2 (restrict=on: only
# the forwarded port reaches in, nothing gets out).
nic=
for d in /sys/class/net/*; do
  if [ -e "$d/device" ]; then
    nic=${d##*/}
    break
  fi
done
result nic "$nic"
ip link set "$nic" up
ip addr add 10.0.2.15/24 dev "$nic"
ip route add default via 10.0.2.2
install -d -m 0700 /root/.ssh
install -m 0600 "$SCENARIO_DIR/authorized_keys" /root/.ssh/authorized_keys

if [ "$SCENARIO_BOOT" = 1 ]; then
  # The incident host's image brought a kernel update: it needs one reboot.
  echo '*** System restart required ***' >/run/reboot-required
fi
result "ready-$SCENARIO_BOOT" "$(cut -d' ' -f1 /proc/uptime)"

i=0
while [ ! -e /run/hostfix-scenario/done ] && [ "$i" -lt 1200 ]; do
  sleep 1
  i=$((i + 1))
done
result "done-$SCENARIO_BOOT" "$i"
