# Scenario 5, power cuts: the harness cuts the guest's power (kills qemu) at exact points of
# `swap ensure`, a swap resize, `port free --remove-package` and a reboot-ledger write, then
# boots the same disk again. Each boot checks what the cut before it left, lets hostfix
# converge, and arms the next point; the last boot only checks.
#
# The points come from the harness (points on the handoff disk, one line each:
# "KIND|MODE|PATTERN"): KIND is what runs (swap-new, swap-resize, port-remove, reboot), MODE
# "pause" (hostfix stops at the first point matching PATTERN, through its test-only hook
# HOSTFIX_TEST_PAUSE_AT, and the harness cuts the power when it sees HOSTFIX-PAUSED) or
# "marker" (hostfix runs on; the package's postrm stops inside dpkg's removal and reports
# it, and the harness cuts the power as soon as a reported point matches PATTERN). Point K
# works on its own things: the swap file /pcK.swap, the ledger key pc-K.
#
# Times: "RESULT pc.t.STAGE=UPTIME" when the script starts, after the checks, and when the
# armed run starts.
#
# Per point K, in the boot that arms it: p<K>.prep (what must hold first), p<K>.fstab-before
# (/etc/fstab just before the armed run, synced). In the boot after the cut, before hostfix
# runs: p<K>.fstab, p<K>.findmnt, p<K>.doctor; then p<K>.converge and p<K>.again (the same
# command twice) and the facts: p<K>.swaps, p<K>.fstab-after, p<K>.leftovers,
# p<K>.listen, p<K>.pkg, p<K>.audit, p<K>.ledger.
. "$SCENARIO_DIR/lib.sh"

state=/var/lib/hostfix-scenario/powercut
table=$SCENARIO_DIR/points
mkdir -p "$state"
n=$(grep -c . "$table")
next=$(cat "$state/next" 2>/dev/null || echo 0)
result pc.next "$next"
result pc.uptime "$(cut -d' ' -f1 /proc/uptime)"

field() { # field K N: field N of point K's line
  sed -n "$(($1 + 1))p" "$table" | cut -d'|' -f"$2"
}

# A file's exact bytes as the block NAME, then a sentinel (a block loses trailing blanks).
exact() {
  block "$1" sh -c 'cat "$1" && echo "@@END@@"' exact "$2"
}

# The command point K runs (armed, then to converge).
command_of() {
  case "$1" in
  swap-new) echo "swap ensure --size 64M --path /pc$2.swap --persist fstab" ;;
  swap-resize) echo "swap ensure --size 128M --path /pc$2.swap --persist fstab --max-risk disruptive" ;;
  port-remove) echo "port free 8080 --remove-package" ;;
  reboot) echo "reboot --if-needed --once pc-$2" ;;
  *) return 1 ;;
  esac
}

# The first boot: an fstab with lines that are not hostfix's, and a package that listens
# on :8080. (The harness boots the guest lean: no Docker, nginx or sshd, nothing here
# needs them.)
setup() {
  result pc.docker "$(systemctl is-active docker.service || true)"
  # apt without package lists: removals read only dpkg's database, which is all they
  # need, and each apt run is seconds faster under emulation.
  mv /var/lib/apt/lists /var/lib/apt/lists.powercut
  mkdir -p /var/lib/apt/lists/partial
  # Other people's lines, odd ones included: each must stay byte for byte.
  printf '%s\n' \
    "# power-cut scenario: lines that are not hostfix's" \
    "LABEL=data	/srv/data	ext4	noauto,nofail	0	2" \
    "" \
    "/dev/disk/by-uuid/00000000-0000-4000-8000-000000000000 none swap noauto,pri=5 0 0" \
    'tmpfs /mnt/with\040space tmpfs noauto,size=1m 0 0' \
    "   # an indented comment with trailing blanks   " \
    >>/etc/fstab
  d=$state/pc-web
  rm -rf "$d"
  mkdir -p "$d/DEBIAN" "$d/usr/lib/pc-web" "$d/usr/share/pc-web" "$d/lib/systemd/system"
  cp /bin/busybox "$d/usr/lib/pc-web/httpd"
  echo pc-web >"$d/usr/share/pc-web/index.html"
  cat >"$d/DEBIAN/control" <<EOF
Package: pc-web
Version: 1.0
Architecture: $(dpkg --print-architecture)
Maintainer: hostfix tests <tests@hostfix.invalid>
Priority: optional
Section: misc
Description: hostfix power-cut scenario: a web server on :8080
EOF
  # Asked to (marker mode), it stops inside dpkg's removal, its files gone and dpkg's
  # database half-way, for the power cut.
  cat >"$d/DEBIAN/postrm" <<'EOF'
#!/bin/sh
if [ "$1" = remove ] && [ -e /run/pc-web-pause-postrm ]; then
  echo "HOSTFIX-POINT dpkg: pc-web postrm remove" >/dev/ttyS1
  sleep 600
fi
exit 0
EOF
  chmod 0755 "$d/DEBIAN/postrm"
  cat >"$d/lib/systemd/system/pc-web.service" <<'EOF'
[Unit]
Description=hostfix power-cut scenario: a web server on :8080

[Service]
ExecStart=/usr/lib/pc-web/httpd -f -p 8080 -h /usr/share/pc-web

[Install]
WantedBy=multi-user.target
EOF
  dpkg-deb --root-owner-group --build "$d" "$state/pc-web.deb" >/dev/null
  result pc.setup done
}

