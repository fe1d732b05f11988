package transfer

import (
	"context"
	"fmt"
	"net"
	"os"
	"testing"
	"time"
)

// TestOfferFloodIsBounded: a hostile peer that offers many files at once
// gets at most MaxIncoming accepted (each holds a descriptor and disk), and
// the auto-accept limit counts all pending offers together.
func TestOfferFloodIsBounded(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, b := net.Pipe()
	c := NewConn(b, Config{DownloadDir: dir, AutoAcceptMax: 50 << 20, Logger: testLogger()})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() { cancel(); a.Close(); <-done })

	const offers = 3 * MaxIncoming
	go func() {
		for i := 0; i < offers; i++ {
			// 10 MiB each: 5 fit the 50 MiB auto-accept budget together.
			f := frame{Type: typeOffer, ID: fmt.Sprintf("flood%02d", i), Size: 10 << 20, Name: fmt.Sprintf("f%d.bin", i)}
			if _, err := a.Write(encodeFrame(f)); err != nil {
				return
			}
		}
	}()
	accepted, declined := 0, 0
	buf := make([]byte, maxFrameBytes)
	_ = a.SetReadDeadline(time.Now().Add(10 * time.Second))
	for accepted+declined < offers {
		body, err := readFrame(a, buf)
		if err != nil {
			t.Fatalf("after %d accepted, %d declined: %v", accepted, declined, err)
		}
		f, err := decodeFrame(body)
		if err != nil {
			t.Fatal(err)
		}
		switch f.Type {
		case typeAccept:
			accepted++
		case typeDecline:
			declined++
		}
	}
	if accepted > 5 || accepted == 0 {
		t.Fatalf("accepted %d of %d offers of 10 MiB with a 50 MiB budget and %d slots", accepted, offers, MaxIncoming)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) > 2*MaxIncoming { // a .part and a sidecar per accepted file
		t.Fatalf("%d files created in the download folder", len(entries))
	}
}
