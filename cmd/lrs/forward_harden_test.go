package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/forward/forwardtest"
	"github.com/lrs-project/lrs/lrs/mongo"
)

// The forwarding engine's isolation, damping, edits, long outages and
// durable housekeeping, over each storage engine (forward's own tests run
// the same engine over the in-memory store).

// hangingListener accepts connections and never answers, until the test
// ends.
func hangingListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	return "http://" + ln.Addr().String() + "/xapi/"
}

// countingServer answers every request with status and counts them.
type countingServer struct {
	*httptest.Server
	n atomic.Int64
}

func newCountingServer(t *testing.T, status int) *countingServer {
	s := &countingServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.n.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, `{"message":"boom"}`)
	}))
	t.Cleanup(s.Close)
	return s
}

// deliveryDelay is the median time from a statement's deliveries being
// stored to the downstream accepting it, over n statements sent one after
// the other.
func deliveryDelay(t *testing.T, r *fwdRig, c forward.Configuration, down *forwardtest.LRS, n int) time.Duration {
	t.Helper()
	var ds []time.Duration
	for range n {
		id := r.statement(c)
		start := time.Now()
		forwardtest.Eventually(t, 30*time.Second, func() error {
			if down.Accepted(id) == 0 {
				return fmt.Errorf("%s not delivered to %s within 30s", id, c.Name)
			}
			return nil
		})
		ds = append(ds, time.Since(start))
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// More hanging and erroring configurations than workers, beside a healthy
// one of another organization: the healthy one's delivery delay stays
// within twice its unloaded figure, the failing ones are only probed (one
// request at a time, the rest of their queues waiting in the store), and
// every status says what happened.
func TestForwardIsolationFromFailingDestinations(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the engine for several seconds")
	}
	forEachForwardStore(t, func(t *testing.T, st forward.Store) {
		// The MongoDB test server (FerretDB on SQLite) runs one query at a
		// time and scans a collection for most: there the failing
		// configurations get their backlog only, no traffic after it, and
		// are probed less often, so that the test server's own speed does
		// not decide what is measured (on MongoDB, each is an index lookup).
		// The unloaded figure is floored, so that the noise of a shared
		// machine on a figure of a few milliseconds does not decide: at
		// 25 ms, and at 50 ms on the test server, whose queries wait for
		// one another (each probe of a failing configuration is a dozen).
		backlog, every, probe, floor := 20, 150*time.Millisecond, time.Second, 25*time.Millisecond
		if _, slow := st.(*mongo.DB); slow {
			backlog, every, probe, floor = 5, 0, 3*time.Second, 50*time.Millisecond
		}
		r := newFwdRig(t, st, rigOptions{realClock: true, timeout: 2 * time.Second,
			// Probing every few seconds keeps the failing destinations busy
			// throughout (the default waits up to 5 minutes).
			engine: forward.Options{Workers: 2, ProbeInterval: probe}})
		down := forwardtest.NewLRS(t, nil)
		healthy := r.configure("healthy", down.Endpoint(), forwardtest.DownKey, forwardtest.DownSecret)
		r.run()
		deliveryDelay(t, r, healthy, down, 2) // warm up (the first contact)
		unloaded := deliveryDelay(t, r, healthy, down, 9)

		erroring := newCountingServer(t, http.StatusInternalServerError)
		var hanging, failing []forward.Configuration
		for i := range 3 {
			hanging = append(hanging, r.configure(fmt.Sprintf("hang%d", i), hangingListener(t), "k", "hanging-secret"))
			failing = append(failing, r.configure(fmt.Sprintf("err%d", i), erroring.URL+"/xapi/", "k", "erroring-secret"))
		}
		bad := slices.Concat(hanging, failing)
		for _, c := range bad {
			for range backlog {
				r.statement(c)
			}
		}
		// Statements keep coming to every configuration meanwhile.
		stop := make(chan struct{})
		var traffic sync.WaitGroup
		traffic.Go(func() {
			if every == 0 {
				return
			}
			tk := time.NewTicker(every)
			defer tk.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tk.C:
					for _, c := range bad {
						r.statement(c)
					}
				}
			}
		})
		started := time.Now()
		// Every bad destination has failed once at least: the hanging ones
		// after the per-attempt deadline.
		forwardtest.Eventually(t, 30*time.Second, func() error {
			for _, c := range bad {
				if s, err := st.GetStatus(context.Background(), c.Org, c.ID); err != nil || s.Status == forward.StatusOK {
					return fmt.Errorf("%s has no failing status yet (%v)", c.Name, err)
				}
			}
			return nil
		})
		loaded := deliveryDelay(t, r, healthy, down, 9)
		close(stop)
		traffic.Wait()
		elapsed := time.Since(started)
		t.Logf("healthy configuration's delivery delay: %v unloaded, %v beside %d failing configurations (2 workers)", unloaded, loaded, len(bad))
		if limit := 2 * max(unloaded, floor); loaded > limit {
			t.Errorf("the healthy configuration's median delay went from %v to %v beside failing ones, want within %v", unloaded, loaded, limit)
		}
		for _, c := range hanging {
			if s := r.status(c); s.Status != forward.StatusCantConnect || !strings.Contains(s.LastError, "timeout") {
				t.Errorf("%s: status %+v, want Can't Connect (timeout)", c.Name, s)
			}
		}
		for _, c := range failing {
			if s := r.status(c); s.Status != forward.StatusServerError || s.LastStatus != 500 {
				t.Errorf("%s: status %+v, want Server Error 500", c.Name, s)
			}
		}
		// The erroring destination was probed, not flooded: about one
		// request a second per configuration (its probe), not one per
		// statement.
		sent := 0
		for _, c := range failing {
			n, _ := st.CountDeliveries(context.Background(), c.Org, c.ID)
			sent += n.Pending
		}
		if reqs := erroring.n.Load(); reqs > int64(len(failing))*int64(elapsed/probe+3) {
			t.Errorf("the erroring destination got %d requests in %v for %d waiting statements, want a probe a second per configuration",
				reqs, elapsed.Round(time.Millisecond), sent)
		}
	})
}

