package xapi

import (
	"encoding/json"
	"reflect"
	"testing"
)

// prepare drops stored, authority and a version of the other major
// version at the top level only, and keeps everything else as written.
func TestPrepare(t *testing.T) {
	for _, tc := range []struct {
		name, in, version, want string
	}{
		{"drops what the receiver sets",
			`{"id":"x","stored":"2026-01-01T00:00:00Z","authority":{"mbox":"mailto:a@b.c"},"verb":{"id":"urn:v"}}`, "1.0.3",
			`{"id":"x","verb":{"id":"urn:v"}}`},
		{"nested members of the same names stay",
			`{"object":{"objectType":"SubStatement","stored":"s","authority":1},"context":{"extensions":{"urn:x":{"version":"2.0.0"}}}}`, "1.0.3",
			`{"object":{"objectType":"SubStatement","stored":"s","authority":1},"context":{"extensions":{"urn:x":{"version":"2.0.0"}}}}`},
		{"a version of the other major version goes", `{"id":"x","version":"2.0.0"}`, "1.0.3", `{"id":"x"}`},
		{"a version of the one sent stays", `{"id":"x","version":"1.0.3"}`, "1.0.3", `{"id":"x","version":"1.0.3"}`},
		{"spaces, escapes and strings that look like JSON",
			" {\n \"id\" : \"a\\\"}\\\\\" ,\t\"st\\u006fred\": 1, \"result\": {\"response\": \"{\\\"stored\\\": [}\"} , \"n\": -1.5e3 } ", "2.0.0",
			`{"id":"a\"}\\","result":{"response":"{\"stored\": [}"},"n":-1.5e3}`},
		{"arrays and literals", `{"a":[1,{"b":[true,false,null]}],"c":null,"stored":[]}`, "1.0.3", `{"a":[1,{"b":[true,false,null]}],"c":null}`},
		{"empty", `{}`, "1.0.3", `{}`},
	} {
		got, err := prepare([]byte(tc.in), tc.version)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		var g, w any
		if err := json.Unmarshal(got, &g); err != nil {
			t.Errorf("%s: the result %s is not JSON: %v", tc.name, got, err)
			continue
		}
		_ = json.Unmarshal([]byte(tc.want), &w)
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s: prepare(%s) = %s, want %s", tc.name, tc.in, got, tc.want)
		}
	}
	for _, bad := range []string{`[1,2]`, `"x"`, `{"a":1`, `{"a" 1}`, `{"a":1}}`, `{"a":"x}`, ``, `{"a":}`} {
		if got, err := prepare([]byte(bad), "1.0.3"); err == nil {
			t.Errorf("prepare(%q) = %s, want an error", bad, got)
		}
	}
}
