#!/usr/bin/env bash
# Debian packages the workbench uses: Korean fonts (~80 faces) for Hangul glyphs, the shared
# libraries Qt needs to open a window, and Xvfb for headless screenshots. Installed with apt-get
# when running as root; otherwise the one command to run is printed and setup goes on (the app
# and the tests work without the Korean fonts, with DejaVu for Latin/Greek/Cyrillic).
set -u
FONTS="fonts-nanum fonts-nanum-extra fonts-nanum-eco fonts-unfonts-core fonts-unfonts-extra \
fonts-baekmuk fonts-alee fonts-lexi-gulim fonts-lexi-saebom fonts-naver-d2coding fonts-woowa-bm \
fonts-dejavu-core"
QT_LIBS="libegl1 libgl1 libglib2.0-0 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3 \
libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0 libxcb-randr0 \
libxcb-render-util0 libxcb-image0 libxcb-xkb1 xvfb xauth"

command -v dpkg-query >/dev/null 2>&1 || { echo "system-deps: not a Debian system; install Korean fonts and Qt's X11 libraries yourself"; exit 0; }

missing=""
for p in $FONTS $QT_LIBS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: installing$missing"
  export DEBIAN_FRONTEND=noninteractive
  if apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing >/dev/null; then
    fc-cache -f >/dev/null 2>&1 || true
    exit 0
  fi
  echo "system-deps: apt-get failed; continuing without:$missing"
else
  echo "system-deps: missing Debian packages:$missing"
  echo "system-deps: install them with:  sudo apt-get install$missing"
  echo "system-deps: (continuing: the app runs without Korean fonts and says what is missing)"
fi
exit 0
