# Smoke: the harness itself, on any flavour. The guest is the one the other scenarios need
# (its init, the distro nginx on :80, its container engine, sshd, 512 MiB, no swap) and the
# handed-over hostfix runs in it.
. "$SCENARIO_DIR/lib.sh"

result kernel "$(uname -r)"
result os "$(. /etc/os-release && echo "$VERSION_CODENAME")"
result pid1 "$(cat /proc/1/comm)"
result init "$(if has_systemd; then echo systemd; else echo sysv; fi)"
for u in nginx docker ssh; do
  result "active.$u" "$(svc_state "$u")"
done
for e in docker podman; do
  result "engine.$e" "$(command -v "$e" || true)"
done
block listeners listeners
block swaps cat /proc/swaps
block nginx-owner dpkg -S "$(readlink -f "$(command -v nginx)")"
result nginx-package "$(package_of_command nginx)"
result nginx-light "$(dpkg-query -W -f='${db:Status-Abbrev}' nginx-light 2>/dev/null || true)"
hf doctor doctor
