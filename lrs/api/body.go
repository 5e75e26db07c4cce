package api

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/lrs-project/lrs/lrs"
)

// The request-body reader of the statements and document resources: the
// size limit (413), the Content-Type of a statements PUT or POST, and the
// multipart/mixed form that carries attachment data.

// limitedBody returns the request body, limited to MaxBodyBytes: a larger
// body is a *http.MaxBytesError (413), up front when Content-Length says so.
func (s *server) limitedBody(c *gin.Context) (io.Reader, error) { return limitBody(c, s.maxBody) }

func limitBody(c *gin.Context, limit int64) (io.Reader, error) {
	if c.Request.ContentLength > limit {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	return http.MaxBytesReader(c.Writer, c.Request.Body, limit), nil
}

// readBody reads the whole request body within MaxBodyBytes.
func (s *server) readBody(c *gin.Context) ([]byte, error) { return readBodyWithin(c, s.maxBody) }

// presizeBody is the largest announced body read into a buffer of its
// size at once: a larger one grows with what arrives, so that a client
// announcing a large body and sending little holds little memory.
const presizeBody = 1 << 20

// readBodyWithin reads the whole request body; one larger than limit is a
// *http.MaxBytesError (413).
func readBodyWithin(c *gin.Context, limit int64) ([]byte, error) {
	r, err := limitBody(c, limit)
	if err != nil {
		return nil, err
	}
	var body []byte
	if n := c.Request.ContentLength; n > 0 && n <= presizeBody {
		// One allocation of the announced size (net/http ends the body
		// there), where io.ReadAll doubles its buffer up to it.
		body = make([]byte, n)
		_, err = io.ReadFull(r, body)
	} else {
		body, err = io.ReadAll(r)
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, lrs.Errorf(lrs.EINVALID, "the request body could not be read")
	}
	return body, nil
}

// readJSONBody checks the Content-Type of a statements PUT/POST and reads
// the body within the size limit.
func (s *server) readJSONBody(c *gin.Context) ([]byte, error) {
	ct := c.Request.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	switch {
	case ct == "":
		return nil, lrs.Errorf(lrs.EINVALID, "the Content-Type header is required: use application/json")
	case err != nil:
		return nil, lrs.Errorf(lrs.EINVALID, "the Content-Type %q is malformed", ct)
	case mt != "application/json":
		return nil, lrs.Errorf(lrs.EINVALID, "the Content-Type %q is not accepted: use application/json", mt)
	}
	return s.readBody(c)
}

// readStatementsBody reads the body of a statements PUT or POST:
// application/json (no attachment parts), or multipart/mixed (Communication
// 1.5.2), whose first part holds the statements (application/json) and
// every later part the raw data of one attachment, with its
// X-Experience-API-Hash. MaxBodyBytes applies to the whole request (413).
//
// A multipart/mixed body sent as application/octet-stream is accepted too:
// @xapi/xapi, a common client library, sends its multipart body as a Blob,
// and under Node.js axios replaces the Content-Type of a Blob with
// application/octet-stream. The boundary is then read from the first line.
func (s *server) readStatementsBody(c *gin.Context) ([]byte, []lrs.AttachmentBody, error) {
	mt, params, err := mime.ParseMediaType(c.Request.Header.Get("Content-Type"))
	if err == nil && mt == "application/octet-stream" {
		return s.readSniffedMultipart(c)
	}
	if err != nil || mt != "multipart/mixed" {
		body, err := s.readJSONBody(c)
		return body, nil, err
	}
	boundary := params["boundary"]
	if boundary == "" {
		return nil, nil, lrs.Errorf(lrs.EINVALID, "the multipart/mixed Content-Type has no boundary parameter")
	}
	r, err := s.limitedBody(c)
	if err != nil {
		return nil, nil, err
	}
	return readMultipart(r, boundary)
}

// readSniffedMultipart reads an application/octet-stream body that must be
// a multipart/mixed body (see readStatementsBody).
func (s *server) readSniffedMultipart(c *gin.Context) ([]byte, []lrs.AttachmentBody, error) {
	body, err := s.readBody(c)
	if err != nil {
		return nil, nil, err
	}
	boundary, ok := sniffBoundary(body)
	if !ok {
		return nil, nil, lrs.Errorf(lrs.EINVALID, "the Content-Type \"application/octet-stream\" is not accepted: use application/json or multipart/mixed")
	}
	return readMultipart(bytes.NewReader(body), boundary)
}

// sniffBoundary returns the boundary of a body that starts like a
// multipart body: "--" boundary CRLF.
func sniffBoundary(body []byte) (string, bool) {
	line, _, ok := bytes.Cut(body, []byte("\n"))
	if !ok || !bytes.HasPrefix(line, []byte("--")) {
		return "", false
	}
	b := strings.TrimRight(string(line[2:]), " \t\r")
	if b == "" || len(b) > 70 || strings.ContainsAny(b, "\x00\"") {
		return "", false
	}
	return b, true
}

// readMultipart splits a multipart/mixed statements body.
func readMultipart(src io.Reader, boundary string) ([]byte, []lrs.AttachmentBody, error) {
	r := multipart.NewReader(src, boundary)

	// NextRawPart: a Content-Transfer-Encoding is not decoded (parts are
	// binary) and stays visible to the checks below.
	p, err := r.NextRawPart()
	if errors.Is(err, io.EOF) {
		return nil, nil, lrs.Errorf(lrs.EINVALID, "the multipart/mixed body has no parts: its first part must hold the statements")
	}
	if err != nil {
		return nil, nil, malformed(err, "before its first part")
	}
	ct := p.Header.Get("Content-Type")
	if pmt, _, err := mime.ParseMediaType(ct); err != nil || pmt != "application/json" {
		return nil, nil, lrs.Errorf(lrs.EINVALID, "the first part of a multipart/mixed body holds the statements and must have Content-Type application/json, not %q", ct)
	}
	body, err := io.ReadAll(p)
	if err != nil {
		return nil, nil, malformed(err, "in its first (statements) part")
	}

	var parts []lrs.AttachmentBody
	for n := 2; ; n++ {
		p, err := r.NextRawPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, malformed(err, fmt.Sprintf("before part %d", n))
		}
		a, err := attachmentPart(p.Header, n)
		if err != nil {
			return nil, nil, err
		}
		if a.Data, err = io.ReadAll(p); err != nil {
			return nil, nil, malformed(err, fmt.Sprintf("in part %d", n))
		}
		parts = append(parts, a)
	}
	return body, parts, nil
}

