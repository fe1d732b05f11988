// Package room is parley-signal's room registry: room ids, admission of the
// two participants, rejoin and replacement, idle expiry, self-destruct
// timers, destroy, and the tombstones that let clients tell a destroyed room
// from one that never existed.
//
// It knows nothing about HTTP or WebSockets. The server hands it a Conn for
// each live connection and the registry talks to participants only through
// that interface (non-blocking calls, made while the registry's lock is held,
// which is what keeps event order consistent). Room state lives in memory
// only; Store is the seam for a shared backend when several nodes serve the
// same rooms.
package room
