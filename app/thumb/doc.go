// Package thumb makes small previews (and a screen-sized view) of image
// files that arrived from a peer or are about to be shown to the user.
//
// Every byte is hostile: the real type is sniffed from the content, never
// from the name; the header is read first and an image whose dimensions or
// estimated decoded size exceed Limits is refused (ErrTooLarge) before a
// pixel is decoded, so a decompression bomb (a few bytes that declare
// 100,000 × 100,000 pixels) costs nothing. Decoding reads at most
// Limits.MaxFileBytes, GIF decodes its first frame only, and a panic in a
// decoder becomes ErrUnreadable.
//
// Peak memory of one Render is bounded by Limits.MaxDecodeBytes (the
// decoder's estimated working set, checked from the header) plus the
// scaling steps (at most a quarter of the source at 4 bytes a pixel, then
// images of the output size) plus the encoded output. Callers run one
// Render at a time to keep that the process's bound.
//
// The package reads files and returns bytes; it stores nothing, logs
// nothing and never talks to the network.
package thumb
