package forward

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The egress policy of every destination type: a destination may be
// reached at a public unicast address only, unless the operator allows
// more networks (LRS_FORWARD_ALLOWED_NETWORKS). It is checked when a
// configuration is saved (CheckURL: a clear 400) and again when a
// connection is made, on the address the name resolved to (the dialer's
// Control hook), so a name that resolves elsewhere later (DNS rebinding)
// is refused all the same. The kit's HTTP client follows no redirect and
// uses no proxy from the environment, so the address checked is the one
// the request goes to.

// Egress is an egress policy. The zero value and nil allow public unicast
// addresses only.
type Egress struct {
	allowed []netip.Prefix
}

// ErrEgress: the policy refuses the address (errors.Is of an
// *EgressError).
var ErrEgress = errors.New("forward: the egress policy refuses the address")

// EgressError is a connection the policy refused.
type EgressError struct {
	Addr netip.Addr
	Why  string // "a private address"
	Host string // the name that resolved to Addr, when known
}

func (e *EgressError) Error() string {
	what := e.Addr.String()
	if e.Host != "" {
		what = fmt.Sprintf("host %q resolves to %s, which", e.Host, e.Addr)
	}
	return fmt.Sprintf("%s is %s: the egress policy reaches public addresses only unless LRS_FORWARD_ALLOWED_NETWORKS allows it", what, e.Why)
}

func (e *EgressError) Is(target error) bool { return target == ErrEgress }

// ParseEgress returns the policy that allows, besides public unicast
// addresses, the networks of a comma-separated CIDR list
// ("127.0.0.0/8,10.0.0.0/8"; a bare address is its own /32 or /128).
func ParseEgress(list string) (*Egress, error) {
	e := &Egress{}
	var errs []error
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil {
				errs = append(errs, fmt.Errorf("%q: want a CIDR network such as 10.0.0.0/8 or fd00::/8", f))
				continue
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		e.allowed = append(e.allowed, p.Masked())
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return e, nil
}

// MustEgress is ParseEgress that panics on an error (tests, constants).
func MustEgress(list string) *Egress {
	e, err := ParseEgress(list)
	if err != nil {
		panic(err)
	}
	return e
}

// String is the list of allowed networks besides public unicast.
func (e *Egress) String() string {
	if e == nil {
		return ""
	}
	out := make([]string, len(e.allowed))
	for i, p := range e.allowed {
		out[i] = p.String()
	}
	return strings.Join(out, ",")
}

// special are the special-purpose ranges that are not public unicast
// although net/netip calls them global unicast (IANA's IPv4 and IPv6
// Special-Purpose Address Registries).
var special = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24",
		"198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4",
		"64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32", "2002::/16", "3fff::/20",
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// Allows reports whether a connection to addr is allowed, with the reason
// when it is not ("a private address").
func (e *Egress) Allows(addr netip.Addr) (bool, string) {
	addr = addr.Unmap().WithZone("")
	if e != nil {
		for _, p := range e.allowed {
			if p.Contains(addr) {
				return true, ""
			}
		}
	}
	switch {
	case !addr.IsValid():
		return false, "not an address"
	case addr.IsLoopback():
		return false, "a loopback address"
	case addr.IsPrivate():
		return false, "a private address"
	case addr.IsLinkLocalUnicast():
		return false, "a link-local address (such as a cloud metadata service)"
	case addr.IsUnspecified():
		return false, "the unspecified address"
	case addr.IsMulticast(), addr.IsLinkLocalMulticast(), addr.IsInterfaceLocalMulticast():
		return false, "a multicast address"
	case !addr.IsGlobalUnicast() || addr == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return false, "not a unicast address"
	}
	for _, p := range special {
		if p.Contains(addr) {
			return false, "a special-purpose address (" + p.String() + ")"
		}
	}
	return true, ""
}

func (e *Egress) refuse(addr netip.Addr, why string) error {
	return &EgressError{Addr: addr.Unmap().WithZone(""), Why: why}
}

// control is the dialer's Control hook: it runs on the resolved address of
// every connection, before it is made.
func (e *Egress) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot read the address %q", ErrEgress, address)
	}
	if ok, why := e.Allows(ap.Addr()); !ok {
		return e.refuse(ap.Addr(), why)
	}
	return nil
}

// Dialer returns a dialer that connects only where the policy allows
// (for destinations that dial by themselves, such as SFTP).
func (e *Egress) Dialer(timeout time.Duration) *net.Dialer {
	return &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, Control: e.control}
}

