package schema

import (
	"encoding/json"
	"fmt"
	"math"
	"mime"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// checker validates a statement tree under one version. Checks run in a
// fixed order (unknown properties, nulls, required, then each property), so
// a statement that breaks several rules always reports the same one; the
// first error found is kept in err.
type checker struct {
	v   Version
	err *Error
}

func (c *checker) fail(path *loc, rule, format string, args ...any) {
	if c.err == nil {
		c.err = errorf(path.String(), rule, format, args...)
	}
}

func (c *checker) ok() bool { return c.err == nil }

// props is the set of properties an object may have.
type props map[string]bool

func set(keys ...string) props {
	p := props{}
	for _, k := range keys {
		p[k] = true
	}
	return p
}

var (
	statementProps    = set("id", "actor", "verb", "object", "result", "context", "timestamp", "stored", "authority", "version", "attachments")
	subStatementProps = set("objectType", "actor", "verb", "object", "result", "context", "timestamp", "attachments")
	agentProps        = set("objectType", "name", "mbox", "mbox_sha1sum", "openid", "account")
	groupProps        = set("objectType", "name", "mbox", "mbox_sha1sum", "openid", "account", "member")
	accountProps      = set("homePage", "name")
	verbProps         = set("id", "display")
	activityProps     = set("objectType", "id", "definition")
	definitionProps   = set("name", "description", "type", "moreInfo", "interactionType", "correctResponsesPattern", "choices", "scale", "source", "target", "steps", "extensions")
	componentProps    = set("id", "description")
	statementRefProps = set("objectType", "id")
	resultProps       = set("score", "success", "completion", "response", "duration", "extensions")
	scoreProps        = set("scaled", "raw", "min", "max")
	context103Props   = set("registration", "instructor", "team", "contextActivities", "revision", "platform", "language", "statement", "extensions")
	context20Props    = set("registration", "instructor", "team", "contextActivities", "revision", "platform", "language", "statement", "extensions", "contextAgents", "contextGroups")
	ctxActivityKeys   = set("parent", "grouping", "category", "other")
	attachmentProps   = set("usageType", "display", "description", "contentType", "length", "sha2", "fileUrl")
	contextAgentProps = set("objectType", "agent", "relevantTypes")
	contextGroupProps = set("objectType", "group", "relevantTypes")
	ifiProps          = []string{"mbox", "mbox_sha1sum", "openid", "account"}
)

// object checks the generic rules of a JSON object: no unknown property,
// no null value, every required property present. It returns false (and
// records the error) when one is broken.
func (c *checker) object(path *loc, m map[string]any, allowed props, required ...string) bool {
	if !c.ok() {
		return false
	}
	clean := true // the common case, checked without sorting the keys
	for k, v := range m {
		if !allowed[k] || v == nil {
			clean = false
			break
		}
	}
	if clean {
		for _, k := range required {
			if _, ok := m[k]; !ok {
				clean = false
				break
			}
		}
	}
	if clean {
		return true
	}
	keys := sortedKeys(m) // the first problem in key order, as reported
	for _, k := range keys {
		if !allowed[k] {
			c.fail(path.at(k), "unknown-property", "property %q is not allowed here", k)
			return false
		}
	}
	for _, k := range keys {
		if m[k] == nil {
			c.fail(path.at(k), "null-value", "property %q must not be null", k)
			return false
		}
	}
	for _, k := range required {
		if _, ok := m[k]; !ok {
			c.fail(path.at(k), "required", "property %q is required", k)
			return false
		}
	}
	return true
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (c *checker) asObject(path *loc, v any, what string) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		c.fail(path, "wrong-type", "%s must be a JSON object", what)
	}
	return m, ok && c.ok()
}

func (c *checker) asString(path *loc, v any, what string) (string, bool) {
	s, ok := v.(string)
	if !ok {
		c.fail(path, "wrong-type", "%s must be a string", what)
	}
	return s, ok && c.ok()
}

func (c *checker) asArray(path *loc, v any, what string) ([]any, bool) {
	l, ok := v.([]any)
	if !ok {
		c.fail(path, "wrong-type", "%s must be an array", what)
	}
	return l, ok && c.ok()
}

func (c *checker) asBool(path *loc, v any, what string) {
	if _, ok := v.(bool); !ok {
		c.fail(path, "wrong-type", "%s must be true or false", what)
	}
}

func (c *checker) asNumber(path *loc, v any, what string) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		c.fail(path, "wrong-type", "%s must be a number", what)
		return 0, false
	}
	f, err := n.Float64()
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		c.fail(path, "wrong-type", "%s must be a finite number", what)
		return 0, false
	}
	return f, c.ok()
}

