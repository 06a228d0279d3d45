# Helpers for the scenario scripts (sourced). Everything a scenario prints goes to the
# harness's results.log; the harness parses these lines (tests/vm/results.rs) and asserts
# in Rust. Scripts gather facts; they do not judge them.
#
#   result KEY VALUE...        -> "RESULT KEY=VALUE..." (one line)
#   block NAME CMD...          -> "BEGIN NAME" CMD's stdout "END NAME", its stderr as the
#                                 block NAME.stderr, and "RESULT NAME.exit=RC"; returns RC
#   hf NAME ARGS...            -> block NAME hostfix --json -v ARGS...
#   fail WHAT...               -> "FAIL WHAT..." and the script ends (exit 1)
#
# Strict: the scripts run under bash with `set -Eeuo pipefail`, so the first command that
# fails and is not expected to stops the script with a "FAIL rc=RC at FILE:LINE: ..." line
# (the harness fails the test on any FAIL line). A command whose failure is a fact the
# harness judges is written `block NAME CMD || true` (or `hf ... || true`).
#
# Environment from the runner: HOSTFIX (the binary), SCENARIO_DIR (the handoff disk),
# SCENARIO_BOOT (1 on the guest's first boot, counted on its root disk).

# The runner starts the script with sh (dash has no pipefail): run it again under bash.
if [ -z "${BASH_VERSION:-}" ]; then
  exec bash "$0" "$@"
fi
set -Eeuo pipefail

