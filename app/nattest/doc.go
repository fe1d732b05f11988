//go:build nattest

// Package nattest runs two Parley peers behind two separate NATs in Linux
// network namespaces, with parley-signal (and its embedded TURN relay) on
// the "public" side: direct through the NATs, relayed when direct paths
// are blocked, and recovery after a link drop.
//
// It needs root (ip netns, veth, iptables) and runs with the nattest build
// tag: `make test-nat`, which `make test` calls. Everything it creates is
// inside namespaces named parley-nat-*, removed when the test ends.
package nattest
