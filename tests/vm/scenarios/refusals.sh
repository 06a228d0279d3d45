# Scenario 4, refusals that must hold on a real host: freeing sshd's port 22, or a port a
# container publishes, is refused (exit 3) even with --remove-package and the riskiest cap
# below reboot, and nothing changes; `swap ensure` on a symlink to another file leaves that
# file untouched.
. "$SCENARIO_DIR/lib.sh"

make_busybox_image
mkdir -p /srv/www
echo "held by a container" >/srv/www/index.html
block held-run docker run -d -p 8080:80 -v /srv/www:/www:ro --name held local/busybox:1 \
  httpd -f -p 80 -h /www
wait_listening 8080 30

snapshot() {
  block "$1.listeners" listeners
  block "$1.packages" installed_packages
  block "$1.services" sh -c "systemctl list-units --type=service --state=active --no-legend --plain | awk '{ print \$1 }' | sort"
  block "$1.container" docker inspect -f '{{.Id}} {{.State.Status}} {{.State.Pid}}' held
  block "$1.sshd" systemctl show -p MainPID -p ActiveState -p UnitFileState ssh.service
}

snapshot before
# Each is refused (exit 3, judged by the harness).
hf free-22 port free 22 || true
hf free-22-destructive port free 22 --remove-package --max-risk destructive || true
hf free-8080 port free 8080 || true
hf free-8080-destructive port free 8080 --remove-package --max-risk destructive || true
snapshot after
http_get held-http http://127.0.0.1:8080/

# A swap path that is a symlink to a file holding data of exactly the requested size.
head -c 67108864 /dev/urandom >/srv/precious.img
ln -s /srv/precious.img /swap-link
cp /etc/fstab /run/fstab.before
block precious-before sh -c 'sha256sum /srv/precious.img; stat -c "%s %Y %i %a" /srv/precious.img'
hf swap-symlink swap ensure --size 64M --path /swap-link || true # refused: exit 3, judged
block precious-after sh -c 'sha256sum /srv/precious.img; stat -c "%s %Y %i %a" /srv/precious.img'
block swap-link-after stat -c '%F %N' /swap-link
block swaps-after cat /proc/swaps
block fstab-diff diff /run/fstab.before /etc/fstab || true # judged by the harness

# Not part of the scenario: a busybox httpd ignores SIGTERM, so the poweroff would wait
# for Docker to time out stopping it.
docker rm -f held >/dev/null
