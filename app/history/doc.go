// Package history is the per-profile local store of rooms and messages.
//
// It is one bbolt file (go.etcd.io/bbolt): every change is an ACID
// transaction that is fsynced on commit, and bbolt never overwrites live
// pages (copy-on-write B+tree, new meta page written last), so a crash or a
// kill -9 at any moment leaves the database at its last committed state.
// Once AddMessage returns, the message survives any crash.
//
// Everything a stranger could learn something from is encrypted at rest with
// XChaCha20-Poly1305 under a 32-byte key that the caller keeps in the OS
// keyring (identity.LoadOrCreateSecret, account "<profile>/history-key"):
// message bodies, room links (they hold the room secret), server addresses,
// names, previews and peer keys. Rooms are keyed by RoomKey: the room id
// plus a hash of the server address, because the same room id on another
// server is another room (a link naming a hostile server must never reach a
// stored conversation). Room ids, message ids, timestamps and delivery
// states stay in clear so they can be indexed. Each sealed value is bound
// to its room key and message id, so records cannot be swapped around
// undetected. Files of format 1 (keyed by room id alone) are migrated in
// one transaction when opened. Opening a store with the wrong key fails with ErrWrongKey
// rather than returning garbage.
//
// The store is local only: it never talks to the network, and nothing in it
// is logged.
package history
