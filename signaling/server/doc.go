// Package server is parley-signal's network face: the rooms HTTP API, the
// browser landing page for invite links, health and metrics endpoints, and
// the /ws WebSocket that admits participants with a signed challenge and
// relays signaling messages between the two members of a room.
//
// Room state lives behind room.Store; this package only wires it to the
// network and enforces limits (message size, rates, connection counts,
// slow consumers). It never logs message bodies, SDP, candidates, keys or
// full room ids: rooms and keys appear in logs as a short hash.
package server
