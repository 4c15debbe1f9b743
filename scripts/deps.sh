#!/usr/bin/env bash
# Installs the servers medispatcher's tests and demo run against (beanstalkd,
# redis-server, and MariaDB for the 2.x database's tables), the headless browser the status page's test drives
# (chromium) and systemd-analyze (systemd) when they are missing. Idempotent and quiet when present.
set -euo pipefail

need=()
command -v beanstalkd >/dev/null 2>&1 || need+=(beanstalkd)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# systemd-analyze checks the packaged unit (internal/debpkg's test); the
# systemd package is only a tool here, it does not become the init system.
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
# Debian installs mariadbd in /usr/sbin, which a user's PATH may lack.
mariadbd_present() { command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ]; }
mariadbd_present && command -v mariadb-install-db >/dev/null 2>&1 || need+=(mariadb-server)
[ ${#need[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "deps: missing ${need[*]} and no apt-get here; install them by hand" >&2
  exit 1
fi
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# A package marked installed whose binary was removed needs a reinstall.
for b in beanstalkd redis-server chromium; do
  command -v "$b" >/dev/null 2>&1 || $sudo apt-get install -y -qq --reinstall "$b" >/dev/null
done
mariadbd_present || $sudo apt-get install -y -qq --reinstall mariadb-server >/dev/null
# Debian's packages may start system-wide services on the default ports;
# tests never use them (every test starts its own servers on free ports).
command -v beanstalkd >/dev/null && command -v redis-server >/dev/null && command -v chromium >/dev/null && mariadbd_present || {
  echo "deps: beanstalkd, redis-server, mariadbd or chromium still missing after apt-get" >&2
  exit 1
}
