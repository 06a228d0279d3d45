#!/bin/bash
# VM scenario: `hostfix container rm`, the escalation ladder, against real Docker faults.
#
# Each fault of the incident's last step is made for real, and the ladder is run on it:
#   term   a container whose PID 1 ignores SIGTERM            -> ends at a signal rung (stop)
#   shim   a container whose containerd shim is SIGSTOPped,   -> refused at the default cap
#          so the engine never gets the exit event                 (next: kill-shim), then
#                                                                 ends at kill-shim
#   port   a container that cannot start: the distro nginx    -> doctor names the taken host
#          holds :80                                               port and `hostfix port ...`
#   d      a container whose process is in D, writing to an   -> every signal rung and the
#          ext4 frozen with fsfreeze (VM-NOTES.md)                 engine restart skipped; the
#                                                                 reboot rung refused below
#                                                                 the `reboot` cap; at the
#                                                                 cap the guest reboots once,
#                                                                 and the same command after
#                                                                 the boot removes it at the
#                                                                 first rung and reports the
#                                                                 confirmed reboot
#
# WHAT IT EXPECTS (guest side)
#   - A Debian (bookworm) guest booted by systemd with docker.io (dockerd, containerd, runc,
#     containerd-shim-runc-v2), busybox-static, procps (pgrep), util-linux (fsfreeze,
#     mount, losetup), e2fsprogs (mkfs.ext4), coreutils (timeout); the distro nginx
#     listening on :80 (for the port chain; without it the `port` part reports that).
#   - A local busybox image `local/busybox:1` (sh, sleep, echo, httpd). It is made here from
#     /bin/busybox with lib.sh's make_busybox_image when missing:
#     no registry, no network.
#   - HOSTFIX: path of the hostfix binary under test (required).
#   - RESULTS: a file or tty to write the results to (optional; default: stdout, which the
#     harness's runner already sends to the second serial port, /dev/ttyS1).
#   - SCENARIO_DIR: the folder holding the harness's lib.sh (optional; without it, the
#     lib.sh beside this script).
#   - Reboots must really happen (qemu without -no-reboot), and this script must run again
#     at the next boot (the runner's unit runs at every boot). It keeps its phase in
#     $STATE/container_ladder.phase on the root disk: "" (first run) -> "rebooting"
#     (hostfix asked the reboot guard) -> "done". On its first run it lowers systemd's stop
#     timeouts for this boot only (/run/systemd/system.conf.d) and detaches the frozen
#     filesystem lazily before the reboot, so the shutdown does not wait minutes on the
#     process stuck in D; neither changes what hostfix sees.
#   - Time (TCG, 2 vCPUs, measured): about 3.3 min in all: the first boot about 2.3 min (the
#     shim case waits out hung engine commands on purpose, 6 s each), the shutdown past
#     the process in D about 30 s, the second boot under 1 min.
#
# OUTPUT (lib.sh's format, parsed by tests/vm/results.rs)
#   "RESULT key=value" lines, and "BEGIN name"/"END name" blocks with hostfix's JSON
#   ("name.stderr" its -v trail, "RESULT name.exit=RC"). Facts only; the harness judges.
#
# WHAT THE HARNESS ASSERTS (tests/vm/container.rs; the blocks are hostfix --json reports)
#   boot 1:
#     term-rm          exit 0, changed true, removed_by "stop"; RESULT term.listed-after= "",
#                      term.pids-after= "" (no process in its cgroup, no shim)
#     term-again       exit 0, changed false, already_gone true
#     shim-state       "T" (the shim really is stopped)
#     shim-rm-capped   exit 3, next.rung "kill-shim", next.risk "destructive"; the stop,
#                      kill and rm-force steps "failed"; RESULT shim.alive-after-capped=yes
#     shim-rm          exit 0, removed_by "kill-shim" (the shim pid killed); RESULT
#                      shim.listed-after= "", shim.alive-after=no, shim.pids-after= ""
#     port-web-state   "created"; doctor-chain's first container finding names "web",
#                      "port 80" and its holder as the ports finding before it says it
#                      ("pid N nginx ..., unit nginx.service, package nginx ..."), fix
#                      "hostfix port free 80"
#     d-state          "D"; d-manual-rm.exit != 0 and its stderr says "did not receive an
#                      exit event" (the incident's own message)
#     doctor-chain     a finding "container stuck-d: no signal can end its processes",
#                      fix "hostfix container rm stuck-d --max-risk reboot" (risk reboot)
#     d-rm             (cap disruptive) exit 3, futility.kind "uninterruptible", the steps
#                      for stop, kill, rm -f, shim, engine restart "skipped" with
#                      "uninterruptible" in their detail, next.rung "reboot"
#     d-rm-destructive exit 3, the same, next.rung "reboot"
#     d-rm-reboot      exit 1 (error "rebooting": the reboot is requested, the container
#                      not gone yet), its last step (risk reboot) "done" with "systemctl
#                      reboot" and "once allow" in its detail (the shutdown stops this
#                      script before it prints the block: boot 2 prints the report kept on
#                      the root disk as d-rm-reboot-saved); exactly one kernel restart.
#                      (A build whose gate refuses, NoRebootGate: exit 3, the step
#                      "refused"; RESULT d.reboot=refused; the script cleans up and the
#                      guest powers off after one boot.)
#   boot 2 (after the reboot hostfix requested):
#     RESULT d.boot-changed=yes
#     d-after-boot     exit 0, changed true, removed_by "stop" (its action "docker rm
#                      stuck-d"), reboot.confirmed true, no step of risk reboot;
#                      d.listed-after= "", d.pids-after= ""; d-ledger shows the guard's
#                      one entry with key container-rm-<d.id>; journal-boots two boots
#     d-again          exit 0, changed false, already_gone true
if [ -n "${RESULTS:-}" ]; then
  exec >>"$RESULTS" 2>&1