// statement checks a Statement (sub=false) or a SubStatement (sub=true).
func (c *checker) statement(path *loc, m map[string]any, sub bool) {
	allowed := statementProps
	if sub {
		for _, k := range []string{"id", "stored", "version", "authority"} {
			if _, ok := m[k]; ok {
				c.fail(path.at(k), "substatement-property", "a SubStatement must not have %q", k)
				return
			}
		}
		allowed = subStatementProps
	}
	if !c.object(path, m, allowed, "actor", "verb", "object") {
		return
	}
	if v, ok := m["id"]; ok {
		if s, ok := c.asString(path.at("id"), v, "id"); ok && !ValidUUID(s) {
			c.fail(path.at("id"), "uuid", "id %q is not a UUID", s)
		}
	}
	if a, ok := c.asObject(path.at("actor"), m["actor"], "actor"); ok {
		c.actor(path.at("actor"), a, true)
	}
	if vb, ok := c.asObject(path.at("verb"), m["verb"], "verb"); ok {
		c.verb(path.at("verb"), vb)
	}
	obj, objOK := c.asObject(path.at("object"), m["object"], "object")
	objectType := ""
	if objOK {
		objectType = c.statementObject(path.at("object"), obj, sub)
	}
	if r, ok := m["result"]; ok && c.ok() {
		if rm, ok := c.asObject(path.at("result"), r, "result"); ok {
			c.result(path.at("result"), rm)
		}
	}
	if cx, ok := m["context"]; ok && c.ok() {
		if cm, ok := c.asObject(path.at("context"), cx, "context"); ok {
			c.context(path.at("context"), cm, objectType)
		}
	}
	if t, ok := m["timestamp"]; ok && c.ok() {
		if s, ok := c.asString(path.at("timestamp"), t, "timestamp"); ok {
			if _, err := parseTimestamp(s); err != nil {
				c.fail(path.at("timestamp"), "timestamp", "%v", err)
			}
		}
	}
	if t, ok := m["stored"]; ok && c.ok() {
		if s, ok := c.asString(path.at("stored"), t, "stored"); ok {
			if _, err := parseTimestamp(s); err != nil {
				c.fail(path.at("stored"), "timestamp", "%v", err)
			}
		}
	}
	if a, ok := m["authority"]; ok && c.ok() {
		if am, ok := c.asObject(path.at("authority"), a, "authority"); ok {
			c.actor(path.at("authority"), am, true)
			c.authorityShape(path.at("authority"), am)
		}
	}
	if v, ok := m["version"]; ok && c.ok() {
		if s, ok := c.asString(path.at("version"), v, "version"); ok && !c.validStatementVersion(s) {
			if c.v == V1_0_3 {
				c.fail(path.at("version"), "version", "version %q is not a 1.0.x version", s)
			} else {
				c.fail(path.at("version"), "version", "version %q is not a 1.0.x or 2.0.x version", s)
			}
		}
	}
	if a, ok := m["attachments"]; ok && c.ok() {
		if list, ok := c.asArray(path.at("attachments"), a, "attachments"); ok {
			for i, item := range list {
				p := path.at("attachments").index(i)
				if am, ok := c.asObject(p, item, "an attachment"); ok {
					c.attachment(p, am)
				}
			}
		}
	}
	if c.ok() && objOK {
		if verbID(m) == verbVoidedID && objectType != "StatementRef" {
			c.fail(path.at("object"), "voiding", "a voiding statement's object must be a StatementRef")
		}
	}
}

// authorityShape checks what an authority may be beyond a valid Agent or
// Group (Data 2.4.9.s3.b1): an Agent, or, in 3-legged OAuth, an anonymous
// Group of exactly two Agents (the application and the user). The LRS
// replaces the authority anyway; a statement that claims another shape is
// still rejected.
func (c *checker) authorityShape(path *loc, m map[string]any) {
	if !c.ok() || m["objectType"] != "Group" {
		return
	}
	for _, k := range ifiProps {
		if _, ok := m[k]; ok {
			c.fail(path.at(k), "authority", "an authority Group must be anonymous (no %s): two Agents, the OAuth application and the user", k)
			return
		}
	}
	if members, _ := m["member"].([]any); len(members) != 2 {
		c.fail(path.at("member"), "authority", "an authority Group must have exactly two Agents (the OAuth application and the user), not %d", len(members))
	}
}

func verbID(m map[string]any) string {
	vb, _ := m["verb"].(map[string]any)
	s, _ := vb["id"].(string)
	return s
}

var versionRE = regexp.MustCompile(`^([12])\.0(\.(0|[1-9][0-9]*))?$`)

func (c *checker) validStatementVersion(s string) bool {
	g := versionRE.FindStringSubmatch(s)
	if g == nil {
		return false
	}
	return g[1] == "1" || c.v == V2_0_0
}

// actor checks an Agent, or a Group when groupAllowed.
func (c *checker) actor(path *loc, m map[string]any, groupAllowed bool) {
	if !c.ok() {
		return
	}
	ot, has := m["objectType"]
	if has {
		s, ok := c.asString(path.at("objectType"), ot, "objectType")
		if !ok {
			return
		}
		switch s {
		case "Agent":
		case "Group":
			if groupAllowed {
				c.group(path, m)
				return
			}
			c.fail(path.at("objectType"), "object-type", "a Group is not allowed here: expected an Agent")
			return
		default:
			c.fail(path.at("objectType"), "object-type", "objectType must be \"Agent\" or \"Group\", not %q", s)
			return
		}
	}
	c.agent(path, m)
}

func (c *checker) agent(path *loc, m map[string]any) {
	if !c.object(path, m, agentProps) {
		return
	}
	if n, ok := m["name"]; ok {
		c.asString(path.at("name"), n, "name")
	}
	if c.ifis(path, m) == 0 && c.ok() {
		c.fail(path, "ifi", "an Agent must have exactly one of mbox, mbox_sha1sum, openid, account")
	}
}

