#!/usr/bin/env bash
# Regenerate the window screenshots in docs/screenshots/ (referenced from the README).
# Each one is the real window, driven from the command line and saved with --screenshot;
# offscreen unless a display is set. Run from anywhere: tools/make_screenshots.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}"
out=docs/screenshots
mkdir -p "$out"
companion=(.venv/bin/python -m companion)

# 1. A calf-raise set in progress: set 1 of the rushed recording, rep 16 lowering, the last
#    reps rushed (red lowering bars) after eleven good ones, the pacing cue counting.
"${companion[@]}" replay recordings/calf-raises-rushed.calf --start 95.8 --paused \
    --duration 8 --screenshot "$out/calf-raise-set.png"

# 2. A straight-knee stretch held for 13 s while bouncing: the hold timer and the warning.
"${companion[@]}" replay recordings/stretch-bouncing.calf --start 30 --paused \
    --duration 5 --screenshot "$out/stretch-bounce-warning.png"

# 3. The device panel: two emulated Movesense sensors through the real BLE code, after a scan,
#    during the calibration step (stance, then ankle pumps).
"${companion[@]}" live --emulate movesense --devices --duration 13 \
    --screenshot "$out/device-panel.png"

# 4. A replay at the end of a session: `companion score`'s report in the window.
"${companion[@]}" replay recordings/calf-raises-rushed.calf --start end \
    --duration 20 --screenshot "$out/replay-end-of-session.png"

# 5. The same window in the dark palette (tibialis raises).
"${companion[@]}" replay recordings/tibialis-raises.calf --start 75 --paused --dark \
    --duration 6 --screenshot "$out/tibialis-dark.png"
