# Real cloud-init: the incident host fixed at first boot by examples/cloud-init/user-data.yaml
# on a NoCloud seed disk (with hostfix.deb). cloud-init installs hostfix from the seed and
# runs it; hostfix asks for one reboot. This script only watches: at every boot it waits for
# cloud-init to finish and records what it left; at the first it then waits for the reboot
# hostfix scheduled (the shutdown ends this script); at the second it proves the port is
# free for the container and removes the package.
. "$SCENARIO_DIR/lib.sh"

b=$SCENARIO_BOOT
# `status --wait` prints a dot a second while it waits, and returns as soon as a stage
# failed; cloud-init has finished when result.json is there.
cloud-init status --wait >/dev/null 2>&1 || true # a failed stage is judged by the harness
i=0
while [ ! -e /run/cloud-init/result.json ] && [ "$i" -lt 300 ]; do
  sleep 1
  i=$((i + 1))
done
result "ci-finished-$b" "$(cut -d' ' -f1 /proc/uptime)"
# What cloud-init says and left; its failures are facts the harness judges.
block "ci-status-$b" cloud-init status --long || true
block "ci-result-$b" cat /run/cloud-init/result.json || true
block "ci-log-$b" sh -c 'grep -E "WARNING|ERROR|Traceback" /var/log/cloud-init.log | tail -n 40'
block "ci-output-$b" tail -n 60 /var/log/cloud-init-output.log || true
block "swaps-$b" cat /proc/swaps
block "fstab-$b" cat /etc/fstab
block "listeners-$b" listeners
for p in hostfix nginx nginx-light nginx-common; do
  result "pkg-$b.$p" "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null)"
done
result "nginx-active-$b" "$(systemctl is-active nginx.service)"
result "hostfix-path-$b" "$(command -v hostfix)"
block "ledger-$b" cat /var/lib/hostfix/reboot-ledger.json || true # judged
block "journal-boots-$b" journalctl --list-boots --no-pager -q
result "hostname-$b" "$(hostname)"

if [ "$b" = 1 ]; then
  block timers systemctl list-timers --all --no-pager --no-legend 'hostfix-reboot*'
  result waiting-for-reboot "$(cut -d' ' -f1 /proc/uptime)"
  # hostfix's timer reboots the guest within 30 s of its run; the shutdown stops this
  # script. If no reboot comes, the runner powers off and the test fails on the boot count.
  i=0
  while [ "$i" -lt 120 ]; do
    sleep 1
    i=$((i + 1))
  done
  result no-reboot-after-s "$i"
  fail "no reboot came within $i s of hostfix's run"
fi

# The container the incident was about gets :80 now.
make_busybox_image
mkdir -p /srv/www
token="hostfix-cloud-init-$(cat /proc/sys/kernel/random/uuid)"
echo "$token" >/srv/www/index.html
result token "$token"
block web-run docker run -d -p 80:80 -v /srv/www:/www:ro --name web local/busybox:1 \
  httpd -f -p 80 -h /www
wait_listening 80 30
block listeners-web listeners
http_get web-http http://127.0.0.1/
docker rm -f web >/dev/null

# The package comes off as cleanly as it went on.
block apt-remove env DEBIAN_FRONTEND=noninteractive apt-get remove -y hostfix
result pkg-removed "$(dpkg-query -W -f='${db:Status-Abbrev}' hostfix 2>/dev/null)"
result bin-removed "$(ls /usr/bin/hostfix 2>&1)"
block doc-removed sh -c 'ls /usr/share/doc/hostfix 2>&1' || true # gone: ls fails, judged

# The facts are gathered; the test judges them.
exit 0
