package mongo_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/event"

	"github.com/lrs-project/lrs/lrs"
	"github.com/lrs-project/lrs/lrs/mongo"
	"github.com/lrs-project/lrs/schema"
)

// commands records the commands the driver sends (one per round trip).
type commands struct {
	mu   sync.Mutex
	list []string // "<command> <collection>"
}

func (c *commands) monitor() *event.CommandMonitor {
	return &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		coll := ""
		if v, err := e.Command.LookupErr(e.CommandName); err == nil {
			coll, _ = v.StringValueOK()
		}
		c.mu.Lock()
		c.list = append(c.list, e.CommandName+" "+coll)
		c.mu.Unlock()
	}}
}

// during returns the commands fn sent.
func (c *commands) during(t *testing.T, fn func()) []string {
	t.Helper()
	c.mu.Lock()
	n := len(c.list)
	c.mu.Unlock()
	fn()
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.list[n:]...)
}

func openMonitored(t *testing.T) (*mongo.DB, *commands) {
	c := &commands{}
	return openWith(t, c.monitor()), c
}

// batch returns n new statements (fresh ids) from agents and activities
// drawn from pools of the given sizes, each with a name and a definition
// that depend on the agent or activity alone.
func batch(t *testing.T, n, agents, activities, offset int) []*schema.Statement {
	t.Helper()
	var b strings.Builder
	b.WriteByte('[')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		a, act := (offset+i)%agents, (offset+i)%activities
		fmt.Fprintf(&b, `{"id":%q,"actor":{"mbox":"mailto:u%d@example.com","name":"User %d"},`+
			`"verb":{"id":"http://adlnet.gov/expapi/verbs/completed","display":{"en-US":"completed"}},`+
			`"object":{"id":"http://example.com/a/%d","definition":{"name":{"en-US":"A %d"},"type":"http://adlnet.gov/expapi/activities/course"}},`+
			`"context":{"registration":%q}}`, uuid.NewString(), a, a, act, act, uuid.NewString())
	}
	b.WriteByte(']')
	stmts, _, err := schema.ParseStatements([]byte(b.String()), schema.V2_0_0, n)
	if err != nil {
		t.Fatal(err)
	}
	return stmts
}

// The write path of the service on MongoDB costs a fixed number of round
// trips per POST, whatever the batch size: an intent (Consistent-Through),
// the insert of every statement, the lookup of statements targeting them,
// the end of the intent. Definitions and names the process has recorded
// cost nothing; new agents' names cost one insert for the whole batch.
// A statements query costs one round trip per page.
func TestRoundTrips(t *testing.T) {
	db, cmds := openMonitored(t)
	ctx := context.Background()
	svc := lrs.NewService(db, lrs.ServiceOptions{Clock: db.Clock(), Activities: db, Agents: db, MaxLimit: 1000})
	w := lrs.Writer{Org: "org", Authority: []byte(`{"objectType":"Agent","account":{"homePage":"http://lrs.example","name":"k"}}`)}
	post := func(stmts []*schema.Statement) []string {
		t.Helper()
		return cmds.during(t, func() {
			if _, err := svc.PostStatements(ctx, w, stmts, schema.V2_0_0); err != nil {
				t.Fatal(err)
			}
		})
	}
	steady := []string{"insert writes", "insert statements", "find statements", "delete writes"}

	// First sight of 20 activities and 50 agents: their definitions and
	// names are recorded (one insert for all the names).
	first := post(batch(t, 100, 50, 20, 0))
	if n := count(first, "insert agents"); n != 1 {
		t.Errorf("first batch: %d inserts of agent names, want 1: %q", n, first)
	}
	for _, size := range []int{1, 10, 100, 500} {
		got := post(batch(t, size, 50, 20, size))
		if !equal(got, steady) {
			t.Errorf("POST of %d new statements (known agents and activities): %d round trips %q, want %q", size, len(got), got, steady)
		}
	}
	// New agents: one more round trip, for all their names.
	got := post(batch(t, 100, 100, 20, 1000))
	if want := []string{"insert writes", "insert statements", "find statements", "insert agents", "delete writes"}; !equal(got, want) {
		t.Errorf("POST of 100 statements by 50 new agents: %d round trips %q, want %q", len(got), got, want)
	}

	for _, limit := range []int{10, 100, 400} {
		got := cmds.during(t, func() {
			page, err := svc.QueryStatements(ctx, w.Org, lrs.Query{Verb: "http://adlnet.gov/expapi/verbs/completed", Limit: limit})
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Statements) != limit || page.More == "" {
				t.Fatalf("limit %d: %d statements, more %q", limit, len(page.Statements), page.More)
			}
			next, err := svc.More(ctx, w.Org, page.More)
			if err != nil || len(next.Statements) == 0 {
				t.Fatalf("limit %d: next page: %d statements, %v", limit, len(next.Statements), err)
			}
		})
		if !equal(got, []string{"find statements", "find statements"}) {
			t.Errorf("two pages of %d statements: %d round trips %q, want one per page", limit, len(got), got)
		}
	}
}

