package clever

import "time"

// The wire types of Clever's v3.1 API that the client sends and reads
// (Clever/swagger-api v3.1-lms.yml and v3.1.yml; sinks.md §1.5). Optional
// request members are pointers or omitted when empty, so a PATCH changes
// only what it names.

// Grading types of an assignment.
const (
	GradingPoints   = "points"
	GradingPercent  = "percent"
	GradingPassFail = "pass_fail"
	// GradingLetter ("letter_grade") exists in Clever but is not offered:
	// a letter cannot be computed without the section's grading scale.
	GradingLetter = "letter_grade"
)

// Submission types of an assignment.
var submissionTypes = []string{"link", "file", "text", "discussion"}

// Submission state the client writes: "returned" is the teacher's
// finalized grade, which some providers need before the student sees it.
const submissionReturned = "returned"

// timeLayout is how Clever writes and reads timestamps: RFC 3339 UTC with
// milliseconds.
const timeLayout = "2006-01-02T15:04:05.000Z"

// FormatTime formats t as Clever does.
func FormatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// AssignmentRequest is the body of an assignment create or update.
type AssignmentRequest struct {
	Title           string   `json:"title,omitempty"`
	Description     string   `json:"description,omitempty"`
	DueDate         string   `json:"due_date,omitempty"`
	GradingType     string   `json:"grading_type,omitempty"`
	PointsPossible  *float64 `json:"points_possible,omitempty"`
	AssigneeMode    string   `json:"assignee_mode,omitempty"`
	SubmissionTypes []string `json:"submission_types,omitempty"`
	MaxAttempts     *int     `json:"max_attempts,omitempty"`
}

// Assignment is an assignment as Clever answers it.
type Assignment struct {
	ID              string   `json:"id"`
	Title           string   `json:"title"`
	Description     string   `json:"description"`
	State           string   `json:"state"`
	GradingType     string   `json:"grading_type"`
	PointsPossible  *float64 `json:"points_possible"`
	DueDate         string   `json:"due_date"`
	SubmissionTypes []string `json:"submission_types"`
	MaxAttempts     int      `json:"max_attempts"`
	Created         string   `json:"created"`
	LastModified    string   `json:"last_modified"`
}

// SubmissionRequest is the body of a submission update (a grade).
type SubmissionRequest struct {
	Grade        *string  `json:"grade,omitempty"`
	GradePoints  *float64 `json:"grade_points,omitempty"`
	GradeComment *string  `json:"grade_comment,omitempty"`
	GraderID     string   `json:"grader_id,omitempty"`
	State        string   `json:"state,omitempty"`
}

// Submission is a student's submission as Clever answers it. Its
// deprecated id is not read (Google Classroom never sends it).
type Submission struct {
	AssignmentID string   `json:"assignment_id"`
	UserID       string   `json:"user_id"`
	State        string   `json:"state"`
	Grade        *string  `json:"grade"`
	GradePoints  *float64 `json:"grade_points"`
	GradeComment *string  `json:"grade_comment"`
	LastModified string   `json:"last_modified"`
}

// District is the part of Clever's District the readiness check reads.
type District struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	LMSState string `json:"lms_state"`
	LMSType  string `json:"lms_type"`
}

// LMS states of a district; only LMSSuccess lets grades through.
const (
	LMSSuccess               = "success"
	LMSMatchingInProgress    = "matching_in_progress"
	LMSDisconnected          = "disconnected"
	LMSError                 = "error"
	LMSInitialSyncProcessing = "initial_sync_processing"
	LMSPendingAuthorization  = "pending_authorization"
)

// LMS types of a district.
const (
	LMSCanvas          = "canvas"
	LMSSchoology       = "schoology"
	LMSGoogleClassroom = "google_classroom"
)

// LMSStatus tells whether a section or user is synced in the LMS.
type LMSStatus struct {
	SyncedInLMS bool `json:"synced_in_lms"`
}

// Section is the part of Clever's Section the client reads.
type Section struct {
	ID        string     `json:"id"`
	District  string     `json:"district"`
	Course    string     `json:"course"`
	Name      string     `json:"name"`
	LMSStatus *LMSStatus `json:"lms_status"`
}

// Synced reports lms_status.synced_in_lms (false when absent).
func (s Section) Synced() bool { return s.LMSStatus != nil && s.LMSStatus.SyncedInLMS }

// User is the part of Clever's User the roster mapper reads.
type User struct {
	ID    string `json:"id"`
	Email string `json:"email"`
}

// Link is a pagination link; URI is relative to the API's host.
type Link struct {
	Rel string `json:"rel"`
	URI string `json:"uri"`
}

type dataOf[T any] struct {
	Data T `json:"data"`
}

type listOf[T any] struct {
	Data  []dataOf[T] `json:"data"`
	Links []Link      `json:"links"`
}

// token is one entry of the token endpoint's answer.
type token struct {
	AccessToken string `json:"access_token"`
	Owner       struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	} `json:"owner"`
}
