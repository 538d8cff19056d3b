#!/usr/bin/env bash
# Install Debian's Chromium and ChromeDriver for the tests that open saved HTML reports in
# a real headless browser (tests/html/). Idempotent: does nothing when both are present.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  echo "browser.sh: chromium and chromedriver already installed"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends \
  chromium chromium-driver
command -v chromium >/dev/null
command -v chromedriver >/dev/null
