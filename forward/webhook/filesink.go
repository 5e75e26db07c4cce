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
	_ forward.EmptyScheduled = FileSink{}
	_ forward.Slotted        = FileSink{}
	_ forward.Tester         = FileSink{}
)

// BatchDue is the schedule's verdict (Schedule.Due; a file goes only at
// the schedule's times).
func (s FileSink) BatchDue(lastSend, oldest time.Time, queued int, now time.Time) (bool, time.Time) {
	return s.schedule.Due(lastSend, oldest, queued, now)
}

// BatchSlot is the scheduled time the file is due for
// (Schedule.SlotDue), claimed by the one process that uploads it.
func (s FileSink) BatchSlot(lastSend, oldest time.Time, queued int, now time.Time) time.Time {
	return s.schedule.SlotDue(lastSend, oldest, queued, now)
}

// EmptyDue is the latest time of the schedule's cron expression at or
// before now when it is after lastSend: a file is owed for it even with
// nothing queued (zero without a cron expression: a file that goes at so
// many rows or after so long a wait has no day to fill).
func (s FileSink) EmptyDue(lastSend, now time.Time) time.Time {
	if s.schedule == nil || s.schedule.Cron == "" {
		return time.Time{}
	}
	slot := s.schedule.Last(now)
	if !s.schedule.Next(slot.Add(-time.Second)).Equal(slot) || !slot.After(lastSend) {
		return time.Time{} // no scheduled time in reach, or it was sent
	}
	return slot
}

// SendEmpty uploads the file of the scheduled time slot with no result:
// its header row only, so that an import job that runs every day finds
// the day's file and knows there was nothing to import.
func (s FileSink) SendEmpty(ctx context.Context, slot time.Time) forward.Result {
	f := s.WriteFile(nil, slot)
	o := s.Upload(ctx, f)
	res := forward.Result{Outcome: o.Class, Status: o.Status, Message: o.Message}
	if o.Class == ClassSuccess {
		res.Message = "nothing to send: header-only file " + o.Message
		res.Keep = &forward.KeptFile{Name: f.Name, Data: f.Data, Rows: 0, CreatedAt: s.opts.Now()}
	}
	return res
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