// flappingLRS is a downstream that answers every other statements request
// 500 while flapping.
type flappingLRS struct {
	*forwardtest.LRS
	flapping atomic.Bool
	n        atomic.Int64
}

func newFlappingLRS(t *testing.T) *flappingLRS {
	f := &flappingLRS{}
	f.flapping.Store(true)
	f.LRS = forwardtest.NewLRS(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/statements") && r.Method != http.MethodGet && f.flapping.Load() && f.n.Add(1)%2 == 1 {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusInternalServerError)
				fmt.Fprint(w, `{"message":"boom"}`)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	return f
}

// A destination alternating 500 and 200 with a matching statement every
// 0.4 s mails its contact once, not at every change; once it has stayed OK
// for the recovery delay, and an hour after the first mail, the recovery
// is mailed. Every statement is delivered once.
func TestForwardFlappingDestinationIsDamped(t *testing.T) {
	forEachForwardStore(t, func(t *testing.T, st forward.Store) {
		r := newFwdRig(t, st, rigOptions{})
		down := newFlappingLRS(t)
		c := r.configure("flappy", down.Endpoint(), forwardtest.DownKey, forwardtest.DownSecret)
		var ids []string
		for range 60 { // 24 s: four probes or more, each a change
			ids = append(ids, r.statement(c))
			r.tick()
			r.clock.Advance(400 * time.Millisecond)
		}
		attempts, err := st.ListAttempts(context.Background(), c.Org, c.ID, 1000)
		if err != nil {
			t.Fatal(err)
		}
		changes, last := 0, ""
		for i := len(attempts) - 1; i >= 0; i-- {
			if s := forward.StatusOf(attempts[i].Outcome); s != last {
				changes, last = changes+1, s
			}
		}
		if changes < 4 {
			t.Fatalf("the status changed %d times, want a flapping destination", changes)
		}
		mails := r.mails()
		if len(mails) != 1 || !strings.Contains(mails[0].Data, "Server Error") {
			t.Fatalf("%d mails while flapping (%d status changes), want 1 (Server Error)", len(mails), changes)
		}
		first := rigStart
		// It stops flapping; statements keep coming, a minute apart.
		down.flapping.Store(false)
		var recovery []time.Time
		for r.clock.Now().Before(first.Add(75 * time.Minute)) {
			ids = append(ids, r.statement(c))
			r.clock.Advance(5 * time.Minute)
			r.tick()
			for _, m := range r.mails() {
				if !strings.Contains(m.Data, "OK again") {
					t.Errorf("unexpected mail:\n%s", m.Data)
				}
				recovery = append(recovery, r.clock.Now())
			}
		}
		if len(recovery) != 1 || recovery[0].Sub(first) < time.Hour {
			t.Fatalf("recovery mails at %v, want one, an hour or more after the first mail (%v)", recovery, first)
		}
		for _, id := range ids {
			if n := down.Accepted(id); n != 1 {
				t.Errorf("%s accepted %d times, want once", id, n)
			}
		}
	})
}

// A status mail states what holds when it is sent: one deferred by the
// damping (a change between error classes within the hour) gives the
// queued count of that moment, and every mail names the last error once
// ("HTTP 500: boom", not "HTTP 500 HTTP 500: boom").
func TestForwardAlertMailSaysWhatHoldsWhenSent(t *testing.T) {
	forEachForwardStore(t, func(t *testing.T, st forward.Store) {
		r := newFwdRig(t, st, rigOptions{})
		addr := freeAddr(t) // nothing listens: Can't Connect
		c := r.configure("mailer", "http://"+addr+"/xapi/", "k", "some-secret")
		r.statement(c)
		r.tick()
		mails := r.mails()
		if len(mails) != 1 || !strings.Contains(mails[0].Data, "Can't Connect") || !strings.Contains(mails[0].Data, "Queued results:  1") {
			t.Fatalf("first mail: %d mails\n%v", len(mails), mails)
		}
		// The destination comes up answering 500: Server Error, within the
		// hour of the first mail, so its mail waits; statements keep
		// queueing.
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, `{"message":"boom"}`)
		})}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
		for range 6 {
			r.clock.Advance(6 * time.Minute)
			r.statement(c)
			r.tick()
		}
		if s := r.status(c); s.Status != forward.StatusServerError {
			t.Fatalf("status %+v, want Server Error", s)
		}
		if m := r.mails(); len(m) != 0 {
			t.Fatalf("a mail within the hour of the first:\n%s", m[0].Data)
		}
		r.clock.Advance(25 * time.Minute) // an hour after the first mail
		r.tick()
		mails = r.mails()
		if len(mails) != 1 {
			t.Fatalf("%d mails an hour after the first, want the deferred one", len(mails))
		}
		m := mails[0].Data
		counts, _ := st.CountDeliveries(context.Background(), c.Org, c.ID)
		if !strings.Contains(m, "Server Error (was Can't Connect)") || !strings.Contains(m, fmt.Sprintf("Queued results:  %d", counts.Pending)) || counts.Pending != 7 {
			t.Errorf("the deferred mail does not give the status and the %d queued of when it was sent:\n%s", counts.Pending, m)
		}
		if !strings.Contains(m, "Last error:      HTTP 500: boom") || strings.Contains(m, "HTTP 500 HTTP 500") {
			t.Errorf("the last error is not written once:\n%s", m)
		}
	})
}

