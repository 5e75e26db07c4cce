package webhook

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"regexp"
	"time"
)

var filePrefix = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// File is one file of a file-mode configuration: a CSV with a header row
// of the targets and one row per result.
type File struct {
	Name string
	Data []byte
	// Results are the ids of the results in its rows, in order.
	Results []string
	// Rejected maps results that cannot be written to the reason.
	Rejected map[string]string
}

// WriteFile renders ins as the CSV file of the scheduled time at. A file
// without rows (no result since the last one) still has its header, so
// an importer that expects a file every day finds one.
func (w *Webhook) WriteFile(ins []Input, at time.Time) File {
	f := File{Rejected: map[string]string{}}
	header := make([]string, len(w.fields))
	for i, fl := range w.fields {
		header[i] = fl.target
	}
	var rows [][]string
	for i := range ins {
		in := ins[i]
		in.ConfigurationID, in.ConfigurationName = w.id, w.name
		r, err := render(w.fields, &in)
		if err != nil {
			f.Rejected[in.Result.ID] = w.red.redact(err.Error())
			continue
		}
		rows = append(rows, r.row(w.fields))
		f.Results = append(f.Results, in.Result.ID)
	}
	var b bytes.Buffer
	_ = WriteCSV(&b, header, rows) // a bytes.Buffer does not fail
	f.Data = b.Bytes()
	loc := time.UTC
	if w.schedule != nil {
		loc = w.schedule.Zone
	}
	f.Name = FileName(w.prefix, at.In(loc), MessageID(Key(w.id, "\x00file"), f.Data))
	return f
}

// WriteCSV writes an RFC 4180 file: CRLF line ends, fields with a comma,
// a quote or a line break quoted, quotes doubled (encoding/csv).
func WriteCSV(out io.Writer, header []string, rows [][]string) error {
	cw := csv.NewWriter(out)
	cw.UseCRLF = true
	if err := cw.Write(header); err != nil {
		return fmt.Errorf("csv: %w", err)
	}
	if err := cw.WriteAll(rows); err != nil {
		return fmt.Errorf("csv: %w", err)
	}
	return nil
}

// FileName is a unique file name: the prefix, the local time of the file
// and the first characters of its content id, e.g.
// lrs-results-20260902-050000-3f2a9c1e.csv. The same content at the same
// time gets the same name, so an upload repeated after a crash does not
// leave a second file.
func FileName(prefix string, at time.Time, id string) string {
	if len(id) > 8 {
		id = id[:8]
	}
	return fmt.Sprintf("%s-%s-%s.csv", prefix, at.Format("20060102-150405"), id)
}
