// Package handover moves a running sixgate's state and open sockets to a
// new process over a Unix socket, so that an upgrade keeps connections (as
// haproxy's socket transfer and Envoy's hot restart do).
//
// The running process listens on the socket (Listen). The new one, its
// configuration loaded, connects (Dial) and says hello; the old one stops
// its work at a batch boundary, sends its state as named Sections, each
// with the descriptors it owns (SCM_RIGHTS), and an end mark; the new one
// imports them, starts serving and answers Ready; the old one then exits.
// If anything fails before Ready (the new process dies, times out or
// refuses the state), the old one resumes.
//
// Wire format: frames of type u8 | length u32 (big-endian) | payload:
//
//	hello   "sixgate-handover" | version u16 | pid u32
//	section name length u8 | name | descriptors u16 | data
//	end     sections u16
//	ready   pid u32
//	abort   reason (text)
//
// A section frame with descriptors is followed by a one-byte message
// carrying them as SCM_RIGHTS. Every length is bounded (MaxFrame,
// MaxFiles); the payload is read as it arrives, not allocated up front.
package handover

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

const (
	// Version is the protocol version this binary speaks.
	Version = 1
	magic   = "sixgate-handover"

	// MaxFrame bounds a frame's payload: an engine's state with a full
	// table and its held bytes fits well under it.
	MaxFrame = 512 << 20
	// MaxFiles bounds the descriptors of one section (the kernel's
	// SCM_MAX_FD).
	MaxFiles = 253
	// MaxSections bounds the sections of one hand-over.
	MaxSections = 64
)

const (
	frameHello uint8 = 1 + iota
	frameSection
	frameEnd
	frameReady
	frameAbort
)

// Section is one named part of what is handed over: an app's state and the
// descriptors it owns. The receiver owns the Files it gets.
type Section struct {
	Name  string
	Data  []byte
	Files []*os.File
}

// Close closes the section's files.
func (s *Section) Close() {
	for _, f := range s.Files {
		f.Close()
	}
}

// ErrNoPeer is Dial's error when no process listens on the path: a cold
// start.
var ErrNoPeer = errors.New("handover: no running process to take over from")

// Conn is one end of a hand-over.
type Conn struct {
	c *net.UnixConn
}

// Close closes the connection.
func (c *Conn) Close() error { return c.c.Close() }

// SetDeadline bounds every read and write that follows.
func (c *Conn) SetDeadline(t time.Time) error { return c.c.SetDeadline(t) }

// Dial connects to the running process at path. It returns ErrNoPeer when
// nobody listens there.
func Dial(ctx context.Context, path string) (*Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, ErrNoPeer
		}
		return nil, fmt.Errorf("handover: %w", err)
	}
	return &Conn{c: nc.(*net.UnixConn)}, nil
}

// Listener is the running process's end: it accepts processes that take
// over.
type Listener struct {
	l *net.UnixListener
}

// Listen listens on path (mode 0600), replacing a socket left there by a
// process that is gone or has handed over. The socket file is left in
// place on Close, as the process taking over has put its own there.
func Listen(path string) (*Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != os.ModeSocket {
			return nil, fmt.Errorf("handover: %s exists and is not a socket", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("handover: %w", err)
		}
	}
	old := unix.Umask(0o177)
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	unix.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("handover: %w", err)
	}
	l.SetUnlinkOnClose(false)
	return &Listener{l: l}, nil
}

// Accept waits for a process that wants to take over. Only a peer of the
// same user (or root) is accepted.
func (l *Listener) Accept() (*Conn, error) {
	c, err := l.l.AcceptUnix()
	if err != nil {
		return nil, err
	}
	if err := checkPeer(c); err != nil {
		c.Close()
		return nil, err
	}
	return &Conn{c: c}, nil
}

// Close stops listening.
func (l *Listener) Close() error { return l.l.Close() }

// Addr is the socket's path.
func (l *Listener) Addr() string { return l.l.Addr().String() }

func checkPeer(c *net.UnixConn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var cred *unix.Ucred
	var cerr error
	if err := rc.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return err
	}
	if cerr != nil {
		return fmt.Errorf("handover: peer credentials: %w", cerr)
	}
	if cred.Uid != 0 && int(cred.Uid) != os.Getuid() {
		return fmt.Errorf("handover: refused a peer of uid %d", cred.Uid)
	}
	return nil
}

// SendHello announces the process taking over.
func (c *Conn) SendHello() error {
	p := append([]byte(magic), 0, Version, 0, 0, 0, 0)
	binary.BigEndian.PutUint32(p[len(p)-4:], uint32(os.Getpid()))
	return c.write(frameHello, p)
}

// ReadHello reads the hello of a process taking over and returns its pid.
func (c *Conn) ReadHello() (int, error) {
	t, p, err := c.read()
	if err != nil {
		return 0, err
	}
	if t != frameHello || len(p) != len(magic)+6 || string(p[:len(magic)]) != magic {
		return 0, errors.New("handover: the peer did not say hello")
	}
	if v := binary.BigEndian.Uint16(p[len(magic):]); v != Version {
		return 0, fmt.Errorf("handover: the peer speaks version %d, this process %d", v, Version)
	}
	return int(binary.BigEndian.Uint32(p[len(magic)+2:])), nil
}

