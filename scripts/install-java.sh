#!/usr/bin/env bash
# Installs a Java runtime for DynamoDB Local on Debian/Ubuntu, only if none is
# on the PATH. The only system package weir needs; everything else comes from npm.
set -euo pipefail
if command -v java >/dev/null 2>&1; then
  java -version
  exit 0
fi
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends openjdk-17-jre-headless
java -version
