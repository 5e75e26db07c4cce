package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/lrs-project/lrs/forward"
)

// RunFiles runs the forward.FileStore part of the suite (the copies of
// uploaded files); open returns a new, empty store.
//
//	func TestFilesConformance(t *testing.T) {
//		storetest.RunFiles(t, func(t *testing.T) forward.FileStore { return open(t) })
//	}
func RunFiles(t *testing.T, open func(t *testing.T) forward.FileStore) {
	t.Helper()
	t.Run("Lifecycle", func(t *testing.T) {
		s := open(t)
		if s == nil {
			t.Fatal("open returned a nil FileStore")
		}
		testFiles(t, s)
	})
}

func testFiles(t *testing.T, s forward.FileStore) {
	ctx := t.Context()
	at := time.Date(2026, 9, 3, 7, 0, 0, 123456789, time.UTC)
	file := func(org, config, name string, data string, age time.Duration) forward.KeptFile {
		return forward.KeptFile{Org: org, ConfigurationID: config, Name: name, Data: []byte(data), Rows: 1, CreatedAt: at.Add(-age)}
	}
	if got, err := s.ListFiles(ctx, "o1", "c1", 10); err != nil || got == nil || len(got) != 0 {
		t.Fatalf("ListFiles of none: %v, %v (want an empty list)", got, err)
	}
	if _, err := s.GetFile(ctx, "o1", "c1", "none.csv"); !errors.Is(err, forward.ErrNotFound) {
		t.Fatalf("GetFile of none: %v, want ErrNotFound", err)
	}
	for _, f := range []forward.KeptFile{
		file("o1", "c1", "a-20260801.csv", "old\r\n", 33*24*time.Hour),
		file("o1", "c1", "a-20260902.csv", "h\r\nx\r\n", 24*time.Hour),
		file("o1", "c1", "a-20260903.csv", "first", 0),
		file("o1", "c2", "a-20260903.csv", "other configuration", 0),
		file("o2", "c1", "a-20260903.csv", "other organization", 0),
	} {
		if err := s.PutFile(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	// A repeated upload replaces the copy.
	if err := s.PutFile(ctx, file("o1", "c1", "a-20260903.csv", "h\r\nada,\"x, y\"\r\n", 0)); err != nil {
		t.Fatal(err)
	}
	got, err := s.ListFiles(ctx, "o1", "c1", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Name != "a-20260903.csv" || got[1].Name != "a-20260902.csv" || got[2].Name != "a-20260801.csv" {
		t.Fatalf("ListFiles: %+v", got)
	}
	for _, f := range got {
		if f.Data != nil || f.Size == 0 || f.Rows != 1 || f.Org != "o1" || f.ConfigurationID != "c1" {
			t.Errorf("listed %+v: want no data, its size and rows", f)
		}
	}
	if !got[0].CreatedAt.Equal(at.Truncate(time.Millisecond)) || got[0].Size != len("h\r\nada,\"x, y\"\r\n") {
		t.Errorf("listed %+v", got[0])
	}
	if got, err := s.ListFiles(ctx, "o1", "c1", 1); err != nil || len(got) != 1 || got[0].Name != "a-20260903.csv" {
		t.Errorf("ListFiles limit 1: %+v, %v", got, err)
	}
	f, err := s.GetFile(ctx, "o1", "c1", "a-20260903.csv")
	if err != nil || string(f.Data) != "h\r\nada,\"x, y\"\r\n" || f.Name != "a-20260903.csv" {
		t.Fatalf("GetFile: %+v, %v", f, err)
	}
	if f, err := s.GetFile(ctx, "o2", "c1", "a-20260903.csv"); err != nil || string(f.Data) != "other organization" {
		t.Errorf("another organization's file: %+v, %v", f, err)
	}
	n, err := s.DropFiles(ctx, at.Add(-forward.FileRetention))
	if err != nil || n != 1 {
		t.Fatalf("DropFiles: %d, %v, want the one older than the retention", n, err)
	}
	if _, err := s.GetFile(ctx, "o1", "c1", "a-20260801.csv"); !errors.Is(err, forward.ErrNotFound) {
		t.Errorf("a dropped file: %v", err)
	}
	if got, _ := s.ListFiles(ctx, "o1", "c1", 10); len(got) != 2 {
		t.Errorf("after DropFiles: %+v", got)
	}
}
