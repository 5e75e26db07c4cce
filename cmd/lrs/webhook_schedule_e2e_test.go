package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward/webhook/webhooktest"
)

// Scheduled AMS writeback through the booted binary built with the test
// clock (-tags lrstestclock), which runs forwarding from a chosen time at
// 600 times real time (a second is ten minutes, the engine looks every
// real second): a daily batch at 02:00 in Chicago and a daily file at
// 09:00 in Berlin (both 08:00 UTC in January).

// simClock is the tagged binary's clock as the test reads it
// (clock_lrstestclock.go: start at the real time at, speed times faster).
type simClock struct {
	start, at time.Time
	speed     float64
}

func newSimClock(start time.Time, delay time.Duration) simClock {
	return simClock{start: start, at: time.Now().Add(delay), speed: 600}
}

func (c simClock) now() time.Time {
	return c.start.Add(time.Duration(float64(time.Since(c.at)) * c.speed)).UTC()
}

func (c simClock) env() []string {
	return []string{"LRS_TEST_CLOCK_START=" + c.start.Format(time.RFC3339Nano),
		"LRS_TEST_CLOCK_SPEED=" + strconv.FormatFloat(c.speed, 'f', -1, 64), "LRS_TEST_CLOCK_AT=" + c.at.Format(time.RFC3339Nano)}
}

// sleepUntil waits until the clock reads sim.
func (c simClock) sleepUntil(sim time.Time) {
	if d := time.Duration(float64(sim.Sub(c.now())) / c.speed); d > 0 {
		time.Sleep(d)
	}
}

// schedRig is a store with the two scheduled configurations and their
// receivers.
type schedRig struct {
	storeEnv     []string
	recv         *webhooktest.Receiver
	sftp         *webhooktest.SFTPServer
	clk          *simClock // the clock of the running processes (the receiver's)
	batch, file  string    // configuration ids
	participants int
}

func newSchedRig(t *testing.T, storeEnv []string) *schedRig {
	r := &schedRig{storeEnv: storeEnv, clk: &simClock{start: time.Now(), at: time.Now(), speed: 1}}
	r.recv = webhooktest.NewReceiver(t, webhooktest.Options{Secret: whSecret, Envelope: "items", Key: "reference",
		Now:    func() time.Time { return r.clk.now() },
		Fields: []webhooktest.Check{{Field: "reference", Type: "uuid", Required: true}, {Field: "email", Type: "email", Required: true}}})
	r.sftp = webhooktest.NewSFTPServer(t, webhooktest.SFTPOptions{User: "lrs", Password: "sftp-pw-123"})
	return r
}

// boot starts the tagged binary on the clock (keyed: forwarding on).
func (r *schedRig) boot(t *testing.T, clk simClock, keyed bool, extra ...string) *proc {
	t.Helper()
	env := append(upstreamEnv(r.storeEnv), clk.env()...)
	if !keyed {
		env = slices.DeleteFunc(env, func(e string) bool { return strings.HasPrefix(e, "LRS_FORWARD_KEY=") })
	}
	*r.clk = clk
	return startLRSBinary(t, buildClockBinary(t), append(env, extra...)...)
}

// configure creates the two configurations and the objective.
func (r *schedRig) configure(t *testing.T, p *proc) {
	t.Helper()
	a := fwdAdmin(t, p)
	create := func(props map[string]string, secrets map[string]string) string {
		res := a.expect(http.StatusCreated, http.MethodPost, "/configurations", map[string]any{
			"name": "AMS " + props["mode"], "contact_email": "ops@example.com", "type": "webhook", "properties": props, "secrets": secrets,
		}, adminBearer()...)
		var cfg struct{ ID string }
		if err := json.Unmarshal(res.body, &cfg); err != nil || cfg.ID == "" {
			t.Fatalf("configuration create answered %s (%v)", res.body, err)
		}
		return cfg.ID
	}
	r.batch = create(map[string]string{"url": r.recv.URL + "/ce", "mode": "batch", "max_items": "3",
		"schedule": "0 2 * * *", "zone": "America/Chicago",
		"fields": `[{"target":"reference","source":"result.key","required":true},{"target":"email","source":"participant.email","required":true}]`},
		map[string]string{"signing_secret": whSecret})
	r.file = create(map[string]string{"mode": "file", "schedule": "0 9 * * *", "zone": "Europe/Berlin",
		"sftp_address": r.sftp.Addr, "sftp_user": "lrs", "sftp_host_key": r.sftp.HostKeyLine(),
		"fields": `[{"target":"Member Email","source":"participant.email","required":true},{"target":"Course","source":"objective.name"}]`},
		map[string]string{"signing_secret": whSecret, "sftp_password": "sftp-pw-123"})
	a.expect(http.StatusCreated, http.MethodPost, "/objectives", map[string]any{
		"name": "Fire safety", "activity_id": resAct, "configurations": []string{r.batch, r.file},
	}, adminBearer()...)
}

