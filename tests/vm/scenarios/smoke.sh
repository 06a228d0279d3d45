# Smoke: the harness itself. The guest is the one the other scenarios need (systemd, the
# distro nginx on :80, Docker, sshd, 512 MiB, no swap) and the handed-over hostfix runs in it.
. "$SCENARIO_DIR/lib.sh"

result kernel "$(uname -r)"
result os "$(. /etc/os-release && echo "$VERSION_CODENAME")"
result pid1 "$(cat /proc/1/comm)"
for u in nginx docker ssh; do
  result "active.$u" "$(systemctl is-active "$u.service")"
done
block listeners listeners
block swaps cat /proc/swaps
block nginx-owner dpkg -S /usr/sbin/nginx
result nginx-light "$(dpkg-query -W -f='${db:Status-Abbrev}' nginx-light)"
hf doctor doctor
