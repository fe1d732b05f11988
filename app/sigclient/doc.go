// Package sigclient is the app's client for Parley's signaling server: the
// small HTTP API (create a room, look one up) and the /ws WebSocket that
// proves the user's Ed25519 key, reports the other participant's presence and
// relays WebRTC signals between the two.
//
// A Client owns one WebSocket at a time (one read goroutine, one write
// goroutine) and, when asked, reconnects after transport loss with
// exponential backoff and full jitter. Everything the server says arrives on
// Events as typed values; refusals and endings carry an *Error with the
// server's stable code so callers can branch on it.
//
// The package knows nothing about pion or the UI, and it never logs signal
// contents, keys or full room ids.
package sigclient