# The first unexpected failure: where it was (with the callers) and what it was. During a
# shutdown (a reboot the scenario asked for stops this script) a failing command is not a
# failure of the scenario.
on_err() {
  local rc=$? i where="" src line
  for ((i = 1; i < ${#BASH_SOURCE[@]}; i++)); do
    src=${BASH_SOURCE[$i]}
    line=${BASH_LINENO[$((i - 1))]}
    where+="${where:+ <- }${src##*/}:$line"
  done
  src=${BASH_SOURCE[1]:-}
  line=${BASH_LINENO[0]:-0}
  local text
  text=$(sed -n "${line}p" "$src" 2>/dev/null | sed 's/^[[:space:]]*//') || true
  if shutting_down; then
    printf 'NOTE stopped by the shutdown: rc=%s at %s: %s\n' "$rc" "$where" "$text"
  else
    printf 'FAIL rc=%s at %s: %s\n' "$rc" "$where" "$text"
  fi
  exit "$rc"
}
trap on_err ERR

# Whether the guest is shutting down or rebooting: systemd says "stopping"; sysvinit is in
# runlevel 0 or 6.
shutting_down() {
  [ "$(systemctl is-system-running 2>/dev/null || true)" = stopping ] ||
    [ -n "$(runlevel 2>/dev/null | awk '$2 == 0 || $2 == 6 { print 1 }' || true)" ]
}

fail() {
  printf 'FAIL %s\n' "$*"
  exit 1
}

result() {
  _k=$1
  shift
  printf 'RESULT %s=%s\n' "$_k" "$(printf '%s' "$*" | tr '\n' ' ')"
}

block() {
  _name=$1
  shift
  _err=$(mktemp)
  _rc=0
  _out=$("$@" 2>"$_err") || _rc=$?
  printf 'BEGIN %s\n%s\nEND %s\n' "$_name" "$_out" "$_name"
  if [ -s "$_err" ]; then
    printf 'BEGIN %s.stderr\n' "$_name"
    cat "$_err"
    printf '\nEND %s.stderr\n' "$_name"
  fi
  rm -f "$_err"
  printf 'RESULT %s.exit=%s\n' "$_name" "$_rc"
  return "$_rc"
}

# With HF_TIMEOUT=SECONDS, a hostfix run still going after that long is killed (rc 124):
# its trail so far is kept, and what ran then (processes, memory) is the block NAME.hung.
hf() {
  _n=$1
  shift
  if [ -z "${HF_TIMEOUT:-}" ]; then
    block "$_n" "$HOSTFIX" --json -v "$@"
    return
  fi
  _hrc=0
  block "$_n" timeout --kill-after=5 "$HF_TIMEOUT" "$HOSTFIX" --json -v "$@" || _hrc=$?
  if [ "$_hrc" -eq 124 ] || [ "$_hrc" -eq 137 ]; then
    block "$_n.hung" sh -c 'ps -eo pid,ppid,stat,etime,rss,wchan:20,args --sort=start_time | tail -n 40; grep -E "^(MemTotal|MemAvailable|SwapTotal|Dirty)" /proc/meminfo' || true
  fi
  return "$_hrc"
}

# Whether systemd is PID 1 (otherwise the guest runs sysvinit: no systemctl, no journal).
has_systemd() {
  [ -d /run/systemd/system ]
}

# A service's state under either init: systemd's ActiveState ("active", "inactive",
# "failed"...), or under sysvinit "active" when its init script's status says it runs,
# "inactive" when it has an init script and does not, "absent" without one.
svc_state() {
  if has_systemd; then
    systemctl is-active "$1.service" || true
  elif [ ! -x "/etc/init.d/$1" ]; then
    echo absent
  elif service "$1" status >/dev/null 2>&1; then
    echo active
  else
    echo inactive
  fi
}

# The package that installed the command $1 (as found on PATH, aliases such as /sbin on a
# /usr-merged system resolved): read in the guest, never assumed.
package_of_command() {
  _p=$(command -v "$1") || return 1
  dpkg -S "$(readlink -f "$_p")" | cut -d: -f1
}

# The runner reboots the guest (instead of powering it off) when the scenario returns.
request_reboot() {
  : >/run/hostfix-scenario/reboot
}

# Installed packages, one per line, sorted.
installed_packages() {
  dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' | awk '$1 == "ii" { print $2 }' | sort
}

# TCP listeners as "address:port process" lines, sorted (the pids included: a restarted
# service shows up as a change).
listeners() {
  ss -Hltnp | awk '{ print $4, $6 }' | sort
}

# A local container image from the guest's busybox: no registry, no network.
make_busybox_image() {
  _root=$(mktemp -d)
  mkdir -p "$_root/bin" "$_root/www"
  cp /bin/busybox "$_root/bin/busybox"
  for _a in sh httpd cat echo sleep ls; do ln -s busybox "$_root/bin/$_a"; done
  block docker-import bash -o pipefail -c "tar -C '$_root' -c . | docker import - local/busybox:1"
  rm -rf "$_root"
}

# Waits up to $2 seconds (default 30) for a TCP listener on port $1; fails when none comes.
wait_listening() {
  _i=0
  while [ "$_i" -lt "${2:-30}" ]; do
    if [ -n "$(ss -Hltn "sport = :$1")" ]; then
      return 0
    fi
    sleep 1
    _i=$((_i + 1))
  done
  return 1
}

# http_get NAME URL: the body of URL as the block NAME (a few tries while it comes up).
http_get() {
  _i=0
  while [ "$_i" -lt 10 ]; do
    if curl -fsS --max-time 5 -o /dev/null "$2" 2>/dev/null; then
      break
    fi
    sleep 1
    _i=$((_i + 1))
  done
  block "$1" curl -fsS --max-time 5 "$2"
}

# A memory hog standing in for the incident's application: fills RAM with tmpfs pages
# (which cannot be reclaimed while there is no swap) until MemAvailable is at most $1
# percent of MemTotal.
eat_memory() {
  mkdir -p /run/hog
  mount -t tmpfs -o size=90% hog /run/hog
  _mib=0
  while :; do
    _pct=$(awk '/^MemTotal:/ { t = $2 } /^MemAvailable:/ { a = $2 } END { printf "%d", a * 100 / t }' /proc/meminfo)
    if [ "$_pct" -le "$1" ]; then
      break
    fi
    dd if=/dev/zero of="/run/hog/fill$_mib" bs=1M count=4 status=none || break
    _mib=$((_mib + 4))
  done
  result memory_hog_mib "$_mib"
  result mem_available_pct "$_pct"
}

# The state letter of a pid (field 3 of /proc/PID/stat), or "gone".
pstate() {
  if [ -n "$1" ] && [ -r "/proc/$1/stat" ]; then
    sed 's/.*) //' "/proc/$1/stat" | cut -d' ' -f1
  else
    echo gone
  fi
}

# "yes" when pid $1 exists, else "no".
alive() {
  if [ -n "$1" ] && kill -0 "$1" 2>/dev/null; then echo yes; else echo no; fi
}

# Waits up to $2 seconds for pid $1 to be in state D; false when it never gets there.
wait_d() {
  _i=0
  while [ "$_i" -lt "$2" ]; do
    if [ "$(pstate "$1")" = D ]; then
      return 0
    fi
    sleep 1
    _i=$((_i + 1))
  done
  return 1
}

# Waits up to ${1:-90} seconds for dockerd to answer; fails the scenario when it does not.
wait_docker() {
  _i=0
  while [ "$_i" -lt "${1:-90}" ]; do
    if docker info >/dev/null 2>&1; then
      return 0
    fi
    sleep 1
    _i=$((_i + 1))
  done
  fail "dockerd did not answer within ${1:-90} s"
}
