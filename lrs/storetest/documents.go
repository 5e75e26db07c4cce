package storetest

import (
	"bytes"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lrs-project/lrs/lrs"
)

// DocumentsStore is an engine that also keeps the document resources.
type DocumentsStore interface {
	Store
	lrs.DocumentStore
}

// RunDocuments runs the lrs.DocumentStore part of the suite; open returns
// a new, empty store (the caller closes it with t.Cleanup).
//
//	func TestDocumentsConformance(t *testing.T) {
//		storetest.RunDocuments(t, func(t *testing.T) storetest.DocumentsStore { return open(t) })
//	}
func RunDocuments(t *testing.T, open func(t *testing.T) DocumentsStore) {
	t.Helper()
	o := docOpener(open)
	o.leaf(t, "RoundTrip", testDocRoundTrip)
	o.leaf(t, "Preconditions", testDocPreconditions)
	o.leaf(t, "Delete", testDocDelete)
	o.leaf(t, "List", testDocList)
	o.leaf(t, "Scopes", testDocScopes)
	o.leaf(t, "DeleteScope", testDocDeleteScope)
	o.leaf(t, "OrgIsolation", testDocOrgIsolation)
	o.leaf(t, "ConcurrentCAS", testDocConcurrentCAS)
	o.leaf(t, "ConcurrentUnconditional", testDocConcurrentUnconditional)
}

type docOpener func(t *testing.T) DocumentsStore

func (o docOpener) leaf(t *testing.T, name string, fn func(t *testing.T, s DocumentsStore)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		s := o(t)
		if s == nil {
			t.Fatal("open returned a nil DocumentsStore")
		}
		fn(t, s)
	})
}

const (
	actA   = "http://example.com/activities/a"
	actB   = "http://example.com/activities/b"
	agentA = "mbox:mailto:ann@example.com"
	agentB = "account:http://example.com bob"
	regA   = "8f1e3c9a-2b4d-4e6f-8a0b-1c2d3e4f5a6b"
)

func stateScope(activity, agent, reg string) lrs.DocumentScope {
	return lrs.DocumentScope{Kind: lrs.KindState, ActivityID: activity, Agent: agent, Registration: reg}
}

func actProfileScope(activity string) lrs.DocumentScope {
	return lrs.DocumentScope{Kind: lrs.KindActivityProfile, ActivityID: activity}
}

func agentProfileScope(agent string) lrs.DocumentScope {
	return lrs.DocumentScope{Kind: lrs.KindAgentProfile, Agent: agent}
}

// mkDoc builds a document updated at base+ms.
func mkDoc(scope lrs.DocumentScope, id, ct string, contents []byte, ms int) lrs.Document {
	return lrs.Document{
		Scope:       scope,
		ID:          id,
		ContentType: ct,
		Contents:    contents,
		ETag:        lrs.ETagOf(contents),
		Updated:     at(ms),
	}
}

func mustPutDoc(t *testing.T, s DocumentsStore, org string, doc lrs.Document, pre lrs.Precondition) {
	t.Helper()
	if err := s.PutDocument(t.Context(), org, doc, pre); err != nil {
		t.Fatalf("PutDocument(%q, %q, %+v): %v", org, doc.ID, pre, err)
	}
}

func mustGetDoc(t *testing.T, s DocumentsStore, org string, scope lrs.DocumentScope, id string) lrs.Document {
	t.Helper()
	doc, err := s.GetDocument(t.Context(), org, scope, id)
	if err != nil {
		t.Fatalf("GetDocument(%q, %+v, %q): %v", org, scope, id, err)
	}
	return doc
}

func checkDocMissing(t *testing.T, s DocumentsStore, org string, scope lrs.DocumentScope, id string) {
	t.Helper()
	_, err := s.GetDocument(t.Context(), org, scope, id)
	checkCode(t, fmt.Sprintf("GetDocument(%q, %+v, %q)", org, scope, id), err, lrs.ENOTFOUND)
}