// Fixing a configuration through the administration (the product's edit
// path: a PUT of the admin API calls it) re-drives its pending deliveries
// at once, not at the slot of their backoff hours away, and the status
// turns OK at the next round; POST …/redrive re-drives pending, parked and
// rejected by default.
func TestForwardEditRedrivesPendingOnEachEngine(t *testing.T) {
	forEachForwardStore(t, func(t *testing.T, st forward.Store) {
		r := newFwdRig(t, st, rigOptions{})
		down := forwardtest.NewLRS(t, nil)
		c := r.configure("fixme", down.Endpoint(), forwardtest.DownKey, "wrong-password")
		var ids []string
		for range 3 {
			ids = append(ids, r.statement(c))
		}
		// Four hours of failures: the backoff has grown to hours.
		for r.clock.Now().Before(rigStart.Add(4 * time.Hour)) {
			r.tick()
			r.clock.Advance(5 * time.Minute)
		}
		if s := r.status(c); s.Status != forward.StatusServerError || s.LastStatus != 401 {
			t.Fatalf("status %+v, want Server Error 401", s)
		}
		late := 0
		for _, id := range ids {
			if d := r.delivery(c, id); d.State == forward.StatePending && d.NextAttempt.After(r.clock.Now().Add(time.Minute)) {
				late++
			}
		}
		if late == 0 {
			t.Fatal("no pending delivery has a backoff slot far away: the test proves nothing")
		}
		in := forward.ConfigurationInput{Name: c.Name, ContactEmail: c.ContactEmail, Type: c.Type, Properties: c.Properties,
			Secrets: map[string]string{"key": forwardtest.DownKey, "secret": forwardtest.DownSecret}}
		if _, err := r.admin.UpdateConfiguration(context.Background(), c.Org, c.ID, in); err != nil {
			t.Fatal(err)
		}
		r.clock.Advance(time.Second)
		r.tick()
		for _, id := range ids {
			if n := down.Accepted(id); n != 1 {
				t.Errorf("%s accepted %d times after the fix, want once", id, n)
			}
		}
		if s := r.status(c); s.Status != forward.StatusOK {
			t.Errorf("status after the fix: %+v, want OK", s)
		}
		n, err := r.admin.Redrive(context.Background(), c.Org, c.ID, nil)
		if err != nil || n != 0 {
			t.Errorf("redrive after delivery: %d, %v; want none left", n, err)
		}
	})
}