func (c *checker) group(path *loc, m map[string]any) {
	if !c.object(path, m, groupProps) {
		return
	}
	if n, ok := m["name"]; ok {
		c.asString(path.at("name"), n, "name")
	}
	n := c.ifis(path, m)
	if !c.ok() {
		return
	}
	members, hasMembers := m["member"]
	if !hasMembers {
		if n == 0 {
			c.fail(path.at("member"), "group-member", "an anonymous Group must list its members")
		}
		return
	}
	list, ok := c.asArray(path.at("member"), members, "member")
	if !ok {
		return
	}
	if n == 0 && len(list) == 0 {
		c.fail(path.at("member"), "group-member", "an anonymous Group must list at least one member")
		return
	}
	for i, item := range list {
		p := path.at("member").index(i)
		mm, ok := c.asObject(p, item, "a group member")
		if !ok {
			return
		}
		if ot, ok := mm["objectType"]; ok && ot != "Agent" {
			if ot == "Group" {
				c.fail(p.at("objectType"), "group-member", "a Group's members must be Agents, not Groups")
			} else {
				c.fail(p.at("objectType"), "object-type", "a group member's objectType must be \"Agent\"")
			}
			return
		}
		c.agent(p, mm)
	}
}

// ifis checks the inverse functional identifiers of an Agent or Group and
// returns how many it has (an error is recorded when more than one).
func (c *checker) ifis(path *loc, m map[string]any) int {
	n := 0
	for _, k := range ifiProps {
		v, ok := m[k]
		if !ok {
			continue
		}
		n++
		if n > 1 {
			c.fail(path.at(k), "ifi", "an Agent or Group must have exactly one identifier (mbox, mbox_sha1sum, openid or account)")
			return n
		}
		p := path.at(k)
		switch k {
		case "mbox":
			if s, ok := c.asString(p, v, "mbox"); ok && !validMbox(s) {
				c.fail(p, "mbox", "mbox %q must be a mailto: IRI with an email address", s)
			}
		case "mbox_sha1sum":
			if s, ok := c.asString(p, v, "mbox_sha1sum"); ok && !validSHA1(s) {
				c.fail(p, "mbox-sha1sum", "mbox_sha1sum must be 40 hexadecimal digits")
			}
		case "openid":
			if s, ok := c.asString(p, v, "openid"); ok && !ValidIRI(s) {
				c.fail(p, "irl", "openid %q must be an absolute URI", s)
			}
		case "account":
			if am, ok := c.asObject(p, v, "account"); ok && c.object(p, am, accountProps, "homePage", "name") {
				if s, ok := c.asString(p.at("homePage"), am["homePage"], "homePage"); ok && !ValidIRI(s) {
					c.fail(p.at("homePage"), "irl", "homePage %q must be an absolute IRL", s)
				}
				c.asString(p.at("name"), am["name"], "account name")
			}
		}
	}
	return n
}

func validMbox(s string) bool {
	addr, ok := strings.CutPrefix(s, "mailto:")
	if !ok {
		return false
	}
	local, domain, ok := strings.Cut(addr, "@")
	if !ok || local == "" || domain == "" || strings.Contains(domain, "@") {
		return false
	}
	for _, r := range addr {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return false
		}
	}
	return true
}

func validSHA1(s string) bool {
	if len(s) != 40 {
		return false
	}
	for _, r := range s {
		if !isHex(r) {
			return false
		}
	}
	return true
}

func isHex(r rune) bool {
	return r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F'
}

func (c *checker) verb(path *loc, m map[string]any) {
	if !c.object(path, m, verbProps, "id") {
		return
	}
	c.iri(path.at("id"), m["id"], "verb id")
	if d, ok := m["display"]; ok {
		c.languageMap(path.at("display"), d)
	}
}

func (c *checker) iri(path *loc, v any, what string) {
	if s, ok := c.asString(path, v, what); ok && !ValidIRI(s) {
		c.fail(path, "iri", "%s %q must be an absolute IRI", what, s)
	}
}

func (c *checker) irl(path *loc, v any, what string) {
	if s, ok := c.asString(path, v, what); ok && !ValidIRI(s) {
		c.fail(path, "irl", "%s %q must be an absolute IRL", what, s)
	}
}

// statementObject checks a statement's object and returns its objectType.
func (c *checker) statementObject(path *loc, m map[string]any, inSub bool) string {
	ot, has := m["objectType"]
	s := "Activity"
	if has {
		var ok bool
		if s, ok = c.asString(path.at("objectType"), ot, "objectType"); !ok {
			return ""
		}
	} else {
		_, hasID := m["id"]
		for _, k := range ifiProps {
			if _, ok := m[k]; ok && !hasID {
				c.fail(path.at("objectType"), "object-type", "an Agent or Group used as object must have objectType")
				return ""
			}
		}
	}
	switch s {
	case "Activity":
		c.activity(path, m)
	case "Agent", "Group":
		c.actor(path, m, true)
	case "StatementRef":
		c.statementRef(path, m)
	case "SubStatement":
		if inSub {
			c.fail(path.at("objectType"), "substatement-nested", "a SubStatement must not contain a SubStatement")
			return s
		}
		c.statement(path, m, true)
	default:
		c.fail(path.at("objectType"), "object-type", "objectType %q is not one of Activity, Agent, Group, StatementRef, SubStatement", s)
	}
	return s
}