func checkDoc(t *testing.T, what string, got, want lrs.Document) {
	t.Helper()
	if got.ID != want.ID {
		t.Errorf("%s: ID %q, want %q", what, got.ID, want.ID)
	}
	if got.Scope != want.Scope {
		t.Errorf("%s: Scope %+v, want %+v", what, got.Scope, want.Scope)
	}
	if got.ContentType != want.ContentType {
		t.Errorf("%s: ContentType %q, want %q", what, got.ContentType, want.ContentType)
	}
	if !bytes.Equal(got.Contents, want.Contents) {
		t.Errorf("%s: Contents %q, want %q", what, got.Contents, want.Contents)
	}
	if got.Contents == nil {
		t.Errorf("%s: Contents is nil, want a non-nil slice", what)
	}
	if got.ETag != want.ETag {
		t.Errorf("%s: ETag %q, want %q", what, got.ETag, want.ETag)
	}
	if !got.Updated.Equal(want.Updated) {
		t.Errorf("%s: Updated %v, want %v", what, got.Updated, want.Updated)
	}
	if got.Updated.Location() != time.UTC {
		t.Errorf("%s: Updated %v is not in UTC", what, got.Updated)
	}
}

func mustList(t *testing.T, s DocumentsStore, org string, scope lrs.DocumentScope, since time.Time) []lrs.DocumentMeta {
	t.Helper()
	metas, err := s.ListDocuments(t.Context(), org, scope, since)
	if err != nil {
		t.Fatalf("ListDocuments(%q, %+v, %v): %v", org, scope, since, err)
	}
	return metas
}

func metaIDs(metas []lrs.DocumentMeta) []string {
	out := make([]string, len(metas))
	for i, m := range metas {
		out[i] = m.ID
	}
	return out
}

func checkList(t *testing.T, s DocumentsStore, org string, scope lrs.DocumentScope, since time.Time, want ...string) {
	t.Helper()
	got := metaIDs(mustList(t, s, org, scope, since))
	if want == nil {
		want = []string{}
	}
	if !slices.Equal(got, want) {
		t.Errorf("ListDocuments(%q, %+v, since %v) = %q, want %q", org, scope, since, got, want)
	}
}

// ---------------------------------------------------------------------------

func testDocRoundTrip(t *testing.T, s DocumentsStore) {
	ctx := t.Context()
	binary := make([]byte, 256)
	for i := range binary {
		binary[i] = byte(i)
	}
	docs := []lrs.Document{
		mkDoc(stateScope(actA, agentA, ""), "json", "application/json", []byte(`{"a":1}`), 1),
		mkDoc(stateScope(actA, agentA, regA), "bin", "application/octet-stream", binary, 2),
		mkDoc(actProfileScope(actA), "text", "text/plain; charset=utf-8", []byte("héllo\x00world"), 3),
		mkDoc(agentProfileScope(agentA), "empty", "application/octet-stream", []byte{}, 4),
		mkDoc(stateScope(actA, agentA, ""), "weird id \x00/é", "application/json", []byte(`[]`), 5),
	}
	for _, d := range docs {
		mustPutDoc(t, s, orgA, d, lrs.Precondition{})
	}
	for _, d := range docs {
		checkDoc(t, "GetDocument "+d.ID, mustGetDoc(t, s, orgA, d.Scope, d.ID), d)
	}
	checkDocMissing(t, s, orgA, stateScope(actA, agentA, ""), "nope")

	// Sub-millisecond updated times are kept to the millisecond (rounded
	// down, as the service truncates them before the store sees them).
	d := mkDoc(actProfileScope(actB), "ms", "application/json", []byte(`{}`), 0)
	d.Updated = base.Add(7 * time.Millisecond)
	mustPutDoc(t, s, orgA, d, lrs.Precondition{})
	checkDoc(t, "millisecond updated", mustGetDoc(t, s, orgA, d.Scope, d.ID), d)

	// Replacing changes everything but the identity.
	repl := mkDoc(docs[0].Scope, docs[0].ID, "text/plain", []byte("now text"), 10)
	mustPutDoc(t, s, orgA, repl, lrs.Precondition{})
	checkDoc(t, "replaced", mustGetDoc(t, s, orgA, repl.Scope, repl.ID), repl)

	// The returned contents belong to the caller.
	got := mustGetDoc(t, s, orgA, docs[1].Scope, docs[1].ID)
	got.Contents[0] = 0xaa
	if again := mustGetDoc(t, s, orgA, docs[1].Scope, docs[1].ID); again.Contents[0] != 0 {
		t.Errorf("modifying returned contents changed the stored document")
	}
	_ = ctx
}

