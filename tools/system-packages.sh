#!/usr/bin/env bash
# The Debian packages Grace's sandbox (and its tests) use, installed when missing.
#   bubblewrap   - the namespace layer of the sandbox (bwrap)
#   libseccomp2  - the seccomp layer (loaded through ctypes by the sandbox launcher)
#   chromium     - the browser the UI tests drive through playwright (never `playwright install`)
#   nodejs       - builds the JupyterLab extension (jlpm comes with jupyterlab)
# Without root or apt-get nothing is installed: `grace doctor` then reports the
# missing layers and the tests that need them say so.
set -euo pipefail
packages=(bubblewrap libseccomp2 chromium)
# node may come from elsewhere (nvm, NodeSource): only install Debian's when there is none.
command -v node >/dev/null || packages+=(nodejs)
missing=()
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null; then
    echo "grace: not installing ${missing[*]} (needs root and apt-get); grace doctor reports missing sandbox layers, the browser tests say what is missing" >&2
    exit 0
fi
echo "grace: installing ${missing[*]} from Debian's packages" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
    apt-get update >/dev/null && apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
}
