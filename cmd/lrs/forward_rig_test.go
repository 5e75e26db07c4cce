package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward"
	"github.com/lrs-project/lrs/forward/email"
	"github.com/lrs-project/lrs/forward/forwardtest"
	"github.com/lrs-project/lrs/forward/xapi"
)

// fwdRig is the forwarding engine over one storage engine, as the binary
// wires it: configurations made by the administration (forward.Admin,
// sealed secrets, the egress policy), deliveries owed by the obligations of
// an objective, upstream statements, alert mail over SMTP, a log.
type fwdRig struct {
	t       *testing.T
	st      forward.Store
	clock   *forwardtest.Clock // nil: the real clock
	up      *forwardtest.Statements
	sealer  *forward.Sealer
	types   *forward.Registry
	admin   *forward.Admin
	engine  *forward.Engine
	obl     *forward.Obligations
	smtp    *forwardtest.SMTPServer
	log     *syncBuffer
	objects map[string]string // configuration id → objective id
	seq     int
}

// rigOptions tune a fwdRig.
type rigOptions struct {
	realClock bool
	engine    forward.Options // Now, Alerter and Owner are the rig's
	timeout   time.Duration   // the xAPI per-request deadline; default 5s
	owner     string
	peer      *fwdRig // another process over the same store: its clock and upstream statements
}

// rigSeq numbers the statements of every rig (rigs may share a store).
var rigSeq atomic.Int64

var rigStart = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func newFwdRig(t *testing.T, st forward.Store, o rigOptions) *fwdRig {
	t.Helper()
	r := &fwdRig{t: t, st: st, up: &forwardtest.Statements{}, smtp: forwardtest.NewSMTPServer(t), log: &syncBuffer{},
		objects: map[string]string{}}
	now := time.Now
	if !o.realClock {
		r.clock = forwardtest.NewClock(rigStart)
		if o.peer != nil {
			r.clock = o.peer.clock
		}
		now = r.clock.Now
	}
	if o.peer != nil {
		r.up = o.peer.up
	}
	var err error
	if r.sealer, err = forward.NewSealer([]byte(strings.Repeat("r", forward.KeySize))); err != nil {
		t.Fatal(err)
	}
	if o.timeout == 0 {
		o.timeout = 5 * time.Second
	}
	r.types = forwardtest.Registry(t, xapi.Type(xapi.Options{Timeout: o.timeout, Egress: forwardtest.Loopback, Now: now}))
	mailer, err := email.New(email.Settings{Host: r.smtp.Host, Port: r.smtp.Port, From: "lrs@example.com", Now: now}, nil)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(r.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r.obl = forward.NewObligations(st, logger, now)
	opts := o.engine
	opts.Now, opts.Alerter = now, mailer
	if opts.Owner = o.owner; opts.Owner == "" {
		opts.Owner = "rig"
	}
	if opts.Rand == nil {
		opts.Rand = func() float64 { return 0.5 }
	}
	if r.engine, err = forward.New(st, r.up, r.types, r.sealer.OpenConfiguration, logger, nil, opts); err != nil {
		t.Fatal(err)
	}
	r.obl.SetDue(r.engine.Due)
	r.admin = forward.NewAdmin(st, r.types, forward.AdminOptions{Sealer: r.sealer, Egress: forwardtest.Loopback, Now: now,
		Invalidate: r.obl.Invalidate, Redriven: r.engine.Redriven})
	return r
}

// now is the rig's time.
func (r *fwdRig) now() time.Time {
	if r.clock != nil {
		return r.clock.Now()
	}
	return time.Now()
}

// configure creates an xAPI configuration for endpoint through the
// administration, with an objective of its own that every statement of
// the rig's activity matches.
func (r *fwdRig) configure(name, endpoint, key, secret string) forward.Configuration {
	r.t.Helper()
	ctx := context.Background()
	c, err := r.admin.CreateConfiguration(ctx, "org-"+name, forward.ConfigurationInput{Name: name, ContactEmail: name + "@example.com",
		Type: xapi.TypeName, Properties: map[string]string{"endpoint": endpoint}, Secrets: map[string]string{"key": key, "secret": secret}})
	if err != nil {
		r.t.Fatal(err)
	}
	o, err := r.admin.CreateObjective(ctx, c.Org, forward.ObjectiveInput{Name: "quiz of " + name, ActivityID: rigActivity(name),
		Configurations: []string{c.ID}})
	if err != nil {
		r.t.Fatal(err)
	}
	r.objects[c.ID] = o.ID
	return c
}

func rigActivity(name string) string { return "http://example.com/activities/" + name }

// statement stores an upstream statement for configuration c (each in its
// own organization) and ensures its deliveries as the LRS does when it
// stores one; it returns its id.
func (r *fwdRig) statement(c forward.Configuration) string {
	r.t.Helper()
	return r.statementWith(c, "")
}

// statementWith is statement with extra JSON members ("" for none), e.g. an
// invalid one the destination refuses.
func (r *fwdRig) statementWith(c forward.Configuration, extra string) string {
	r.t.Helper()
	r.seq = int(rigSeq.Add(1))
	id := fmt.Sprintf("5b6e2f0a-1c1d-4e4e-8f8f-%012d", r.seq)
	raw := []byte(fmt.Sprintf(`{%s"id":%q,"actor":{"objectType":"Agent","mbox":"mailto:learner%d@example.com"},`+
		`"verb":{"id":"http://adlnet.gov/expapi/verbs/passed"},"object":{"objectType":"Activity","id":%q},`+
		`"result":{"success":true},"timestamp":"2026-01-01T10:00:00.000Z","stored":"2026-01-01T10:00:01.000Z",`+
		`"authority":{"objectType":"Agent","mbox":"mailto:upstream@example.com"},"version":"1.0.3"}`, extra, id, r.seq%7, rigActivity(c.Name)))
	r.up.Put(c.Org, id, raw)
	if err := r.obl.StatementsStored(context.Background(), c.Org, []forward.Statement{{ID: id, Stored: r.now(), Raw: raw}}); err != nil {
		r.t.Fatal(err)
	}
	return id
}

func (r *fwdRig) tick() int {
	r.t.Helper()
	n, err := r.engine.Tick(context.Background())
	if err != nil {
		r.t.Fatal(err)
	}
	return n
}

func (r *fwdRig) delivery(c forward.Configuration, id string) forward.Delivery {
	r.t.Helper()
	d, err := r.st.GetDelivery(context.Background(), c.Org, c.ID, id)
	if err != nil {
		r.t.Fatalf("delivery %s of %s: %v", id, c.Name, err)
	}
	return d
}

func (r *fwdRig) status(c forward.Configuration) forward.ConfigStatus {
	r.t.Helper()
	s, err := r.st.GetStatus(context.Background(), c.Org, c.ID)
	if err != nil {
		r.t.Fatalf("status of %s: %v", c.Name, err)
	}
	return s
}

// mails returns the mails that arrived (without waiting).
func (r *fwdRig) mails() []forwardtest.Mail {
	var out []forwardtest.Mail
	for {
		select {
		case m := <-r.smtp.Mail:
			out = append(out, m)
		default:
			return out
		}
	}
}

// run runs the engine until the test ends.
func (r *fwdRig) run() {
	done := make(chan error, 1)
	go func() { done <- r.engine.Run(context.Background()) }()
	r.t.Cleanup(func() {
		r.engine.Stop()
		if err := <-done; err != nil {
			r.t.Error(err)
		}
	})
}
