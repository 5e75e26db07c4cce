package pebbledb

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

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
// own (and before per-configuration queues: its due index is q/) reads
// back as it was written once reopened, and works on.
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
	d, err := Open(t.TempDir(), Options{CacheBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	old := 0
	for _, r := range golden.Records {
		k, err1 := hex.DecodeString(r.Key)
		v, err2 := hex.DecodeString(r.Value)
		if err := errors.Join(err1, err2); err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(string(k), "q/") {
			old++
		}
		if err := d.db.Set(k, v, cpebble.Sync); err != nil {
			t.Fatal(err)
		}
	}
	if old == 0 {
		t.Fatal("the snapshot has no entry of the old due index")
	}
	// What Open does to such a store (without freeing the leases, as Open
	// also does, so that the check below sees the lease still held).
	moved, err := d.moveDueIndex()
	if err != nil || moved != old {
		t.Fatalf("moved %d entries of the old due index (%v), want %d", moved, err, old)
	}
	n := 0
	if err := d.fwdScan(oldDuePrefix, false, func(_, _ []byte) (bool, error) { n++; return true, nil }); err != nil || n != 0 {
		t.Errorf("%d entries of the old due index left (%v)", n, err)
	}
	t.Cleanup(func() { _ = d.Close() })
	storetest.CheckForwardRecordsV0(t, d)
}

// Open moves the due index of a store written before per-configuration
// queues, says so in the log, and the deliveries are claimed as before.
func TestOpenMovesTheOldDueIndex(t *testing.T) {
	dir := t.TempDir()
	d, err := Open(dir, Options{CacheBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	at := fwdMsTime(1_700_000_000_000)
	if err := d.EnsureDeliveries(ctx, []forward.Delivery{{Org: "o", ConfigurationID: "c", StatementID: "s1", State: forward.StatePending,
		NextAttempt: at, CreatedAt: at, UpdatedAt: at}}); err != nil {
		t.Fatal(err)
	}
	// Rewrite its due entry the way the code before per-configuration
	// queues wrote it.
	b := d.db.NewBatch()
	_ = b.Delete(dueKey(floorMs(at), "o", "c", "s1"), nil)
	_ = b.Set(appendEsc(appendEsc(appendEsc(appendMs([]byte("q/"), floorMs(at)), "o"), "c"), "s1"), make([]byte, 8), nil)
	if err := b.Commit(cpebble.Sync); err != nil {
		t.Fatal(err)
	}
	_ = b.Close()
	if keys, _ := d.DueConfigurations(ctx, at); len(keys) != 0 {
		t.Fatalf("the old entry is already seen: %v", keys)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	d, err = Open(dir, Options{CacheBytes: 1 << 20, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if !strings.Contains(log.String(), "moved the forwarding due index to per-configuration queues") || !strings.Contains(log.String(), "entries=1") {
		t.Errorf("the migration's log line:\n%s", log.String())
	}
	keys, err := d.DueConfigurations(ctx, at)
	if err != nil || len(keys) != 1 || keys[0] != (forward.ConfigKey{Org: "o", ID: "c"}) {
		t.Fatalf("due after the move: %v, %v", keys, err)
	}
	got, err := d.ClaimDeliveries(ctx, forward.Claim{Org: "o", ConfigurationID: "c", Owner: "w", Now: at, Lease: time.Minute, Limit: 5})
	if err != nil || len(got) != 1 || got[0].StatementID != "s1" {
		t.Fatalf("claim after the move: %+v, %v", got, err)
	}
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

// Deliveries are written in their binary version 2; every field comes back,
// zero times as zero times; another version, or a record cut short, is
// refused, not read as something else.
func TestDeliveryRecordVersion2(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 123e6, time.UTC)
	d := forward.Delivery{Org: "acme", ConfigurationID: "cfg\x00x", StatementID: "6fa459ea-ee8a-4ca4-894e-db77e1603500", ObjectiveID: "obj-1",
		Participant: "ann@example.com", State: forward.StatePending, Attempts: 3, NextAttempt: at.Add(time.Hour), FirstFailure: at,
		LastAttempt: at.Add(time.Minute), LastStatus: 503, LastError: "HTTP 503: é busy", CreatedAt: at.Add(-time.Hour), UpdatedAt: at,
		LeaseOwner: "host-1", LeaseUntil: at.Add(5 * time.Minute)}
	b, err := encodeDelivery(&d)
	if err != nil || b[0] != 2 {
		t.Fatalf("encoded %x, %v: want version 2 first", b, err)
	}
	got, err := decodeDelivery(b)
	if err != nil || !reflect.DeepEqual(got, d) {
		t.Fatalf("round trip:\n got %+v (%v)\nwant %+v", got, err, d)
	}
	empty := forward.Delivery{Org: "o", ConfigurationID: "c", StatementID: "s", State: forward.StateDelivered}
	b, _ = encodeDelivery(&empty)
	if got, err := decodeDelivery(b); err != nil || !reflect.DeepEqual(got, empty) || !got.LeaseUntil.IsZero() {
		t.Fatalf("round trip of zero times: %+v, %v", got, err)
	}
	if _, err := decodeDelivery(append([]byte{3}, b[1:]...)); !errors.Is(err, errRecordVersion) {
		t.Errorf("version 3: %v, want errRecordVersion", err)
	}
	if _, err := decodeDelivery(b[:len(b)-3]); err == nil {
		t.Error("a record cut short was read")
	}
}

// Assignment records carry their version too; a later one is refused.
func TestAssignmentRecordVersion(t *testing.T) {
	d := openTemp(t)
	ctx := t.Context()
	key := forward.AssignmentKey{Org: "o", Configuration: "c", Section: "5fee004cca2e43cf27000001", Objective: "obj"}
	if _, won, err := d.ReserveAssignment(ctx, forward.AssignmentRecord{Key: key, Reservation: "r", ReservedAt: time.Now()}); err != nil || !won {
		t.Fatal(won, err)
	}
	var raw []byte
	if _, err := d.get(assignmentKey(key), func(v []byte) error { raw = append([]byte(nil), v...); return nil }); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"v":1`) {
		t.Fatalf("stored assignment record %s carries no version", raw)
	}
	future := strings.Replace(string(raw), `"v":1`, `"v":2`, 1)
	if err := d.db.Set(assignmentKey(key), []byte(future), cpebble.Sync); err != nil {
		t.Fatal(err)
	}
	if _, err := d.GetAssignment(ctx, key); !errors.Is(err, errRecordVersion) {
		t.Fatalf("reading a version 2 record: %v, want errRecordVersion", err)
	}
	if err := d.ResolveAssignment(ctx, key, "r", "a", time.Now()); !errors.Is(err, errRecordVersion) {
		t.Fatalf("resolving over a version 2 record: %v, want errRecordVersion", err)
	}
}
