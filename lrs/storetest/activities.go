package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/lrs-project/lrs/lrs"
)

// ActivityAgentStore is the part of an engine the Activities and Agents
// resources use.
type ActivityAgentStore interface {
	lrs.ActivityStore
	lrs.AgentStore
}

// RunActivities runs the conformance suite of lrs.ActivityStore and
// lrs.AgentStore; open returns a new, empty store (closed by the caller
// with t.Cleanup).
func RunActivities(t *testing.T, open func(t *testing.T) ActivityAgentStore) {
	t.Helper()
	leaf := func(name string, fn func(t *testing.T, s ActivityAgentStore)) {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			if s == nil {
				t.Fatal("open returned a nil store")
			}
			fn(t, s)
		})
	}
	leaf("ActivityMerge", testActivityMerge)
	leaf("ActivityOrgIsolation", testActivityOrgIsolation)
	leaf("ActivityConcurrency", testActivityConcurrency)
	leaf("AgentNames", testAgentNames)
	leaf("AgentConcurrency", testAgentConcurrency)
}

const actID = "http://example.com/activities/1"

func mustMerge(t *testing.T, s ActivityAgentStore, org, id, def string) {
	t.Helper()
	if err := s.MergeActivity(context.Background(), org, id, []byte(def)); err != nil {
		t.Fatalf("MergeActivity(%s, %s): %v", org, def, err)
	}
}

// checkDef compares a stored definition with want, as JSON values.
func checkDef(t *testing.T, s ActivityAgentStore, org, id, want string) {
	t.Helper()
	got, err := s.GetActivity(context.Background(), org, id)
	if err != nil {
		t.Fatalf("GetActivity(%s, %s): %v", org, id, err)
	}
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("GetActivity(%s, %s) = %s: not JSON: %v", org, id, got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("GetActivity(%s, %s) = %s, want %s", org, id, got, want)
	}
}

func testActivityMerge(t *testing.T, s ActivityAgentStore) {
	ctx := context.Background()
	_, err := s.GetActivity(ctx, orgA, actID)
	checkCode(t, "GetActivity of an unknown activity", err, lrs.ENOTFOUND)

	mustMerge(t, s, orgA, actID, `{"name":{"en-US":"Example"},"type":"http://example.com/types/a","extensions":{"http://example.com/x":1}}`)
	checkDef(t, s, orgA, actID, `{"name":{"en-US":"Example"},"type":"http://example.com/types/a","extensions":{"http://example.com/x":1}}`)

	mustMerge(t, s, orgA, actID, `{"name":{"fr":"Exemple","en-US":"Example 2"},"description":{"en-US":"An example"},"type":"http://example.com/types/b","extensions":{"http://example.com/y":{"a":[1,2]}}}`)
	want := `{"name":{"en-US":"Example 2","fr":"Exemple"},"description":{"en-US":"An example"},"type":"http://example.com/types/b","extensions":{"http://example.com/x":1,"http://example.com/y":{"a":[1,2]}}}`
	checkDef(t, s, orgA, actID, want)

	before, err := s.GetActivity(ctx, orgA, actID)
	if err != nil {
		t.Fatal(err)
	}
	// A definition already merged changes nothing.
	mustMerge(t, s, orgA, actID, `{"name":{"fr":"Exemple"}}`)
	after, err := s.GetActivity(ctx, orgA, actID)
	if err != nil {
		t.Fatal(err)
	}
	if string(before) != string(after) {
		t.Errorf("merging a known definition changed it: %s → %s", before, after)
	}

	// Interaction properties are replaced, not merged.
	mustMerge(t, s, orgA, actID, `{"interactionType":"choice","choices":[{"id":"a","description":{"en-US":"A"}}]}`)
	mustMerge(t, s, orgA, actID, `{"choices":[{"id":"b","description":{"en-US":"B"}}]}`)
	checkDef(t, s, orgA, actID, `{"name":{"en-US":"Example 2","fr":"Exemple"},"description":{"en-US":"An example"},"type":"http://example.com/types/b","extensions":{"http://example.com/x":1,"http://example.com/y":{"a":[1,2]}},"interactionType":"choice","choices":[{"id":"b","description":{"en-US":"B"}}]}`)
}

func testActivityOrgIsolation(t *testing.T, s ActivityAgentStore) {
	mustMerge(t, s, orgA, actID, `{"name":{"en-US":"A"}}`)
	mustMerge(t, s, orgB, actID, `{"name":{"fr":"B"}}`)
	checkDef(t, s, orgA, actID, `{"name":{"en-US":"A"}}`)
	checkDef(t, s, orgB, actID, `{"name":{"fr":"B"}}`)
	_, err := s.GetActivity(context.Background(), orgA, actID+"/other")
	checkCode(t, "GetActivity of another activity", err, lrs.ENOTFOUND)
}

