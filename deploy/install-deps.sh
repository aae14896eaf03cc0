#!/usr/bin/env bash
# Installs what oo-responder, its demo and its tests need on a Debian 12 machine (as root), then the npm
# dependencies. The lab hosts the demo and the tests build are made from these Debian packages.
set -euo pipefail
# ansible (not only ansible-core): the fleet benchmark reads Ansible through the ansible.posix.json stdout
# callback, which lives in the collections Debian's ansible package carries.
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  openssh-server openssh-client sudo nginx-light supervisor redis-server \
  iptables nftables iproute2 procps psmisc curl net-tools ca-certificates \
  ansible-core ansible pssh systemd >/dev/null

# Debian starts these on install where it can; the lab runs its own instance of each per host.
for svc in nginx supervisor redis-server ssh; do service "$svc" stop >/dev/null 2>&1 || true; done

# `npm install`, not `npm ci`: msgpackr-extract (via bullmq) lists optional prebuilt packages for other
# platforms that the registry reachable here does not serve, and `npm ci` refuses a lock without them.
# `npm install` keeps the lock's versions and skips the optional packages it cannot get.
npm install --no-audit --no-fund
