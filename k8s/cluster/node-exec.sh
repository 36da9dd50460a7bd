#!/usr/bin/env bash
# Runs a command as if on the cluster's node: in its network namespace (pod and Service IPs
# reachable) with cluster DNS (CoreDNS, the namespace dtmon searched first), in a private mount
# namespace so the host's /etc/resolv.conf is untouched.
#   node-exec.sh python3 -c 'import socket; print(socket.gethostbyname("dtmon-api"))'
. "$(dirname "$0")/lib.sh"
[ $# -gt 0 ] || die "usage: node-exec.sh COMMAND [ARGS...]"
ip netns list | grep -qw "$NETNS" || die "the local cluster is not running: \`make cluster-up\`"
printf 'nameserver %s\nsearch dtmon.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n' \
  "$DNS_IP" >"$STATE/node-resolv.conf"
# shellcheck disable=SC2016  # $0 and $@ belong to the inner shell
exec "${IN_NS[@]}" unshare --mount --propagation private \
  sh -c 'mount --bind "$0" /etc/resolv.conf && exec "$@"' "$STATE/node-resolv.conf" "$@"
