package api

import (
	"bytes"
	"mime"

	"github.com/gin-gonic/gin"

	"github.com/lrs-project/lrs/lrs"
)

const headerHash = "X-Experience-API-Hash"

// attachmentsFor returns the bodies a statements GET with attachments=true
// sends along with the statements raws (nil when not asked for).
func (s *server) attachmentsFor(c *gin.Context, org string, want bool, raws [][]byte) ([]lrs.AttachmentBody, error) {
	if !want {
		return nil, nil
	}
	return s.svc.AttachmentsFor(c.Request.Context(), org, raws)
}

// multipartResult returns a statements result as multipart/mixed: the JSON
// first, then one part per attachment body.
func multipartResult(body []byte, atts []lrs.AttachmentBody) (contentType string, out []byte) {
	boundary := newBoundary()
	for clash(boundary, body, atts) {
		boundary = newBoundary()
	}
	var b bytes.Buffer
	b.WriteString("--" + boundary + "\r\nContent-Type: application/json\r\n\r\n")
	b.Write(body)
	for _, a := range atts {
		ct := a.ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		b.WriteString("\r\n--" + boundary + "\r\nContent-Type: " + ct +
			"\r\nContent-Transfer-Encoding: binary\r\n" + headerHash + ": " + a.SHA2 + "\r\n\r\n")
		b.Write(a.Data)
	}
	b.WriteString("\r\n--" + boundary + "--\r\n")
	return mime.FormatMediaType("multipart/mixed", map[string]string{"boundary": boundary}), b.Bytes()
}

// clash reports whether the boundary occurs in any part (practically never:
// it holds 128 random bits).
func clash(boundary string, body []byte, atts []lrs.AttachmentBody) bool {
	bb := []byte(boundary)
	if bytes.Contains(body, bb) {
		return true
	}
	for _, a := range atts {
		if bytes.Contains(a.Data, bb) {
			return true
		}
	}
	return false
}