// attachmentPart checks the headers of attachment part n.
func attachmentPart(h textproto.MIMEHeader, n int) (lrs.AttachmentBody, error) {
	var a lrs.AttachmentBody
	a.SHA2 = strings.ToLower(strings.TrimSpace(h.Get(headerHash)))
	if a.SHA2 == "" {
		return a, lrs.Errorf(lrs.EINVALID, "part %d of the multipart/mixed body has no %s header", n, headerHash)
	}
	// Communication 1.5.2: clients send binary; an LRS assumes binary when
	// the header is missing, and cannot honor any other encoding.
	if cte := strings.TrimSpace(h.Get("Content-Transfer-Encoding")); cte != "" && !strings.EqualFold(cte, "binary") {
		return a, lrs.Errorf(lrs.EINVALID, "part %d of the multipart/mixed body has Content-Transfer-Encoding %q: attachment parts must be binary", n, cte)
	}
	a.ContentType = h.Get("Content-Type")
	return a, nil
}

// malformed is the error for a multipart body that breaks off or is not
// well formed; the body size limit keeps its own error (413).
func malformed(err error, where string) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return err
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return lrs.Errorf(lrs.EINVALID, "the multipart/mixed body is truncated %s: it ends before its closing boundary", where)
	}
	return lrs.Errorf(lrs.EINVALID, "the multipart/mixed body is malformed %s: %s", where, strings.TrimPrefix(err.Error(), "multipart: "))
}
