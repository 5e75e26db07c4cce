package storetest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward"
)

// The assignment records across processes and after a kill -9. An
// engine's test re-executes its own test binary as a worker process
// (AssignmentChild) and hands RunAssignmentProcesses what it needs:
//
//	func TestAssignmentProcesses(t *testing.T) {
//		if storetest.AssignmentChild(func() (forward.AssignmentStore, error) { return openFrom(os.Getenv(...)) }) {
//			return
//		}
//		storetest.RunAssignmentProcesses(t, func(t *testing.T) storetest.AssignmentProcesses {
//			return storetest.AssignmentProcesses{Spawn: ..., Open: ..., Concurrent: true}
//		})
//	}

// AssignmentChildEnv is set in a worker process: "<name> <keys>".
const AssignmentChildEnv = "LRS_STORETEST_ASSIGNMENT_WORKER"

// AssignmentProcesses is what RunAssignmentProcesses needs of an engine.
type AssignmentProcesses struct {
	// Spawn returns the command of a worker process (this test binary,
	// running only the calling test) with env added to its environment,
	// on the store the test's Open opens.
	Spawn func(env ...string) *exec.Cmd
	// Open opens that store in this process; the test closes it.
	Open func(t *testing.T) forward.AssignmentStore
	// Concurrent: two processes may have the store open at once (MongoDB;
	// the embedded engine is opened by one process at a time).
	Concurrent bool
	// ReleasesAtOpen: Open deletes the unresolved reservations it finds,
	// which can only be a dead process's (an engine one process opens at
	// a time).
	ReleasesAtOpen bool
}

// AssignmentChild runs the worker a parent test asked for and exits the
// process, if this process is one; otherwise it returns false at once.
// The worker opens the store with open, waits for a line on its standard
// input, then reserves keys 0 to n-1 of one configuration in turn, with
// reservations "<name>-<i>", resolving each it wins to the assignment
// "asg-<name>-<i>", and writes "won <i>", "lost <i>" or "resolved <i>" on
// its standard output after each acknowledged write.
func AssignmentChild(open func() (forward.AssignmentStore, error)) bool {
	spec := os.Getenv(AssignmentChildEnv)
	if spec == "" {
		return false
	}
	name, ns, _ := strings.Cut(spec, " ")
	n, err := strconv.Atoi(ns)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bad", AssignmentChildEnv, spec)
		os.Exit(2)
	}
	s, err := open()
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	fmt.Println("ready")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		os.Exit(2)
	}
	if err := assignmentWorker(context.Background(), s, name, n, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
	if c, ok := s.(io.Closer); ok {
		_ = c.Close()
	}
	os.Exit(0)
	return true
}

func procKey(i int) forward.AssignmentKey {
	return asgKey(orgA, "procs", asgSec1, fmt.Sprintf("objective-%05d", i))
}

// assignmentWorker is the work of a worker process (and of the parent,
// racing it).
func assignmentWorker(ctx context.Context, s forward.AssignmentStore, name string, n int, out io.Writer) error {
	for i := range n {
		res := fmt.Sprintf("%s-%d", name, i)
		_, won, err := s.ReserveAssignment(ctx, forward.AssignmentRecord{Key: procKey(i), Reservation: res, ReservedAt: base})
		if err != nil {
			return fmt.Errorf("reserve %d: %w", i, err)
		}
		if !won {
			fmt.Fprintf(out, "lost %d\n", i)
			continue
		}
		fmt.Fprintf(out, "won %d\n", i)
		if err := s.ResolveAssignment(ctx, procKey(i), res, "asg-"+res, base.Add(time.Second)); err != nil {
			return fmt.Errorf("resolve %d: %w", i, err)
		}
		fmt.Fprintf(out, "resolved %d\n", i)
	}
	return nil
}

// workerLog is what a worker acknowledged.
type workerLog struct {
	won, lost, resolved map[int]bool
	last                int // highest key mentioned, -1 for none
}

func newWorkerLog() *workerLog {
	return &workerLog{won: map[int]bool{}, lost: map[int]bool{}, resolved: map[int]bool{}, last: -1}
}

func (l *workerLog) add(line string) {
	verb, ns, ok := strings.Cut(strings.TrimSpace(line), " ")
	i, err := strconv.Atoi(ns)
	if !ok || err != nil {
		return
	}
	switch verb {
	case "won":
		l.won[i] = true
	case "lost":
		l.lost[i] = true
	case "resolved":
		l.resolved[i] = true
	default:
		return
	}
	l.last = max(l.last, i)
}

// RunAssignmentProcesses runs the cross-process tests of the assignment
// records: a worker killed with SIGKILL while it creates records, and,
// when the engine allows it, two processes racing for the same keys.
// Each subtest calls setup for a new, empty store.
func RunAssignmentProcesses(t *testing.T, setup func(t *testing.T) AssignmentProcesses) {
	t.Helper()
	t.Run("Kill9", func(t *testing.T) { testAsgKill9(t, setup(t)) })
	t.Run("TwoProcesses", func(t *testing.T) {
		p := setup(t)
		if !p.Concurrent {
			t.Skip("the engine is opened by one process at a time")
		}
		testAsgTwoProcesses(t, p)
	})
}

type worker struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
	done  chan error
}

