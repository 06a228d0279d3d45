# Scenario: the incident host (INCIDENT.md) repaired by `doctor --fix` alone: the distro
# nginx holding :80, a container `web` created but unable to bind it, memory nearly gone
# and no swap. At the default cap doctor --fix makes swap and stops at the port, naming
# the cap it needs; with --max-risk destructive --remove-package it frees :80 (package
# removed), starts web, and its request reaches web; a run after that changes nothing.
. "$SCENARIO_DIR/lib.sh"

mkdir -p /srv/www
token="hostfix-doctor-fix-$(cat /proc/sys/kernel/random/uuid)"
echo "$token" >/srv/www/index.html
result token "$token"
make_busybox_image
installed_packages >/run/packages.before

eat_memory 14
block swaps-before cat /proc/swaps
block web-run docker run -d -p 80:80 -v /srv/www:/www:ro --name web local/busybox:1 \
  httpd -f -p 80 -h /www || true
result web-state-before "$(docker inspect -f '{{.State.Status}}' web)"

# The default cap (additive): the swap, then a stop at the port (exit 3, judged).
hf fix-additive doctor --fix || true
block swaps-additive cat /proc/swaps
# The rest of the sequence, shown and not taken.
hf fix-dry --dry-run doctor --fix --max-risk destructive --remove-package || true
result nginx-active-after-dry "$(systemctl is-active nginx.service || true)"
# The rest, taken.
hf fix doctor --fix --max-risk destructive --remove-package || true
block swaps-after cat /proc/swaps
result nginx-active "$(systemctl is-active nginx.service || true)"
result web-state "$(docker inspect -f '{{.State.Status}}' web)"
http_get web-http http://127.0.0.1/
installed_packages >/run/packages.after
block packages-removed comm -23 /run/packages.before /run/packages.after
# Nothing left to fix.
hf fix-again doctor --fix --max-risk destructive --remove-package || true

# Not part of the scenario: a busybox httpd ignores SIGTERM, so the poweroff would wait
# for Docker to time out stopping it.
docker rm -f web >/dev/null
