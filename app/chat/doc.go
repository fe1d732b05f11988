// Package chat is Parley's message protocol: text messages with random ids,
// delivery acks sent only after the receiver stored the message, typing
// notifications and read markers.
//
// It runs over any io.ReadWriteCloser (a verified pion data channel in the
// app, net.Pipe in tests) and must not import pion. Frames are a big-endian
// uint32 length followed by a JSON body {"t":"msg"|"ack"|"typing"|"read",...};
// everything read from the peer is untrusted and validated. Room control
// frames ({"t":"destroy","v":1}, {"t":"expires","v":1,"ts":ms}) ride the same
// verified stream, so the signaling server cannot forge them; unknown types
// and versions are ignored, which keeps older peers working. The package
// never logs message text.
package chat
