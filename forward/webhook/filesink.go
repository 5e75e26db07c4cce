package webhook

import (
	"context"
	"fmt"
	"time"

	"github.com/pkg/sftp"

	"github.com/lrs-project/lrs/forward"
)

// FileSink is the sink of a file-mode configuration: the engine holds its
// deliveries until the schedule's time (forward.Scheduled), then claims
// them together and Send writes them as one CSV file (a header row of the
// targets, one row per result) uploaded over SFTP. The file is named after
// the scheduled time it belongs to and its content, so an upload repeated
// after a crash (or a retry within the same scheduled time) finds the file
// in place instead of leaving a second one.
type FileSink struct{ Sink }

var (
	_ forward.Scheduled = FileSink{}
	_ forward.Tester    = FileSink{}
)

// BatchDue is the schedule's verdict (Schedule.Due; a file goes only at
// the schedule's times).
func (s FileSink) BatchDue(lastSend, oldest time.Time, queued int, now time.Time) (bool, time.Time) {
	return s.schedule.Due(lastSend, oldest, queued, now)
}

// MaxBatch is how many rows one file carries; more wait for the next time.
func (s FileSink) MaxBatch() int { return MaxBatchItems }

// Send writes the items as the file of the latest scheduled time and
// uploads it. Rows that cannot be written are rejected one by one; a file
// with no row left is not uploaded.
func (s FileSink) Send(ctx context.Context, items []forward.Item) forward.Result {
	ins, ids, rejected := s.inputs(items)
	res := forward.Result{Outcome: forward.OutcomeItem, Message: "no item is sendable"}
	if len(ins) > 0 {
		f := s.WriteFile(ins, s.schedule.Last(s.opts.Now()))
		for rid, why := range f.Rejected {
			rejected[ids[rid]] = why
		}
		if len(f.Results) > 0 {
			o := s.Upload(ctx, f)
			res = forward.Result{Outcome: o.Class, Status: o.Status, Message: o.Message}
			if o.Class == ClassSuccess {
				// The engine keeps a copy for re-download (FileRetention).
				res.Keep = &forward.KeptFile{Name: f.Name, Data: f.Data, Rows: len(f.Results), CreatedAt: s.opts.Now()}
			}
		}
	}
	if len(rejected) > 0 {
		res.Rejected = rejected
	}
	return res
}

// Test logs in to the SFTP server (its host key pinned) and checks the
// directory, without writing a file: a sample row in the AMS's inbox
// would be imported as a real completion.
func (s FileSink) Test(ctx context.Context) forward.Result {
	err := withSFTP(ctx, s.opts.Dial, s.sftp, func(_ context.Context, fs *sftp.Client) error {
		dir := s.sftp.dir
		if dir == "" {
			dir = "."
		}
		st, err := fs.Stat(dir)
		if err != nil {
			return fmt.Errorf("stat %s: %w", dir, err)
		}
		if !st.IsDir() {
			return fmt.Errorf("%s is not a directory", dir)
		}
		return nil
	})
	if err != nil {
		o := sftpOutcome(err, s.redact)
		return forward.Result{Outcome: o.Class, Message: o.Message}
	}
	return forward.Result{Outcome: forward.OutcomeSuccess, Message: "logged in; the directory is there (no file was written)"}
}

// Last is the latest scheduled time at or before t (t itself without a
// cron expression, or when none is found in the 35 days before it).
func (s *Schedule) Last(t time.Time) time.Time {
	last := time.Time{}
	for n := s.Next(t.Add(-35 * 24 * time.Hour)); !n.IsZero() && !n.After(t); n = s.Next(n) {
		last = n
	}
	if last.IsZero() {
		return t
	}
	return last
}