// complete posts a completed session of n new participants to p; it
// returns their emails.
func (r *schedRig) complete(t *testing.T, p *proc, n int) []string {
	t.Helper()
	x := &client{t: t, base: p.base + "/xapi", key: fwdUpKey, secret: fwdUpSecret, version: "1.0.3"}
	var emails, stmts []string
	for range n {
		r.participants++
		email := fmt.Sprintf("p%d@example.com", r.participants)
		emails = append(emails, email)
		for _, raw := range resSession(fmt.Sprintf("sched-%d-", r.participants), 0, 0.9, true) {
			stmts = append(stmts, strings.NewReplacer("mailto:ada@example.com", "mailto:"+email, "Ada Lovelace", "P").Replace(raw))
		}
	}
	x.expect(http.StatusOK, http.MethodPost, "/statements", "["+strings.Join(stmts, ",")+"]")
	return emails
}

// state is what the receivers got: the batch requests' emails (one list
// per request, in order) and the files by name, their rows sorted.
func (r *schedRig) state(t *testing.T) ([][]string, map[string][]string) {
	var batches [][]string
	for _, q := range r.recv.Requests() {
		if len(q.Problems) > 0 {
			t.Errorf("the receiver refused a request: %v", q.Problems)
		}
		if q.Duplicate {
			continue
		}
		var emails []string
		for _, it := range q.Items {
			emails = append(emails, fmt.Sprint(it["email"]))
		}
		sort.Strings(emails)
		batches = append(batches, emails)
	}
	files := map[string][]string{}
	for name, data := range r.sftp.Files(t) {
		if strings.HasPrefix(name, ".") {
			continue // being uploaded (renamed when complete)
		}
		lines := strings.Split(strings.TrimSuffix(data, "\r\n"), "\r\n")
		if lines[0] != "Member Email,Course" {
			t.Errorf("file %s has the header %q", name, lines[0])
		}
		rows := lines[1:]
		sort.Strings(rows)
		files[name] = rows
	}
	return batches, files
}

func rowsOf(emails []string) []string {
	var rows []string
	for _, e := range emails {
		rows = append(rows, e+",Fire safety")
	}
	sort.Strings(rows)
	return rows
}

func fileOf(files map[string][]string, day string) (string, []string, bool) {
	for name, rows := range files {
		if strings.HasPrefix(name, "lrs-results-"+day+"-090000-") {
			return name, rows, true
		}
	}
	return "", nil, false
}

// waitFor polls until ok holds or the clock reads deadline.
func (r *schedRig) waitFor(t *testing.T, deadline time.Time, what string, ok func() bool) time.Time {
	t.Helper()
	for !ok() {
		if r.clk.now().After(deadline) {
			b, f := r.state(t)
			t.Fatalf("%s: not by %v; batches %v, files %v", what, deadline, b, f)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return r.clk.now()
}

// A day's batch and file go once, at their time (never before), with the
// day's results; the process is then down over two scheduled times and
// results come meanwhile (to a process with forwarding off): restarted,
// it catches up at once, with one batch of what is queued, in requests of
// max_items, and one file, named after the latest missed time (none for
// the earlier one); the next day, with nothing new, no batch goes and the
// file is the header row only. On both engines, at once.
func TestWebhookSchedulesEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("boots the binary")
	}
	if _, err := time.LoadLocation("America/Chicago"); err != nil {
		t.Skip("no time zone data:", err)
	}
	buildClockBinary(t)
	t.Parallel()
	for _, engine := range []string{"embedded", "mongodb"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			storeEnv := []string{"LRS_DATA_DIR=" + t.TempDir()}
			if engine == "mongodb" {
				storeEnv = mongoStoreEnv(t)
			}
			webhookSchedules(t, newSchedRig(t, storeEnv))
		})
	}
}