// SendSections sends the sections and the end mark. The files stay the
// caller's.
func (c *Conn) SendSections(secs []Section) error {
	if len(secs) > MaxSections {
		return fmt.Errorf("handover: %d sections, at most %d", len(secs), MaxSections)
	}
	for _, s := range secs {
		if len(s.Name) == 0 || len(s.Name) > 255 || len(s.Files) > MaxFiles || len(s.Data) > MaxFrame-len(s.Name)-3 {
			return fmt.Errorf("handover: section %q too large or badly named", s.Name)
		}
		p := make([]byte, 0, 3+len(s.Name)+len(s.Data))
		p = append(p, byte(len(s.Name)))
		p = append(p, s.Name...)
		p = binary.BigEndian.AppendUint16(p, uint16(len(s.Files)))
		p = append(p, s.Data...)
		if err := c.write(frameSection, p); err != nil {
			return err
		}
		if len(s.Files) > 0 {
			fds := make([]int, len(s.Files))
			for i, f := range s.Files {
				fds[i] = int(f.Fd())
			}
			if _, _, err := c.c.WriteMsgUnix([]byte{'F'}, unix.UnixRights(fds...), nil); err != nil {
				return fmt.Errorf("handover: send descriptors of %s: %w", s.Name, err)
			}
		}
	}
	return c.write(frameEnd, binary.BigEndian.AppendUint16(nil, uint16(len(secs))))
}

// ReadSections reads the sections up to the end mark. On error, the
// files received so far are closed.
func (c *Conn) ReadSections() (secs []Section, err error) {
	defer func() {
		if err != nil {
			for i := range secs {
				secs[i].Close()
			}
			secs = nil
		}
	}()
	for {
		t, p, err := c.read()
		if err != nil {
			return secs, err
		}
		switch t {
		case frameEnd:
			if len(p) != 2 || int(binary.BigEndian.Uint16(p)) != len(secs) {
				return secs, errors.New("handover: end mark does not match the sections received")
			}
			return secs, nil
		case frameAbort:
			return secs, fmt.Errorf("handover: the running process refused: %s", p)
		case frameSection:
		default:
			return secs, fmt.Errorf("handover: unexpected frame %d", t)
		}
		if len(secs) == MaxSections {
			return secs, errors.New("handover: too many sections")
		}
		s, nfiles, err := parseSection(p)
		if err != nil {
			return secs, err
		}
		if nfiles > 0 {
			if s.Files, err = c.readFiles(nfiles); err != nil {
				return secs, fmt.Errorf("handover: descriptors of %s: %w", s.Name, err)
			}
		}
		secs = append(secs, s)
	}
}

// parseSection splits a section frame's payload.
func parseSection(p []byte) (Section, int, error) {
	if len(p) < 1 || len(p) < 1+int(p[0])+2 || p[0] == 0 {
		return Section{}, 0, errors.New("handover: short section")
	}
	n := int(p[0])
	s := Section{Name: string(p[1 : 1+n]), Data: p[1+n+2:]}
	nfiles := int(binary.BigEndian.Uint16(p[1+n:]))
	if nfiles > MaxFiles {
		return Section{}, 0, fmt.Errorf("handover: section %q: %d descriptors, at most %d", s.Name, nfiles, MaxFiles)
	}
	return s, nfiles, nil
}

func (c *Conn) readFiles(n int) ([]*os.File, error) {
	buf := make([]byte, 1)
	oob := make([]byte, unix.CmsgSpace(n*4))
	got, oobn, flags, _, err := c.c.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, err
	}
	var fds []int
	if oobn > 0 {
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			f, err := unix.ParseUnixRights(&m)
			if err == nil {
				fds = append(fds, f...)
			}
		}
	}
	files := make([]*os.File, len(fds))
	for i, fd := range fds {
		files[i] = os.NewFile(uintptr(fd), fmt.Sprintf("handover-%d", i))
	}
	if got != 1 || buf[0] != 'F' || len(fds) != n || flags&unix.MSG_CTRUNC != 0 {
		for _, f := range files {
			f.Close()
		}
		return nil, fmt.Errorf("got %d of %d descriptors", len(fds), n)
	}
	return files, nil
}

// SendReady tells the running process that this one serves.
func (c *Conn) SendReady() error {
	return c.write(frameReady, binary.BigEndian.AppendUint32(nil, uint32(os.Getpid())))
}

// ReadReady waits for the new process to say it serves.
func (c *Conn) ReadReady() error {
	t, p, err := c.read()
	if err != nil {
		return err
	}
	if t != frameReady || len(p) != 4 {
		return errors.New("handover: the peer did not say ready")
	}
	return nil
}

// Abort tells the process taking over why it will get nothing.
func (c *Conn) Abort(reason string) error {
	if len(reason) > 1024 {
		reason = reason[:1024]
	}
	return c.write(frameAbort, []byte(reason))
}

func (c *Conn) write(t uint8, p []byte) error {
	if len(p) > MaxFrame {
		return fmt.Errorf("handover: frame of %d bytes", len(p))
	}
	hdr := make([]byte, 5, 5+len(p))
	hdr[0] = t
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(p)))
	if _, err := c.c.Write(append(hdr, p...)); err != nil {
		return fmt.Errorf("handover: %w", err)
	}
	return nil
}

// read reads one frame. It reads exactly the frame's bytes, never more, so
// that the descriptor message that may follow is read with its
// descriptors.
func (c *Conn) read() (uint8, []byte, error) {
	return readFrame(c.c)
}

func readFrame(r io.Reader) (uint8, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, fmt.Errorf("handover: %w", err)
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > MaxFrame {
		return 0, nil, fmt.Errorf("handover: frame of %d bytes, at most %d", n, MaxFrame)
	}
	var b bytes.Buffer
	if _, err := io.CopyN(&b, r, int64(n)); err != nil {
		return 0, nil, fmt.Errorf("handover: frame of %d bytes: %w", n, err)
	}
	return hdr[0], b.Bytes(), nil
}