func startWorker(t *testing.T, p AssignmentProcesses, name string, n int) *worker {
	t.Helper()
	cmd := p.Spawn(AssignmentChildEnv + "=" + name + " " + strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start a worker process: %v", err)
	}
	w := &worker{cmd: cmd, stdin: stdin, lines: make(chan string, 1024), done: make(chan error, 1)}
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-w.done })
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			w.lines <- sc.Text()
		}
		close(w.lines)
		w.done <- cmd.Wait()
	}()
	select {
	case l, ok := <-w.lines:
		if !ok || l != "ready" {
			t.Fatalf("the worker process did not start (%q)", l)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the worker process did not start within 30 s")
	}
	return w
}

func (w *worker) start(t *testing.T) {
	t.Helper()
	if _, err := io.WriteString(w.stdin, "go\n"); err != nil {
		t.Fatal(err)
	}
}

// testAsgKill9: a process killed with SIGKILL in the middle of its writes
// loses none it acknowledged: every resolved record it reported is there
// with its id, every reservation it won is there (resolved or not), and
// nothing it never reached. Its last, unresolved reservation is then
// taken over as the protocol does (release it exactly, reserve anew).
func testAsgKill9(t *testing.T, p AssignmentProcesses) {
	const n = 100000
	w := startWorker(t, p, "dead", n)
	w.start(t)
	log := newWorkerLog()
	deadline := time.After(60 * time.Second)
	for len(log.resolved) < 40 {
		select {
		case l, ok := <-w.lines:
			if !ok {
				t.Fatalf("the worker ended before it was killed: %v", <-w.done)
			}
			log.add(l)
		case <-deadline:
			t.Fatalf("the worker resolved %d records in 60 s", len(log.resolved))
		}
	}
	if err := w.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for l := range w.lines { // what it wrote before it died
		log.add(l)
	}
	if err := <-w.done; err == nil {
		t.Fatal("the worker exited normally, it was to be killed")
	}
	w.done <- nil // for the cleanup

	s := p.Open(t)
	ctx := t.Context()
	for i := 0; i <= log.last+1; i++ {
		res := fmt.Sprintf("dead-%d", i)
		got, err := s.GetAssignment(ctx, procKey(i))
		switch {
		case log.resolved[i]:
			if err != nil || got.Reservation != res || got.AssignmentID != "asg-"+res {
				t.Errorf("key %d was resolved before the kill; after it: %+v, %v", i, got, err)
			}
		case log.won[i] && p.ReleasesAtOpen && errors.Is(err, forward.ErrNoAssignment):
			// Its resolve did not land: the reservation was released at Open.
		case log.won[i]:
			if err != nil || got.Reservation != res || (p.ReleasesAtOpen && got.AssignmentID != "asg-"+res) {
				t.Errorf("key %d was reserved before the kill; after it: %+v, %v", i, got, err)
			}
		case errors.Is(err, forward.ErrNoAssignment):
		case err != nil:
			t.Fatalf("key %d: %v", i, err)
		case i <= log.last || got.Reservation != res || got.AssignmentID != "" || p.ReleasesAtOpen:
			// Only the write in flight when it died may have landed
			// unacknowledged (and an engine that releases reservations
			// at Open keeps none of them).
			t.Errorf("key %d, never acknowledged, has the record %+v", i, got)
		}
		if err == nil && got.AssignmentID == "" {
			// A dead worker's reservation: a new one loses to it until
			// it is released exactly (the takeover), then wins.
			if _, won, err := s.ReserveAssignment(ctx, forward.AssignmentRecord{Key: procKey(i), Reservation: "new", ReservedAt: base}); err != nil || won {
				t.Fatalf("key %d: a reservation over the dead one: won %v, %v", i, won, err)
			}
			if err := s.ReleaseAssignment(ctx, got); err != nil {
				t.Fatalf("key %d: release of the dead reservation: %v", i, err)
			}
			mustReserveAsg(t, s, forward.AssignmentRecord{Key: procKey(i), Reservation: "new", ReservedAt: base})
		}
	}
	t.Logf("killed after %d acknowledged resolves (%d reservations)", len(log.resolved), len(log.won))
}

// testAsgTwoProcesses: two processes reserving the same keys at the same
// time: each key is won by exactly one of them, and its record is the
// winner's.
func testAsgTwoProcesses(t *testing.T, p AssignmentProcesses) {
	const n = 60
	w := startWorker(t, p, "child", n)
	s := p.Open(t)
	w.start(t)
	parent := newWorkerLog()
	var out strings.Builder
	if err := assignmentWorker(t.Context(), s, "parent", n, &out); err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(out.String(), "\n") {
		parent.add(l)
	}
	child := newWorkerLog()
	for l := range w.lines {
		child.add(l)
	}
	if err := <-w.done; err != nil {
		t.Fatalf("the worker process failed: %v", err)
	}
	w.done <- nil
	childWon := 0
	for i := range n {
		pw, cw := parent.won[i], child.won[i]
		if pw == cw {
			t.Errorf("key %d: the parent won %v, the child won %v: exactly one must", i, pw, cw)
			continue
		}
		winner := "parent"
		if cw {
			winner, childWon = "child", childWon+1
		}
		res := fmt.Sprintf("%s-%d", winner, i)
		if got := mustGetAsg(t, s, procKey(i)); got.Reservation != res || got.AssignmentID != "asg-"+res {
			t.Errorf("key %d won by the %s, record %+v", i, winner, got)
		}
	}
	t.Logf("the child won %d keys, the parent %d", childWon, n-childWon)
}