func webhookSchedules(t *testing.T, r *schedRig) {
	day := func(d, h, m int) time.Time { return time.Date(2027, 1, 14+d, h, m, 0, 0, time.UTC) }

	// Day 0: the batch (02:00 Chicago) and the file (09:00 Berlin) at 08:00 UTC.
	p := r.boot(t, newSimClock(day(0, 7, 57), 3*time.Second), true)
	r.configure(t, p)
	first := r.complete(t, p, 2)
	if now := r.clk.now(); !now.Before(day(0, 7, 58)) {
		t.Fatalf("the setup ended at %v, too late for the test", now)
	}
	r.clk.sleepUntil(day(0, 7, 59))
	if b, f := r.state(t); len(b) != 0 || len(f) != 0 {
		t.Fatalf("before the scheduled time: batches %v, files %v", b, f)
	}
	at := r.waitFor(t, day(0, 8, 40), "the day's batch and file", func() bool {
		b, f := r.state(t)
		return len(b) == 1 && len(f) == 1
	})
	r.clk.sleepUntil(at.Add(20 * time.Minute))
	b, f := r.state(t)
	if len(b) != 1 || !slices.Equal(b[0], first) {
		t.Errorf("day 0: batches %v, want one with %v", b, first)
	}
	if _, rows, ok := fileOf(f, "20270114"); !ok || len(f) != 1 || !slices.Equal(rows, rowsOf(first)) {
		t.Errorf("day 0: files %v, want one of 20270114 with %v", f, rowsOf(first))
	}
	t.Logf("day 0: sent by %v (scheduled 08:00 UTC)", at.Format(time.TimeOnly))
	p.stop()

	// Day 0, later: results come to a process with forwarding off.
	p = r.boot(t, newSimClock(day(0, 12, 0), 0), false)
	later := r.complete(t, p, 4)
	p.stop()

	// Day 2, 08:30: up again after two missed times (days 1 and 2).
	p = r.boot(t, newSimClock(day(2, 8, 30), 0), true)
	r.waitFor(t, day(2, 11, 0), "the catch-up", func() bool {
		b, f := r.state(t)
		return len(b) == 3 && len(f) == 2
	})
	r.clk.sleepUntil(r.clk.now().Add(20 * time.Minute))
	b, f = r.state(t)
	if got := b[1:]; len(got) != 2 || len(got[0]) != 3 || len(got[1]) != 1 || !slices.Equal(slices.Sorted(slices.Values(slices.Concat(got...))), later) {
		t.Errorf("the catch-up: batches %v, want %v in requests of at most 3", got, later)
	}
	if _, rows, ok := fileOf(f, "20270116"); !ok || len(f) != 2 || !slices.Equal(rows, rowsOf(later)) {
		t.Errorf("the catch-up: files %v, want one more, of 20270116 (the latest missed time) with %v", f, rowsOf(later))
	}
	p.stop()

	// Day 3: nothing new: no batch, and a header-only file.
	p = r.boot(t, newSimClock(day(3, 7, 59), time.Second), true)
	r.waitFor(t, day(3, 8, 30), "the day's header-only file", func() bool {
		_, f := r.state(t)
		return len(f) == 3
	})
	r.clk.sleepUntil(r.clk.now().Add(15 * time.Minute))
	b, f = r.state(t)
	if _, rows, ok := fileOf(f, "20270117"); len(b) != 3 || !ok || len(rows) != 0 {
		t.Errorf("day 3: batches %v, files %v: want no new batch and a header-only file of 20270117", b, f)
	}
	p.stop()
}

// Two processes on one MongoDB store, on one clock: each scheduled time
// is sent by one of them (the one that claims the time): one batch and
// one file at the day's time, though each process took one of the
// results; restarted together, the next day's header-only file, which
// both find owed at the same time, is uploaded once.
func TestWebhookScheduleTwoProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("boots the binary")
	}
	if _, err := time.LoadLocation("America/Chicago"); err != nil {
		t.Skip("no time zone data:", err)
	}
	buildClockBinary(t)
	t.Parallel()
	r := newSchedRig(t, mongoStoreEnv(t))
	day := func(d, h, m int) time.Time { return time.Date(2027, 1, 14+d, h, m, 0, 0, time.UTC) }

	clk := newSimClock(day(0, 7, 57), 3*time.Second)
	a := r.boot(t, clk, true)
	r.configure(t, a)
	b := r.boot(t, clk, true)
	emails := slices.Concat(r.complete(t, a, 1), r.complete(t, b, 1))
	if now := r.clk.now(); !now.Before(day(0, 7, 58)) {
		t.Fatalf("the setup ended at %v, too late for the test", now)
	}
	at := r.waitFor(t, day(0, 8, 40), "the day's batch and file", func() bool {
		b, f := r.state(t)
		return len(b) == 1 && len(f) == 1
	})
	r.clk.sleepUntil(at.Add(20 * time.Minute))
	batches, files := r.state(t)
	if len(batches) != 1 || !slices.Equal(batches[0], emails) {
		t.Errorf("batches %v, want one with %v", batches, emails)
	}
	if _, rows, ok := fileOf(files, "20270114"); !ok || len(files) != 1 || !slices.Equal(rows, rowsOf(emails)) || r.sftp.Logins() != 1 {
		t.Errorf("files %v (%d uploads), want one of 20270114 with %v", files, r.sftp.Logins(), rowsOf(emails))
	}
	a.stop()
	b.stop()

	clk = newSimClock(day(1, 7, 59), time.Second)
	a, b = r.boot(t, clk, true), r.boot(t, clk, true)
	r.waitFor(t, day(1, 8, 30), "the next day's header-only file", func() bool {
		_, f := r.state(t)
		return len(f) == 2
	})
	r.clk.sleepUntil(r.clk.now().Add(15 * time.Minute))
	batches, files = r.state(t)
	if _, rows, ok := fileOf(files, "20270115"); len(batches) != 1 || !ok || len(rows) != 0 || r.sftp.Logins() != 2 {
		t.Errorf("the next day: batches %v, files %v, %d uploads in all: want no new batch and one header-only file", batches, files, r.sftp.Logins())
	}
}