func (c *checker) statementRef(path *loc, m map[string]any) {
	if !c.object(path, m, statementRefProps, "objectType", "id") {
		return
	}
	if s, ok := c.asString(path.at("id"), m["id"], "id"); ok && !ValidUUID(s) {
		c.fail(path.at("id"), "uuid", "a StatementRef id must be a UUID, not %q", s)
	}
}

func (c *checker) activity(path *loc, m map[string]any) {
	if !c.object(path, m, activityProps, "id") {
		return
	}
	if ot, ok := m["objectType"]; ok && ot != "Activity" {
		c.fail(path.at("objectType"), "object-type", "objectType must be \"Activity\"")
		return
	}
	c.iri(path.at("id"), m["id"], "activity id")
	if d, ok := m["definition"]; ok && c.ok() {
		if dm, ok := c.asObject(path.at("definition"), d, "definition"); ok {
			c.definition(path.at("definition"), dm)
		}
	}
}

var interactionComponents = map[string][]string{
	"true-false":   nil,
	"choice":       {"choices"},
	"fill-in":      nil,
	"long-fill-in": nil,
	"matching":     {"source", "target"},
	"performance":  {"steps"},
	"sequencing":   {"choices"},
	"likert":       {"scale"},
	"numeric":      nil,
	"other":        nil,
}

func (c *checker) definition(path *loc, m map[string]any) {
	if !c.object(path, m, definitionProps) {
		return
	}
	for _, k := range []string{"name", "description"} {
		if v, ok := m[k]; ok {
			c.languageMap(path.at(k), v)
		}
	}
	if v, ok := m["type"]; ok {
		c.iri(path.at("type"), v, "type")
	}
	if v, ok := m["moreInfo"]; ok {
		c.irl(path.at("moreInfo"), v, "moreInfo")
	}
	if v, ok := m["extensions"]; ok {
		c.extensions(path.at("extensions"), v)
	}
	if !c.ok() {
		return
	}
	it, hasType := m["interactionType"]
	var allowed []string
	if hasType {
		s, ok := c.asString(path.at("interactionType"), it, "interactionType")
		if !ok {
			return
		}
		var known bool
		if allowed, known = interactionComponents[s]; !known {
			c.fail(path.at("interactionType"), "interaction-type", "interactionType %q is not one of true-false, choice, fill-in, long-fill-in, matching, performance, sequencing, likert, numeric, other", s)
			return
		}
	}
	if v, ok := m["correctResponsesPattern"]; ok {
		if !hasType {
			c.fail(path.at("correctResponsesPattern"), "interaction-type", "correctResponsesPattern needs an interactionType")
			return
		}
		if list, ok := c.asArray(path.at("correctResponsesPattern"), v, "correctResponsesPattern"); ok {
			for i, item := range list {
				if _, ok := c.asString(path.at("correctResponsesPattern").index(i), item, "a response pattern"); !ok {
					return
				}
			}
		}
	}
	for _, k := range []string{"choices", "scale", "source", "target", "steps"} {
		v, ok := m[k]
		if !ok {
			continue
		}
		p := path.at(k)
		if !hasType {
			c.fail(p, "interaction-type", "%s needs an interactionType", k)
			return
		}
		permitted := false
		for _, a := range allowed {
			permitted = permitted || a == k
		}
		if !permitted {
			c.fail(p, "interaction-type", "%s is not used with interactionType %q", k, it)
			return
		}
		list, ok := c.asArray(p, v, k)
		if !ok {
			return
		}
		var seen []string // component ids so far: a few
		for i, item := range list {
			ip := p.index(i)
			cm, ok := c.asObject(ip, item, "an interaction component")
			if !ok || !c.object(ip, cm, componentProps, "id") {
				return
			}
			id, ok := c.asString(ip.at("id"), cm["id"], "component id")
			if !ok {
				return
			}
			if slices.Contains(seen, id) {
				c.fail(ip.at("id"), "interaction-component-id", "component id %q appears twice in %s", id, k)
				return
			}
			seen = append(seen, id)
			if d, ok := cm["description"]; ok {
				c.languageMap(ip.at("description"), d)
			}
		}
	}
}

func (c *checker) languageMap(path *loc, v any) {
	m, ok := c.asObject(path, v, "a language map")
	if !ok {
		return
	}
	for _, k := range sortedKeys(m) {
		p := path.at(k)
		if !validLanguageTag(k) {
			c.fail(p, "language-tag", "%q is not a valid language tag (RFC 5646)", k)
			return
		}
		if m[k] == nil {
			c.fail(p, "null-value", "a language map value must not be null")
			return
		}
		if _, ok := c.asString(p, m[k], "a language map value"); !ok {
			return
		}
	}
}

func (c *checker) extensions(path *loc, v any) {
	m, ok := c.asObject(path, v, "extensions")
	if !ok {
		return
	}
	for _, k := range sortedKeys(m) {
		if !ValidIRI(k) {
			c.fail(path.at(k), "iri", "extension key %q must be an absolute IRI", k)
			return
		}
	}
}

