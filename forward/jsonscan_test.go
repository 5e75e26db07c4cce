package forward

import (
	"errors"
	"strings"
	"testing"
)

// ScanObject gives each member as written, and refuses what is not one
// JSON object.
func TestScanObject(t *testing.T) {
	var got []string
	err := ScanObject([]byte(` { "a" : 1 ,"b\"c":{"x":[1,"]}",{}]}, "d":"}" , "e":null} `), func(k, v []byte) error {
		got = append(got, string(k)+"="+string(v))
		return nil
	})
	want := `"a"=1|"b\"c"={"x":[1,"]}",{}]}|"d"="}"|"e"=null`
	if err != nil || strings.Join(got, "|") != want {
		t.Errorf("members %q (%v), want %q", strings.Join(got, "|"), err, want)
	}
	if err := ScanObject([]byte(`{}`), func(k, v []byte) error { t.Error("a member of {}"); return nil }); err != nil {
		t.Errorf("{}: %v", err)
	}
	for _, bad := range []string{``, `[]`, `{"a":1}x`, `{"a":1}{}`, `{"a" 1}`, `{"a":1,}`, `{"a":}`, `{"a":"1}`, `{a:1}`, `"a"`} {
		if err := ScanObject([]byte(bad), func(k, v []byte) error { return nil }); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	stop := errors.New("stop")
	n := 0
	if err := ScanObject([]byte(`{"a":1,"b":2}`), func(k, v []byte) error { n++; return stop }); err != stop || n != 1 {
		t.Errorf("fn's error: %v after %d members, want it after 1", err, n)
	}
}
