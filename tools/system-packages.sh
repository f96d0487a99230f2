#!/usr/bin/env bash
# The Debian packages Grace's sandbox (and its tests) use, installed when missing.
#   bubblewrap   - the namespace layer of the sandbox (bwrap)
#   libseccomp2  - the seccomp layer (loaded through ctypes by the sandbox launcher)
# Without root or apt-get nothing is installed: `grace doctor` then reports the
# missing layers and the tests that need them say so.
set -euo pipefail
packages=(bubblewrap libseccomp2)
missing=()
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null; then
    echo "grace: not installing ${missing[*]} (needs root and apt-get); grace doctor will report the missing sandbox layers" >&2
    exit 0
fi
echo "grace: installing ${missing[*]} from Debian's packages" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
    apt-get update >/dev/null && apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
}
