package webhook

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strings"
)

// The participant directory: a CSV the administrator imports into a
// configuration (its directory setting) that gives each participant's
// email the AMS's member id (participant.external_id) and a name
// (participant.name, instead of the statement actor's). It is the
// configuration's own: each AMS numbers its members its own way.

// member is one participant of the directory.
type member struct{ externalID, name string }

// Directory columns.
const (
	colEmail    = "email"
	colMemberID = "member_id"
	colName     = "name"
)

// maxDirectoryProblems bounds the problems a directory reports (a file
// with a wrong column would otherwise report every row).
const maxDirectoryProblems = 10

// parseDirectory reads a directory: a header row naming email and
// member_id, name or both (in any order, any case), then one row per
// participant. Emails are matched without regard to case; one email on
// two rows is a problem.
func parseDirectory(text string, ps *problems) map[string]member {
	if strings.TrimSpace(text) == "" {
		return nil
	}
	r := csv.NewReader(strings.NewReader(text))
	r.TrimLeadingSpace = true
	r.FieldsPerRecord = -1 // a row may leave its last columns out
	header, err := r.Read()
	if err != nil {
		ps.add("directory", "want CSV with a header row (email,member_id,name): %v", err)
		return nil
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		switch h {
		case colEmail, colMemberID, colName:
			if _, dup := col[h]; dup {
				ps.add("directory", "the header names %s twice", h)
			}
			col[h] = i
		default:
			ps.add("directory", "header column %d %q: want email, member_id or name", i+1, h)
		}
	}
	_, hasID := col[colMemberID]
	_, hasName := col[colName]
	if _, ok := col[colEmail]; !ok || (!hasID && !hasName) {
		ps.add("directory", "the header must name email and member_id, name or both")
		return nil
	}
	out := map[string]member{}
	var more int
	bad := func(line int, format string, args ...any) {
		if len(*ps) >= maxDirectoryProblems {
			more++
			return
		}
		ps.add(fmt.Sprintf("directory[line %d]", line), format, args...)
	}
	get := func(rec []string, c string) string {
		i, ok := col[c]
		if !ok || i >= len(rec) {
			return ""
		}
		return strings.TrimSpace(rec[i])
	}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := r.FieldPos(0)
		if err != nil {
			bad(line, "%v", err)
			break // the rest cannot be read reliably
		}
		email := get(rec, colEmail)
		addr, perr := mail.ParseAddress(email)
		switch {
		case email == "":
			bad(line, "the email is empty")
			continue
		case perr != nil || addr.Address != email:
			bad(line, "%q is not an email address", email)
			continue
		}
		key := strings.ToLower(email)
		if _, dup := out[key]; dup {
			bad(line, "%s is listed twice", email)
			continue
		}
		out[key] = member{externalID: get(rec, colMemberID), name: get(rec, colName)}
	}
	if more > 0 {
		ps.add("directory", "and %d more problems", more)
	}
	return out
}

// lookup returns the directory's member of an email.
func (w *Webhook) lookup(email string) (member, bool) {
	if w.directory == nil || email == "" {
		return member{}, false
	}
	m, ok := w.directory[strings.ToLower(email)]
	return m, ok
}
