#!/usr/bin/env bash
# Sets talkratio up on Debian 12 / Python 3.11, as root or as a user who may sudo:
# the Debian packages it needs, a virtual environment in .venv, and the package itself.
#
#   bash deploy/install.sh                     # the runtime only: numpy + onnxruntime, never torch
#   bash deploy/install.sh train,dev espeak-ng # plus training (torch 2.13.0, CPU) and test tools,
#                                              # and the named Debian packages
set -euo pipefail
cd "$(dirname "$0")/.."

extras="${1:-}"
shift || true
debian=(libportaudio2 python3-venv "$@")  # PortAudio for the microphone; venv is split off on Debian

missing=()
for package in "${debian[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ] && command -v apt-get >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
pip=(.venv/bin/python -m pip install -q --disable-pip-version-check)
if [[ ",$extras," == *",train,"* ]]; then
  # torch is pinned: an unpinned torch would pull a multi-GB CUDA build.
  "${pip[@]}" torch==2.13.0 -e ".[$extras]"
else
  "${pip[@]}" -e ".${extras:+[$extras]}"
fi
