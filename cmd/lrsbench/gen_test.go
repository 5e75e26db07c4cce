package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lrs-project/lrs/schema"
)

var testNow = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

func TestBatchBody(t *testing.T) {
	p := newPools(50, 30, 5, 40)
	tests := []struct {
		name string
		size int
	}{
		{"single statement object", 1},
		{"small batch", 3},
		{"full batch", 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, err := p.batchBody(42, 7, tt.size, testNow, true)
			if err != nil {
				t.Fatal(err)
			}
			var sts []map[string]any
			if tt.size == 1 {
				var st map[string]any
				if err := json.Unmarshal(body, &st); err != nil {
					t.Fatalf("single statement is not a JSON object: %v\n%s", err, body)
				}
				sts = append(sts, st)
			} else if err := json.Unmarshal(body, &sts); err != nil {
				t.Fatalf("batch is not a JSON array: %v", err)
			}
			if len(sts) != tt.size {
				t.Fatalf("got %d statements, want %d", len(sts), tt.size)
			}
			ids := map[string]bool{}
			for _, st := range sts {
				checkStatement(t, p, st)
				ids[st["id"].(string)] = true
			}
			if len(ids) != tt.size {
				t.Errorf("statement ids are not unique: %d distinct of %d", len(ids), tt.size)
			}
		})
	}
}

// checkStatement checks the shape of one generated statement.
func checkStatement(t *testing.T, p *pools, st map[string]any) {
	t.Helper()
	get := func(path ...string) any {
		var v any = st
		for _, k := range path {
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("%v: not an object at %q in %v", path, k, st)
			}
			v = m[k]
		}
		return v
	}
	str := func(path ...string) string {
		s, ok := get(path...).(string)
		if !ok {
			t.Fatalf("%v is not a string in %v", path, st)
		}
		return s
	}
	if _, err := uuid.Parse(str("id")); err != nil {
		t.Errorf("id: %v", err)
	}
	if str("actor", "objectType") != "Agent" {
		t.Errorf("actor.objectType = %q", str("actor", "objectType"))
	}
	var n int
	if _, err := fmt.Sscanf(str("actor", "mbox"), "mailto:user%d@example.com", &n); err != nil || n < 0 || n >= p.agents {
		t.Errorf("actor.mbox = %q", str("actor", "mbox"))
	}
	verb := strings.TrimPrefix(str("verb", "id"), "http://adlnet.gov/expapi/verbs/")
	if str("verb", "display", "en-US") != verb || !slices.Contains(p.verbs, verb) {
		t.Errorf("verb = %v", get("verb"))
	}
	var m int
	if _, err := fmt.Sscanf(str("object", "id"), "http://example.com/activities/%d", &m); err != nil || m < 0 || m >= p.activities {
		t.Errorf("object.id = %q", str("object", "id"))
	}
	if str("object", "objectType") != "Activity" || str("object", "definition", "type") != "http://adlnet.gov/expapi/activities/cmi.interaction" ||
		str("object", "definition", "interactionType") != "choice" {
		t.Errorf("object = %v", get("object"))
	}
	raw, _ := get("result", "score", "raw").(float64)
	if get("result", "score", "scaled") != raw/100 || get("result", "success") != (raw >= 50) ||
		get("result", "completion") != true || str("result", "duration") != "PT1M30S" {
		t.Errorf("result = %v", get("result"))
	}
	if !slices.Contains(p.registrations, str("context", "registration")) {
		t.Errorf("context.registration = %q not from pool", str("context", "registration"))
	}
	parents, _ := get("context", "contextActivities", "parent").([]any)
	if len(parents) != 1 || parents[0].(map[string]any)["id"] != courseIRI(m) {
		t.Errorf("context.contextActivities.parent = %v, want course of activity %d", parents, m)
	}
	grouping, _ := get("context", "contextActivities", "grouping").([]any)
	if len(grouping) != 1 || grouping[0].(map[string]any)["id"] != programIRI(m) {
		t.Errorf("context.contextActivities.grouping = %v, want program of activity %d", grouping, m)
	}
	if ts, err := time.Parse(time.RFC3339, str("timestamp")); err != nil || !ts.Equal(testNow) {
		t.Errorf("timestamp = %q (%v)", str("timestamp"), err)
	}
}

