package forward

import (
	"context"
	"errors"
)

// Files returns at most limit of the files the configuration uploaded and
// the engine kept (FileRetention), newest first, without their data.
// ErrNotFound.
func (a *Admin) Files(ctx context.Context, org, id string, limit int) ([]KeptFile, error) {
	if _, err := a.Configuration(ctx, org, id); err != nil {
		return nil, err
	}
	return a.store.ListFiles(ctx, org, id, limit)
}

// File returns one kept file with its data. ErrNotFound (the
// configuration, or the file: never kept, or older than FileRetention).
func (a *Admin) File(ctx context.Context, org, id, name string) (KeptFile, error) {
	if _, err := a.Configuration(ctx, org, id); err != nil {
		return KeptFile{}, err
	}
	f, err := a.store.GetFile(ctx, org, id, name)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return KeptFile{}, adminError(ErrNotFound, "no kept file %q (files are kept %d days)", name, int(FileRetention.Hours()/24))
		}
		return KeptFile{}, err
	}
	return f, nil
}
