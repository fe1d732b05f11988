// Package linkem emulates one real network link in user space, for tests
// and benchmarks that must not run on loopback: the kernel here has no
// netem, so two TUN devices stand for the link's two ends and the
// emulator forwards every IP packet between them through a model of one
// bottleneck per direction (Pipe):
//
//   - random loss: each packet is dropped with probability Loss
//     (Bernoulli, independently each way), before it is queued;
//   - a drop-tail queue of Queue bytes in front of
//   - a token bucket at Rate bits/s (one MTU deep, so departures are
//     serialised at the link rate, as on a wire);
//   - one-way propagation Delay after the bucket;
//   - packets bigger than MTU are dropped.
//
// The settings can change while packets flow (Emulator.Set): a link that
// drops for ten seconds is Loss 1, a slower line a lower Rate.
//
// The Linux part (Emulator) opens the TUN devices in the caller's network
// namespace; callers move them into namespaces of their own with
// `ip link set DEV netns NS` (the open file descriptors stay attached).
// It needs root (or CAP_NET_ADMIN) and /dev/net/tun. Delivery is timed on
// one locked OS thread per direction that sleeps with nanosleep, because
// Go timers round short sleeps up to about a millisecond, which would
// turn a 100 Mbit/s link into bursts.
//
// The emulator only forwards between its own two devices: it never opens
// a socket to anywhere, so traffic stays inside the namespaces its caller
// made.
package linkem