func testDocPreconditions(t *testing.T, s DocumentsStore) {
	ctx := t.Context()
	scope := agentProfileScope(agentA)
	v1 := mkDoc(scope, "p", "application/json", []byte(`{"v":1}`), 1)
	v2 := mkDoc(scope, "p", "application/json", []byte(`{"v":2}`), 2)
	v3 := mkDoc(scope, "p", "application/json", []byte(`{"v":3}`), 3)

	// On a missing document: an ETag or "*" fails, Absent succeeds.
	for _, pre := range []lrs.Precondition{{ETag: v1.ETag}, {ETag: "*"}} {
		err := s.PutDocument(ctx, orgA, v1, pre)
		checkCode(t, fmt.Sprintf("PutDocument missing with %+v", pre), err, lrs.EPRECONDITION)
		checkDocMissing(t, s, orgA, scope, "p")
	}
	mustPutDoc(t, s, orgA, v1, lrs.Precondition{Absent: true})
	checkDoc(t, "created with Absent", mustGetDoc(t, s, orgA, scope, "p"), v1)

	// On an existing document: Absent and a wrong ETag fail and change nothing.
	for _, pre := range []lrs.Precondition{{Absent: true}, {ETag: v2.ETag}, {ETag: "0000000000000000000000000000000000000000"}} {
		err := s.PutDocument(ctx, orgA, v2, pre)
		checkCode(t, fmt.Sprintf("PutDocument existing with %+v", pre), err, lrs.EPRECONDITION)
		checkDoc(t, fmt.Sprintf("after failed %+v", pre), mustGetDoc(t, s, orgA, scope, "p"), v1)
	}
	// The right ETag and "*" succeed.
	mustPutDoc(t, s, orgA, v2, lrs.Precondition{ETag: v1.ETag})
	checkDoc(t, "after matching ETag", mustGetDoc(t, s, orgA, scope, "p"), v2)
	mustPutDoc(t, s, orgA, v3, lrs.Precondition{ETag: "*"})
	checkDoc(t, `after ETag "*"`, mustGetDoc(t, s, orgA, scope, "p"), v3)
	// The old ETag no longer matches.
	err := s.PutDocument(ctx, orgA, v1, lrs.Precondition{ETag: v1.ETag})
	checkCode(t, "PutDocument with a stale ETag", err, lrs.EPRECONDITION)
	checkDoc(t, "after stale ETag", mustGetDoc(t, s, orgA, scope, "p"), v3)
	// Unconditional always writes.
	mustPutDoc(t, s, orgA, v1, lrs.Precondition{})
	checkDoc(t, "after unconditional", mustGetDoc(t, s, orgA, scope, "p"), v1)

	// A precondition on one document does not look at another.
	other := mkDoc(scope, "q", "application/json", []byte(`{"v":1}`), 4)
	mustPutDoc(t, s, orgA, other, lrs.Precondition{Absent: true})
	err = s.PutDocument(ctx, orgA, mkDoc(scope, "r", "text/plain", []byte("r"), 5), lrs.Precondition{ETag: v1.ETag})
	checkCode(t, "PutDocument r with p's ETag", err, lrs.EPRECONDITION)
	checkDocMissing(t, s, orgA, scope, "r")
}

