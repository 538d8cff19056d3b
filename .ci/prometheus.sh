#!/usr/bin/env bash
# Install Debian's `prometheus` package (it ships both `prometheus` and `promtool`) for
# edgeml's monitoring tests: `promtool check rules` / `promtool test rules` validate the
# generated alerting rules, and tests/monitor/test_prometheus_integration.py runs a real Prometheus on
# loopback scraping a real `edgeml serve`. Idempotent: does nothing when both are present.
# Runs as root in CI. The Debian package does not start a server by itself in a container
# without systemd; the tests start their own on a random loopback port.
set -euo pipefail

if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
  echo "prometheus.sh: prometheus and promtool already installed: $(prometheus --version 2>&1 | head -n 1)"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
echo "prometheus.sh: apt-get update"
$SUDO apt-get update -q
echo "prometheus.sh: apt-get install -y --no-install-recommends prometheus"
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends prometheus
echo "prometheus.sh: installed $(prometheus --version 2>&1 | head -n 1)"
command -v promtool >/dev/null
