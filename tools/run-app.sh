#!/usr/bin/env bash
# Start the workbench; on a machine without a display, run it under Xvfb and say so.
app="$1"; shift
if [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ] || [ -n "${QT_QPA_PLATFORM:-}" ]; then
  exec "$app" "$@"
fi
if command -v xvfb-run >/dev/null 2>&1; then
  echo "run-app: no display found (DISPLAY is unset); starting under Xvfb, so the window is"
  echo "run-app: invisible. On a desktop session, run 'make run' there to see it."
  exec xvfb-run -a -s "-screen 0 1600x1000x24" "$app" "$@"
fi
echo "run-app: no display found and xvfb-run is not installed; run 'make run' in a desktop session"
exit 1
