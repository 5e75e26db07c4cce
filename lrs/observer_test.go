package lrs_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lrs-project/lrs/lrs"
	"github.com/lrs-project/lrs/schema"
)

// obsRecorder is a StatementObserver that records its calls and fails with
// err when set.
type obsRecorder struct {
	mu    sync.Mutex
	calls [][]lrs.StoredStatement
	orgs  []string
	err   error
}

func (r *obsRecorder) StatementsStored(_ context.Context, org string, stmts []lrs.StoredStatement) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, slices.Clone(stmts))
	r.orgs = append(r.orgs, org)
	return r.err
}

func (r *obsRecorder) lastIDs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.calls) == 0 {
		return nil
	}
	var ids []string
	for _, s := range r.calls[len(r.calls)-1] {
		ids = append(ids, s.ID)
	}
	return ids
}

func TestObserverNewAndRepeated(t *testing.T) {
	rec := &obsRecorder{}
	store := openStore(t)
	svc := lrs.NewService(store, lrs.ServiceOptions{Observer: rec})
	id1, id2 := uuid.NewString(), uuid.NewString()
	ids := post(t, svc, stmt(id1, "a@example.com", "passed", "quiz"), stmt(id2, "b@example.com", "failed", "quiz"))
	if got := rec.lastIDs(); !slices.Equal(got, ids) {
		t.Fatalf("observer saw %v, want %v", got, ids)
	}
	st := rec.calls[0][0]
	if st.Stored.IsZero() || field(t, st.Raw, "id") != id1 || field(t, st.Raw, "stored") == nil {
		t.Errorf("observed statement: %s stored %v", st.Raw, st.Stored)
	}
	if rec.orgs[0] != writer.Org {
		t.Errorf("observer org = %q, want %q", rec.orgs[0], writer.Org)
	}
	if !rec.calls[0][0].New || !rec.calls[0][1].New {
		t.Errorf("statements stored first by the call are not New: %+v", rec.calls[0])
	}
	// A client's retry of the same statements is observed again, not New;
	// a new statement beside it is. The retry comes in a later millisecond:
	// one in the same millisecond gets the same stored time, so its record
	// is byte for byte the one stored, which the insert takes for its own
	// (a store that wrote part of a batch before a conflict), and counts
	// as New; a New repeat is allowed (forward.ResultStore.AddContributions).
	time.Sleep(2 * time.Millisecond)
	id3 := uuid.NewString()
	post(t, svc, stmt(id1, "a@example.com", "passed", "quiz"), stmt(id3, "c@example.com", "passed", "quiz"))
	if got := rec.lastIDs(); !slices.Equal(got, []string{id1, id3}) || len(rec.calls) != 2 {
		t.Errorf("a repeated statement was not observed: calls %d, last %v", len(rec.calls), got)
	} else if last := rec.calls[1]; last[0].New || !last[1].New {
		t.Errorf("repeated New %v, new New %v; want false, true", last[0].New, last[1].New)
	}
	// A statement is observed after it is stored.
	if _, _, err := svc.GetStatement(context.Background(), writer.Org, id2, false); err != nil {
		t.Fatal(err)
	}
}

func TestObserverFailureFailsRequest(t *testing.T) {
	rec := &obsRecorder{err: errors.New("queue unavailable")}
	svc := lrs.NewService(openStore(t), lrs.ServiceOptions{Observer: rec})
	id := uuid.NewString()
	_, err := svc.PostStatements(context.Background(), writer, []*schema.Statement{parse(t, stmt(id, "a@example.com", "passed", "quiz"))}, schema.V2_0_0)
	if err == nil || !errors.Is(err, rec.err) {
		t.Fatalf("PostStatements with a failing observer: %v, want its error", err)
	}
	// Stored nonetheless; the retry succeeds once the observer does.
	rec.mu.Lock()
	rec.err = nil
	rec.mu.Unlock()
	post(t, svc, stmt(id, "a@example.com", "passed", "quiz"))
	if got := rec.lastIDs(); !slices.Equal(got, []string{id}) {
		t.Errorf("retry observed %v", got)
	}
}

func TestScanStored(t *testing.T) {
	svc := lrs.NewService(openStore(t), lrs.ServiceOptions{})
	var want []string
	for range 3 {
		ids := post(t, svc, stmt("", "a@example.com", "passed", "quiz"), stmt("", "b@example.com", "passed", "quiz"))
		want = append(want, ids...)
	}
	var got []string
	after := lrs.Cursor{}
	for {
		page, err := svc.ScanStored(context.Background(), writer.Org, after, time.Now().Add(time.Hour), 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range page {
			got = append(got, s.ID)
		}
		if len(page) < 2 {
			break
		}
		after = lrs.Cursor{Stored: page[len(page)-1].Stored, ID: page[len(page)-1].ID}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("ScanStored paged through %v, want %v", got, want)
	}
}

// StoredStatement returns a statement whether or not it was voided, as
// stored; GetStatement by statementId hides a voided one.
func TestStoredStatementIgnoresVoiding(t *testing.T) {
	svc := lrs.NewService(openStore(t), lrs.ServiceOptions{})
	ctx := context.Background()
	target, voider := uuid.NewString(), uuid.NewString()
	post(t, svc, stmt(target, "a@example.com", "passed", "quiz"))
	raw, stored, err := svc.GetStatement(ctx, writer.Org, target, false)
	if err != nil {
		t.Fatal(err)
	}
	post(t, svc, voiding(voider, target))
	if _, _, err := svc.GetStatement(ctx, writer.Org, target, false); lrs.ErrorCode(err) != lrs.ENOTFOUND {
		t.Fatalf("GetStatement of a voided statement: %v, want ENOTFOUND", err)
	}
	got, err := svc.StoredStatement(ctx, writer.Org, strings.ToUpper(target))
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != target || !got.Stored.Equal(stored) || string(got.Raw) != string(raw) {
		t.Errorf("StoredStatement = %s %v %s, want %s %v %s", got.ID, got.Stored, got.Raw, target, stored, raw)
	}
	if _, err := svc.StoredStatement(ctx, writer.Org, uuid.NewString()); lrs.ErrorCode(err) != lrs.ENOTFOUND {
		t.Errorf("StoredStatement of a missing id: %v, want ENOTFOUND", err)
	}
	if _, err := svc.StoredStatement(ctx, "other-org", target); lrs.ErrorCode(err) != lrs.ENOTFOUND {
		t.Errorf("StoredStatement in another organization: %v, want ENOTFOUND", err)
	}
}
