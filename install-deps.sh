#!/bin/sh
# Install the Debian 12 packages libsslkit needs to build, test and run its
# demos.  Uses sudo when not root.  Safe to run repeatedly.
set -e
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
PKGS="build-essential meson ninja-build pkg-config clang
  libblis-dev liblapack-dev liblapacke-dev zlib1g-dev check abigail-tools
  libturbojpeg0-dev libpng-dev libcairo2-dev libjson-c-dev liblbfgs-dev
  python3 python3-numpy python3-pytest
  dataset-fashion-mnist
  libarpack2-dev
  openmpi-bin libopenmpi-dev python3-mpi4py"
# Skip apt entirely when everything is present (fast re-runs, offline CI).
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
fi
