// Package redisstore is a room.Store kept in Redis, so several
// parley-signal nodes behind a load balancer serve the same rooms: the two
// participants of a room may be connected to different nodes.
//
// It behaves like the in-memory room.Registry (the shared contract tests in
// package storetest run against both): two keys own a room, a rejoin
// replaces the old connection wherever it is (closed with REPLACED), peer
// events go to the other participant, idle rooms expire, self-destruct and
// destroy close both participants and leave a tombstone.
//
// Layout (every key starts with a configurable prefix, "parley:signal:"):
//
//   - room:<id>, a hash: creation and self-destruct times (ms), the room
//     verifier (v, empty or absent for none), the keys admitted (k1, k2)
//     and who holds each seat now (m1, m2) as "<node id> <conn id>". While nobody is connected the hash carries a
//     PEXPIRE at its idle deadline; while someone is, it is PERSISTed.
//   - tomb:<id>: "destroyed" or "expired", with the tombstone TTL (≥1h).
//   - rooms: a sorted set of live room ids scored by the time they stop
//     being live (idle deadline, self-destruct time, or +inf). It enforces
//     MaxRooms and answers Len without SCAN; entries past their score are
//     pruned on Create and Len.
//   - node:<node id>: this node's liveness key, with a short TTL refreshed
//     by a heartbeat; nodes: every node by last heartbeat;
//     noderooms:<node id>: rooms with a seat held on that node.
//   - key:<name>: shared secrets (SharedKey), created once with SET NX.
//
// All state changes are Lua scripts (atomic; time from Redis TIME, so node
// clocks need not agree). A seat held on a node whose liveness key has
// expired counts as offline at once; the next heartbeat of any live node
// then "reaps" the dead node: frees its seats, starts the idle countdown
// of rooms left empty and tells surviving peers with a "left" event.
//
// Each node keeps its own connections in memory and subscribes to one
// channel, ch:<node id>. A script returns whom to tell; the node delivers
// to its own connections directly and PUBLISHes to the other node's
// channel otherwise. A joiner's Joined is called before anything it is
// sent (messages that arrive earlier wait), and the peer hears of a join
// only after the joiner's Joined, as with the in-memory registry.
// Messages from one connection reach the other in order; pub/sub is at
// most once, so a message in flight when a node's link to Redis breaks is
// lost (clients resend offers on reconnect anyway).
//
// Self-destruct: the node that creates a room and every node that admits a
// participant arms a timer; whichever fires first kills the room (a
// second finds the tombstone). Any access after the deadline kills it too.
//
// Len counts live rooms across all nodes (the same figure on every node)
// and is approximate: a room whose participants sat on a node that died
// counts until that node is reaped. Redis Cluster is not supported (the
// scripts build key names); use a single Redis, or Redis with replicas and
// Sentinel. The package must not log room ids or message contents.
package redisstore
