#!/usr/bin/env bash
# Installs Prometheus (prometheus + promtool) from Debian's `prometheus` package when missing; the
# monitoring tests and `thresher dev up --prometheus` use it. infra/prometheus-binaries.ts does
# the same on first use; doing it here fails fast and loud in CI.
set -uo pipefail
if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "warning: prometheus/promtool missing and apt-get cannot run here (needs root); the monitoring tests will skip" >&2
  exit 0
fi
# The package's maintainer scripts would start a system Prometheus on :9090 where an init system
# exists. A policy-rc.d that answers 101 ("action forbidden") keeps the install to the files;
# an existing one (Docker images ship one) is left alone.
policy=/usr/sbin/policy-rc.d
own_policy=
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# temporary, from infra/install-prometheus.sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  own_policy=1
fi
export DEBIAN_FRONTEND=noninteractive
echo "installing prometheus with apt-get" >&2
apt-get update -qq || echo "warning: apt-get update failed; trying the install anyway" >&2
apt-get install -y -qq --no-install-recommends prometheus >/dev/null
rc=$?
[ -n "$own_policy" ] && rm -f "$policy"
# What counts is whether the binaries work, not apt's exit code (a service that could not start
# makes some postinst scripts fail after the files are in place).
if prometheus --version >/dev/null 2>&1 && promtool --version >/dev/null 2>&1; then exit 0; fi
echo "error: prometheus/promtool still missing after apt-get install (exit $rc)" >&2
exit 1