// A 23-hour outage with statements arriving throughout: the first ones are
// retried through their schedule and parked at its last slot, the later
// ones wait behind the open circuit, pending. When the destination comes
// back, every one is delivered exactly once within the probe interval plus
// a minute, the status is OK, and the contact got two mails: the outage
// and, once it had stayed OK for the recovery delay, the recovery. (It
// walks 23 hours of the engine's clock, 10 minutes a round: about 20 s on
// the MongoDB test server, one on the embedded store.)
func TestForwardLongOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("walks a day of the engine's clock")
	}
	forEachForwardStore(t, func(t *testing.T, st forward.Store) {
		r := newFwdRig(t, st, rigOptions{})
		down := forwardtest.NewLRS(t, nil)
		c := r.configure("outage", down.Endpoint(), forwardtest.DownKey, forwardtest.DownSecret)
		down.Stop()
		var ids []string
		for range 4 {
			ids = append(ids, r.statement(c))
		}
		outage := 23 * time.Hour
		for step := 0; r.clock.Now().Before(rigStart.Add(outage)); step++ {
			if step%4 == 0 { // every 40 minutes
				ids = append(ids, r.statement(c))
			}
			r.tick()
			r.clock.Advance(10 * time.Minute)
		}
		counts, err := st.CountDeliveries(context.Background(), c.Org, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if counts.Parked == 0 || counts.Pending == 0 || counts.Parked+counts.Pending != len(ids) {
			t.Fatalf("at recovery: %+v of %d, want some parked at their last slot and the rest pending", counts, len(ids))
		}
		for _, id := range ids {
			// Parked at the last slot the schedule allows: every attempt
			// within 24 h of the first failure (the probes, five minutes
			// apart at most, may take an attempt a little after its slot,
			// so the tenth may not fit).
			if d := r.delivery(c, id); d.State == forward.StateParked && (d.Attempts < forward.DefaultPolicy.Attempts()-2 || d.LastAttempt.Sub(d.FirstFailure) > 24*time.Hour) {
				t.Errorf("%s parked after %d attempts over %v, want the schedule within 24 h", id, d.Attempts, d.LastAttempt.Sub(d.FirstFailure))
			}
		}
		mails := r.mails()
		if len(mails) != 1 || !strings.Contains(mails[0].Data, "Can't Connect") {
			t.Fatalf("%d mails during the outage, want the one of its start", len(mails))
		}
		t.Logf("at recovery: %d parked, %d pending; %d requests during the outage", counts.Parked, counts.Pending, down.Requests())

		// It comes back just after a failed probe: the worst case, a whole
		// probe interval to wait.
		r.tick()
		down.Restart(t)
		back := r.clock.Now()
		var took time.Duration
		for {
			r.tick()
			n, _ := st.CountDeliveries(context.Background(), c.Org, c.ID)
			if n.Delivered == len(ids) {
				took = r.clock.Now().Sub(back)
				break
			}
			if r.clock.Now().Sub(back) > time.Hour {
				t.Fatalf("an hour after the recovery: %+v of %d", n, len(ids))
			}
			r.clock.Advance(time.Minute)
		}
		// README: within the probe interval (5 min, +10 % jitter) and a
		// round.
		if bound := 5*time.Minute*11/10 + time.Minute; took > bound {
			t.Errorf("delivered %v after the recovery, want within %v", took, bound)
		}
		for _, id := range ids {
			if n := down.Accepted(id); n != 1 {
				t.Errorf("%s accepted %d times, want once", id, n)
			}
		}
		if s := r.status(c); s.Status != forward.StatusOK {
			t.Errorf("status %+v, want OK", s)
		}
		for range 20 {
			r.clock.Advance(time.Minute)
			r.tick()
		}
		mails = r.mails()
		if len(mails) != 1 || !strings.Contains(mails[0].Data, "OK again") {
			t.Errorf("%d mails after the recovery, want the recovery's", len(mails))
		}
		t.Logf("every statement delivered %v after the destination came back", took)
	})
}