func (c *checker) result(path *loc, m map[string]any) {
	if !c.object(path, m, resultProps) {
		return
	}
	if v, ok := m["score"]; ok {
		if sm, ok := c.asObject(path.at("score"), v, "score"); ok {
			c.score(path.at("score"), sm)
		}
	}
	for _, k := range []string{"success", "completion"} {
		if v, ok := m[k]; ok && c.ok() {
			c.asBool(path.at(k), v, k)
		}
	}
	if v, ok := m["response"]; ok && c.ok() {
		c.asString(path.at("response"), v, "response")
	}
	if v, ok := m["duration"]; ok && c.ok() {
		if s, ok := c.asString(path.at("duration"), v, "duration"); ok && !validDuration(s) {
			c.fail(path.at("duration"), "duration", "duration %q is not an ISO 8601 duration", s)
		}
	}
	if v, ok := m["extensions"]; ok && c.ok() {
		c.extensions(path.at("extensions"), v)
	}
}

var durationRE = regexp.MustCompile(`^P(?:\d+(?:\.\d+)?W|(?:\d+(?:\.\d+)?Y)?(?:\d+(?:\.\d+)?M)?(?:\d+(?:\.\d+)?D)?(?:T(?:\d+(?:\.\d+)?H)?(?:\d+(?:\.\d+)?M)?(?:\d+(?:\.\d+)?S)?)?)$`)

// validDuration checks an ISO 8601 duration: the regexp alone accepts "P"
// and a "T" with no time component after it.
func validDuration(s string) bool {
	return durationRE.MatchString(s) && s != "P" && !strings.HasSuffix(s, "T")
}

func (c *checker) score(path *loc, m map[string]any) {
	if !c.object(path, m, scoreProps) {
		return
	}
	var vals [4]float64 // scaled, raw, min, max
	var has [4]bool
	for i, k := range [4]string{"scaled", "raw", "min", "max"} {
		if v, ok := m[k]; ok {
			f, ok := c.asNumber(path.at(k), v, k)
			if !ok {
				return
			}
			vals[i], has[i] = f, true
		}
	}
	if s := vals[0]; has[0] && (s < -1 || s > 1) {
		c.fail(path.at("scaled"), "score-scaled", "scaled must be between -1 and 1")
		return
	}
	mn, hasMin := vals[2], has[2]
	mx, hasMax := vals[3], has[3]
	if hasMin && hasMax && mn >= mx {
		c.fail(path.at("min"), "score-min-max", "min must be less than max")
		return
	}
	if raw, ok := vals[1], has[1]; ok {
		if hasMin && raw < mn {
			c.fail(path.at("raw"), "score-raw", "raw must not be less than min")
		} else if hasMax && raw > mx {
			c.fail(path.at("raw"), "score-raw", "raw must not be greater than max")
		}
	}
}

func (c *checker) context(path *loc, m map[string]any, objectType string) {
	allowed := context103Props
	if c.v == V2_0_0 {
		allowed = context20Props
	}
	if !c.object(path, m, allowed) {
		return
	}
	if v, ok := m["registration"]; ok {
		if s, ok := c.asString(path.at("registration"), v, "registration"); ok && !ValidUUID(s) {
			c.fail(path.at("registration"), "uuid", "registration %q is not a UUID", s)
		}
	}
	if v, ok := m["instructor"]; ok && c.ok() {
		if im, ok := c.asObject(path.at("instructor"), v, "instructor"); ok {
			c.actor(path.at("instructor"), im, true)
		}
	}
	if v, ok := m["team"]; ok && c.ok() {
		if tm, ok := c.asObject(path.at("team"), v, "team"); ok {
			if tm["objectType"] != "Group" {
				c.fail(path.at("team").at("objectType"), "object-type", "team must be a Group (objectType \"Group\")")
			} else {
				c.group(path.at("team"), tm)
			}
		}
	}
	if v, ok := m["contextActivities"]; ok && c.ok() {
		if cm, ok := c.asObject(path.at("contextActivities"), v, "contextActivities"); ok {
			c.contextActivities(path.at("contextActivities"), cm)
		}
	}
	for _, k := range []string{"revision", "platform"} {
		if v, ok := m[k]; ok && c.ok() {
			if _, ok := c.asString(path.at(k), v, k); ok && objectType != "Activity" {
				c.fail(path.at(k), "context-object", "context.%s is only allowed when the object is an Activity", k)
			}
		}
	}
	if v, ok := m["language"]; ok && c.ok() {
		if s, ok := c.asString(path.at("language"), v, "language"); ok && !validLanguageTag(s) {
			c.fail(path.at("language"), "language-tag", "%q is not a valid language tag (RFC 5646)", s)
		}
	}
	if v, ok := m["statement"]; ok && c.ok() {
		if sm, ok := c.asObject(path.at("statement"), v, "statement"); ok {
			if sm["objectType"] != "StatementRef" {
				c.fail(path.at("statement").at("objectType"), "object-type", "context.statement must be a StatementRef")
			} else {
				c.statementRef(path.at("statement"), sm)
			}
		}
	}
	if v, ok := m["extensions"]; ok && c.ok() {
		c.extensions(path.at("extensions"), v)
	}
	if v, ok := m["contextAgents"]; ok && c.ok() {
		c.contextActors(path.at("contextAgents"), v, "contextAgent", "agent")
	}
	if v, ok := m["contextGroups"]; ok && c.ok() {
		c.contextActors(path.at("contextGroups"), v, "contextGroup", "group")
	}
}