# What must hold before point K's armed run.
prep() {
  local k=$1 kind=$2
  case "$kind" in
  swap-resize) hf "p$k.prep" swap ensure --size 64M --path "/pc$k.swap" --persist fstab ;;
  port-remove)
    # A cut inside dpkg may leave its database half-done; an earlier point's checks have
    # reported that already.
    dpkg --configure -a >/dev/null 2>&1 || true
    dpkg -i "$state/pc-web.deb" >/dev/null
    systemctl daemon-reload
    systemctl enable --now pc-web.service >/dev/null 2>&1
    wait_listening 8080 30
    block "p$k.prep" ss -Hltnp "sport = :8080"
    ;;
  reboot) echo '*** System restart required ***' >/run/reboot-required ;;
  esac
}

# Arms point K: its precondition, the fstab copy, the boot counter on disk (synced), then
# hostfix with the hook. The harness cuts the power at the point: this never returns.
arm() {
  local k=$1 kind mode pattern cmd
  kind=$(field "$k" 1)
  mode=$(field "$k" 2)
  pattern=$(field "$k" 3)
  cmd=$(command_of "$kind" "$k")
  prep "$k" "$kind"
  cp /etc/fstab "$state/fstab.$k"
  exact "p$k.fstab-before" "$state/fstab.$k"
  echo $((k + 1)) >"$state/next"
  sync
  result pc.t.armed "$(cut -d' ' -f1 /proc/uptime)"
  result pc.armed "$k $kind $mode $pattern"
  case "$mode" in
  pause)
    # shellcheck disable=SC2086 # the command's words
    HOSTFIX_TEST_POINTS=/dev/ttyS1 HOSTFIX_TEST_PAUSE_AT=$pattern hf "p$k.armed" $cmd || true
    ;;
  marker)
    : >/run/pc-web-pause-postrm
    # shellcheck disable=SC2086
    HOSTFIX_TEST_POINTS=/dev/ttyS1 hf "p$k.armed" $cmd || true
    ;;
  *) fail "point $k: unknown mode $mode" ;;
  esac
  fail "point $k: hostfix ran to its end without reaching \"$pattern\""
}

# Checks what the cut at point K left, then lets hostfix converge (exit codes and reports
# are judged by the harness).
check() {
  local k=$1 kind cmd
  kind=$(field "$k" 1)
  cmd=$(command_of "$kind" "$k")
  exact "p$k.fstab" /etc/fstab
  block "p$k.findmnt" findmnt --tab-file /etc/fstab --raw --noheadings -o SOURCE,TARGET,FSTYPE || true
  hf "p$k.doctor" doctor || true
  # shellcheck disable=SC2086 # the command's words
  hf "p$k.converge" $cmd || true
  # shellcheck disable=SC2086
  hf "p$k.again" $cmd || true
  block "p$k.swaps" cat /proc/swaps
  exact "p$k.fstab-after" /etc/fstab
  # (find fails when /var/lib/hostfix is not there)
  block "p$k.leftovers" find / /etc /var/lib/hostfix -maxdepth 1 -name '*hostfix*' \
    \( -name '*.tmp' -o -name '*swapover*' \) || true
  block "p$k.listen" ss -Hltn "sport = :8080"
  result "p$k.pkg" "$(dpkg-query -W -f='${db:Status-Abbrev}' pc-web 2>/dev/null || true)"
  block "p$k.audit" dpkg --audit || true
  block "p$k.ledger" cat /var/lib/hostfix/reboot-ledger.json || true
}

if [ "$next" = 0 ] && [ ! -e "$state/pc-web.deb" ]; then
  setup
fi
result pc.t.start "$(cut -d' ' -f1 /proc/uptime)"
if [ "$next" -gt 0 ]; then
  check $((next - 1))
fi
result pc.t.checked "$(cut -d' ' -f1 /proc/uptime)"
if [ "$next" -lt "$n" ]; then
  arm "$next"
fi
# Every point checked: what all of them left.
block final.swaps cat /proc/swaps
block final.fstab cat /etc/fstab
result pc.done "$n"
