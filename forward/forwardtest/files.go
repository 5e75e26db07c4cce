package forwardtest

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/lrs-project/lrs/forward"
)

// memFiles is the Memory's FileStore, under its own lock.
type memFiles struct {
	mu    sync.Mutex
	files map[[3]string]forward.KeptFile
}

// PutFile implements forward.FileStore.
func (m *Memory) PutFile(ctx context.Context, f forward.KeptFile) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.kept.mu.Lock()
	defer m.kept.mu.Unlock()
	if m.kept.files == nil {
		m.kept.files = map[[3]string]forward.KeptFile{}
	}
	f.Data = slices.Clone(f.Data)
	f.Size, f.CreatedAt = len(f.Data), ms(f.CreatedAt)
	m.kept.files[[3]string{f.Org, f.ConfigurationID, f.Name}] = f
	return nil
}

// ListFiles implements forward.FileStore.
func (m *Memory) ListFiles(ctx context.Context, org, configID string, limit int) ([]forward.KeptFile, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.kept.mu.Lock()
	defer m.kept.mu.Unlock()
	out := []forward.KeptFile{}
	for k, f := range m.kept.files {
		if k[0] == org && k[1] == configID {
			f.Data = nil
			out = append(out, f)
		}
	}
	slices.SortFunc(out, func(a, b forward.KeptFile) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(b.Name, a.Name))
	})
	return out[:min(max(limit, 0), len(out))], nil
}

// GetFile implements forward.FileStore.
func (m *Memory) GetFile(ctx context.Context, org, configID, name string) (forward.KeptFile, error) {
	if err := ctx.Err(); err != nil {
		return forward.KeptFile{}, err
	}
	m.kept.mu.Lock()
	defer m.kept.mu.Unlock()
	f, ok := m.kept.files[[3]string{org, configID, name}]
	if !ok {
		return forward.KeptFile{}, forward.ErrNotFound
	}
	f.Data = slices.Clone(f.Data)
	return f, nil
}

// DropFiles implements forward.FileStore.
func (m *Memory) DropFiles(ctx context.Context, before time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m.kept.mu.Lock()
	defer m.kept.mu.Unlock()
	n := 0
	for k, f := range m.kept.files {
		if f.CreatedAt.Before(before) {
			delete(m.kept.files, k)
			n++
		}
	}
	return n, nil
}