func (c *checker) contextActivities(path *loc, m map[string]any) {
	if !c.object(path, m, ctxActivityKeys) {
		return
	}
	for _, k := range [...]string{"category", "grouping", "other", "parent"} { // ctxActivityKeys, sorted
		val, ok := m[k]
		if !ok {
			continue
		}
		p := path.at(k)
		switch v := val.(type) {
		case map[string]any:
			c.contextActivity(p, v)
		case []any:
			for i, item := range v {
				ip := p.index(i)
				if am, ok := c.asObject(ip, item, "a context activity"); ok {
					c.contextActivity(ip, am)
				}
			}
		default:
			c.fail(p, "wrong-type", "context activities must be an Activity or an array of Activities")
		}
		if !c.ok() {
			return
		}
	}
}

func (c *checker) contextActivity(path *loc, m map[string]any) {
	if ot, ok := m["objectType"]; ok && ot != "Activity" {
		c.fail(path.at("objectType"), "object-type", "a context activity must be an Activity")
		return
	}
	c.activity(path, m)
}

func (c *checker) contextActors(path *loc, v any, objectType, key string) {
	list, ok := c.asArray(path, v, objectType+"s") // contextAgents or contextGroups
	if !ok {
		return
	}
	props := contextAgentProps
	if key == "group" {
		props = contextGroupProps
	}
	for i, item := range list {
		p := path.index(i)
		m, ok := c.asObject(p, item, "a "+objectType)
		if !ok || !c.object(p, m, props, "objectType", key) {
			return
		}
		if ot, ok := c.asString(p.at("objectType"), m["objectType"], "objectType"); !ok {
			return
		} else if ot != objectType {
			c.fail(p.at("objectType"), "object-type", "objectType must be %q", objectType)
			return
		}
		am, ok := c.asObject(p.at(key), m[key], key)
		if !ok {
			return
		}
		if key == "agent" {
			if ot, has := am["objectType"]; has && ot != "Agent" {
				c.fail(p.at("agent").at("objectType"), "object-type", "a contextAgent's agent must be an Agent")
				return
			}
			c.agent(p.at("agent"), am)
		} else {
			if am["objectType"] != "Group" {
				c.fail(p.at("group").at("objectType"), "object-type", "a contextGroup's group must be a Group (objectType \"Group\")")
				return
			}
			c.group(p.at("group"), am)
		}
		if rt, ok := m["relevantTypes"]; ok && c.ok() {
			types, ok := c.asArray(p.at("relevantTypes"), rt, "relevantTypes")
			if !ok {
				return
			}
			if len(types) == 0 {
				c.fail(p.at("relevantTypes"), "empty-array", "relevantTypes must hold at least one IRI")
				return
			}
			for j, t := range types {
				c.iri(p.at("relevantTypes").index(j), t, "relevant type")
			}
		}
		if !c.ok() {
			return
		}
	}
}

func (c *checker) attachment(path *loc, m map[string]any) {
	if !c.object(path, m, attachmentProps, "usageType", "display", "contentType", "length", "sha2") {
		return
	}
	c.iri(path.at("usageType"), m["usageType"], "usageType")
	if c.ok() {
		c.languageMap(path.at("display"), m["display"])
	}
	if v, ok := m["description"]; ok && c.ok() {
		c.languageMap(path.at("description"), v)
	}
	if s, ok := c.asString(path.at("contentType"), m["contentType"], "contentType"); ok {
		if _, _, err := mime.ParseMediaType(s); err != nil || !strings.Contains(s, "/") {
			c.fail(path.at("contentType"), "content-type", "contentType %q is not an Internet media type", s)
		}
	}
	if c.ok() {
		n, ok := m["length"].(json.Number)
		if !ok {
			c.fail(path.at("length"), "wrong-type", "length must be an integer")
		} else if i, err := strconv.ParseInt(n.String(), 10, 64); err != nil || i < 0 {
			c.fail(path.at("length"), "wrong-type", "length must be a non-negative integer")
		}
	}
	c.asString(path.at("sha2"), m["sha2"], "sha2")
	if v, ok := m["fileUrl"]; ok && c.ok() {
		c.irl(path.at("fileUrl"), v, "fileUrl")
	}
}

// ValidUUID reports whether s is a UUID in its hyphenated hex form.
func ValidUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return false
			}
		default:
			if !isHex(rune(s[i])) {
				return false
			}
		}
	}
	return true
}

// schemeEnd returns the index of the ':' ending an IRI's scheme, or -1.
func schemeEnd(s string) int {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '.' || c == '-'):
		case i > 0 && c == ':':
			return i
		default:
			return -1
		}
	}
	return -1
}

// ValidIRI reports whether s is an absolute IRI: a scheme, then characters
// allowed in an IRI (no spaces, controls or the delimiters RFC 3987 excludes).
func ValidIRI(s string) bool {
	end := schemeEnd(s)
	if end < 0 || end == len(s)-1 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < utf8.RuneSelf {
			if c <= 0x20 || c == 0x7f {
				return false
			}
			switch c {
			case '<', '>', '"', '{', '}', '|', '\\', '^', '`':
				return false
			}
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return false
		}
		i += size - 1
	}
	return true
}

// ParseTimestamp parses a timestamp as statements carry them (for the
// since and until parameters).
func ParseTimestamp(s string) (time.Time, error) { return parseTimestamp(s) }

