package lrs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lrs-project/lrs/lrs"
	"github.com/lrs-project/lrs/schema"
)

const authority = `{"objectType":"Agent","name":"tester","account":{"homePage":"https://lrs.example","name":"key1"}}`

var writer = lrs.Writer{Org: "org1", Authority: []byte(authority)}

func newService(t *testing.T) *lrs.Service {
	t.Helper()
	return lrs.NewService(openStore(t), lrs.ServiceOptions{MaxLimit: 50})
}

func parse(t *testing.T, body string) *schema.Statement {
	t.Helper()
	st, err := schema.ParseStatement([]byte(body), schema.V2_0_0)
	if err != nil {
		t.Fatalf("parse %s: %v", body, err)
	}
	return st
}

// stmt builds a statement JSON with the given actor email, verb and activity.
func stmt(id, mbox, verb, activity string, extra ...string) string {
	idPart := ""
	if id != "" {
		idPart = fmt.Sprintf(`"id":%q,`, id)
	}
	more := ""
	for _, e := range extra {
		more += "," + e
	}
	return fmt.Sprintf(`{%s"actor":{"mbox":"mailto:%s"},"verb":{"id":"http://adlnet.gov/expapi/verbs/%s","display":{"en-US":%q}},"object":{"id":"http://example.com/activities/%s"}%s}`,
		idPart, mbox, verb, verb, activity, more)
}

func voiding(id, target string) string {
	return fmt.Sprintf(`{"id":%q,"actor":{"mbox":"mailto:admin@example.com"},"verb":{"id":"http://adlnet.gov/expapi/verbs/voided"},"object":{"objectType":"StatementRef","id":%q}}`, id, target)
}

func ref(id, mbox, target string) string {
	return fmt.Sprintf(`{"id":%q,"actor":{"mbox":"mailto:%s"},"verb":{"id":"http://adlnet.gov/expapi/verbs/confirmed"},"object":{"objectType":"StatementRef","id":%q}}`, id, mbox, target)
}

func post(t *testing.T, svc *lrs.Service, bodies ...string) []string {
	t.Helper()
	stmts := make([]*schema.Statement, len(bodies))
	for i, b := range bodies {
		stmts[i] = parse(t, b)
	}
	ids, err := svc.PostStatements(context.Background(), writer, stmts, schema.V2_0_0)
	if err != nil {
		t.Fatalf("post: %v", err)
	}
	return ids
}

func field(t *testing.T, raw []byte, name string) any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("stored statement is not JSON: %v", err)
	}
	return m[name]
}

func queryIDs(t *testing.T, svc *lrs.Service, org string, q lrs.Query) []string {
	t.Helper()
	p, err := svc.QueryStatements(context.Background(), org, q)
	if err != nil {
		t.Fatalf("query %+v: %v", q, err)
	}
	var ids []string
	for {
		for _, raw := range p.Statements {
			ids = append(ids, field(t, raw, "id").(string))
		}
		if p.More == "" {
			return ids
		}
		if p, err = svc.More(context.Background(), org, p.More); err != nil {
			t.Fatalf("more: %v", err)
		}
	}
}

func TestPutGetSetsLRSProperties(t *testing.T) {
	svc := newService(t)
	ctx := context.Background()
	id := uuid.NewString()
	before := time.Now().UTC().Truncate(time.Millisecond)
	if err := svc.PutStatement(ctx, writer, id, parse(t, stmt("", "ben@example.com", "passed", "a1")), schema.V2_0_0); err != nil {
		t.Fatalf("put: %v", err)
	}
	raw, stored, err := svc.GetStatement(ctx, writer.Org, strings.ToUpper(id), false)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if got := field(t, raw, "id"); got != id {
		t.Errorf("id = %v, want %s", got, id)
	}
	if stored.Before(before) {
		t.Errorf("stored %v before the request %v", stored, before)
	}
	if got := field(t, raw, "stored"); got != stored.UTC().Format("2006-01-02T15:04:05.000Z") {
		t.Errorf("stored = %v, want %v", got, stored)
	}
	if got := field(t, raw, "timestamp"); got != field(t, raw, "stored") {
		t.Errorf("timestamp = %v, want it set to stored %v", got, field(t, raw, "stored"))
	}
	if got := field(t, raw, "version"); got != "2.0.0" {
		t.Errorf("version = %v, want 2.0.0", got)
	}
	auth, _ := json.Marshal(field(t, raw, "authority"))
	var want any
	_ = json.Unmarshal([]byte(authority), &want)
	wantJSON, _ := json.Marshal(want)
	if string(auth) != string(wantJSON) {
		t.Errorf("authority = %s, want %s", auth, wantJSON)
	}
	if _, _, err := svc.GetStatement(ctx, "other-org", id, false); lrs.ErrorCode(err) != lrs.ENOTFOUND {
		t.Errorf("get from another org: err = %v, want ENOTFOUND", err)
	}
}

