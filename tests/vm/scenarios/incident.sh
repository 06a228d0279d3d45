# Scenario 1, the incident (INCIDENT.md): a small host without swap whose memory is nearly
# gone, the distro nginx holding :80, and a container that must publish :80 and cannot
# start. hostfix diagnoses it, fixes it, and a second run changes nothing.
. "$SCENARIO_DIR/lib.sh"

mkdir -p /srv/www
token="hostfix-incident-$(cat /proc/sys/kernel/random/uuid)"
echo "$token" >/srv/www/index.html
result token "$token"
make_busybox_image
installed_packages >/run/packages.before
# The package whose binary holds :80, read in the guest: "nginx" on bookworm (where the
# installed nginx-light is a metapackage over it) and on trixie (no nginx-light there).
# What removing that package takes with it, as apt says before anything is changed.
owner=$(package_of_command nginx)
result nginx-owner "$owner"
block apt-simulate apt-get -s remove "$owner"

# The incident's memory: an application has eaten the RAM, and there is no swap.
eat_memory 14
block swaps-before cat /proc/swaps
block listeners-before listeners

# The container that must publish :80 cannot start (its failure is judged by the harness).
block web-run docker run -d -p 80:80 -v /srv/www:/www:ro --name web local/busybox:1 \
  httpd -f -p 80 -h /www || true
result web-state-before "$(docker inspect -f '{{.State.Status}}' web)"

hf doctor-before doctor

# A hostfix run that hangs ends with its trail and what ran at the time, well before the
# guest's deadline.
HF_TIMEOUT=150
# The fix, least risky first: the swap (additive), then the port with its package
# (destructive). hostfix does not start apt or dpkg on a host this short of memory
# without swap (apt 3 thrashed for minutes here on Debian 13): the swap comes first.
hf port-free-short port free 80 --remove-package || true # refused: exit 3, judged
result nginx-active-short "$(svc_state nginx)"
hf swap-ensure swap ensure --size 1G
hf port-free port free 80 --remove-package
block swaps-after cat /proc/swaps
result nginx-active "$(svc_state nginx)"
# Fails once the package is gone, as it should (judged by the harness).
block dpkg-owner dpkg -s "$owner" || true
installed_packages >/run/packages.after
block packages-removed comm -23 /run/packages.before /run/packages.after
block packages-added comm -13 /run/packages.before /run/packages.after

# A second run: nothing left to do.
hf port-free-again port free 80 --remove-package
hf swap-ensure-again swap ensure --size 1G

# The container starts now and serves.
block web-start docker start web
wait_listening 80 30
result web-state "$(docker inspect -f '{{.State.Status}}' web)"
block listeners-after listeners
http_get web-http http://127.0.0.1/

# A third run with the container up: :80 is held by a container now, which hostfix must
# not touch: refused, and the container keeps serving.
result web-pid "$(docker inspect -f '{{.State.Pid}}' web)"
hf port-free-container port free 80 --remove-package || true # refused: exit 3, judged
result web-pid-after "$(docker inspect -f '{{.State.Pid}}' web)"
http_get web-http-still http://127.0.0.1/
hf doctor-after doctor

# Not part of the scenario: a busybox httpd ignores SIGTERM, so the poweroff would wait
# for Docker to time out stopping it.
docker rm -f web >/dev/null
