package api

import (
	"net"
	"testing"
)

func TestClientOf(t *testing.T) {
	tests := []struct {
		addr net.Addr
		want string // "" for not limited
	}{
		{&net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 4000}, "192.0.2.7/32"},
		{&net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.7"), Port: 4000}, "192.0.2.7/32"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:aaaa::1"), Port: 4000}, "2001:db8:1:2::/64"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:bbbb::9"), Port: 4000}, "2001:db8:1:2::/64"},
		{&net.UnixAddr{Name: "/run/lrs.sock", Net: "unix"}, ""},
	}
	for _, tt := range tests {
		got, ok := clientOf(tt.addr)
		if s := map[bool]string{true: got.String()}[ok]; s != tt.want {
			t.Errorf("clientOf(%v) = %q, want %q", tt.addr, s, tt.want)
		}
	}
}
