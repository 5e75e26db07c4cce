package lrs_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lrs-project/lrs/lrs"
	"github.com/lrs-project/lrs/schema"
)

// The service counts the statements it newly stores, per organization and
// UTC day; a client's retry of stored statements is not counted again.
func TestStatementsCountedPerDay(t *testing.T) {
	st := openStore(t)
	now := time.Date(2026, 4, 2, 23, 59, 59, 0, time.UTC)
	svc := lrs.NewService(st, lrs.ServiceOptions{Now: func() time.Time { return now }, Counts: st.(lrs.StatementCountStore)})
	ctx := context.Background()
	ids := []string{uuid.NewString(), uuid.NewString(), uuid.NewString()}
	batch := func(ids ...string) []*schema.Statement {
		var out []*schema.Statement
		for _, id := range ids {
			out = append(out, parse(t, stmt(id, "ada@example.com", "completed", "a1")))
		}
		return out
	}
	if _, err := svc.PostStatements(ctx, writer, batch(ids...), schema.V2_0_0); err != nil {
		t.Fatal(err)
	}
	// The retry of two of them, and a new one.
	now = now.Add(time.Millisecond)
	more := uuid.NewString()
	if _, err := svc.PostStatements(ctx, writer, batch(ids[0], ids[1], more), schema.V2_0_0); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Second) // the next UTC day
	if _, err := svc.PostStatements(ctx, lrs.Writer{Org: "org2", Authority: writer.Authority}, batch(uuid.NewString()), schema.V2_0_0); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.PostStatements(ctx, writer, batch(uuid.NewString(), uuid.NewString()), schema.V2_0_0); err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 4, 2, 0, 0, 0, 0, time.UTC)
	got, err := svc.StatementCounts(ctx, writer.Org, day.AddDate(0, 0, -1), day.AddDate(0, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	want := []lrs.DayCount{{day.AddDate(0, 0, -1), 0}, {day, 4}, {day.AddDate(0, 0, 1), 2}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("org1's days: %v, want %v (new statements only, every day listed)", got, want)
	}
	if got, _ := svc.StatementCounts(ctx, "org2", day, day.AddDate(0, 0, 1)); fmt.Sprint(got) != fmt.Sprint([]lrs.DayCount{{day, 0}, {day.AddDate(0, 0, 1), 1}}) {
		t.Errorf("org2's days: %v", got)
	}
	if _, err := lrs.NewService(st, lrs.ServiceOptions{}).StatementCounts(ctx, writer.Org, day, day); lrs.ErrorCode(err) != lrs.EUNAVAILABLE {
		t.Errorf("without a count store: %v, want EUNAVAILABLE", err)
	}
}
