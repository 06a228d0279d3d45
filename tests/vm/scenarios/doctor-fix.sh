# Scenario: the incident host (INCIDENT.md), broken all at once, repaired by `doctor --fix`
# alone. The distro nginx holds :80, so a container `web` (meant to run: restart policy
# unless-stopped) is created but cannot bind it; a memory hog in a container `hog` is
# OOM-killed on the 512 MiB guest with no swap; memory is nearly gone (tmpfs pages); a
# container `stuck-d` has its process in D (writing to a loop ext4 frozen with fsfreeze,
# VM-NOTES.md), with the kernel's hung-task report.
#
# Boot 1: doctor (text and JSON) names each along the request's path. At the default cap
# doctor --fix makes swap and stops at the port; a dry run at destructive shows the rest;
# the real run at destructive --remove-package frees :80 (package removed), starts web, its
# request reaches web, and it stops at the stuck container naming the reboot rung (exit 3);
# then at --max-risk reboot it reboots the guest once through the guard.
# Boot 2 (the runner runs this script again after the boot; the phase is on the root disk):
# swap and web are back by themselves; doctor --fix at reboot finishes the removal the
# reboot was for; a last run changes nothing.
. "$SCENARIO_DIR/lib.sh"

STATE=/var/lib/hostfix-scenario
work=$STATE/doctor-fix
mkdir -p "$work"
phase_file=$STATE/doctor-fix.phase
FROZEN_IMG=$STATE/doctor-fix-frozen.img
FROZEN=/mnt/hostfix-frozen
IMAGE=local/busybox:1
FIX=(doctor --fix --max-risk destructive --remove-package)
FIX_REBOOT=(doctor --fix --max-risk reboot --remove-package)

phase=$(cat "$phase_file" 2>/dev/null || true)
result phase "${phase:-start}"
result boot-id "$(cat /proc/sys/kernel/random/boot_id)"

# timed NAME CMD...: block NAME CMD, and NAME.seconds (wall time).
timed() {
  _n=$1
  shift
  _t0=$(date +%s)
  _trc=0
  block "$_n" "$@" || _trc=$?
  result "$_n.seconds" $(($(date +%s) - _t0))
  return "$_trc"
}

# Waits up to $2 seconds until `dmesg` has a line matching $1; false when none comes.
wait_kmsg() {
  _i=0
  while [ "$_i" -lt "$2" ]; do
    if dmesg | grep -E "$1" >/dev/null; then
      return 0
    fi
    sleep 1
    _i=$((_i + 1))
  done
  return 1
}

state_of() {
  docker inspect -f '{{.State.Status}}' "$1" 2>&1 || true
}

# ----------------------------------------------------------------------------------------
# The broken host.
break_host() {
  wait_docker
  mkdir -p /srv/www
  token="hostfix-doctor-fix-$(cat /proc/sys/kernel/random/uuid)"
  echo "$token" >/srv/www/index.html
  echo "$token" >"$work/token"
  result token "$token"
  make_busybox_image
  installed_packages >"$work/packages.before"
  # For this boot only: short stop timeouts, so the shutdown around the reboot does not
  # wait minutes on the process stuck in D; and a hung-task report after 10 s, not 120 s.
  mkdir -p /run/systemd/system.conf.d
  printf '[Manager]\nDefaultTimeoutStopSec=5s\n' >/run/systemd/system.conf.d/hostfix-scenario.conf
  systemctl daemon-reexec
  if [ -w /proc/sys/kernel/hung_task_timeout_secs ]; then
    echo 10 >/proc/sys/kernel/hung_task_timeout_secs
    result hung-task-timeout 10
  else
    result hung-task-timeout none
  fi

  # web: meant to run, kept from :80 by the distro nginx.
  block web-run docker run -d -p 80:80 -v /srv/www:/www:ro --restart unless-stopped \
    --name web "$IMAGE" httpd -f -p 80 -h /www || true # fails: nginx holds :80
  result web-state-before "$(state_of web)"

  # stuck-d: a writer in D on a frozen ext4.
  rm -f "$FROZEN_IMG"
  truncate -s 64M "$FROZEN_IMG"
  mkfs.ext4 -q -F "$FROZEN_IMG"
  mkdir -p "$FROZEN"
  mount -o loop "$FROZEN_IMG" "$FROZEN"
  docker run -d --name stuck-d -v "$FROZEN:/data" "$IMAGE" \
    sh -c 'while :; do echo x > /data/f; done' >/dev/null
  docker inspect -f '{{.Id}}' stuck-d >"$work/d.id"
  result d.id "$(cat "$work/d.id")"
  sleep 2
  fsfreeze -f "$FROZEN"
  d_pid=$(docker inspect -f '{{.State.Pid}}' stuck-d)
  result d.pid "$d_pid"
  wait_d "$d_pid" 30 || true # d-state is judged by the harness
  result d-state "$(pstate "$d_pid")"

  # No swap, and a hog that asks for more memory than the guest has left: the kernel's
  # OOM killer kills it (dd's one 400 MiB buffer, filled from /dev/zero).
  block swaps-before cat /proc/swaps
  docker run -d --name hog "$IMAGE" busybox dd if=/dev/zero of=/dev/null bs=400M count=1 >/dev/null
  block hog-wait timeout 300 docker wait hog || true # its exit code, judged
  # The engine says so a moment later.
  _i=0
  while [ "$_i" -lt 60 ] && [ "$(state_of hog)" = running ]; do
    sleep 1
    _i=$((_i + 1))
  done
  result hog.state "$(state_of hog)"
  result hog.oom-killed "$(docker inspect -f '{{.State.OOMKilled}}' hog 2>&1 || true)"
  result hog.id "$(docker inspect -f '{{.Id}}' hog 2>&1 || true)"
  block oom-kmsg sh -c 'dmesg | grep -E "Killed process|oom-kill:" || true'
  # The hung-task report comes within two timeouts of the writer entering D.
  if wait_kmsg "blocked for more than" 40; then
    result hung-report yes
  else
    result hung-report no
  fi
  block hung-kmsg sh -c 'dmesg | grep -E "blocked for more than" || true'
  # Memory nearly gone (tmpfs pages, which nothing can reclaim without swap).
  eat_memory 14
  result d-state-at-doctor "$(pstate "$d_pid")"
}

