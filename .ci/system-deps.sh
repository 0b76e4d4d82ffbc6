#!/usr/bin/env bash
# Installs the Debian packages the test suite uses, once: `apt-get update` runs only when something is missing.
# Usage: .ci/system-deps.sh [package ...]   (default: everything the suite needs)
set -euo pipefail
want=("$@")
[ ${#want[@]} -gt 0 ] || want=(postgresql chromium)
missing=()
for pkg in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "Error: Debian packages missing (${missing[*]}); install them with: sudo apt-get install ${missing[*]}" >&2
    exit 1
fi
echo "Installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