func TestPutRepeatedID(t *testing.T) {
	svc := newService(t)
	ctx := context.Background()
	id := uuid.NewString()
	body := stmt(id, "ben@example.com", "passed", "a1")
	if err := svc.PutStatement(ctx, writer, id, parse(t, body), schema.V2_0_0); err != nil {
		t.Fatalf("first put: %v", err)
	}
	if err := svc.PutStatement(ctx, writer, id, parse(t, body), schema.V2_0_0); err != nil {
		t.Errorf("same statement again: err = %v, want nil (204)", err)
	}
	other := stmt(id, "ben@example.com", "failed", "a1")
	if err := svc.PutStatement(ctx, writer, id, parse(t, other), schema.V2_0_0); lrs.ErrorCode(err) != lrs.ECONFLICT {
		t.Errorf("different statement, same id: err = %v, want ECONFLICT", err)
	}
	if err := svc.PutStatement(ctx, writer, uuid.NewString(), parse(t, body), schema.V2_0_0); lrs.ErrorCode(err) != lrs.EINVALID {
		t.Errorf("body id differs from parameter: err = %v, want EINVALID", err)
	}
	// A client's own timestamp is part of the statement; one the LRS set
	// (above) is not.
	id = uuid.NewString()
	withTS := stmt(id, "ben@example.com", "passed", "a1", `"timestamp":"2025-01-02T03:04:05Z"`)
	if err := svc.PutStatement(ctx, writer, id, parse(t, withTS), schema.V2_0_0); err != nil {
		t.Fatalf("put with a timestamp: %v", err)
	}
	if err := svc.PutStatement(ctx, writer, id, parse(t, withTS), schema.V2_0_0); err != nil {
		t.Errorf("same statement with its timestamp again: err = %v, want nil", err)
	}
	otherTS := stmt(id, "ben@example.com", "passed", "a1", `"timestamp":"2025-01-02T03:04:06Z"`)
	if err := svc.PutStatement(ctx, writer, id, parse(t, otherTS), schema.V2_0_0); lrs.ErrorCode(err) != lrs.ECONFLICT {
		t.Errorf("another timestamp, same id: err = %v, want ECONFLICT", err)
	}
}

func TestConcurrentPutsOfOneIDStoreOnce(t *testing.T) {
	svc := newService(t)
	id := uuid.NewString()
	body := stmt(id, "ben@example.com", "passed", "race")
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = svc.PutStatement(context.Background(), writer, id, parse(t, body), schema.V2_0_0)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("put %d: %v", i, err)
		}
	}
	if got := queryIDs(t, svc, writer.Org, lrs.Query{Activity: "http://example.com/activities/race"}); len(got) != 1 {
		t.Errorf("query found %d statements, want 1", len(got))
	}
}

func TestPostBatchIsAllOrNothing(t *testing.T) {
	svc := newService(t)
	ctx := context.Background()
	ids := post(t, svc, stmt("", "a@example.com", "passed", "b1"), stmt("", "b@example.com", "passed", "b1"))
	if len(ids) != 2 || ids[0] == ids[1] {
		t.Fatalf("ids = %v, want two distinct", ids)
	}
	taken := ids[0]
	fresh := uuid.NewString()
	batch := []*schema.Statement{
		parse(t, stmt(fresh, "c@example.com", "passed", "b1")),
		parse(t, stmt(taken, "a@example.com", "failed", "b1")), // conflicts
	}
	if _, err := svc.PostStatements(ctx, writer, batch, schema.V2_0_0); lrs.ErrorCode(err) != lrs.ECONFLICT {
		t.Fatalf("batch with a conflict: err = %v, want ECONFLICT", err)
	}
	if _, _, err := svc.GetStatement(ctx, writer.Org, fresh, false); lrs.ErrorCode(err) != lrs.ENOTFOUND {
		t.Errorf("statement of a rejected batch was stored: err = %v", err)
	}
	// A batch that repeats a stored statement exactly is accepted.
	again := post(t, svc, stmt(taken, "a@example.com", "passed", "b1"), stmt(fresh, "c@example.com", "passed", "b1"))
	if !slices.Equal(again, []string{taken, fresh}) {
		t.Errorf("ids = %v, want %v", again, []string{taken, fresh})
	}
}

