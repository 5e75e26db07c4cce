package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/forward/forwardtest"
	"github.com/lrs-project/lrs/forward/webhook"
	"github.com/lrs-project/lrs/forward/webhook/webhooktest"
)

// A daily file at 05:00 in Berlin and a daily batch at 02:00 in Chicago
// over each storage engine, on an injected clock, with a real SFTP server
// and a receiver that verifies the signature: the results of the day are
// held in the store and written at 05:00 Berlin as one CSV with their
// rows, once, and sent at 02:00 Chicago (09:00 Berlin) as one signed
// batch, once; the next day, with nothing queued, the file has its header
// row only (and no batch goes); every upload is kept for re-download. (The booted binary has no
// injectable clock; forward/webhook's TestScheduledFile… run the same on
// the in-memory store.)
func TestWebhookDailyFileOverEachEngine(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no time zone data:", err)
	}
	forEachForwardStore(t, func(t *testing.T, st forward.Store) {
		const org = "org1"
		ctx := t.Context()
		start := time.Date(2026, 9, 2, 10, 0, 0, 0, berlin)
		clock := forwardtest.NewClock(start)
		srv := webhooktest.NewSFTPServer(t, webhooktest.SFTPOptions{User: "lrs", Password: "sftp-pw-123"})
		typ := webhook.Type(webhook.TypeOptions{Egress: forwardtest.Loopback, Now: clock.Now})
		types := forwardtest.Registry(t, typ)
		props := map[string]string{"mode": "file", "schedule": "0 5 * * *", "zone": "Europe/Berlin",
			"sftp_address": srv.Addr, "sftp_user": "lrs", "sftp_host_key": srv.HostKeyLine(), "file_prefix": "ce",
			"fields": `[{"target":"Member Email","source":"participant.email","required":true},{"target":"Course, Name","source":"objective.name"},
				{"target":"Completed","source":"result.completed_at","format":"date:YYYY-MM-DD","required":true}]`}
		secrets := map[string]string{"sftp_password": "sftp-pw-123"}
		if errs := typ.Check(props, secrets); len(errs) > 0 {
			t.Fatal(errs)
		}
		sealer, err := forward.NewSealer([]byte(strings.Repeat("k", forward.KeySize)))
		if err != nil {
			t.Fatal(err)
		}
		sealed, err := sealer.Seal(org, "ams", secrets)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.PutConfiguration(ctx, forward.Configuration{ID: "ams", Org: org, Name: "AMS", Type: webhook.TypeName,
			ContactEmail: "ops@example.com", Properties: props, SealedSecret: sealed, Revision: 1, CreatedAt: start, UpdatedAt: start}); err != nil {
			t.Fatal(err)
		}
		recv := webhooktest.NewReceiver(t, webhooktest.Options{Secret: whSecret, Now: clock.Now, Envelope: "items", Key: "reference",
			Fields: []webhooktest.Check{{Field: "email", Type: "email", Required: true}, {Field: "completed_on", Type: "date:YYYY-MM-DD", Required: true}}})
		batchProps := map[string]string{"url": recv.URL + "/batch", "mode": "batch", "schedule": "0 2 * * *", "zone": "America/Chicago",
			"fields": `[{"target":"reference","source":"result.key","required":true},{"target":"email","source":"participant.email","required":true},
				{"target":"completed_on","source":"result.completed_at","format":"date:YYYY-MM-DD","required":true}]`}
		if errs := typ.Check(batchProps, map[string]string{"signing_secret": whSecret}); len(errs) > 0 {
			t.Fatal(errs)
		}
		sealedBatch, err := sealer.Seal(org, "batch", map[string]string{"signing_secret": whSecret})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.PutConfiguration(ctx, forward.Configuration{ID: "batch", Org: org, Name: "AMS batch", Type: webhook.TypeName,
			ContactEmail: "ops@example.com", Properties: batchProps, SealedSecret: sealedBatch, Revision: 1, CreatedAt: start, UpdatedAt: start}); err != nil {
			t.Fatal(err)
		}
		obj := forward.Objective{ID: "fire", Org: org, Name: "Fire safety", ActivityID: resAct, Configurations: []string{"ams", "batch"}, CreatedAt: start, UpdatedAt: start}
		if err := st.PutObjective(ctx, obj); err != nil {
			t.Fatal(err)
		}
		obl := forward.NewObligations(st, slog.New(slog.DiscardHandler), clock.Now)
		obl.SetSinks(types)
		engine, err := forward.New(st, &forwardtest.Statements{}, types, sealer.OpenConfiguration, slog.New(slog.DiscardHandler),
			forward.NewMetrics(prometheus.NewRegistry(), webhook.TypeName), forward.Options{Owner: "test", Now: clock.Now, Rand: func() float64 { return 0.5 },
				Orgs: func(ctx context.Context) ([]string, error) { return []string{org}, nil }})
		if err != nil {
			t.Fatal(err)
		}
		complete := func(email string) {
			t.Helper()
			yes, now := true, clock.Now()
			r := forward.ObjectiveResult{
				ResultKey: forward.ResultKey{Org: org, ObjectiveID: obj.ID, Participant: "mbox:mailto:" + email},
				Actor:     forward.Actor{Mbox: "mailto:" + email},
				Computed:  forward.Values{Completion: &yes, CompletedAt: now, LastActivity: now},
				Revision:  1, CreatedAt: now, UpdatedAt: now, RulesAt: obj.UpdatedAt,
			}
			if _, err := st.PutResults(ctx, []forward.ObjectiveResult{r}, false); err != nil {
				t.Fatal(err)
			}
			if err := obl.ResultChanged(ctx, forward.ResultChange{ResultKey: r.ResultKey, Revision: 1, Changed: true, Result: &r}); err != nil {
				t.Fatal(err)
			}
		}
		tickAt := func(at time.Time) {
			t.Helper()
			clock.Advance(at.Sub(clock.Now()))
			for range 10 {
				n, err := engine.Tick(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if n == 0 {
					return
				}
			}
			t.Fatal("the engine still claims after 10 rounds")
		}

		complete("ada@example.com")
		tickAt(start.Add(time.Minute))
		complete("o,brien@example.com")
		tickAt(start.Add(2 * time.Hour))
		at := time.Date(2026, 9, 3, 5, 0, 0, 0, berlin)
		tickAt(at.Add(-time.Minute))
		if files := srv.Files(t); len(files) != 0 || len(recv.Requests()) != 0 {
			t.Fatalf("files before 05:00: %v; %d batch requests", files, len(recv.Requests()))
		}
		tickAt(at.Add(2 * time.Second))
		tickAt(at.Add(time.Hour))
		files := srv.Files(t)
		if len(files) != 1 {
			t.Fatalf("files after 05:00: %v", files)
		}
		for name, data := range files {
			want := "Member Email,\"Course, Name\",Completed\r\nada@example.com,Fire safety,2026-09-02\r\n\"o,brien@example.com\",Fire safety,2026-09-02\r\n"
			if !strings.HasPrefix(name, "ce-20260903-050000-") || data != want {
				t.Errorf("file %s:\n%q\nwant\n%q", name, data, want)
			}
		}
		n, err := st.CountDeliveries(ctx, org, "ams")
		if err != nil || n.Delivered != 2 || n.Pending != 0 {
			t.Errorf("counts after the file: %+v, %v", n, err)
		}
		chicago := time.Date(2026, 9, 3, 2, 0, 0, 0, time.FixedZone("CDT", -5*3600)) // 09:00 Berlin
		tickAt(chicago.Add(-time.Minute))
		if n := len(recv.Requests()); n != 0 {
			t.Fatalf("%d batch requests before 02:00 Chicago", n)
		}
		tickAt(chicago.Add(2 * time.Second))
		tickAt(chicago.Add(time.Hour))
		got := recv.Accepted()
		if len(got) != 1 || len(got[0].Items) != 2 || len(recv.Requests()) != 1 {
			t.Fatalf("the batch at 02:00 Chicago: %d accepted of %d requests", len(got), len(recv.Requests()))
		}
		if n, err := st.CountDeliveries(ctx, org, "batch"); err != nil || n.Delivered != 2 || n.Pending != 0 {
			t.Errorf("batch counts: %+v, %v", n, err)
		}

		// The next day: nothing queued, the header row only.
		next := at.AddDate(0, 0, 1)
		tickAt(next.Add(-time.Minute))
		tickAt(next.Add(2 * time.Minute))
		tickAt(next.Add(time.Hour))
		files = srv.Files(t)
		if len(files) != 2 {
			t.Fatalf("files after the second 05:00: %v", files)
		}
		for name, data := range files {
			if strings.HasPrefix(name, "ce-20260904-050000-") && data != "Member Email,\"Course, Name\",Completed\r\n" {
				t.Errorf("the day without results: %s %q", name, data)
			}
		}
		if n := len(recv.Requests()); n != 1 {
			t.Errorf("%d batch requests after a day with nothing queued, want still 1", n)
		}
		kept, err := st.ListFiles(ctx, org, "ams", 10)
		if err != nil || len(kept) != 2 || kept[0].Rows != 0 || kept[1].Rows != 2 {
			t.Fatalf("kept files (newest first): %+v, %v", kept, err)
		}
		for _, k := range kept {
			f, err := st.GetFile(ctx, org, "ams", k.Name)
			if err != nil || string(f.Data) != files[k.Name] {
				t.Errorf("the kept copy of %s: %q, %v", k.Name, f.Data, err)
			}
		}
	})
}
