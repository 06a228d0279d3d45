#!/bin/bash
# VM scenario: Podman as the container engine (Debian 13 guest with podman, conmon, crun;
# no Docker). The container ladder's faults made for real, and `port who`/`port free`/
# `doctor` on Podman's containers. One boot; no reboot (the reboot rung through the guard
# is the Docker scenario's, container_ladder.sh; here it is planned and refused below the
# cap).
#
#   term    a container whose PID 1 ignores SIGTERM             -> removed at `stop`
#   conmon  a container whose conmon is SIGSTOPped, so podman    -> refused at the default
#           never learns the exit                                   cap (next: kill-shim),
#                                                                   then removed at kill-shim:
#                                                                   SIGKILL to that conmon pid
#   pub     a running container publishing :8080 (rootful:      -> port who names it (podman,
#           conmon keeps the port open)                             name, id); port free
#                                                                   refuses it: podman stop pub
#   web     a container that cannot start: nginx holds :80      -> doctor names it, the port
#                                                                   and nginx
#   d       a container whose process is in D on a frozen ext4  -> every signal rung skipped
#                                                                   as futile, the engine
#                                                                   restart absent, next rung
#                                                                   reboot
#
# WHAT IT EXPECTS (guest side): the trixie-podman flavour (podman, conmon, crun, busybox-static,
# procps, util-linux, e2fsprogs, coreutils), nginx on :80; HOSTFIX (required); RESULTS,
# SCENARIO_DIR (optional), as container_ladder.sh.
#
# OUTPUT: lib.sh's RESULT lines and BEGIN/END blocks (hostfix --json reports); the harness
# (tests/vm/podman.rs) judges.
if [ -n "${RESULTS:-}" ]; then
  exec >>"$RESULTS" 2>&1
fi
# shellcheck source=/dev/null
. "${SCENARIO_DIR:-$(dirname "$0")}/lib.sh"

: "${HOSTFIX:?HOSTFIX must name the hostfix binary}"
STATE=${STATE:-/var/lib/hostfix-scenario}
work=$STATE/podman
mkdir -p "$work"
IMAGE=localhost/busybox:1
FROZEN_IMG=$STATE/podman-frozen.img
FROZEN=${FROZEN:-/mnt/hostfix-frozen}

hfj() {
  _n=$1
  shift
  _t0=$(date +%s)
  _hrc=0
  block "$_n" "$HOSTFIX" --json -v "$@" || _hrc=$?
  result "$_n.seconds" $(($(date +%s) - _t0))
  return "$_hrc"
}