fi

# lib.sh (result, block, fail, make_busybox_image; bash with `set -Eeuo pipefail`) comes
# with the scenario, or beside this script when it is run by hand.
# shellcheck source=/dev/null
. "${SCENARIO_DIR:-$(dirname "$0")}/lib.sh"

: "${HOSTFIX:?HOSTFIX must name the hostfix binary}"
STATE=${STATE:-/var/lib/hostfix-scenario}
mkdir -p "$STATE"
phase_file=$STATE/container_ladder.phase
work=$STATE/container_ladder
mkdir -p "$work"
IMAGE=local/busybox:1
FROZEN_IMG=$STATE/container_ladder-frozen.img
FROZEN=${FROZEN:-/mnt/hostfix-frozen}
SYSTEM_CONF_D=${SYSTEM_CONF_D:-/run/systemd/system.conf.d}

phase=$(cat "$phase_file" 2>/dev/null || true)
result scenario-boot "${SCENARIO_BOOT:-?}"
result phase "${phase:-start}"
result boot-id "$(cat /proc/sys/kernel/random/boot_id)"

# hfj NAME ARGS...: hostfix --json -v ARGS as the block NAME (stdout JSON, stderr trail,
# NAME.exit), the JSON kept in $work/NAME.json, and NAME.seconds. Returns hostfix's code.
save_json() {
  _f=$1
  shift
  _r=0
  "$@" >"$_f" || _r=$?
  cat "$_f"
  return "$_r"
}
hfj() {
  _n=$1
  shift
  _t0=$(date +%s)
  _hrc=0
  block "$_n" save_json "$work/$_n.json" "$HOSTFIX" --json -v "$@" || _hrc=$?
  result "$_n.seconds" $(($(date +%s) - _t0))
  return "$_hrc"
}

# The full id of a container, or nothing.
cid() {
  docker container inspect -f '{{.Id}}' "$1" 2>/dev/null
}

# Whether the engine lists a container by full id: the id, or nothing.
listed() {
  if [ -n "$1" ]; then
    docker ps -a --no-trunc -q --filter "id=$1"
  fi
}

# The pid of the containerd shim serving a full id, or nothing.
shim_pid() {
  { pgrep -f "containerd-shim.* -id $1( |\$)" || true; } | sed -n 1p
}

