#!/usr/bin/env bash
# Installs Chromium from Debian's `chromium` package when /usr/bin/chromium is missing; the feature
# browser's tests (test/report-browser.test.ts) drive it headless through playwright-core, which
# ships no browser of its own here (its download needs internet access).
set -uo pipefail
CHROMIUM=/usr/bin/chromium
if [ -x "$CHROMIUM" ]; then exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "warning: $CHROMIUM missing and apt-get cannot run here (needs root); the feature-browser tests will skip (set THRESHER_REQUIRE_BROWSER=1 to make them fail instead)" >&2
  exit 0
fi
# Ubuntu's `chromium` package is a stub that installs a snap, which does not work in containers;
# Debian's is the real browser. Say so rather than fail obscurely later.
if grep -qi '^ID=ubuntu' /etc/os-release 2>/dev/null; then
  echo "warning: on Ubuntu, apt's chromium is a snap wrapper; if $CHROMIUM does not run afterwards, install a Debian or distribution chromium build there" >&2
fi
export DEBIAN_FRONTEND=noninteractive
echo "installing chromium with apt-get" >&2
apt-get update -qq || echo "warning: apt-get update failed; trying the install anyway" >&2
# With recommends: they bring the fonts pages render text with.
apt-get install -y -qq chromium >/dev/null
rc=$?
# What counts is whether the browser starts, not apt's exit code.
if [ -x "$CHROMIUM" ] && "$CHROMIUM" --headless --no-sandbox --version >/dev/null 2>&1; then exit 0; fi
echo "error: $CHROMIUM still missing or not runnable after apt-get install (exit $rc)" >&2
exit 1