// testActivityConcurrency merges many languages at once, the first merges
// racing to create the activity: none may be lost.
func testActivityConcurrency(t *testing.T, s ActivityAgentStore) {
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			def := fmt.Sprintf(`{"name":{"l%02d":"name %d"},"description":{"l%02d":"d"}}`, i, i, i)
			if err := s.MergeActivity(context.Background(), orgA, actID, []byte(def)); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent MergeActivity: %v", err)
	}
	got, err := s.GetActivity(context.Background(), orgA, actID)
	if err != nil {
		t.Fatal(err)
	}
	var def struct{ Name, Description map[string]string }
	if err := json.Unmarshal(got, &def); err != nil {
		t.Fatal(err)
	}
	if len(def.Name) != n || len(def.Description) != n {
		t.Errorf("after %d concurrent merges: %d names and %d descriptions (%s)", n, len(def.Name), len(def.Description), got)
	}
}

func mustNames(t *testing.T, s ActivityAgentStore, org, key string) []string {
	t.Helper()
	got, err := s.AgentNames(context.Background(), org, key)
	if err != nil {
		t.Fatalf("AgentNames(%s, %s): %v", org, key, err)
	}
	return got
}

func testAgentNames(t *testing.T, s ActivityAgentStore) {
	ctx := context.Background()
	const key = "mbox:mailto:alice@example.com"
	if got := mustNames(t, s, orgA, key); len(got) != 0 {
		t.Errorf("AgentNames of an unknown agent = %q, want none", got)
	}
	if err := s.AddAgentNames(ctx, orgA, map[string][]string{key: {"Alice", "Alice B."}}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddAgentNames(ctx, orgA, map[string][]string{key: {"Alice", "Al"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddAgentNames(ctx, orgA, map[string][]string{key: nil}); err != nil {
		t.Fatal(err)
	}
	if got, want := mustNames(t, s, orgA, key), []string{"Al", "Alice", "Alice B."}; !slices.Equal(got, want) {
		t.Errorf("AgentNames = %q, want %q", got, want)
	}
	if got := mustNames(t, s, orgB, key); len(got) != 0 {
		t.Errorf("AgentNames in another organization = %q, want none", got)
	}
	if got := mustNames(t, s, orgA, key+"x"); len(got) != 0 {
		t.Errorf("AgentNames of another agent = %q, want none", got)
	}
	other := "account:http://example.com alice"
	if err := s.AddAgentNames(ctx, orgA, map[string][]string{other: {"Zed"}}); err != nil {
		t.Fatal(err)
	}
	if got, want := mustNames(t, s, orgA, other), []string{"Zed"}; !slices.Equal(got, want) {
		t.Errorf("AgentNames(%s) = %q, want %q", other, got, want)
	}
	// Many agents in one call, some names already known.
	many := map[string][]string{key: {"Alice", "Ally"}, other: {"Zed", "Zee"}}
	for i := range 50 {
		many[fmt.Sprintf("mbox:mailto:m%d@example.com", i)] = []string{fmt.Sprintf("M %d", i)}
	}
	if err := s.AddAgentNames(ctx, orgA, many); err != nil {
		t.Fatal(err)
	}
	if got, want := mustNames(t, s, orgA, key), []string{"Al", "Alice", "Alice B.", "Ally"}; !slices.Equal(got, want) {
		t.Errorf("AgentNames after a call for many agents = %q, want %q", got, want)
	}
	if got, want := mustNames(t, s, orgA, other), []string{"Zed", "Zee"}; !slices.Equal(got, want) {
		t.Errorf("AgentNames(%s) after a call for many agents = %q, want %q", other, got, want)
	}
	for i := range 50 {
		if got := mustNames(t, s, orgA, fmt.Sprintf("mbox:mailto:m%d@example.com", i)); !slices.Equal(got, []string{fmt.Sprintf("M %d", i)}) {
			t.Errorf("agent %d of a call for many: %q", i, got)
		}
	}
}

func testAgentConcurrency(t *testing.T, s ActivityAgentStore) {
	const n = 16
	const key = "openid:http://example.com/bob"
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			if err := s.AddAgentNames(context.Background(), orgA, map[string][]string{key: {fmt.Sprintf("Bob %02d", i), "Bob"}}); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent AddAgentNames: %v", err)
	}
	if got := mustNames(t, s, orgA, key); len(got) != n+1 {
		t.Errorf("after %d concurrent adds: %d names %q, want %d", n, len(got), got, n+1)
	}
}