func TestVoiding(t *testing.T) {
	svc := newService(t)
	ctx := context.Background()
	target, voider := uuid.NewString(), uuid.NewString()
	post(t, svc, stmt(target, "ben@example.com", "passed", "v1"))
	post(t, svc, voiding(voider, target))

	if _, _, err := svc.GetStatement(ctx, writer.Org, target, false); lrs.ErrorCode(err) != lrs.ENOTFOUND {
		t.Errorf("voided statement by statementId: err = %v, want ENOTFOUND", err)
	}
	if _, _, err := svc.GetStatement(ctx, writer.Org, target, true); err != nil {
		t.Errorf("voided statement by voidedStatementId: %v", err)
	}
	if _, _, err := svc.GetStatement(ctx, writer.Org, voider, true); lrs.ErrorCode(err) != lrs.ENOTFOUND {
		t.Errorf("voiding statement by voidedStatementId: err = %v, want ENOTFOUND", err)
	}
	got := queryIDs(t, svc, writer.Org, lrs.Query{})
	if slices.Contains(got, target) || !slices.Contains(got, voider) {
		t.Errorf("query = %v: want the voiding statement %s and not the voided %s", got, voider, target)
	}
	// The voiding statement matches a filter through its StatementRef.
	if got := queryIDs(t, svc, writer.Org, lrs.Query{Agent: "mbox:mailto:ben@example.com"}); !slices.Equal(got, []string{voider}) {
		t.Errorf("agent query = %v, want [%s]", got, voider)
	}
	// A voiding statement cannot be voided, in another request or the same batch.
	batch := []*schema.Statement{parse(t, voiding(uuid.NewString(), voider))}
	if _, err := svc.PostStatements(ctx, writer, batch, schema.V2_0_0); lrs.ErrorCode(err) != lrs.EINVALID {
		t.Errorf("voiding a voiding statement: err = %v, want EINVALID", err)
	}
	a, b := uuid.NewString(), uuid.NewString()
	batch = []*schema.Statement{parse(t, voiding(a, uuid.NewString())), parse(t, voiding(b, a))}
	if _, err := svc.PostStatements(ctx, writer, batch, schema.V2_0_0); lrs.ErrorCode(err) != lrs.EINVALID {
		t.Errorf("voiding a voiding statement in the same batch: err = %v, want EINVALID", err)
	}
}

func TestVoidingBeforeTargetArrives(t *testing.T) {
	svc := newService(t)
	ctx := context.Background()
	target := uuid.NewString()
	post(t, svc, voiding(uuid.NewString(), target)) // unknown target: accepted
	post(t, svc, stmt(target, "ben@example.com", "passed", "late"))
	if _, _, err := svc.GetStatement(ctx, writer.Org, target, true); err != nil {
		t.Errorf("target stored after its voiding statement is not voided: %v", err)
	}
}

func TestStatementRefFilters(t *testing.T) {
	svc := newService(t)
	c, b, a := uuid.NewString(), uuid.NewString(), uuid.NewString()
	// a targets b targets c; a arrives first, c last.
	post(t, svc, ref(a, "andrew@example.com", b))
	post(t, svc, ref(b, "bob@example.com", c))
	post(t, svc, stmt(c, "ben@example.com", "passed", "explosives"))

	got := queryIDs(t, svc, writer.Org, lrs.Query{Activity: "http://example.com/activities/explosives", Ascending: true})
	slices.Sort(got)
	want := []string{a, b, c}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("activity query = %v, want %v", got, want)
	}
	got = queryIDs(t, svc, writer.Org, lrs.Query{Agent: "mbox:mailto:bob@example.com"})
	if !slices.Contains(got, a) || !slices.Contains(got, b) || slices.Contains(got, c) {
		t.Errorf("agent query for bob = %v, want a and b only", got)
	}
}