func testDocDelete(t *testing.T, s DocumentsStore) {
	ctx := t.Context()
	scope := actProfileScope(actA)
	d := mkDoc(scope, "p", "text/plain", []byte("x"), 1)

	// Missing: without an ETag precondition it is not an error.
	if err := s.DeleteDocument(ctx, orgA, scope, "p", lrs.Precondition{}); err != nil {
		t.Errorf("DeleteDocument missing: %v", err)
	}
	if err := s.DeleteDocument(ctx, orgA, scope, "p", lrs.Precondition{Absent: true}); err != nil {
		t.Errorf("DeleteDocument missing with Absent: %v", err)
	}
	for _, pre := range []lrs.Precondition{{ETag: d.ETag}, {ETag: "*"}} {
		err := s.DeleteDocument(ctx, orgA, scope, "p", pre)
		checkCode(t, fmt.Sprintf("DeleteDocument missing with %+v", pre), err, lrs.EPRECONDITION)
	}

	// Unconditional.
	mustPutDoc(t, s, orgA, d, lrs.Precondition{})
	if err := s.DeleteDocument(ctx, orgA, scope, "p", lrs.Precondition{}); err != nil {
		t.Fatalf("DeleteDocument: %v", err)
	}
	checkDocMissing(t, s, orgA, scope, "p")

	// With preconditions.
	mustPutDoc(t, s, orgA, d, lrs.Precondition{})
	for _, pre := range []lrs.Precondition{{ETag: lrs.ETagOf([]byte("other"))}, {Absent: true}} {
		err := s.DeleteDocument(ctx, orgA, scope, "p", pre)
		checkCode(t, fmt.Sprintf("DeleteDocument with %+v", pre), err, lrs.EPRECONDITION)
		checkDoc(t, fmt.Sprintf("after failed delete %+v", pre), mustGetDoc(t, s, orgA, scope, "p"), d)
	}
	if err := s.DeleteDocument(ctx, orgA, scope, "p", lrs.Precondition{ETag: d.ETag}); err != nil {
		t.Fatalf("DeleteDocument with the matching ETag: %v", err)
	}
	checkDocMissing(t, s, orgA, scope, "p")
	mustPutDoc(t, s, orgA, d, lrs.Precondition{})
	if err := s.DeleteDocument(ctx, orgA, scope, "p", lrs.Precondition{ETag: "*"}); err != nil {
		t.Fatalf(`DeleteDocument with ETag "*": %v`, err)
	}
	checkDocMissing(t, s, orgA, scope, "p")
	checkList(t, s, orgA, scope, time.Time{})

	// A deleted document can be created again with Absent.
	mustPutDoc(t, s, orgA, d, lrs.Precondition{Absent: true})
	checkDoc(t, "recreated", mustGetDoc(t, s, orgA, scope, "p"), d)
}

func testDocList(t *testing.T, s DocumentsStore) {
	scope := stateScope(actA, agentA, regA)
	checkList(t, s, orgA, scope, time.Time{})
	// Put out of id order, with updated times out of id order too.
	for _, x := range []struct {
		id string
		ms int
	}{{"c", 10}, {"a", 30}, {"b", 20}, {"B", 40}, {"a2", 20}} {
		mustPutDoc(t, s, orgA, mkDoc(scope, x.id, "text/plain", []byte(x.id), x.ms), lrs.Precondition{})
	}
	metas := mustList(t, s, orgA, scope, time.Time{})
	if got, want := metaIDs(metas), []string{"B", "a", "a2", "b", "c"}; !slices.Equal(got, want) {
		t.Fatalf("ListDocuments = %q, want %q (ordered by id)", got, want)
	}
	wantMs := map[string]int{"B": 40, "a": 30, "a2": 20, "b": 20, "c": 10}
	for _, m := range metas {
		if !m.Updated.Equal(at(wantMs[m.ID])) || m.Updated.Location() != time.UTC {
			t.Errorf("ListDocuments: %s updated %v, want %v UTC", m.ID, m.Updated, at(wantMs[m.ID]))
		}
	}
	// since is exclusive.
	checkList(t, s, orgA, scope, at(20), "B", "a")
	checkList(t, s, orgA, scope, at(19), "B", "a", "a2", "b")
	checkList(t, s, orgA, scope, at(9), "B", "a", "a2", "b", "c")
	checkList(t, s, orgA, scope, at(40))
	checkList(t, s, orgA, scope, at(19).Add(500*time.Microsecond), "B", "a", "a2", "b")
	// A replacement moves a document's updated time.
	mustPutDoc(t, s, orgA, mkDoc(scope, "c", "text/plain", []byte("c2"), 50), lrs.Precondition{})
	checkList(t, s, orgA, scope, at(40), "c")
	// since in another zone means the same instant.
	checkList(t, s, orgA, scope, at(40).In(time.FixedZone("x", 3600)), "c")
}