// timestampParts splits a timestamp of the form
//
//	^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}(?::?\d{2})?)$
//
// into those groups (g[1] to g[8], as the regular expression would; g[7]
// is "" without a fraction). It is written out because it runs for every
// statement, twice; the tests hold it to the expression.
func timestampParts(s string) (g [9]string, ok bool) {
	digits := func(i, n int) bool {
		if len(s) < i+n {
			return false
		}
		for _, c := range []byte(s[i : i+n]) {
			if c < '0' || c > '9' {
				return false
			}
		}
		return true
	}
	if len(s) < 20 || !digits(0, 4) || s[4] != '-' || !digits(5, 2) || s[7] != '-' || !digits(8, 2) ||
		(s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !digits(11, 2) || s[13] != ':' || !digits(14, 2) ||
		s[16] != ':' || !digits(17, 2) {
		return g, false
	}
	g = [9]string{s, s[0:4], s[5:7], s[8:10], s[11:13], s[14:16], s[17:19]}
	i := 19
	if s[i] == '.' {
		j := i + 1
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == i+1 {
			return g, false
		}
		g[7], i = s[i:j], j
	}
	zone := s[i:]
	switch {
	case zone == "Z" || zone == "z":
	case len(zone) >= 3 && (zone[0] == '+' || zone[0] == '-') && digits(i+1, 2):
		switch rest := zone[3:]; {
		case rest == "":
		case len(rest) == 2 && digits(i+3, 2):
		case len(rest) == 3 && rest[0] == ':' && digits(i+4, 2):
		default:
			return g, false
		}
	default:
		return g, false
	}
	g[8] = zone
	return g, true
}

// parseTimestamp parses an ISO 8601 / RFC 3339 timestamp with a time zone.
// The offsets -00, -0000 and -00:00 are rejected (RFC 3339's "unknown
// local offset").
func parseTimestamp(s string) (time.Time, error) {
	g, ok := timestampParts(s)
	if !ok {
		return time.Time{}, fmt.Errorf("timestamp %q is not an ISO 8601 date and time with a time zone", s)
	}
	num := func(s string) int { n, _ := strconv.Atoi(s); return n }
	zone := g[8]
	offset := 0
	if zone != "Z" && zone != "z" {
		h, m := num(zone[1:3]), 0
		if len(zone) > 3 {
			m = num(zone[len(zone)-2:])
		}
		if h > 23 || m > 59 {
			return time.Time{}, fmt.Errorf("timestamp %q has an invalid offset", s)
		}
		offset = h*3600 + m*60
		if zone[0] == '-' {
			if offset == 0 {
				return time.Time{}, fmt.Errorf("timestamp %q uses the offset -00:00, which RFC 3339 reserves for an unknown offset", s)
			}
			offset = -offset
		}
	}
	year, month, day, hour, minute, sec := num(g[1]), num(g[2]), num(g[3]), num(g[4]), num(g[5]), num(g[6])
	if month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 || sec > 60 {
		return time.Time{}, fmt.Errorf("timestamp %q is not a valid date and time", s)
	}
	if sec == 60 {
		sec = 59
	}
	nsec := 0
	if frac := g[7]; frac != "" {
		for i := 1; i <= 9; i++ { // nanoseconds: the first nine digits, padded
			nsec *= 10
			if i < len(frac) {
				nsec += int(frac[i] - '0')
			}
		}
	}
	loc := time.UTC // the same instant as FixedZone("", 0), without an allocation
	if zone != "Z" && zone != "z" {
		loc = time.FixedZone("", offset)
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, loc), nil
}

func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// validLanguageTag checks the well-formedness of an RFC 5646 language tag.
// Most tags are short ASCII ones ("en-US"), checked without allocating;
// the others go through languageTagWellFormed, the rule itself, which the
// tests hold the fast path to.
func validLanguageTag(tag string) bool {
	if ok, decided := languageTagASCII(tag); decided {
		return ok
	}
	return languageTagWellFormed(tag)
}

// languageTagASCII is languageTagWellFormed for an ASCII tag of at most
// 8 subtags without repeated variants or singletons; decided is false for
// any other tag.
func languageTagASCII(tag string) (ok, decided bool) {
	if tag == "" || len(tag) > 64 {
		return false, false
	}
	var lower [64]byte
	for i := 0; i < len(tag); i++ {
		c := tag[i]
		if c >= utf8.RuneSelf {
			return false, false
		}
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	if len(tag) <= 11 && irregularTags[string(lower[:len(tag)])] {
		return true, true
	}
	// The subtags, as [start, end) offsets into lower.
	var parts [8][2]int
	n, start := 0, 0
	for i := 0; i <= len(tag); i++ {
		if i < len(tag) && lower[i] != '-' {
			continue
		}
		if n == len(parts) {
			return false, false
		}
		parts[n] = [2]int{start, i}
		n++
		start = i + 1
	}
	sub := func(i int) []byte { return lower[parts[i][0]:parts[i][1]] }
	alpha := func(b []byte) bool {
		for _, c := range b {
			if c < 'a' || c > 'z' {
				return false
			}
		}
		return true
	}
	for i := range n {
		p := sub(i)
		if len(p) == 0 || len(p) > 8 {
			return false, true
		}
		for _, c := range p {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
				return false, true
			}
		}
	}
	i := 0
	if p := sub(0); len(p) == 1 && p[0] == 'x' { // private use only
		return n > 1, true
	}
	switch p := sub(0); {
	case len(p) >= 2 && len(p) <= 3 && alpha(p):
		i = 1
		for k := 0; k < 3 && i < n && len(sub(i)) == 3 && alpha(sub(i)); k++ {
			i++ // extlang
		}
	case len(p) >= 4 && len(p) <= 8 && alpha(p):
		i = 1
	default:
		return false, true
	}
	if i < n && len(sub(i)) == 4 && alpha(sub(i)) {
		i++ // script
	}
	if i < n {
		if p := sub(i); len(p) == 2 && alpha(p) || len(p) == 3 && p[0] >= '0' && p[0] <= '9' && p[1] >= '0' && p[1] <= '9' && p[2] >= '0' && p[2] <= '9' {
			i++ // region
		}
	}
	if i < n && (len(sub(i)) >= 5 || len(sub(i)) == 4 && sub(i)[0] >= '0' && sub(i)[0] <= '9') {
		return false, false // variants: the general check finds repeats
	}
	if i < n && len(sub(i)) == 1 && sub(i)[0] != 'x' {
		return false, false // extensions: likewise
	}
	if i < n && len(sub(i)) == 1 && sub(i)[0] == 'x' {
		return i+1 < n, true // private use up to the end
	}
	return i == n, true
}

// languageTagWellFormed checks the well-formedness of an RFC 5646 language
// tag.
func languageTagWellFormed(tag string) bool {
	if tag == "" {
		return false
	}
	lower := strings.ToLower(tag)
	if irregularTags[lower] {
		return true
	}
	parts := strings.Split(lower, "-")
	for _, p := range parts {
		if p == "" || len(p) > 8 || !isAlnum(p) {
			return false
		}
	}
	i := 0
	if parts[0] == "x" { // private use only
		return len(parts) > 1
	}
	// language
	switch l := len(parts[0]); {
	case l >= 2 && l <= 3 && isAlpha(parts[0]):
		i = 1
		for n := 0; n < 3 && i < len(parts) && len(parts[i]) == 3 && isAlpha(parts[i]); n++ {
			i++ // extlang
		}
	case l >= 4 && l <= 8 && isAlpha(parts[0]):
		i = 1
	default:
		return false
	}
	if i < len(parts) && len(parts[i]) == 4 && isAlpha(parts[i]) {
		i++ // script
	}
	if i < len(parts) && (len(parts[i]) == 2 && isAlpha(parts[i]) || len(parts[i]) == 3 && isDigits(parts[i])) {
		i++ // region
	}
	variants := map[string]bool{}
	for i < len(parts) && (len(parts[i]) >= 5 || len(parts[i]) == 4 && parts[i][0] >= '0' && parts[i][0] <= '9') {
		if variants[parts[i]] {
			return false
		}
		variants[parts[i]] = true
		i++
	}
	singletons := map[string]bool{}
	for i < len(parts) && len(parts[i]) == 1 && parts[i] != "x" {
		if singletons[parts[i]] {
			return false
		}
		singletons[parts[i]] = true
		i++
		n := 0
		for i < len(parts) && len(parts[i]) >= 2 {
			i++
			n++
		}
		if n == 0 {
			return false
		}
	}
	if i < len(parts) && parts[i] == "x" {
		i++
		if i == len(parts) {
			return false
		}
		i = len(parts)
	}
	return i == len(parts)
}

var irregularTags = map[string]bool{
	"en-gb-oed": true, "i-ami": true, "i-bnn": true, "i-default": true, "i-enochian": true, "i-hak": true,
	"i-klingon": true, "i-lux": true, "i-mingo": true, "i-navajo": true, "i-pwn": true, "i-tao": true,
	"i-tay": true, "i-tsu": true, "sgn-be-fr": true, "sgn-be-nl": true, "sgn-ch-de": true,
}

func isAlpha(s string) bool {
	for _, r := range s {
		if r < 'a' || r > 'z' {
			return false
		}
	}
	return true
}

func isAlnum(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// normalize rewrites a validated statement into the form the LRS keeps:
// ids lower case, context activities as arrays, and (2.0) timestamps in UTC.
func normalize(m map[string]any, v Version, sub bool) {
	if id, ok := m["id"].(string); ok && !sub {
		m["id"] = strings.ToLower(id)
	}
	if v == V2_0_0 {
		if ts, ok := m["timestamp"].(string); ok {
			if t, err := parseTimestamp(ts); err == nil {
				m["timestamp"] = t.UTC().Format("2006-01-02T15:04:05.000Z")
			}
		}
	}
	if obj, ok := m["object"].(map[string]any); ok {
		switch obj["objectType"] {
		case "SubStatement":
			normalize(obj, v, true)
		case "StatementRef":
			if id, ok := obj["id"].(string); ok {
				obj["id"] = strings.ToLower(id)
			}
		}
	}
	if ctx, ok := m["context"].(map[string]any); ok {
		if ca, ok := ctx["contextActivities"].(map[string]any); ok {
			for k, val := range ca {
				if one, ok := val.(map[string]any); ok {
					ca[k] = []any{one}
				}
			}
		}
	}
}
