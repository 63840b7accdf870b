#!/bin/sh
# Generate the build system from a git checkout: ./autogen.sh && ./configure && make
set -e
cd "$(dirname "$0")"
autoreconf --force --install --verbose