func count(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// With ConsistentThroughReuse, a statements answer's Consistent-Through
// costs a round trip once per reuse period, not once per answer; a reused
// answer never passes a write another process began after it was read, and
// the next read after the period passes that write once it is done.
func TestConsistentThroughReuse(t *testing.T) {
	uri := mongoURI(t)
	name := "lrs_test_" + strings.ReplaceAll(uuid.NewString()[:18], "-", "")
	cmds := &commands{}
	open := func(monitor *event.CommandMonitor, reuse time.Duration) *mongo.DB {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		db, err := mongo.Open(ctx, mongo.Options{URI: uri, Database: name, Timeout: 10 * time.Second, Monitor: monitor, ConsistentThroughReuse: reuse})
		if err != nil {
			t.Fatalf("open MongoDB engine: %v", err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return db
	}
	const reuse = 400 * time.Millisecond
	reader := open(cmds.monitor(), reuse)
	writer := open(nil, 0)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = reader.Drop(ctx)
	})
	ctx := context.Background()
	clock := reader.Clock()

	var first time.Time
	got := cmds.during(t, func() {
		var err error
		if first, err = clock.ConsistentThrough(ctx); err != nil {
			t.Fatal(err)
		}
		for range 20 {
			ct, err := clock.ConsistentThrough(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !ct.Equal(first) {
				t.Fatalf("within the reuse period: %v, then %v", first, ct)
			}
		}
	})
	if !equal(got, []string{"find writes"}) {
		t.Errorf("21 answers within the reuse period: %d round trips %q, want one", len(got), got)
	}

	// A write that another process begins now takes a stored time after
	// every answer already given, the reused one included.
	stored, done, err := writer.Clock().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ct, err := clock.ConsistentThrough(ctx); err != nil || !ct.Before(stored) {
		t.Errorf("reused consistent-through %v (%v) is not before a write in flight at %v", ct, err, stored)
	}
	// Past the period the intent is read again: held back while in flight...
	time.Sleep(reuse + 50*time.Millisecond)
	got = cmds.during(t, func() {
		ct, err := clock.ConsistentThrough(ctx)
		if err != nil || !ct.Before(stored) {
			t.Errorf("consistent-through %v (%v) passed a write in flight at %v", ct, err, stored)
		}
		if ct.Before(first) {
			t.Errorf("consistent-through went back from %v to %v", first, ct)
		}
	})
	if !equal(got, []string{"find writes"}) {
		t.Errorf("after the reuse period: %d round trips %q, want one", len(got), got)
	}
	// ...and passing it once it is done.
	done()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ct, err := clock.ConsistentThrough(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !ct.Before(stored) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("consistent-through %v did not pass the finished write at %v within 15s", ct, stored)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
