package peer

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

const (
	// chatWriteMessage is the largest SCTP message Write sends on the chat
	// and call channels; bigger writes are split.
	chatWriteMessage = 16 << 10
	// filesWriteMessage is the message size on the files channel, where
	// throughput matters (it must not exceed maxReadMessage).
	filesWriteMessage = 64 << 10
	// maxReadMessage is the largest SCTP message Read accepts from the peer
	// (the default SDP max-message-size). A bigger one ends the stream.
	maxReadMessage = 64 << 10
	// Write blocks while more than highWater bytes are queued in SCTP and
	// resumes once the queue drains to lowWater, so a fast writer cannot
	// buffer without bound.
	highWater = 4 << 20
	lowWater  = 1 << 20
)

// errStreamClosed is returned by Write after Close.
var errStreamClosed = errors.New("peer: stream closed")

// flowControl is the send-queue accounting of a data channel: it counts
// queued bytes until the peer acknowledged them.
type flowControl interface {
	BufferedAmount() uint64
	SetBufferedAmountLowThreshold(uint64)
	OnBufferedAmountLow(func())
}

// stream adapts a detached data channel (message oriented) into a byte
// stream: Read serves one SCTP message in parts, Write splits into
// messages of at most maxWrite bytes.
type stream struct {
	dc       flowControl
	raw      io.ReadWriteCloser
	maxWrite int

	rmu  sync.Mutex
	buf  []byte
	rest []byte

	wmu sync.Mutex
	low chan struct{} // signalled by OnBufferedAmountLow

	closeOnce sync.Once
	closed    chan struct{}
}

func newStream(dc flowControl, raw io.ReadWriteCloser, maxWrite int) *stream {
	s := &stream{
		dc:       dc,
		raw:      raw,
		maxWrite: maxWrite,
		buf:      make([]byte, maxReadMessage),
		low:      make(chan struct{}, 1),
		closed:   make(chan struct{}),
	}
	dc.SetBufferedAmountLowThreshold(lowWater)
	dc.OnBufferedAmountLow(func() {
		select {
		case s.low <- struct{}{}:
		default:
		}
	})
	return s
}

// Read implements io.Reader.
func (s *stream) Read(p []byte) (int, error) {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	for len(s.rest) == 0 {
		n, err := s.raw.Read(s.buf)
		if err != nil {
			if errors.Is(err, io.ErrShortBuffer) {
				_ = s.Close()
				return 0, fmt.Errorf("peer: message larger than %d bytes: %w", maxReadMessage, err)
			}
			return 0, err
		}
		s.rest = s.buf[:n]
	}
	n := copy(p, s.rest)
	s.rest = s.rest[n:]
	return n, nil
}

// Write implements io.Writer. It blocks while the send queue is full.
func (s *stream) Write(p []byte) (int, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	written := 0
	for len(p) > 0 {
		if err := s.waitQueue(); err != nil {
			return written, err
		}
		chunk := p
		if len(chunk) > s.maxWrite {
			chunk = chunk[:s.maxWrite]
		}
		n, err := s.raw.Write(chunk)
		written += n
		if err != nil {
			return written, fmt.Errorf("peer: write data channel: %w", err)
		}
		p = p[len(chunk):]
	}
	return written, nil
}

// waitQueue waits until the SCTP send queue is at most highWater bytes.
func (s *stream) waitQueue() error {
	for s.dc.BufferedAmount() > highWater {
		select {
		case <-s.closed:
			return errStreamClosed
		case <-s.low:
		case <-time.After(100 * time.Millisecond): // the channel may have died without a low event
		}
	}
	select {
	case <-s.closed:
		return errStreamClosed
	default:
		return nil
	}
}

// Close closes the data channel and ends a Read in progress. It is safe
// to call more than once.
func (s *stream) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.closed)
		err = s.raw.Close()
		// Closing only resets our outgoing half: a blocked Read would wait
		// for the peer to close its side too, which a peer that never uses
		// the channel does not do until the connection ends.
		if d, ok := s.raw.(interface{ SetReadDeadline(time.Time) error }); ok {
			_ = d.SetReadDeadline(time.Now())
		}
	})
	return err
}