// The daily sweep and the rejection digest are kept in the store: a
// restarted process neither sweeps again the day already swept nor skips
// the next one, a rejected item noted before a restart is mailed by the
// next process, once, and of two processes only one sweeps a day.
func TestForwardHousekeepingSurvivesRestarts(t *testing.T) {
	forEachForwardStore(t, func(t *testing.T, st forward.Store) {
		ctx := context.Background()
		a := newFwdRig(t, st, rigOptions{owner: "process-a"})
		down := forwardtest.NewLRS(t, nil)
		c := a.configure("keeper", down.Endpoint(), forwardtest.DownKey, forwardtest.DownSecret)
		a.tick() // the day's sweep and the hour's digest: nothing to do
		bad := a.statementWith(c, `"context":{"registration":"not-a-uuid"},`)
		a.tick()
		if d := a.delivery(c, bad); d.State != forward.StateRejected {
			t.Fatalf("the invalid statement is %s, want rejected", d.State)
		}
		park := func(r *fwdRig) string {
			id := r.statement(c)
			d := r.delivery(c, id)
			got, err := st.ClaimDeliveries(ctx, forward.Claim{Org: c.Org, ConfigurationID: c.ID, Owner: "parker", Now: r.now(), Lease: time.Minute, Limit: 1})
			if err != nil || len(got) != 1 {
				t.Fatalf("claim to park: %v %v", got, err)
			}
			d.State, d.Attempts = forward.StateParked, forward.DefaultPolicy.Attempts()
			if err := st.UpdateDelivery(ctx, d, "parker"); err != nil {
				t.Fatal(err)
			}
			return id
		}
		parked := park(a)

		// Process a dies; b starts later the same day and hour.
		a.clock.Advance(30 * time.Minute)
		b := newFwdRig(t, st, rigOptions{owner: "process-b", peer: a})
		b.tick()
		if d := b.delivery(c, parked); d.State != forward.StateParked {
			t.Fatalf("the restarted process swept again the day already swept: %s", d.State)
		}
		if m := b.mails(); len(m) != 0 {
			t.Fatalf("a digest before the hour was over:\n%s", m[0].Data)
		}
		// The next hour: b mails the item a noted, once.
		a.clock.Advance(time.Hour)
		b.tick()
		mails := b.mails()
		if len(mails) != 1 || !strings.Contains(mails[0].Data, bad) || !strings.Contains(mails[0].Data, "rejected") {
			t.Fatalf("%d digests in the next hour, want one naming %s", len(mails), bad)
		}
		a.clock.Advance(time.Hour)
		c2 := newFwdRig(t, st, rigOptions{owner: "process-c", peer: a})
		c2.tick()
		b.tick()
		if m := slices.Concat(b.mails(), c2.mails()); len(m) != 0 {
			t.Fatalf("the digest was mailed again:\n%s", m[0].Data)
		}
		// The next day b and c run side by side: one of them sweeps, and
		// the parked delivery is delivered once.
		day := a.clock.Now().UTC().Truncate(24 * time.Hour).Add(24*time.Hour + time.Minute)
		a.clock.Advance(day.Sub(a.clock.Now()))
		var wg sync.WaitGroup
		for _, r := range []*fwdRig{b, c2} {
			wg.Go(func() { r.tick() })
		}
		wg.Wait()
		b.tick()
		if n := down.Accepted(parked); n != 1 {
			t.Errorf("the parked delivery accepted %d times after the next day's sweep, want once", n)
		}
		sweeps := strings.Count(b.log.String()+c2.log.String(), "sweep re-drove parked deliveries")
		if sweeps != 1 {
			t.Errorf("%d sweeps of the day by the two processes, want one", sweeps)
		}
		if p, _, ok, err := st.LastPeriod(ctx, forward.PeriodSweep); err != nil || !ok || p != day.UnixNano()/int64(24*time.Hour) {
			t.Errorf("last sweep period %d (%v, %v), want the day %v", p, ok, err, day)
		}
	})
}
