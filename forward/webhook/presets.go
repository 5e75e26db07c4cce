package webhook

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Preset is a starting configuration for one kind of receiver: a method,
// a body type and a field mapping, as data. A configuration created from a
// preset is edited like any other afterwards.
type Preset struct {
	Name        string `json:"name"`
	Title       string `json:"title"`
	Description string `json:"description"`
	// URLExample shows the shape of the receiver's URL; the administrator
	// gives the real one.
	URLExample string `json:"url_example"`
	Config     Config `json:"config"`
}

func c(s string) json.RawMessage { b, _ := json.Marshal(s); return b }

// presets are the mappings of sinks.md §3.1–3.2.
var presets = []Preset{
	{
		Name:  "generic",
		Title: "Generic webhook",
		Description: "A Standard Webhooks event: type, timestamp and the result in data, " +
			"for receivers written for lrs (and automation tools).",
		URLExample: "https://ams.example.org/hooks/lrs",
		Config: Config{Method: "POST", ContentType: ContentJSON, Fields: []Field{
			{Target: "type", Source: "result.status", Format: `enum:{passed:"result.passed",failed:"result.failed",completed:"result.completed",incomplete:"result.updated"}`, Required: true},
			{Target: "timestamp", Source: "result.last_activity_at", Format: "date:rfc3339"},
			{Target: "data.member_email", Source: "participant.email", Required: true},
			{Target: "data.member_id", Source: "participant.external_id"},
			{Target: "data.activity_id", Source: "objective.id", Required: true},
			{Target: "data.activity_title", Source: "objective.name"},
			{Target: "data.completed_on", Source: "result.completed_at", Format: "date:YYYY-MM-DD"},
			{Target: "data.passed", Source: "result.passed", Format: "bool"},
			{Target: "data.score_percent", Source: "result.score.scaled", Format: "percent"},
			{Target: "data.ce_hours", Source: "objective.credits"},
			{Target: "data.credit_type", Source: "objective.credit_type"},
			{Target: "data.reference", Source: "result.key", Required: true},
		}},
	},
	{
		Name:  "imis",
		Title: "iMIS Activity",
		Description: "One iMIS Activity per completion, in the flat field names of the vendors' " +
			"write-back mapping: member ID, activity type, transaction date, units; " +
			"UF1 carries result.key to match or dedupe on.",
		URLExample: "https://imis.example.org/api/Activity",
		Config: Config{Method: "POST", ContentType: ContentJSON, Fields: []Field{
			{Target: "Id", Source: "participant.external_id", Required: true},
			{Target: "ActivityType", Constant: c("CE"), Required: true},
			{Target: "TransactionDate", Source: "result.completed_at", Format: "date:YYYY-MM-DD", Required: true},
			{Target: "ProductCode", Source: "objective.external_id"},
			{Target: "Description", Source: "objective.name"},
			{Target: "Units", Source: "objective.credits", Format: "decimal:2"},
			{Target: "UF1", Source: "result.key", Required: true},
		}},
	},
	{
		Name:  "yourmembership",
		Title: "YourMembership CEU journal entry",
		Description: "Create a CEU Journal Entry (POST /Ams/{ClientID}/CertificationsJournals): " +
			"PersonID from the participant directory, credits with two decimals, the score as a percent.",
		URLExample: "https://ws.yourmembership.com/Ams/CLIENT_ID/CertificationsJournals",
		Config: Config{Method: "POST", ContentType: ContentJSON, Fields: []Field{
			{Target: "PersonID", Source: "participant.external_id", Format: "int", Required: true},
			{Target: "CertificationName", Source: "objective.name", Required: true},
			{Target: "CEUsEarned", Source: "objective.credits", Format: "decimal:2", Required: true},
			{Target: "EntryDate", Source: "result.completed_at", Format: "date:rfc3339", Required: true},
			{Target: "ScorePercent", Source: "result.score.scaled", Format: "percent:2"},
			{Target: "CreditTypeCode", Source: "objective.credit_type"},
			{Target: "Description", Source: "result.key"},
		}},
	},
	{
		Name:  "salesforce",
		Title: "Salesforce upsert by external id",
		Description: "PATCH …/sobjects/<Object>/<ExternalIdField>/{{result.key}}: Salesforce creates the " +
			"record (201) or updates it (200/204), so repeats are harmless. The external id is in the URL, " +
			"not the body. Auth: OAuth2 client credentials of a connected app.",
		URLExample: "https://MYDOMAIN.my.salesforce.com/services/data/v60.0/sobjects/LMS_Completion__c/External_Id__c/{{result.key}}",
		Config: Config{Method: "PATCH", ContentType: ContentJSON, Auth: AuthOAuth2, Fields: []Field{
			{Target: "Member_Email__c", Source: "participant.email"},
			{Target: "Member_Id__c", Source: "participant.external_id"},
			{Target: "Course_Id__c", Source: "objective.external_id"},
			{Target: "Course_Name__c", Source: "objective.name", Required: true},
			{Target: "Completed__c", Source: "result.completed", Format: "bool"},
			{Target: "Passed__c", Source: "result.passed", Format: "bool"},
			{Target: "Score__c", Source: "result.score.scaled", Format: "percent:2"},
			{Target: "Completion_Date__c", Source: "result.completed_at", Format: "date:YYYY-MM-DD"},
			{Target: "CE_Credits__c", Source: "objective.credits", Format: "decimal:2"},
			{Target: "Credit_Type__c", Source: "objective.credit_type"},
		}},
	},
}

// PresetNames lists the presets, sorted.
func PresetNames() []string {
	names := make([]string, len(presets))
	for i, p := range presets {
		names[i] = p.Name
	}
	sort.Strings(names)
	return names
}

// Presets returns every preset (copies: editing one changes nothing here).
func Presets() []Preset {
	out := make([]Preset, len(presets))
	for i, p := range presets {
		out[i] = p
		out[i].Config.Fields = append([]Field(nil), p.Config.Fields...)
	}
	return out
}

// LookupPreset returns a preset by name.
func LookupPreset(name string) (Preset, bool) {
	for _, p := range Presets() {
		if p.Name == name {
			return p, true
		}
	}
	return Preset{}, false
}

// ApplyPreset fills the settings c leaves empty from the preset c.Preset
// names: method, content type, auth kind and, when c has none, the field
// mapping. The URL is always the administrator's.
func ApplyPreset(cfg Config) (Config, error) {
	if cfg.Preset == "" {
		return cfg, nil
	}
	p, ok := LookupPreset(cfg.Preset)
	if !ok {
		return cfg, &ValidationError{Problems: []Problem{{Path: "preset", Message: fmt.Sprintf("unknown preset %q: want %s", cfg.Preset, strings.Join(PresetNames(), ", "))}}}
	}
	if cfg.Method == "" {
		cfg.Method = p.Config.Method
	}
	if cfg.ContentType == "" {
		cfg.ContentType = p.Config.ContentType
	}
	if cfg.Auth == "" {
		cfg.Auth = p.Config.Auth
	}
	if len(cfg.Fields) == 0 {
		cfg.Fields = p.Config.Fields
	}
	return cfg, nil
}