func testDocScopes(t *testing.T, s DocumentsStore) {
	// The same id in every scope, each with its own contents.
	scopes := []lrs.DocumentScope{
		stateScope(actA, agentA, ""),
		stateScope(actA, agentA, regA),
		stateScope(actA, agentB, ""),
		stateScope(actB, agentA, ""),
		actProfileScope(actA),
		actProfileScope(actB),
		agentProfileScope(agentA),
		agentProfileScope(agentB),
		// The kinds never mix, even with the same fields set.
		{Kind: lrs.KindActivityProfile, ActivityID: actA, Agent: agentA},
		{Kind: lrs.KindAgentProfile, ActivityID: actA, Agent: agentA},
		{Kind: lrs.KindState, ActivityID: actA, Agent: agentA, Registration: ""},
	}
	// The last scope equals the first: skip duplicates when writing.
	uniq := []lrs.DocumentScope{}
	for _, sc := range scopes {
		if !slices.Contains(uniq, sc) {
			uniq = append(uniq, sc)
		}
	}
	for i, sc := range uniq {
		mustPutDoc(t, s, orgA, mkDoc(sc, "id", "text/plain", fmt.Appendf(nil, "scope %d", i), i), lrs.Precondition{})
	}
	for i, sc := range uniq {
		got := mustGetDoc(t, s, orgA, sc, "id")
		if want := fmt.Sprintf("scope %d", i); string(got.Contents) != want {
			t.Errorf("scope %+v: contents %q, want %q", sc, got.Contents, want)
		}
		checkList(t, s, orgA, sc, time.Time{}, "id")
	}
	// A document only in one scope is listed only there.
	mustPutDoc(t, s, orgA, mkDoc(uniq[1], "only", "text/plain", []byte("x"), 100), lrs.Precondition{})
	checkList(t, s, orgA, uniq[1], time.Time{}, "id", "only")
	checkList(t, s, orgA, uniq[0], time.Time{}, "id")
	checkDocMissing(t, s, orgA, uniq[0], "only")
	// Fields that prefix each other do not make scopes overlap.
	p1 := stateScope("http://example.com/a", "mbox:mailto:x@example.com", "")
	p2 := stateScope("http://example.com/a/b", "mbox:mailto:x@example.com", "")
	mustPutDoc(t, s, orgA, mkDoc(p1, "x", "text/plain", []byte("1"), 1), lrs.Precondition{})
	mustPutDoc(t, s, orgA, mkDoc(p2, "x", "text/plain", []byte("2"), 1), lrs.Precondition{})
	checkList(t, s, orgA, p1, time.Time{}, "x")
	checkList(t, s, orgA, p2, time.Time{}, "x")
}

func testDocDeleteScope(t *testing.T, s DocumentsStore) {
	ctx := t.Context()
	target := stateScope(actA, agentA, "")
	others := []lrs.DocumentScope{
		stateScope(actA, agentA, regA),
		stateScope(actA, agentB, ""),
		stateScope(actB, agentA, ""),
		actProfileScope(actA),
		agentProfileScope(agentA),
	}
	for _, id := range []string{"a", "b", "c"} {
		mustPutDoc(t, s, orgA, mkDoc(target, id, "text/plain", []byte(id), 1), lrs.Precondition{})
	}
	for _, sc := range others {
		mustPutDoc(t, s, orgA, mkDoc(sc, "a", "text/plain", []byte("a"), 1), lrs.Precondition{})
	}
	mustPutDoc(t, s, orgB, mkDoc(target, "a", "text/plain", []byte("a"), 1), lrs.Precondition{})
	if err := s.DeleteDocuments(ctx, orgA, target); err != nil {
		t.Fatalf("DeleteDocuments: %v", err)
	}
	checkList(t, s, orgA, target, time.Time{})
	for _, id := range []string{"a", "b", "c"} {
		checkDocMissing(t, s, orgA, target, id)
	}
	for _, sc := range others {
		checkList(t, s, orgA, sc, time.Time{}, "a")
	}
	checkList(t, s, orgB, target, time.Time{}, "a")
	// Deleting an empty scope is fine.
	if err := s.DeleteDocuments(ctx, orgA, target); err != nil {
		t.Errorf("DeleteDocuments on an empty scope: %v", err)
	}
	// And the scope is usable again.
	mustPutDoc(t, s, orgA, mkDoc(target, "a", "text/plain", []byte("a"), 2), lrs.Precondition{Absent: true})
	checkList(t, s, orgA, target, time.Time{}, "a")
}

