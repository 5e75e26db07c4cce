package lrs_test

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/lrs-project/lrs/lrs"
	"github.com/lrs-project/lrs/schema"
)

// recorder is an in-memory ActivityStore and AgentStore that counts calls.
type recorder struct {
	mu     sync.Mutex
	defs   map[string][]byte
	names  map[string][]string
	merges int
	adds   int
}

func newRecorder() *recorder {
	return &recorder{defs: map[string][]byte{}, names: map[string][]string{}}
}

func (r *recorder) MergeActivity(_ context.Context, org, id string, def []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.merges++
	m, err := lrs.MergeDefinition(r.defs[org+" "+id], def)
	if err != nil {
		return err
	}
	r.defs[org+" "+id] = m
	return nil
}

func (r *recorder) GetActivity(_ context.Context, org, id string) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d, ok := r.defs[org+" "+id]
	if !ok {
		return nil, lrs.Errorf(lrs.ENOTFOUND, "none")
	}
	return d, nil
}

func (r *recorder) AddAgentNames(_ context.Context, org string, names map[string][]string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.adds++
	for key, ns := range names {
		for _, n := range ns {
			if !slices.Contains(r.names[org+" "+key], n) {
				r.names[org+" "+key] = append(r.names[org+" "+key], n)
			}
		}
	}
	return nil
}

func (r *recorder) AgentNames(_ context.Context, org, key string) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := slices.Clone(r.names[org+" "+key])
	slices.Sort(out)
	return out, nil
}

func sameJSON(t *testing.T, what string, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: %q: %v", what, got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %s\nwant %s", what, got, want)
	}
}

func TestMergeDefinition(t *testing.T) {
	got, err := lrs.MergeDefinition(nil, []byte(`{"name":{"en-US":"A <b>"},"type":"http://t/1"}`))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != `{"name":{"en-US":"A <b>"},"type":"http://t/1"}` {
		t.Errorf("first definition = %s", got)
	}
	got, err = lrs.MergeDefinition(got, []byte(`{"name":{"fr":"A"},"description":{"en-US":"d"},"type":"http://t/2","moreInfo":"http://m","extensions":{"http://e/1":1.50}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"description":{"en-US":"d"},"extensions":{"http://e/1":1.50},"moreInfo":"http://m","name":{"en-US":"A <b>","fr":"A"},"type":"http://t/2"}`
	if string(got) != want {
		t.Errorf("merged = %s\nwant     %s", got, want)
	}
	again, err := lrs.MergeDefinition(got, []byte(`{"name":{"fr":"A"}}`))
	if err != nil || string(again) != string(got) {
		t.Errorf("merging a known entry = %s, %v; want it unchanged", again, err)
	}
	if _, err := lrs.MergeDefinition(got, []byte(`[1]`)); err == nil {
		t.Error("merging a non-object succeeded")
	}
}

func TestRecordDefinitionsOncePerActivity(t *testing.T) {
	rec := newRecorder()
	svc := lrs.NewService(openStore(t), lrs.ServiceOptions{Activities: rec, Agents: rec})
	ctx := context.Background()
	batch := func(bodies ...string) {
		t.Helper()
		stmts := make([]*schema.Statement, len(bodies))
		for i, b := range bodies {
			stmts[i] = parse(t, b)
		}
		if _, err := svc.PostStatements(ctx, writer, stmts, schema.V2_0_0); err != nil {
			t.Fatal(err)
		}
	}
	// Nothing to record: no store call.
	batch(stmt("", "a@example.com", "attempted", "1"), stmt("", "b@example.com", "attempted", "2"))
	if rec.merges != 0 || rec.adds != 0 {
		t.Errorf("statements without definitions or names: %d merges, %d name adds", rec.merges, rec.adds)
	}
	const act = "http://example.com/activities/x"
	withDef := func(agentName, def string) string {
		return `{"actor":{"mbox":"mailto:a@example.com","name":"` + agentName + `"},"verb":{"id":"http://adlnet.gov/expapi/verbs/attempted"},"object":{"id":"` + act + `","definition":` + def + `}}`
	}
	batch(withDef("Ann", `{"name":{"en-US":"X"}}`), withDef("Ann", `{"name":{"fr":"X-fr"}}`), withDef("Annie", `{"name":{"en-US":"X2"}}`))
	if rec.merges != 1 || rec.adds != 1 {
		t.Errorf("one activity and one agent in a batch: %d merges, %d name adds; want 1 and 1", rec.merges, rec.adds)
	}
	got, err := svc.GetActivity(ctx, writer.Org, act)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, "activity", got, `{"objectType":"Activity","id":"`+act+`","definition":{"name":{"en-US":"X2","fr":"X-fr"}}}`)
	p, err := svc.GetPerson(ctx, writer.Org, []byte(`{"mbox":"mailto:A@example.com"}`), schema.V2_0_0)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, "person", p, `{"objectType":"Person","name":["Ann","Annie"],"mbox":["mailto:A@example.com"]}`)
	if _, err := svc.GetPerson(ctx, writer.Org, []byte(`{"objectType":"Group","mbox":"mailto:g@example.com"}`), schema.V2_0_0); lrs.ErrorCode(err) != lrs.EINVALID {
		t.Errorf("GetPerson of a Group: %v, want EINVALID", err)
	}
}

