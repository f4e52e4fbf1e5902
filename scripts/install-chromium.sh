#!/usr/bin/env bash
# Installs Debian's chromium for the end-to-end wall test (playwright-core drives it, it does not download one);
# idempotent: does nothing when /usr/bin/chromium is already there.
set -euo pipefail

chromium=/usr/bin/chromium

if [[ -x "$chromium" ]]; then
  printf '%-11s %s\n' chromium "present $chromium ($("$chromium" --version 2>/dev/null | head -n1 || echo 'version unknown'))"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
# apt's lists are fetched once; a machine that already has them skips the update.
if ! apt-cache show chromium >/dev/null 2>&1; then apt-get update -qq; fi
if apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null && [[ -x "$chromium" ]]; then
  printf '%-11s %s\n' chromium "installed $chromium ($("$chromium" --version 2>/dev/null | head -n1))"
else
  printf '%-11s %s\n' chromium "install failed: apt-get install chromium" >&2
  exit 1
fi
