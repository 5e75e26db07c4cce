package schema

import "time"

// checker validates a statement tree under one version; the first error
// found is kept in err.
type checker struct {
	v   Version
	err *Error
}

func (c *checker) statement(path string, m map[string]any, sub bool)       {}
func (c *checker) actor(path string, m map[string]any, groupAllowed bool) {}
func normalize(m map[string]any, v Version, sub bool)                     {}
func parseTimestamp(s string) (time.Time, error)                          { return time.Parse(time.RFC3339Nano, s) }