// The generated statements are valid xAPI 2.0 statements of about 1.7 KB,
// each activity always with the same definition, with or without ids.
func TestBatchBodyShape(t *testing.T) {
	p := newPools(10000, 2000, 20, 50000)
	for _, withIDs := range []bool{true, false} {
		body, err := p.batchBody(5, 1, 100, testNow, withIDs)
		if err != nil {
			t.Fatal(err)
		}
		stmts, isArray, err := schema.ParseStatements(body, schema.V2_0_0, 100)
		if err != nil || !isArray || len(stmts) != 100 {
			t.Fatalf("ids %v: parse: %v (array %v, %d statements)", withIDs, err, isArray, len(stmts))
		}
		if size := len(body) / 100; size < 1600 || size > 1800 {
			t.Errorf("ids %v: %d bytes per statement, want about 1.7 KB", withIDs, size)
		}
		for _, st := range stmts {
			if (st.ID() != "") != withIDs {
				t.Errorf("ids %v: statement id %q", withIDs, st.ID())
			}
		}
	}
	a, _ := json.Marshal(objectDefinition(7))
	b, _ := json.Marshal(objectDefinition(7))
	if !bytes.Equal(a, b) {
		t.Error("an activity's definition changes between statements")
	}
}

func TestBatchBodyDeterministic(t *testing.T) {
	p := newPools(1000, 100, 20, 500)
	a, _ := p.batchBody(1, 3, 50, testNow, true)
	b, _ := p.batchBody(1, 3, 50, testNow, true)
	if !bytes.Equal(a, b) {
		t.Error("same seed and batch index gave different statements")
	}
	if c, _ := p.batchBody(2, 3, 50, testNow, true); bytes.Equal(a, c) {
		t.Error("different seeds gave the same statements")
	}
	if d, _ := p.batchBody(1, 4, 50, testNow, true); bytes.Equal(a, d) {
		t.Error("different batch indices gave the same statements")
	}
	// The registration pool is independent of the seed and of the pool object.
	if q := newPools(1000, 100, 20, 500); q.registrations[17] != p.registrations[17] {
		t.Error("registration pool is not stable")
	}
}

func TestNewQuery(t *testing.T) {
	p := newPools(100, 50, 10, 30)
	for i := range 8 {
		op, q := p.newQuery(9, streamQuery, i)
		if op != queryOps[i%4] {
			t.Errorf("query %d: op %s, want %s", i, op, queryOps[i%4])
		}
		if op2, q2 := p.newQuery(9, streamQuery, i); op2 != op || q2 != q {
			t.Errorf("query %d not deterministic: %s vs %s", i, q, q2)
		}
		v, err := url.ParseQuery(q)
		if err != nil {
			t.Fatal(err)
		}
		if v.Get("limit") != "10" {
			t.Errorf("%s: limit = %q", op, v.Get("limit"))
		}
		switch op {
		case opAgent:
			var a struct{ Mbox string }
			if err := json.Unmarshal([]byte(v.Get("agent")), &a); err != nil || !strings.HasPrefix(a.Mbox, "mailto:user") {
				t.Errorf("agent = %q (%v)", v.Get("agent"), err)
			}
		case opVerb:
			if !strings.HasPrefix(v.Get("verb"), "http://adlnet.gov/expapi/verbs/") {
				t.Errorf("verb = %q", v.Get("verb"))
			}
		case opActivity:
			if !strings.HasPrefix(v.Get("activity"), "http://example.com/activities/") {
				t.Errorf("activity = %q", v.Get("activity"))
			}
		case opRegistration:
			if !slices.Contains(p.registrations, v.Get("registration")) {
				t.Errorf("registration = %q", v.Get("registration"))
			}
		}
	}
}

func TestNewPoolsVerbs(t *testing.T) {
	p := newPools(1, 1, 30, 1)
	if len(p.verbs) != 30 || p.verbs[0] != "completed" || p.verbs[29] != "verb-29" || slices.Contains(p.verbs, "voided") {
		t.Errorf("verbs = %v", p.verbs)
	}
}
