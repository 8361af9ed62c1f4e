#!/usr/bin/env bash
# System packages napari's Qt window needs (also under Xvfb, for the viewer tests and `dynmri demo`).
# Installs the missing ones with apt-get when run as root or with password-less sudo; otherwise says
# which are missing and how to install them, and exits 0 so that the core tests still run (the viewer
# tests then fail with a message naming the problem). Safe to run again: it installs nothing twice.
set -euo pipefail

packages=(xvfb libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-xinerama0
          libxcb-cursor0 libxkbcommon-x11-0 libgl1 libegl1 libfontconfig1 libdbus-1-3)

if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
    echo "install-system-packages: no apt-get/dpkg here; napari needs Xvfb and Qt's xcb libraries" \
         "(Debian names: ${packages[*]}); install their equivalents with your package manager." >&2
    exit 0
fi

missing=()
for package in "${packages[@]}"; do
    if [ "$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null)" != "installed" ]; then
        missing+=("$package")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ]; then
    as_root=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
else
    echo "install-system-packages: missing ${missing[*]}; install them with" \
         "'sudo apt-get install -y --no-install-recommends ${missing[*]}' (the viewer tests and" \
         "'dynmri demo' need them)." >&2
    exit 0
fi
echo "install-system-packages: installing ${missing[*]}"
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