# The pids left of a container by full id: processes whose cgroup names it, and shims run
# with "-id ID". Empty when none.
pids_of() {
  [ -n "$1" ] || return 0
  for _c in /proc/[0-9]*/cgroup; do
    if grep -q "$1" "$_c" 2>/dev/null; then
      _p=${_c#/proc/}
      echo "${_p%/cgroup}"
    fi
  done
  pgrep -f "containerd-shim.* -id $1( |\$)" || true
}

# Best effort: each step may have nothing to undo.
cleanup_frozen() {
  fsfreeze -u "$FROZEN" 2>/dev/null || true
  docker rm -f stuck-d >/dev/null 2>&1 || true
  umount "$FROZEN" 2>/dev/null || umount -l "$FROZEN" 2>/dev/null || true
  rm -f "$FROZEN_IMG"
}

# ----------------------------------------------------------------------------------------
first_boot() {
  wait_docker 60
  block docker-version docker version --format '{{.Server.Version}}'
  docker image inspect "$IMAGE" >/dev/null 2>&1 || make_busybox_image
  # For this boot only: short stop timeouts, so the shutdown around the reboot does not
  # wait on the process stuck in D for minutes (see the header).
  mkdir -p "$SYSTEM_CONF_D"
  printf '[Manager]\nDefaultTimeoutStopSec=5s\n' >"$SYSTEM_CONF_D/hostfix-scenario.conf"
  systemctl daemon-reexec

  # --- term: PID 1 ignores SIGTERM; docker stop ends it with SIGKILL after the grace.
  docker run -d --name ignores-term "$IMAGE" sh -c 'trap "" TERM; while :; do sleep 1; done' >/dev/null
  term_id=$(cid ignores-term)
  result term.id "$term_id"
  result term.state-before "$(docker inspect -f '{{.State.Status}}' ignores-term 2>&1)"
  result term.pids-before "$(pids_of "$term_id")"
  hfj term-rm container rm ignores-term --timeout 3s
  result term.listed-after "$(listed "$term_id")"
  result term.pids-after "$(pids_of "$term_id")"
  hfj term-again container rm ignores-term

  # --- shim: the shim is stopped, so no exit event ever reaches the engine.
  docker run -d --name stuck-shim "$IMAGE" sleep 100000 >/dev/null
  shim_id=$(cid stuck-shim)
  result shim.id "$shim_id"
  spid=$(shim_pid "$shim_id")
  result shim.pid "$spid"
  if [ -n "$spid" ]; then
    kill -STOP "$spid"
    sleep 1
  fi
  result shim-state "$(pstate "$spid")"
  result shim.pids-before "$(pids_of "$shim_id")"
  hfj shim-rm-capped container rm stuck-shim --timeout 2s --command-timeout 6s || true # exit 3
  result shim.alive-after-capped "$(alive "$spid")"
  result shim.listed-after-capped "$(listed "$shim_id")"
  hfj shim-rm container rm stuck-shim --timeout 2s --command-timeout 6s --max-risk destructive
  result shim.alive-after "$(alive "$spid")"
  result shim.listed-after "$(listed "$shim_id")"
  result shim.pids-after "$(pids_of "$shim_id")"
  # Whatever happened, nothing stays stopped.
  if [ "$(alive "$spid")" = yes ]; then
    kill -KILL "$spid" 2>/dev/null || true
  fi

  # --- port: the distro nginx holds :80, so this container is created but never starts.
  block listeners ss -Hltnp
  block port-web-run docker run -d -p 80:80 --name web "$IMAGE" httpd -f -p 80 || true # fails
  result port-web-state "$(docker inspect -f '{{.State.Status}}' web 2>&1)"
  result port-web-error "$(docker inspect -f '{{.State.Error}}' web 2>&1)"

  # --- d: a writer stuck in D on a frozen ext4.
  rm -f "$FROZEN_IMG"
  truncate -s 64M "$FROZEN_IMG"
  mkfs.ext4 -q -F "$FROZEN_IMG"
  mkdir -p "$FROZEN"
  block d-mount mount -o loop "$FROZEN_IMG" "$FROZEN"
  docker run -d --name stuck-d -v "$FROZEN:/data" "$IMAGE" \
    sh -c 'while :; do echo x > /data/f; done' >/dev/null
  d_id=$(cid stuck-d)
  result d.id "$d_id"
  echo "$d_id" >"$work/d.id"
  sleep 2
  block d-fsfreeze fsfreeze -f "$FROZEN"
  d_pid=$(docker inspect -f '{{.State.Pid}}' stuck-d)
  result d.pid "$d_pid"
  wait_d "$d_pid" 30 || true # d-state is judged by the harness
  result d-state "$(pstate "$d_pid")"
  result d.pids-before "$(pids_of "$d_id")"
  # The fault by hand, as in the incident: docker rm -f fails with its message.
  block d-manual-rm timeout 90 docker rm -f stuck-d || true # fails: the incident's message
  result d.listed-after-manual-rm "$(listed "$d_id")"

  hfj doctor-chain doctor

  # Both stop below the reboot rung: exit 3.
  hfj d-rm container rm stuck-d || true
  hfj d-rm-destructive container rm stuck-d --max-risk destructive || true
  result d-state-before-reboot "$(pstate "$d_pid")"

  # The reboot rung, through the reboot guard. The phase is written first: if the guard
  # reboots the guest, this script runs again at the next boot and finishes there.
  echo rebooting >"$phase_file"
  sync
  # Let the shutdown get past the frozen filesystem (see the header).
  umount -l "$FROZEN" 2>/dev/null || true
  # The reboot it asks for stops this unit (SIGTERM to all of it), maybe before hostfix
  # has printed its report: hostfix ignores that SIGTERM (SIG_IGN is inherited across
  # exec), so the report and trail kept on the root disk are whole; boot 2 prints them.
  rc=0
  (
    trap '' TERM
    exec "$HOSTFIX" --json -v container rm stuck-d --max-risk reboot
  ) >"$work/d-rm-reboot.json" 2>"$work/d-rm-reboot.err" || rc=$?
  sync
  result d-rm-reboot.exit "$rc"
  block d-rm-reboot cat "$work/d-rm-reboot.json"
  if [ "$rc" -eq 1 ] && grep -q '"error": ".*rebooting' "$work/d-rm-reboot.json"; then
    result d.reboot requested
    sync
    # Stay until the shutdown stops this script, so the runner never powers off instead.
    _i=0
    while [ "$_i" -lt 120 ]; do
      if [ "$(systemctl is-system-running 2>/dev/null || true)" = stopping ]; then
        sleep 600
      fi
      sleep 1
      _i=$((_i + 1))
    done
    echo "done" >"$phase_file"
    cleanup_frozen
    fail "hostfix requested the reboot but none came within 120 s"
  fi
  if [ "$rc" -eq 3 ]; then
    result d.reboot refused
  else
    result d.reboot "other (exit $rc)"
  fi
  echo "done" >"$phase_file"
  cleanup_frozen
  result d.listed-after-cleanup "$(listed "$d_id")"
  return 0
}

# ----------------------------------------------------------------------------------------
after_reboot() {
  wait_docker 60
  d_id=$(cat "$work/d.id")
  # The boot the ladder asked for the reboot in, from its own record (written before the
  # reboot was requested).
  record=/var/lib/hostfix/container/$d_id.reboot.json
  # No record is a finding (d.boot-changed says so), not a reason to stop.
  before=$(sed -n 's/.*"boot_id": "\([^"]*\)".*/\1/p' "$record" 2>/dev/null | sed -n 1p) || true
  if [ -n "$before" ] && [ "$before" != "$(cat /proc/sys/kernel/random/boot_id)" ]; then
    result d.boot-changed yes
  else
    result d.boot-changed "no (asked in '$before')"
  fi
  result d.state-after-boot "$(docker inspect -f '{{.State.Status}}' stuck-d 2>&1)"
  # shellcheck disable=SC2016 # expanded by the inner shell
  block d-ledger sh -c 'for f in $(find /var/lib/hostfix -type f 2>/dev/null); do echo "== $f"; cat "$f"; echo; done'
  # Missing ones are judged by the harness.
  block d-reboot-record cat "$record" || true
  block d-guard-ledger cat /var/lib/hostfix/reboot-ledger.json || true
  block d-rm-reboot-saved cat "$work/d-rm-reboot.json" || true
  block d-rm-reboot-saved-trail cat "$work/d-rm-reboot.err" || true
  block journal-boots journalctl --list-boots --no-pager -q
  result d.pids-before-rm "$(pids_of "$d_id")"
  hfj d-after-boot container rm stuck-d --max-risk reboot
  result d.listed-after "$(listed "$d_id")"
  result d.pids-after "$(pids_of "$d_id")"
  hfj d-again container rm stuck-d --max-risk reboot
  echo "done" >"$phase_file"
  rm -f "$FROZEN_IMG"
  return 0
}

case "$phase" in
"") first_boot ;;
rebooting) after_reboot ;;
*) result note "container_ladder already ran to the end (phase $phase)" ;;
esac
