package push

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// ErrDenied is wrapped by the error of a push refused by Config.DenyCIDRs.
var ErrDenied = errors.New("subscriber address in a denied network")

// DeniedError says which address of which host is in which denied network.
type DeniedError struct {
	Host string
	Addr netip.Addr
	Net  netip.Prefix
}

func (e *DeniedError) Error() string {
	return fmt.Sprintf("address %s of host %s is in a denied network %s", e.Addr, e.Host, e.Net)
}

// Unwrap makes errors.Is(err, ErrDenied) true.
func (e *DeniedError) Unwrap() error { return ErrDenied }

// denyList dials through a check of every address against the denied
// networks.
type denyList struct {
	nets []netip.Prefix
	bad  error // an entry that is not a CIDR: every dial fails with it
	next func(addr string, timeout time.Duration) (net.Conn, error)
}

func newDenyList(cidrs []string, next func(string, time.Duration) (net.Conn, error)) *denyList {
	d := &denyList{next: next}
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(strings.TrimSpace(c))
		if err != nil {
			d.bad = fmt.Errorf("%w: deny list entry %q is not a CIDR network: every push is refused", ErrDenied, c)
			continue
		}
		d.nets = append(d.nets, p.Masked())
	}
	if d.next == nil {
		d.next = dialTCP
	}
	return d
}

func dialTCP(addr string, timeout time.Duration) (net.Conn, error) {
	return net.DialTimeout("tcp", addr, timeout)
}

// denied returns the denied network holding a, if any.
func (d *denyList) denied(a netip.Addr) (netip.Prefix, bool) {
	a = a.Unmap() // ::ffff:10.1.2.3 is 10.1.2.3
	for _, n := range d.nets {
		if n.Contains(a) {
			return n, true
		}
	}
	return netip.Prefix{}, false
}

// dial resolves addr's host, refuses it when any of its addresses is
// denied, and otherwise dials the addresses it checked, in order, until
// one connects (the host is not resolved again, so a second DNS answer
// cannot bring in an address that was not checked).
func (d *denyList) dial(addr string, timeout time.Duration) (net.Conn, error) {
	if d.bad != nil {
		return nil, d.bad
	}
	if timeout <= 0 {
		timeout = fasthttp.DefaultDialTimeout
	}
	deadline := time.Now().Add(timeout)
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		ips, err = net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("resolve %s: %w", host, err)
		}
		if len(ips) == 0 {
			return nil, fmt.Errorf("resolve %s: no address", host)
		}
	}
	for _, ip := range ips {
		if n, ok := d.denied(ip); ok {
			return nil, &DeniedError{Host: host, Addr: ip.Unmap(), Net: n}
		}
	}
	var lastErr error
	for _, ip := range ips {
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		conn, err := d.next(net.JoinHostPort(ip.Unmap().String(), port), left)
		if err == nil {
			return conn, nil
		}
		lastErr = err
	}
	if lastErr == nil {
		lastErr = fmt.Errorf("dial %s: %w", addr, context.DeadlineExceeded)
	}
	return nil, lastErr
}