func testDocOrgIsolation(t *testing.T, s DocumentsStore) {
	ctx := t.Context()
	scope := agentProfileScope(agentA)
	a := mkDoc(scope, "p", "text/plain", []byte("org a"), 1)
	mustPutDoc(t, s, orgA, a, lrs.Precondition{})
	checkDocMissing(t, s, orgB, scope, "p")
	checkList(t, s, orgB, scope, time.Time{})
	// Preconditions see only the own organization.
	err := s.PutDocument(ctx, orgB, mkDoc(scope, "p", "text/plain", []byte("org b"), 2), lrs.Precondition{ETag: a.ETag})
	checkCode(t, "PutDocument in org b with org a's ETag", err, lrs.EPRECONDITION)
	b := mkDoc(scope, "p", "text/plain", []byte("org b"), 2)
	mustPutDoc(t, s, orgB, b, lrs.Precondition{Absent: true})
	checkDoc(t, "org a", mustGetDoc(t, s, orgA, scope, "p"), a)
	checkDoc(t, "org b", mustGetDoc(t, s, orgB, scope, "p"), b)
	if err := s.DeleteDocument(ctx, orgB, scope, "p", lrs.Precondition{}); err != nil {
		t.Fatal(err)
	}
	checkDoc(t, "org a after org b's delete", mustGetDoc(t, s, orgA, scope, "p"), a)
	mustPutDoc(t, s, orgB, b, lrs.Precondition{})
	if err := s.DeleteDocuments(ctx, orgB, scope); err != nil {
		t.Fatal(err)
	}
	checkList(t, s, orgA, scope, time.Time{}, "p")
	// Organization names that prefix each other.
	mustPutDoc(t, s, "org", mkDoc(scope, "q", "text/plain", []byte("q"), 3), lrs.Precondition{})
	checkList(t, s, "org", scope, time.Time{}, "q")
	checkList(t, s, orgA, scope, time.Time{}, "p")
}

func testDocConcurrentCAS(t *testing.T, s DocumentsStore) {
	ctx := t.Context()
	scope := stateScope(actA, agentA, "")
	start := mkDoc(scope, "cas", "application/json", []byte(`{"n":0}`), 1)
	mustPutDoc(t, s, orgA, start, lrs.Precondition{})

	const writers = 16
	var wg sync.WaitGroup
	errs := make([]error, writers)
	ready := make(chan struct{})
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-ready
			d := mkDoc(scope, "cas", "application/json", fmt.Appendf(nil, `{"n":%d}`, i+1), 2+i)
			errs[i] = s.PutDocument(ctx, orgA, d, lrs.Precondition{ETag: start.ETag})
		}()
	}
	close(ready)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch lrs.ErrorCode(err) {
		case "":
			if winner >= 0 {
				t.Errorf("writers %d and %d both won the compare-and-swap", winner, i)
			}
			winner = i
		case lrs.EPRECONDITION:
		default:
			t.Errorf("writer %d: %v, want nil or EPRECONDITION", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no writer won the compare-and-swap")
	}
	got := mustGetDoc(t, s, orgA, scope, "cas")
	if want := fmt.Sprintf(`{"n":%d}`, winner+1); string(got.Contents) != want {
		t.Errorf("stored %s, want the winner's %s", got.Contents, want)
	}

	// Racing creations with Absent: exactly one wins too.
	for i := range errs {
		errs[i] = nil
	}
	ready = make(chan struct{})
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-ready
			d := mkDoc(scope, "new", "text/plain", fmt.Appendf(nil, "%d", i), 2+i)
			errs[i] = s.PutDocument(ctx, orgA, d, lrs.Precondition{Absent: true})
		}()
	}
	close(ready)
	wg.Wait()
	wins := 0
	for i, err := range errs {
		switch lrs.ErrorCode(err) {
		case "":
			wins++
		case lrs.EPRECONDITION:
		default:
			t.Errorf("creator %d: %v, want nil or EPRECONDITION", i, err)
		}
	}
	if wins != 1 {
		t.Errorf("%d creators won, want exactly 1", wins)
	}
}

func testDocConcurrentUnconditional(t *testing.T, s DocumentsStore) {
	ctx := t.Context()
	scope := actProfileScope(actA)
	const writers = 16
	var wg sync.WaitGroup
	errs := make([]error, writers)
	ready := make(chan struct{})
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-ready
			d := mkDoc(scope, "u", "text/plain", fmt.Appendf(nil, "%d", i), 1)
			errs[i] = s.PutDocument(ctx, orgA, d, lrs.Precondition{})
		}()
	}
	close(ready)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("unconditional writer %d: %v", i, err)
		}
	}
	got := mustGetDoc(t, s, orgA, scope, "u")
	if got.ETag != lrs.ETagOf(got.Contents) {
		t.Errorf("stored ETag %s does not belong to the stored contents %q", got.ETag, got.Contents)
	}
	checkList(t, s, orgA, scope, time.Time{}, "u")
}
