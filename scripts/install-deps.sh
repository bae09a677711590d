#!/usr/bin/env bash
# Idempotent installer for OpenRDU's build and test dependencies (Debian 12 packages only).
# Installs only what is missing; safe to run any number of times; needs no standard input.
set -euo pipefail

PKGS=(
  build-essential cmake ninja-build ccache pkg-config git
  verilator libsystemc-dev
  libyaml-cpp-dev libgtest-dev libgmock-dev libcli11-dev libspdlog-dev libfmt-dev
  libboost-dev nlohmann-json3-dev
  libonnx-dev libonnx-testdata libprotobuf-dev protobuf-compiler
  python3 python3-yaml python3-numpy
  gtkwave xvfb x11-apps zlib1g-dev
  clang libclang-rt-14-dev
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
echo "install-deps: done"