// A definition is recorded when it changes, not on every statement that
// repeats it: a batch that only repeats the definition this process merged
// last for an activity costs no store call; a different one, or the first
// one again after it, is merged (the latest statement's definition wins).
func TestRecordDefinitionsOnlyWhenChanged(t *testing.T) {
	rec := newRecorder()
	svc := lrs.NewService(openStore(t), lrs.ServiceOptions{Activities: rec, Agents: rec})
	ctx := context.Background()
	const act = "http://example.com/activities/y"
	withDef := func(def string) *schema.Statement {
		return parse(t, `{"actor":{"mbox":"mailto:a@example.com"},"verb":{"id":"http://adlnet.gov/expapi/verbs/attempted"},"object":{"id":"`+act+`","definition":`+def+`}}`)
	}
	d := `{"name":{"en-US":"Y","fr":"Y-fr"},"type":"http://t/1","extensions":{"http://e/1":[1,{"a":true,"b":null}]}}`
	dReordered := `{"extensions":{"http://e/1":[1,{"b":null,"a":true}]},"type":"http://t/1","name":{"fr":"Y-fr","en-US":"Y"}}`
	e := `{"name":{"en-US":"Y2"},"type":"http://t/1"}`
	for i, step := range []struct {
		defs   []string
		merges int // store calls so far
		want   string
	}{
		{[]string{d, d}, 1, d},
		{[]string{d}, 1, d},
		{[]string{dReordered, d}, 1, d}, // the same definition, keys in another order
		{[]string{e}, 2, `{"name":{"en-US":"Y2","fr":"Y-fr"},"type":"http://t/1","extensions":{"http://e/1":[1,{"a":true,"b":null}]}}`},
		{[]string{e, e}, 2, ""},
		{[]string{d}, 3, d}, // d again, after e: d wins again
		{[]string{e, d}, 4, d},
	} {
		stmts := make([]*schema.Statement, len(step.defs))
		for j, def := range step.defs {
			stmts[j] = withDef(def)
		}
		if _, err := svc.PostStatements(ctx, writer, stmts, schema.V2_0_0); err != nil {
			t.Fatal(err)
		}
		if rec.merges != step.merges {
			t.Errorf("step %d: %d merges, want %d", i, rec.merges, step.merges)
		}
		if step.want != "" {
			got, err := svc.GetActivity(ctx, writer.Org, act)
			if err != nil {
				t.Fatal(err)
			}
			sameJSON(t, "activity", got, `{"objectType":"Activity","id":"`+act+`","definition":`+step.want+`}`)
		}
	}
}

func TestActivitiesFeatureOff(t *testing.T) {
	svc := newService(t)
	ctx := context.Background()
	got, err := svc.GetActivity(ctx, writer.Org, "http://example.com/a")
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, "activity", got, `{"objectType":"Activity","id":"http://example.com/a"}`)
	p, err := svc.GetPerson(ctx, writer.Org, []byte(`{"name":"N","account":{"homePage":"http://h","name":"n"}}`), schema.V1_0_3)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, "person", p, `{"objectType":"Person","name":["N"],"account":[{"homePage":"http://h","name":"n"}]}`)
}