cid() { podman container inspect -f '{{.Id}}' "$1" 2>/dev/null; }
listed() { if [ -n "$1" ]; then podman ps -a --no-trunc -q --filter "id=$1"; fi; }
# Pids whose cgroup names the id (the container's and its conmon's scopes).
pids_of() {
  [ -n "$1" ] || return 0
  for _c in /proc/[0-9]*/cgroup; do
    if grep -q "$1" "$_c" 2>/dev/null; then
      _p=${_c#/proc/}
      echo "${_p%/cgroup}"
    fi
  done
}

block podman-version podman version --format '{{.Client.Version}}'
result engine.docker "$(command -v docker || true)"
if ! podman image exists "$IMAGE"; then
  _root=$(mktemp -d)
  mkdir -p "$_root/bin" "$_root/www"
  cp /bin/busybox "$_root/bin/busybox"
  for _a in sh httpd cat echo sleep ls; do ln -s busybox "$_root/bin/$_a"; done
  block podman-import bash -o pipefail -c "tar -C '$_root' -c . | podman import - $IMAGE"
  rm -rf "$_root"
fi

# --- term: PID 1 ignores SIGTERM; podman stop ends it with SIGKILL after the grace.
podman run -d --network none --name ignores-term "$IMAGE" sh -c 'trap "" TERM; while :; do sleep 1; done' >/dev/null
term_id=$(cid ignores-term)
result term.id "$term_id"
result term.pids-before "$(pids_of "$term_id")"
hfj term-rm container rm ignores-term --timeout 3s || true
result term.listed-after "$(listed "$term_id")"
result term.pids-after "$(pids_of "$term_id")"

# --- conmon: stopped, so podman never learns the container exited.
podman run -d --network none --name stuck-conmon "$IMAGE" sleep 100000 >/dev/null
conmon_id=$(cid stuck-conmon)
result conmon.id "$conmon_id"
cpid=$(podman container inspect -f '{{.State.ConmonPid}}' stuck-conmon)
result conmon.pid "$cpid"
result conmon.other "$(podman container inspect -f '{{.State.ConmonPid}}' ignores-term 2>/dev/null || true)"
if [ -n "$cpid" ] && [ "$cpid" != 0 ]; then
  kill -STOP "$cpid"
  sleep 1
fi
result conmon-state "$(pstate "$cpid")"
hfj conmon-rm-capped container rm stuck-conmon --timeout 2s --command-timeout 8s || true
result conmon.alive-after-capped "$(alive "$cpid")"
hfj conmon-rm container rm stuck-conmon --timeout 2s --command-timeout 8s --max-risk destructive || true
result conmon.alive-after "$(alive "$cpid")"
result conmon.listed-after "$(listed "$conmon_id")"
result conmon.pids-after "$(pids_of "$conmon_id")"
if [ "$(alive "$cpid")" = yes ]; then kill -KILL "$cpid" 2>/dev/null || true; fi

# --- pub: a running container publishing :8080 (conmon holds it). Without a working
# container network (netavark), the container listens on the host's network instead (its
# own process holds the port, in its libpod scope): pub.mode says which.
if block pub-run podman run -d -p 8080:80 --name pub "$IMAGE" httpd -f -p 80; then
  result pub.mode publish
else
  podman rm -f pub >/dev/null 2>&1 || true
  podman run -d --network host --name pub "$IMAGE" httpd -f -p 8080 >/dev/null || true
  result pub.mode host
fi
wait_listening 8080 30 || true
block listeners ss -Hltnp
result pub.id "$(cid pub)"
hfj pub-who port who 8080 || true
hfj pub-free port free 8080 --max-risk destructive || true
result pub.state-after "$(podman container inspect -f '{{.State.Status}}' pub 2>&1)"
podman rm -f pub >/dev/null 2>&1 || true

# --- web: nginx holds :80, so this one is created but never starts.
block web-run podman run -d -p 80:80 --name web "$IMAGE" httpd -f -p 80 || true
result web-state "$(podman container inspect -f '{{.State.Status}}' web 2>&1)"
result web-error "$(podman container inspect -f '{{.State.Error}}' web 2>&1)"

# --- d: a writer stuck in D on a frozen ext4.
rm -f "$FROZEN_IMG"
truncate -s 64M "$FROZEN_IMG"
# The trixie-podman guest has no e2fsprogs: busybox's mke2fs (ext2, mounted by the ext4
# driver, which freezes the same way).
if command -v mkfs.ext4 >/dev/null; then
  mkfs.ext4 -q -F "$FROZEN_IMG"
else
  busybox mke2fs -F "$FROZEN_IMG" >/dev/null
fi
mkdir -p "$FROZEN"
block d-mount mount -o loop "$FROZEN_IMG" "$FROZEN"
podman run -d --network none --name stuck-d -v "$FROZEN:/data" "$IMAGE" sh -c 'while :; do echo x > /data/f; done' >/dev/null
d_id=$(cid stuck-d)
result d.id "$d_id"
sleep 2
block d-fsfreeze fsfreeze -f "$FROZEN"
d_pid=$(podman container inspect -f '{{.State.Pid}}' stuck-d)
result d.pid "$d_pid"
wait_d "$d_pid" 30 || true # d-state is judged by the harness
result d-state "$(pstate "$d_pid")"

hfj doctor doctor || true
hfj d-rm container rm stuck-d || true
hfj d-rm-destructive container rm stuck-d --max-risk destructive || true
hfj d-plan --dry-run container rm stuck-d --max-risk reboot || true
hfj bad-engine --engine docker container rm stuck-d || true

# Cleanup: thaw, then the container goes the ordinary way.
fsfreeze -u "$FROZEN" 2>/dev/null || true
hfj d-after-thaw container rm stuck-d --timeout 2s || true
result d.listed-after "$(listed "$d_id")"
umount "$FROZEN" 2>/dev/null || umount -l "$FROZEN" 2>/dev/null || true
rm -f "$FROZEN_IMG"
podman rm -f web >/dev/null 2>&1 || true
result hostfix-state "$(ls -A /var/lib/hostfix 2>/dev/null | tr '\n' ' ')"