func TestQueryFilters(t *testing.T) {
	svc := newService(t)
	reg := uuid.NewString()
	ctxActivity := `"context":{"registration":"` + reg + `","contextActivities":{"parent":{"id":"http://example.com/activities/course"}},"instructor":{"mbox":"mailto:teacher@example.com"}}`
	ids := post(t, svc,
		stmt("", "ann@example.com", "passed", "q1", ctxActivity),
		stmt("", "bob@example.com", "failed", "q1"),
		stmt("", "ann@example.com", "failed", "q2"),
	)
	tests := []struct {
		name string
		q    lrs.Query
		want []string
	}{
		{"agent", lrs.Query{Agent: "mbox:mailto:ann@example.com"}, []string{ids[0], ids[2]}},
		{"verb", lrs.Query{Verb: "http://adlnet.gov/expapi/verbs/failed"}, []string{ids[1], ids[2]}},
		{"activity", lrs.Query{Activity: "http://example.com/activities/q1"}, []string{ids[0], ids[1]}},
		{"agent and verb", lrs.Query{Agent: "mbox:mailto:ann@example.com", Verb: "http://adlnet.gov/expapi/verbs/failed"}, []string{ids[2]}},
		{"registration", lrs.Query{Registration: strings.ToUpper(reg)}, []string{ids[0]}},
		{"parent activity is not the object", lrs.Query{Activity: "http://example.com/activities/course"}, nil},
		{"related activities", lrs.Query{Activity: "http://example.com/activities/course", RelatedActivities: true}, []string{ids[0]}},
		{"instructor is not the actor", lrs.Query{Agent: "mbox:mailto:teacher@example.com"}, nil},
		{"related agents", lrs.Query{Agent: "mbox:mailto:teacher@example.com", RelatedAgents: true}, []string{ids[0]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := queryIDs(t, svc, writer.Org, tt.q)
			slices.Sort(got)
			want := slices.Clone(tt.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
	if got := queryIDs(t, svc, "another-org", lrs.Query{}); len(got) != 0 {
		t.Errorf("another organization sees %v", got)
	}
}

func TestPagingWhileStatementsArrive(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(time.Millisecond / 3) // many statements share a millisecond
		return now
	}
	svc := lrs.NewService(openStore(t), lrs.ServiceOptions{MaxLimit: 7, Now: clock})
	var all []string
	for range 20 {
		all = append(all, post(t, svc, stmt("", "p@example.com", "passed", "page"), stmt("", "p@example.com", "passed", "page"))...)
	}
	for _, asc := range []bool{false, true} {
		t.Run(fmt.Sprintf("ascending=%v", asc), func(t *testing.T) {
			ctx := context.Background()
			p, err := svc.QueryStatements(ctx, writer.Org, lrs.Query{Verb: "http://adlnet.gov/expapi/verbs/passed", Ascending: asc})
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			var lastStored string
			for page := 0; ; page++ {
				if len(p.Statements) > 7 {
					t.Fatalf("page %d has %d statements, limit 7", page, len(p.Statements))
				}
				for _, raw := range p.Statements {
					id := field(t, raw, "id").(string)
					if seen[id] {
						t.Fatalf("statement %s repeated on page %d", id, page)
					}
					seen[id] = true
					s := field(t, raw, "stored").(string)
					if lastStored != "" && ((asc && s < lastStored) || (!asc && s > lastStored)) {
						t.Fatalf("out of order: %s after %s", s, lastStored)
					}
					lastStored = s
				}
				// New statements keep arriving between pages.
				post(t, svc, stmt("", "p@example.com", "passed", "page"))
				if p.More == "" {
					break
				}
				if p, err = svc.More(ctx, writer.Org, p.More); err != nil {
					t.Fatalf("more: %v", err)
				}
			}
			for _, id := range all {
				if !seen[id] {
					t.Errorf("statement %s stored before the query was skipped", id)
				}
			}
		})
	}
	if _, err := svc.More(context.Background(), "another-org", "not-a-token"); lrs.ErrorCode(err) != lrs.EINVALID {
		t.Errorf("malformed token: err = %v, want EINVALID", err)
	}
	p, err := svc.QueryStatements(context.Background(), writer.Org, lrs.Query{Limit: 1})
	if err != nil || p.More == "" {
		t.Fatalf("query: %v, more %q", err, p.More)
	}
	if _, err := svc.More(context.Background(), "another-org", p.More); lrs.ErrorCode(err) != lrs.EINVALID {
		t.Errorf("token of another organization: err = %v, want EINVALID", err)
	}
}

func TestConsistentThroughCoversStoredStatements(t *testing.T) {
	svc := newService(t)
	ids := post(t, svc, stmt("", "ct@example.com", "passed", "ct"))
	_, stored, err := svc.GetStatement(context.Background(), writer.Org, ids[0], false)
	if err != nil {
		t.Fatal(err)
	}
	ct := func() time.Time {
		c, err := svc.ConsistentThrough(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	deadline := time.Now().Add(2 * time.Second)
	for ct().Before(stored) {
		if time.Now().After(deadline) {
			t.Fatalf("consistent-through %v never reached stored %v", ct(), stored)
		}
		time.Sleep(time.Millisecond)
	}
	if got := queryIDs(t, svc, writer.Org, lrs.Query{Until: ct()}); !slices.Contains(got, ids[0]) {
		t.Errorf("statement stored at %v not returned up to consistent-through", stored)
	}
}
