package pebbledb

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	cpebble "github.com/cockroachdb/pebble/v2"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/lrs/storetest"
)

func openTemp(t *testing.T) *DB {
	t.Helper()
	d, err := Open(t.TempDir(), Options{CacheBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// A store written before the forwarding records had a version of their
// own reads back as it was written, and works on.
func TestForwardRecordsWrittenBeforeVersioning(t *testing.T) {
	b, err := os.ReadFile("testdata/forward-v0.json")
	if err != nil {
		t.Fatal(err)
	}
	var golden struct {
		Records []struct{ Key, Value string }
	}
	if err := json.Unmarshal(b, &golden); err != nil {
		t.Fatal(err)
	}
	d := openTemp(t)
	for _, r := range golden.Records {
		k, err1 := hex.DecodeString(r.Key)
		v, err2 := hex.DecodeString(r.Value)
		if err := errors.Join(err1, err2); err != nil {
			t.Fatal(err)
		}
		if err := d.db.Set(k, v, cpebble.Sync); err != nil {
			t.Fatal(err)
		}
	}
	storetest.CheckForwardRecordsV0(t, d)
}

// Records are written with their version; one of a later version (a newer
// binary's) is refused with a clear error, not read as something else.
func TestForwardRecordVersion(t *testing.T) {
	d := openTemp(t)
	ctx := t.Context()
	if err := d.PutConfiguration(ctx, forward.Configuration{ID: "c1", Org: "o", Name: "LMS"}); err != nil {
		t.Fatal(err)
	}
	var raw []byte
	if _, err := d.get(configKey("o", "c1"), func(v []byte) error { raw = append([]byte(nil), v...); return nil }); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"v":1`) {
		t.Fatalf("stored configuration %s carries no version", raw)
	}
	future := strings.Replace(string(raw), `"v":1`, `"v":2`, 1)
	if err := d.db.Set(configKey("o", "c1"), []byte(future), cpebble.Sync); err != nil {
		t.Fatal(err)
	}
	if _, err := d.GetConfiguration(ctx, "o", "c1"); !errors.Is(err, errRecordVersion) {
		t.Fatalf("reading a version 2 record: %v, want errRecordVersion", err)
	}
}
