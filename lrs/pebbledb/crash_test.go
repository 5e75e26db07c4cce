package pebbledb

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lrs-project/lrs/lrs"
)

// A process killed (SIGKILL) while it inserts batches from several writers,
// with flushes to blob files and compactions under way, loses nothing it
// acknowledged: after the store is opened again, every acknowledged
// statement is there, as written, and every query over its terms finds it.
func TestKilledWriterKeepsAcknowledged(t *testing.T) {
	if dir := os.Getenv("PEBBLEDB_CRASH_CHILD"); dir != "" {
		crashChild(dir)
		return
	}
	if testing.Short() {
		t.Skip("boots a child process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledWriterKeepsAcknowledged$")
	cmd.Env = append(os.Environ(), "PEBBLEDB_CRASH_CHILD="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[string]int{} // id -> writer's sequence number
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	deadline := time.Now().Add(60 * time.Second)
	for len(acked) < 12000 && time.Now().Before(deadline) && sc.Scan() {
		var n int
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || fields[0] != "ack" {
			continue
		}
		fmt.Sscan(fields[1], &n)
		for _, id := range fields[2:] {
			acked[id] = n
		}
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL, mid-writes
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if len(acked) < 12000 {
		t.Fatalf("the child acknowledged %d statements before the deadline", len(acked))
	}

	db := open(t, dir)
	if m := db.db.Metrics(); m.BlobFiles.LiveCount == 0 {
		t.Errorf("no blob file after %d statements: the kill interrupted no flush", len(acked))
	}
	ctx := context.Background()
	var ids []string
	for id := range acked {
		ids = append(ids, id)
	}
	got, err := db.GetStatements(ctx, "o", ids)
	if err != nil {
		t.Fatal(err)
	}
	for id, n := range acked {
		r, ok := got[id]
		if !ok || string(r.Raw) != string(crashRaw(id, n)) {
			t.Fatalf("acknowledged statement %s: found %v, raw %.60q", id, ok, r.Raw)
		}
	}
	for _, term := range []string{lrs.TermAll, "v:crash", "o:even", "o:odd"} {
		found := map[string]bool{}
		q := lrs.StatementQuery{Terms: []string{term}, Limit: 5000}
		for {
			page, err := db.QueryStatements(ctx, "o", q)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range page {
				found[r.ID] = true
			}
			if len(page) < q.Limit {
				break
			}
			last := page[len(page)-1]
			q.After = &lrs.Cursor{Stored: last.Stored, ID: last.ID}
		}
		for id, n := range acked {
			want := term == lrs.TermAll || term == "v:crash" || (term == "o:even") == (n%2 == 0)
			if want && !found[id] {
				t.Fatalf("query %q misses acknowledged statement %s", term, id)
			}
		}
	}
}

func crashRaw(id string, n int) []byte {
	return fmt.Appendf(nil, `{"id":%q,"n":%d,"pad":%q}`, id, n, strings.Repeat("p", 2000))
}

// crashChild inserts batches of 50 from 8 writers until it is killed,
// printing each batch's ids once its insert returned; it flushes the
// memtable now and then, so that blob files and compactions are part of
// what the kill interrupts.
func crashChild(dir string) {
	db, err := Open(dir, Options{CacheBytes: 8 << 20})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var mu sync.Mutex
	seq := 0
	w := bufio.NewWriter(os.Stdout)
	for g := range 8 {
		go func() {
			for {
				mu.Lock()
				seq++
				n := seq
				mu.Unlock()
				recs := make([]lrs.StatementRecord, 50)
				for i := range recs {
					id := fmt.Sprintf("%08x-%04x-4000-8000-%012x", n, g, i)
					half := "o:odd"
					if n%2 == 0 {
						half = "o:even"
					}
					recs[i] = lrs.StatementRecord{ID: id, Stored: time.Now(), Raw: crashRaw(id, n),
						Terms: []string{lrs.TermAll, half, "v:crash"}}
				}
				if err := db.InsertStatements(context.Background(), "o", recs); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				var line strings.Builder
				fmt.Fprintf(&line, "ack %d", n)
				for _, r := range recs {
					line.WriteString(" " + r.ID)
				}
				mu.Lock()
				fmt.Fprintln(w, line.String())
				w.Flush()
				mu.Unlock()
				if n%40 == 0 {
					_, _ = db.db.AsyncFlush()
				}
			}
		}()
	}
	select {}
}
