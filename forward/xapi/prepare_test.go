package xapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward"
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

// reference is what a decode and re-encode of the statement sends: the
// members stored and authority removed, and version when its major
// version is not the one sent.
func reference(t *testing.T, raw, version string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	delete(m, "stored")
	delete(m, "authority")
	if v, ok := m["version"].(string); ok && len(v) >= 2 && v[:2] != version[:2] {
		delete(m, "version")
	}
	return m
}

// The POST's body, written straight from the stored bytes into one
// buffer, is the JSON array a decode and re-encode of every statement
// would send, for statements that trip a byte-level rewrite; a statement
// that is not an object is left out (and rejected), and the halves of a
// split batch are the same statements again.
func TestSendBodyIsTheDecodedStatements(t *testing.T) {
	tricky := []string{
		`{"id":"00000000-0000-4000-8000-000000000001","stored":"2026-01-01T00:00:00.000Z","authority":{"mbox":"mailto:a@b.c","objectType":"Agent"},"version":"1.0.3","verb":{"id":"urn:v"}}`,
		"{\n  \"id\" : \"00000000-0000-4000-8000-000000000002\" ,\r\n\t\"version\":\"2.0.0\" , \"stored\" :\"x\",\"authority\" : { \"a\" : [ 1 , 2 ] } }  ",
		`{"id":"00000000-0000-4000-8000-000000000003","st\u006fred":"escaped key: dropped as stored","\u0061uthority":1,"versio\u006e":"2.0.0","verb":{"id":"urn:\"stored\":"}}`,
		`{"id":"00000000-0000-4000-8000-000000000004","object":{"objectType":"SubStatement","stored":"kept","authority":{"mbox":"mailto:x@y.z"},"version":"2.0.0","object":{"id":"urn:o"}},"context":{"extensions":{"urn:stored":{"stored":"kept","version":"1.0.3"}}}}`,
		`{"id":"00000000-0000-4000-8000-000000000005","result":{"response":"{\"stored\": \"a\\\"\", \"authority\": [}","score":{"raw":-1.5e3,"scaled":0.25}},"x":[true,false,null,{"stored":[]}],"stored":[]}`,
		`{"id":"00000000-0000-4000-8000-000000000006","verb":{"id":"urn:v","display":{"fr":"réussi ✓","ja":"合格"}},"version":"1.0.0"}`,
		`{}`,
	}
	for _, version := range []string{"1.0.3", "2.0.0"} {
		t.Run(version, func(t *testing.T) {
			var mu sync.Mutex
			var posts [][]any
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasSuffix(r.URL.Path, "/about") {
					_, _ = io.WriteString(w, `{"version":["`+version+`"]}`)
					return
				}
				if got := r.Header.Get("X-Experience-API-Version"); got != version {
					t.Errorf("sent with version %s, want %s", got, version)
				}
				var list []any
				if err := json.NewDecoder(r.Body).Decode(&list); err != nil {
					t.Errorf("the body is not a JSON array: %v", err)
				}
				mu.Lock()
				posts = append(posts, list)
				mu.Unlock()
				if len(list) > 4 {
					w.WriteHeader(http.StatusRequestEntityTooLarge)
					return
				}
				ids := make([]string, len(list))
				_ = json.NewEncoder(w).Encode(ids)
			}))
			defer srv.Close()
			cfg := forward.Configuration{ID: "c", Org: "o", Type: TypeName,
				Properties: map[string]string{"endpoint": srv.URL, "version": version}}
			d, err := New(cfg, map[string]string{"key": "k", "secret": "s"}, Options{Egress: forward.MustEgress("127.0.0.0/8,::1/128"), Timeout: 2 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			var items []forward.Item
			var want []any
			for i, raw := range tricky {
				items = append(items, forward.Item{Delivery: forward.Delivery{StatementID: fmt.Sprint("s", i)}, Statement: []byte(raw)})
				want = append(want, reference(t, raw, version))
				if i == 2 {
					items = append(items, forward.Item{Delivery: forward.Delivery{StatementID: "bad"}, Statement: []byte(`["not an object"]`)})
				}
			}
			r := d.Send(context.Background(), items)
			if r.Outcome != forward.OutcomeSuccess || len(r.Rejected) != 1 || r.Rejected["bad"] == "" {
				t.Errorf("result %+v, want the one that is not an object rejected", r)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(posts) != 3 {
				t.Fatalf("%d POSTs, want 3 (the batch, then its halves after a 413)", len(posts))
			}
			if !reflect.DeepEqual(posts[0], want) {
				t.Errorf("POSTed\n%v\nwant\n%v", posts[0], want)
			}
			if halves := append(slices.Clone(posts[1]), posts[2]...); !reflect.DeepEqual(halves, want) {
				t.Errorf("the halves POSTed\n%v\nwant\n%v", halves, want)
			}
		})
	}
}