# ----------------------------------------------------------------------------------------
boot_one() {
  break_host

  # doctor: each problem along the request's path, as a person reads it and as JSON.
  timed doctor-text "$HOSTFIX" doctor || true
  hf doctor-before doctor || true

  # The default cap (additive): the swap, then a stop at the port (exit 3, judged).
  hf fix-additive doctor --fix || true
  block swaps-additive cat /proc/swaps
  # The rest of the sequence, shown and not taken.
  hf fix-dry --dry-run "${FIX[@]}" || true
  result nginx-active-after-dry "$(systemctl is-active nginx.service || true)"
  # The rest, taken (as a person sees it): :80 freed, web started, a stop at stuck-d.
  timed fix-text "$HOSTFIX" "${FIX[@]}" || true
  block swaps-after cat /proc/swaps
  result nginx-active "$(systemctl is-active nginx.service || true)"
  result web-state "$(state_of web)"
  http_get web-http http://127.0.0.1/
  installed_packages >"$work/packages.after"
  block packages-removed comm -23 "$work/packages.before" "$work/packages.after"
  # The same cap again, as JSON: nothing left below it; the stop names the reboot rung.
  hf fix-stop "${FIX[@]}" || true
  result d-state-before-reboot "$(pstate "$(docker inspect -f '{{.State.Pid}}' stuck-d)")"

  # The reboot rung, through the guard. The phase is written first: the runner runs this
  # script again after the boot, and it finishes there.
  echo rebooting >"$phase_file"
  sync
  # Let the shutdown get past the frozen filesystem (hostfix still sees the writer in D).
  umount -l "$FROZEN" 2>/dev/null || true
  # The reboot stops this unit, maybe before hostfix printed its report: hostfix ignores
  # that SIGTERM (inherited SIG_IGN), so its report on the root disk is whole; boot 2
  # prints it.
  rc=0
  (
    trap '' TERM
    exec "$HOSTFIX" --json -v "${FIX_REBOOT[@]}"
  ) >"$work/fix-reboot.json" 2>"$work/fix-reboot.err" || rc=$?
  echo "$rc" >"$work/fix-reboot.rc"
  sync
  result fix-reboot.exit-seen "$rc"
  # Stay until the shutdown stops this script, so the runner never powers off instead.
  _i=0
  while [ "$_i" -lt 120 ]; do
    if [ "$(systemctl is-system-running 2>/dev/null || true)" = stopping ]; then
      sleep 600
    fi
    sleep 1
    _i=$((_i + 1))
  done
  echo done >"$phase_file"
  block fix-reboot cat "$work/fix-reboot.json"
  block fix-reboot.trail cat "$work/fix-reboot.err"
  fsfreeze -u "$FROZEN" 2>/dev/null || true
  docker rm -f web stuck-d hog >/dev/null 2>&1 || true
  fail "doctor --fix at the reboot cap asked for no reboot within 120 s (exit $rc)"
}

# ----------------------------------------------------------------------------------------
after_boot() {
  echo done >"$phase_file"
  wait_docker
  result token "$(cat "$work/token")"
  result d.id "$(cat "$work/d.id")"
  # What the run before the reboot left (its report, kept on the root disk).
  block fix-reboot cat "$work/fix-reboot.json" || true
  block fix-reboot.trail cat "$work/fix-reboot.err" || true
  result fix-reboot.rc "$(cat "$work/fix-reboot.rc" 2>/dev/null || echo none)"
  block guard-ledger cat /var/lib/hostfix/reboot-ledger.json || true
  block journal-boots journalctl --list-boots --no-pager -q
  # Back by themselves: the swap (fstab) and web (its restart policy, :80 free now).
  block swaps-boot2 cat /proc/swaps
  wait_listening 80 60 || true # judged by web-http-boot2
  result web-state-boot2 "$(state_of web)"
  result d-state-boot2 "$(state_of stuck-d)"
  # The run after the boot finishes the job; one more changes nothing.
  hf fix-after-boot "${FIX_REBOOT[@]}" || true
  result d-listed-after "$(docker ps -a -q --no-trunc --filter "id=$(cat "$work/d.id")")"
  block swaps-final cat /proc/swaps
  http_get web-http-boot2 http://127.0.0.1/ || true # judged
  block records-after sh -c 'ls /var/lib/hostfix/container 2>/dev/null || true'
  hf fix-again "${FIX_REBOOT[@]}" || true
  block guard-ledger-final cat /var/lib/hostfix/reboot-ledger.json || true

  # Not part of the scenario: a busybox httpd ignores SIGTERM, so the poweroff would wait
  # for Docker to time out stopping it.
  docker rm -f web hog >/dev/null 2>&1 || true
  rm -f "$FROZEN_IMG"
}

case "$phase" in
"") boot_one ;;
rebooting) after_boot ;;
*) result note "doctor-fix already ran to the end (phase $phase)" ;;
esac