// CheckURL checks a URL a configuration sends to, when it is saved: an
// absolute http(s) URL, without user name or password (credentials belong
// in the secrets), whose host is a name or an address in the standard
// notation (not 2130706433, 0x7f.1 or 017700000001), and, when it is an
// address or a name that resolves now, only to addresses the policy
// allows. A name that does not resolve is accepted: the connection is
// checked again when it is made.
func (e *Egress) CheckURL(ctx context.Context, raw string) error {
	host, err := CheckURLSyntax(raw)
	if err != nil {
		return err
	}
	return e.checkHost(ctx, host)
}

// CheckAddress checks an address a configuration connects to that is not
// a URL (an SFTP server's host[:port]), when it is saved, as CheckURL
// checks a URL's host: a name or an address in the standard notation, a
// port of 1 to 65535, and, when it is an address or a name that resolves
// now, only addresses the policy allows.
func (e *Egress) CheckAddress(ctx context.Context, raw string) error {
	host, port, err := net.SplitHostPort(strings.TrimSpace(raw))
	if err != nil {
		host, port = strings.TrimSpace(raw), "" // host alone
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if host == "" || strings.ContainsAny(host, "/@ ") {
		return errors.New("want host or host:port")
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("port %q: want 1 to 65535", port)
		}
	}
	if _, err := netip.ParseAddr(host); err != nil && numericHost(host) {
		return fmt.Errorf("host %q is an address in a non-standard notation: write it as a dotted quad, or use a name", host)
	}
	return e.checkHost(ctx, host)
}

// checkHost is the policy's verdict on a host (an address, or a name as
// it resolves now; a name that does not resolve is accepted).
func (e *Egress) checkHost(ctx context.Context, host string) error {
	if a, err := netip.ParseAddr(host); err == nil {
		if ok, why := e.Allows(a); !ok {
			return e.refuse(a, why)
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil // not resolvable now: checked when connecting
	}
	for _, a := range addrs {
		if ok, why := e.Allows(a); !ok {
			return &EgressError{Addr: a.Unmap().WithZone(""), Why: why, Host: host}
		}
	}
	return nil
}

// CheckURLSyntax checks what CheckURL checks without the network (an
// absolute http(s) URL without credentials, whose host is a name or an
// address in the standard notation) and returns its host.
func CheckURLSyntax(raw string) (host string, err error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return "", errors.New("want an absolute http(s) URL")
	}
	if u.User != nil {
		return "", errors.New("must not carry a user name or password: put credentials in the secrets")
	}
	host = u.Hostname()
	if host == "" {
		return "", errors.New("want an absolute http(s) URL with a host")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("port %q: want 1 to 65535", p)
		}
	}
	if _, err := netip.ParseAddr(host); err != nil && numericHost(host) {
		return "", fmt.Errorf("host %q is an address in a non-standard notation: write it as a dotted quad, or use a name", host)
	}
	return host, nil
}

// Origin is a URL's scheme, host and port ("https://lms.example.com:443"),
// the unit secrets are entered for; "" when raw is not a URL.
func Origin(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		return ""
	}
	port := u.Port()
	if port == "" {
		switch strings.ToLower(u.Scheme) {
		case "https":
			port = "443"
		case "http":
			port = "80"
		}
	}
	return strings.ToLower(u.Scheme) + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// numericHost reports whether host is made only of numbers (decimal,
// octal or hex parts separated by dots), as the inet_aton notations of an
// IPv4 address are: some resolvers and clients take them for addresses.
func numericHost(host string) bool {
	for _, part := range strings.Split(strings.TrimSuffix(host, "."), ".") {
		p := strings.ToLower(part)
		if h, ok := strings.CutPrefix(p, "0x"); ok {
			p = h
			if p == "" || strings.Trim(p, "0123456789abcdef") != "" {
				return false
			}
			continue
		}
		if p == "" || strings.Trim(p, "0123456789") != "" {
			return false
		}
	}
	return true
}

// HTTPOptions tune the kit's HTTP client.
type HTTPOptions struct {
	// Timeout bounds one request from the start of the connection to the
	// last byte of the answer's body (connect, TLS, headers, body);
	// default 30s. Connecting and the TLS handshake are each bounded by
	// at most 10s of it.
	Timeout time.Duration
	// Egress is the policy of the addresses connected to; nil allows
	// public unicast addresses only.
	Egress *Egress
}

// NewHTTPClient returns the HTTP client of a destination type, shared by
// all its destinations: it follows no redirect (a 3xx where a 2xx is
// expected is a destination-wide rejection, and a redirect could carry
// credentials elsewhere), uses no proxy from the environment, connects
// only where the egress policy allows, and bounds every request with the
// per-attempt deadline.
func NewHTTPClient(o HTTPOptions) *http.Client {
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	step := min(o.Timeout, 10*time.Second)
	t := &http.Transport{
		Proxy:                 nil,
		DialContext:           o.Egress.Dialer(step).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   step,
		ResponseHeaderTimeout: o.Timeout,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{
		Transport:     t,
		Timeout:       o.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
