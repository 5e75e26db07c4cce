package api

import (
	"html/template"
	"strconv"
	"time"

	"github.com/lrs-project/lrs/auth"
)

// consoleFuncs are the functions the console's templates call.
var consoleFuncs = template.FuncMap{
	// utc is a time for people ("" for the zero time).
	"utc": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	// iso is a time for a datetime attribute.
	"iso": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	// f1 is a number of an SVG attribute.
	"f1":       func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) },
	"plus":     func(a, b float64) float64 { return a + b },
	"minus":    func(a, b float64) float64 { return a - b },
	"sentence": sentence,
	// tableOf is what configuration-table renders, from another page.
	"tableOf": func(org *auth.Organization, rows []cfgRow) *view { return &view{Org: org, Data: rows} },
}
