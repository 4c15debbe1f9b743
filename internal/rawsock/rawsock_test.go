package rawsock

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pair returns a wrapped client connection and the server's end of it.
func pair(t *testing.T) (*Conn, *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	s := <-accepted
	require.NotNil(t, s)
	w, ok := Wrap(c).(*Conn)
	require.True(t, ok, "a TCP connection is wrapped")
	t.Cleanup(func() { w.Close(); s.Close() })
	return w, s.(*net.TCPConn)
}

// A write far larger than the socket buffers goes out whole (partial
// writes, waits for room), and reads see every byte, then EOF.
func TestLargeWriteAndReadToEOF(t *testing.T) {
	c, s := pair(t)
	data := make([]byte, 16<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(s)
		// Echo the length back, then close.
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		_, _ = s.Write(n[:])
		_ = s.Close()
		got <- b
	}()
	n, err := c.Write(data)
	require.NoError(t, err)
	assert.Equal(t, len(data), n)
	require.NoError(t, c.CloseWrite())
	assert.True(t, bytes.Equal(data, <-got), "the peer read every byte in order")

	var back bytes.Buffer
	buf := make([]byte, 3) // small reads: several calls
	for {
		n, err := c.Read(buf)
		back.Write(buf[:n])
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
	}
	assert.Equal(t, uint64(len(data)), binary.BigEndian.Uint64(back.Bytes()))
	n, err = c.Read(buf)
	assert.Equal(t, 0, n)
	assert.ErrorIs(t, err, io.EOF, "EOF again")
}

// Deadlines hold: a read with nothing to read and a write into a full
// buffer end with the deadline's error.
func TestDeadlines(t *testing.T) {
	c, _ := pair(t)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(20*time.Millisecond)))
	_, err := c.Read(make([]byte, 10))
	assert.ErrorIs(t, err, os.ErrDeadlineExceeded, "read")

	// The peer never reads: the buffers fill and the write waits.
	require.NoError(t, c.SetWriteDeadline(time.Now().Add(50*time.Millisecond)))
	n, err := c.Write(make([]byte, 64<<20))
	assert.ErrorIs(t, err, os.ErrDeadlineExceeded, "write")
	assert.Less(t, n, 64<<20, "written before the deadline")
}

// Close ends a read that waits for data.
func TestCloseEndsAWaitingRead(t *testing.T) {
	c, _ := pair(t)
	done := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 10))
		done <- err
	}()
	// The read is parked in the poller or about to be: either way Close
	// must end it.
	require.NoError(t, c.Close())
	select {
	case err := <-done:
		assert.ErrorIs(t, err, net.ErrClosed)
	case <-time.After(10 * time.Second):
		t.Fatal("the read did not end")
	}
}

// A write to a peer that reset the connection fails with an error; the
// process survives (SIGPIPE is not fatal on a socket).
func TestWriteAfterPeerReset(t *testing.T) {
	c, s := pair(t)
	require.NoError(t, s.SetLinger(0))
	require.NoError(t, s.Close()) // RST
	var err error
	for range 100 {
		if _, err = c.Write([]byte("after the reset\n")); err != nil {
			break
		}
		time.Sleep(time.Millisecond) // the RST arrives asynchronously
	}
	require.Error(t, err)
	var op *net.OpError
	assert.ErrorAs(t, err, &op)
}

// A connection that is not TCP is returned as it is.
func TestWrapLeavesOtherConns(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	assert.Same(t, a, Wrap(a))
}

// A read or a write allocates nothing.
func TestNoAllocations(t *testing.T) {
	c, s := pair(t)
	msg := []byte("delete 123\r\n")
	buf := make([]byte, 64)
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(s, buf[:len(msg)]); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf[:len(msg)]); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs)
}
