#!/usr/bin/env bash
# Make sure the Debian packages that Qt, OpenGL (Mesa: GLX, and EGL for headless export) and the Xvfb-based tests need are present.
# As root, missing packages are installed (saying which); otherwise print the exact apt-get line and fail.
set -euo pipefail
PKGS="xvfb xauth libgl1-mesa-dri libglx-mesa0 libegl1 libegl-mesa0 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4
libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-randr0 libxcb-shape0 libxcb-xkb1 libxcb-xfixes0
libfontconfig1 libdbus-1-3 fonts-dejavu-core"
command -v dpkg-query >/dev/null 2>&1 || { echo "system-deps: not a Debian/Ubuntu system; install Xvfb, Mesa GL and Qt's xcb libraries yourself." >&2; exit 0; }
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# python3 -m venv needs ensurepip (Debian's python3-venv) when the system Python is used.
if ! python3 -c "import ensurepip, venv" >/dev/null 2>&1; then missing="$missing python3-venv"; fi
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = "0" ]; then
  echo "system-deps: installing Debian packages:$missing"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
else
  echo "system-deps: missing Debian packages. Run as root:" >&2
  echo "  apt-get update && apt-get install -y$missing" >&2
  exit 1
fi
