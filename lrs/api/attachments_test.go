package api_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lrs-project/lrs/lrs"
	"github.com/lrs-project/lrs/lrs/api"
)

const boundary = "test-boundary-7d3f"

var multipartCT = []string{"Content-Type", "multipart/mixed; boundary=" + boundary}

func sha(data string) string {
	s := sha256.Sum256([]byte(data))
	return hex.EncodeToString(s[:])
}

// part is one attachment part of a multipart request.
type part struct {
	contentType, hash, data string
	cte                     string // "" → binary; "-" → no header
}

func bin(ct, data string) part { return part{contentType: ct, hash: sha(data), data: data} }

// multipartBody returns a multipart/mixed body: the statements JSON, then
// the parts.
func multipartBody(statements string, parts ...part) string {
	var b strings.Builder
	b.WriteString("--" + boundary + "\r\nContent-Type: application/json\r\n\r\n" + statements)
	for _, p := range parts {
		b.WriteString("\r\n--" + boundary + "\r\n")
		if p.contentType != "" {
			b.WriteString("Content-Type: " + p.contentType + "\r\n")
		}
		switch p.cte {
		case "":
			b.WriteString("Content-Transfer-Encoding: binary\r\n")
		case "-":
		default:
			b.WriteString("Content-Transfer-Encoding: " + p.cte + "\r\n")
		}
		b.WriteString("X-Experience-API-Hash: " + p.hash + "\r\n\r\n" + p.data)
	}
	b.WriteString("\r\n--" + boundary + "--\r\n")
	return b.String()
}

// attachment is the metadata of an attachment with the given data.
func attachment(usage, ct, data string) map[string]any {
	return map[string]any{
		"usageType":   usage,
		"display":     map[string]any{"en-US": "an attachment"},
		"contentType": ct,
		"length":      len(data),
		"sha2":        sha(data),
	}
}

const usageDoc = "http://example.com/attachment-usage/test"

// stmtWith returns a statement with the given attachments.
func stmtWith(id string, atts ...map[string]any) map[string]any {
	m := map[string]any{
		"actor":  map[string]any{"objectType": "Agent", "mbox": "mailto:att@example.com"},
		"verb":   map[string]any{"id": "http://adlnet.gov/expapi/verbs/attempted", "display": map[string]any{"en-US": "attempted"}},
		"object": map[string]any{"id": "http://example.com/act/attachments"},
	}
	if id != "" {
		m["id"] = id
	}
	if len(atts) > 0 {
		list := make([]any, len(atts))
		for i, a := range atts {
			list[i] = a
		}
		m["attachments"] = list
	}
	return m
}

func js(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// gotPart is one part of a multipart response.
type gotPart struct {
	contentType, cte, hash string
	data                   []byte
}

// readMultipart splits a multipart/mixed response.
func readMultipart(t *testing.T, r resp) []gotPart {
	t.Helper()
	mt, params, err := mime.ParseMediaType(r.header.Get("Content-Type"))
	if err != nil || mt != "multipart/mixed" {
		t.Fatalf("Content-Type %q is not multipart/mixed", r.header.Get("Content-Type"))
	}
	mr := multipart.NewReader(bytes.NewReader(r.body), params["boundary"])
	var out []gotPart
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("response part %d: %v", len(out)+1, err)
		}
		data, err := io.ReadAll(p)
		if err != nil {
			t.Fatalf("response part %d: %v", len(out)+1, err)
		}
		out = append(out, gotPart{
			contentType: p.Header.Get("Content-Type"), cte: p.Header.Get("Content-Transfer-Encoding"),
			hash: p.Header.Get("X-Experience-API-Hash"), data: data,
		})
	}
}

// checkBodies checks that the attachment parts of a response are exactly
// want (by hash), byte-exact, each once.
func checkBodies(t *testing.T, parts []gotPart, want map[string]string) {
	t.Helper()
	if len(parts) == 0 || parts[0].contentType != "application/json" {
		t.Fatalf("the first part is not the statements JSON: %+v", parts)
	}
	got := map[string]int{}
	for _, p := range parts[1:] {
		got[p.hash]++
		data, ok := want[p.hash]
		if !ok {
			t.Errorf("unexpected part with hash %s", p.hash)
			continue
		}
		if !bytes.Equal(p.data, []byte(data)) {
			t.Errorf("part %s: got %q, want %q", p.hash, p.data, data)
		}
		if p.cte != "binary" {
			t.Errorf("part %s: Content-Transfer-Encoding %q", p.hash, p.cte)
		}
	}
	for h := range want {
		if got[h] != 1 {
			t.Errorf("part %s sent %d times, want once", h, got[h])
		}
	}
}

func TestAttachmentsPostPutGet(t *testing.T) {
	e := newEnv(t)
	text := "Hello, attachments!\r\n--not-a-boundary\r\n"
	binary := string([]byte{0, 1, 2, 0xff, 0xfe, '\r', '\n', 0})
	shared := "shared by two statements"

	// POST one statement with one part.
	id1 := uuid.NewString()
	r := e.expect(200, req{method: "POST", path: "/xapi/statements", header: multipartCT,
		body: multipartBody(js(t, stmtWith(id1, attachment(usageDoc, "text/plain", text))), bin("text/plain", text))})
	if !strings.Contains(string(r.body), id1) {
		t.Errorf("POST answered %s", r.body)
	}

	// POST a batch: two statements share an attachment, sent once; one
	// attachment uses a fileUrl and has no part.
	id2, id3 := uuid.NewString(), uuid.NewString()
	withURL := attachment(usageDoc, "text/html", "<p>remote</p>")
	withURL["fileUrl"] = "http://example.com/remote.html"
	batch := []any{
		stmtWith(id2, attachment(usageDoc, "application/octet-stream", binary), attachment(usageDoc, "text/plain", shared)),
		stmtWith(id3, attachment(usageDoc, "text/plain", shared), withURL),
	}
	e.expect(200, req{method: "POST", path: "/xapi/statements", header: multipartCT,
		body: multipartBody(js(t, batch), bin("application/octet-stream", binary), bin("text/plain", shared))})

	// PUT with a part (no Content-Transfer-Encoding: binary is assumed).
	id4 := uuid.NewString()
	put := "put body"
	p := bin("text/plain", put)
	p.cte = "-"
	e.expect(204, req{method: "PUT", path: "/xapi/statements?statementId=" + id4, header: multipartCT,
		body: multipartBody(js(t, stmtWith("", attachment(usageDoc, "text/plain", put))), p)})

	// GET one statement with its attachment.
	r = e.expect(200, req{method: "GET", path: "/xapi/statements?attachments=true&statementId=" + id1})
	checkBodies(t, readMultipart(t, r), map[string]string{sha(text): text})
	r = e.expect(200, req{method: "GET", path: "/xapi/statements?attachments=true&statementId=" + id4})
	checkBodies(t, readMultipart(t, r), map[string]string{sha(put): put})

	// A query: every distinct body once, none for the fileUrl attachment.
	r = e.expect(200, req{method: "GET", path: "/xapi/statements?attachments=true"})
	parts := readMultipart(t, r)
	checkBodies(t, parts, map[string]string{sha(text): text, sha(binary): binary, sha(shared): shared, sha(put): put})
	var res struct{ Statements []map[string]any }
	if err := json.Unmarshal(parts[0].data, &res); err != nil || len(res.Statements) != 4 {
		t.Fatalf("statements part: %v, %d statements", err, len(res.Statements))
	}
	for _, p := range parts[1:] {
		if p.hash == sha(text) && p.contentType != "text/plain" {
			t.Errorf("part %s Content-Type %q", p.hash, p.contentType)
		}
	}

	// Without attachments=true: plain JSON.
	r = e.expect(200, req{method: "GET", path: "/xapi/statements?statementId=" + id1})
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
}

func TestAttachmentsRejected(t *testing.T) {
	e := newEnv(t)
	data := "the attachment data"
	one := js(t, stmtWith("", attachment(usageDoc, "text/plain", data)))
	cases := []struct {
		name   string
		r      req
		status int
		msg    string
	}{
		{"missing part", req{method: "POST", path: "/xapi/statements", header: multipartCT,
			body: multipartBody(one)}, 400, "missing part for attachment sha2 " + sha(data)},
		{"missing part in JSON", req{method: "POST", path: "/xapi/statements", body: one}, 400, "missing part"},
		{"missing part PUT", req{method: "PUT", path: "/xapi/statements?statementId=" + uuid.NewString(), header: multipartCT,
			body: multipartBody(one)}, 400, "missing part"},
		{"extra part", req{method: "POST", path: "/xapi/statements", header: multipartCT,
			body: multipartBody(one, bin("text/plain", data), bin("text/plain", "unreferenced"))}, 400, "extra part"},
		{"hash mismatch", req{method: "POST", path: "/xapi/statements", header: multipartCT,
			body: multipartBody(one, part{contentType: "text/plain", hash: sha(data), data: data + "!"})}, 400, "hashes to"},
		{"no hash header", req{method: "POST", path: "/xapi/statements", header: multipartCT,
			body: multipartBody(one, part{contentType: "text/plain", data: data})}, 400, "X-Experience-API-Hash"},
		{"not binary", req{method: "POST", path: "/xapi/statements", header: multipartCT,
			body: multipartBody(one, part{contentType: "text/plain", hash: sha(data), data: data, cte: "base64"})}, 400, "binary"},
		{"truncated", req{method: "POST", path: "/xapi/statements", header: multipartCT,
			body: strings.TrimSuffix(multipartBody(one, bin("text/plain", data)), "\r\n--"+boundary+"--\r\n")}, 400, "truncated"},
		{"truncated in statements", req{method: "POST", path: "/xapi/statements", header: multipartCT,
			body: "--" + boundary + "\r\nContent-Type: application/json\r\n\r\n" + one}, 400, "truncated"},
		{"no parts", req{method: "POST", path: "/xapi/statements", header: multipartCT,
			body: "--" + boundary + "--\r\n"}, 400, "no parts"},
		{"no boundary", req{method: "POST", path: "/xapi/statements", header: []string{"Content-Type", "multipart/mixed"},
			body: multipartBody(one)}, 400, "boundary"},
		{"first part not JSON", req{method: "POST", path: "/xapi/statements", header: multipartCT,
			body: strings.Replace(multipartBody(one, bin("text/plain", data)), "application/json", "text/plain", 1)}, 400, "application/json"},
		{"garbage", req{method: "POST", path: "/xapi/statements", header: multipartCT,
			body: "this is not multipart at all"}, 400, "multipart/mixed"},
		{"too large", req{method: "POST", path: "/xapi/statements", header: multipartCT,
			body: multipartBody(one, bin("text/plain", strings.Repeat("x", 100<<10)))}, 413, "exceeds"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.expect(c.status, c.r)
			if _, msg := errorCode(t, r); !strings.Contains(msg, c.msg) {
				t.Errorf("message %q does not contain %q", msg, c.msg)
			}
		})
	}
	// Nothing was stored.
	r := e.expect(200, req{method: "GET", path: "/xapi/statements"})
	if strings.Contains(string(r.body), "attachments") {
		t.Errorf("a rejected statement was stored: %s", r.body)
	}
}

func TestAttachmentsAccepted(t *testing.T) {
	e := newEnv(t)
	withURL := attachment(usageDoc, "text/plain", "remote")
	withURL["fileUrl"] = "http://example.com/remote.txt"
	// fileUrl only, as application/json.
	e.expect(200, req{method: "POST", path: "/xapi/statements", body: js(t, stmtWith("", withURL))})
	// fileUrl only, and no attachments at all, as multipart/mixed.
	e.expect(200, req{method: "POST", path: "/xapi/statements", header: multipartCT, body: multipartBody(js(t, stmtWith("", withURL)))})
	e.expect(200, req{method: "POST", path: "/xapi/statements", header: multipartCT, body: multipartBody(js(t, stmtWith("")))})
	// A fileUrl attachment may also come with its data.
	e.expect(200, req{method: "POST", path: "/xapi/statements", header: multipartCT,
		body: multipartBody(js(t, stmtWith("", withURL)), bin("text/plain", "remote"))})
	// A multipart body sent as application/octet-stream (@xapi/xapi under
	// Node.js) is read with the boundary of its first line.
	sniffed := "sent by a library"
	octet := []string{"Content-Type", "application/octet-stream"}
	e.expect(200, req{method: "POST", path: "/xapi/statements", header: octet,
		body: multipartBody(js(t, stmtWith("", attachment(usageDoc, "text/plain", sniffed))), bin("text/plain", sniffed))})
	r := e.expect(400, req{method: "POST", path: "/xapi/statements", header: octet, body: js(t, stmtWith(""))})
	if _, msg := errorCode(t, r); !strings.Contains(msg, "application/octet-stream") {
		t.Errorf("octet-stream JSON: %s", msg)
	}
	// A part may carry the same data twice, and a PUT may be repeated.
	data := "sent twice"
	id := uuid.NewString()
	body := multipartBody(js(t, stmtWith("", attachment(usageDoc, "text/plain", data))), bin("text/plain", data), bin("text/plain", data))
	e.expect(204, req{method: "PUT", path: "/xapi/statements?statementId=" + id, header: multipartCT, body: body})
	e.expect(204, req{method: "PUT", path: "/xapi/statements?statementId=" + id, header: multipartCT, body: body})
	r = e.expect(200, req{method: "GET", path: "/xapi/statements?attachments=true&statementId=" + id})
	checkBodies(t, readMultipart(t, r), map[string]string{sha(data): data})
}

// countingStore counts the bodies an engine did not hold yet when asked to
// store them.
type countingStore struct {
	lrs.AttachmentStore
	mu     sync.Mutex
	stored map[string]int
}

func (c *countingStore) PutAttachments(ctx context.Context, org string, atts []lrs.AttachmentBody) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range atts {
		had, err := c.GetAttachments(ctx, org, []string{a.SHA2})
		if err != nil {
			return err
		}
		if _, ok := had[a.SHA2]; !ok {
			c.stored[a.SHA2]++
		}
	}
	return c.AttachmentStore.PutAttachments(ctx, org, atts)
}

func TestAttachmentsStoredOnce(t *testing.T) {
	st := openStore(t)
	counter := &countingStore{AttachmentStore: st.(lrs.AttachmentStore), stored: map[string]int{}}
	svc := lrs.NewService(st, lrs.ServiceOptions{Attachments: counter})
	e := newEnv(t, func(o *api.Options) { o.Service = svc })
	data := "the same body, twice"
	for range 2 {
		e.expect(200, req{method: "POST", path: "/xapi/statements", header: multipartCT,
			body: multipartBody(js(t, stmtWith("", attachment(usageDoc, "text/plain", data))), bin("text/plain", data))})
	}
	if n := counter.stored[sha(data)]; n != 1 {
		t.Errorf("the body was newly stored %d times, want 1", n)
	}
	r := e.expect(200, req{method: "GET", path: "/xapi/statements?attachments=true"})
	parts := readMultipart(t, r)
	checkBodies(t, parts, map[string]string{sha(data): data})
	if !strings.Contains(string(parts[0].data), sha(data)) || strings.Count(string(parts[0].data), `"sha2"`) != 2 {
		t.Errorf("statements part: %s", parts[0].data)
	}
}

// ---- signed statements ----

const (
	usageSignature = "http://adlnet.gov/expapi/attachments/signature"
	octetStream    = "application/octet-stream"
)

type signer struct {
	key  *rsa.PrivateKey
	cert []byte // DER
}

// newSigner generates an RSA key and a self-signed certificate.
func newSigner(t *testing.T) *signer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "lrs test signer"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &signer{key: key, cert: der}
}

// jws signs payload; alg names the header's algorithm (RS256, RS384 or
// RS512 sign for real, anything else signs with SHA-256).
func (s *signer) jws(t *testing.T, alg string, x5c bool, payload []byte) string {
	t.Helper()
	hdr := map[string]any{"alg": alg}
	if x5c {
		hdr["x5c"] = []string{base64.StdEncoding.EncodeToString(s.cert)}
	}
	input := base64.RawURLEncoding.EncodeToString([]byte(js(t, hdr))) + "." + base64.RawURLEncoding.EncodeToString(payload)
	h := map[string]crypto.Hash{"RS384": crypto.SHA384, "RS512": crypto.SHA512}[alg]
	if h == 0 {
		h = crypto.SHA256
	}
	hh := h.New()
	hh.Write([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.key, h, hh.Sum(nil))
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// signedRequest returns a POST of statement st with signature jws.
func signedRequest(t *testing.T, st map[string]any, jws string) req {
	t.Helper()
	signed := map[string]any{}
	for k, v := range st {
		signed[k] = v
	}
	list, _ := signed["attachments"].([]any)
	signed["attachments"] = append(append([]any{}, list...), attachment(usageSignature, octetStream, jws))
	return req{method: "POST", path: "/xapi/statements", header: multipartCT,
		body: multipartBody(js(t, signed), bin(octetStream, jws))}
}

func TestSignedStatements(t *testing.T) {
	e := newEnv(t)
	s := newSigner(t)
	other := newSigner(t)

	st := stmtWith(uuid.NewString())
	payload := []byte(js(t, st))

	t.Run("valid RS256 with x5c", func(t *testing.T) {
		e.expect(200, signedRequest(t, st, s.jws(t, "RS256", true, payload)))
	})
	t.Run("valid RS512 with x5c and no id", func(t *testing.T) {
		st := stmtWith("")
		e.expect(200, signedRequest(t, st, s.jws(t, "RS512", true, []byte(js(t, st)))))
	})
	t.Run("valid without x5c", func(t *testing.T) {
		st := stmtWith(uuid.NewString())
		e.expect(200, signedRequest(t, st, s.jws(t, "RS384", false, []byte(js(t, st)))))
	})
	t.Run("with another attachment", func(t *testing.T) {
		data := "a signed report"
		st := stmtWith(uuid.NewString(), attachment(usageDoc, "text/plain", data))
		r := signedRequest(t, st, s.jws(t, "RS256", true, []byte(js(t, st))))
		r.body = strings.TrimSuffix(r.body, "\r\n--"+boundary+"--\r\n") +
			"\r\n--" + boundary + "\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: binary\r\nX-Experience-API-Hash: " + sha(data) + "\r\n\r\n" + data +
			"\r\n--" + boundary + "--\r\n"
		e.expect(200, r)
	})

	// The ADL suite's case: the statement's duration has more digits than
	// the signed one's; they agree to the hundredth of a second.
	withDuration := func(d string) map[string]any {
		st := stmtWith("")
		st["result"] = map[string]any{"duration": d}
		return st
	}
	t.Run("duration finer than the signed one", func(t *testing.T) {
		st := withDuration("P1DT12H36M0.1237S")
		st["id"] = uuid.NewString()
		e.expect(200, signedRequest(t, st, s.jws(t, "RS256", true, []byte(js(t, withDuration("P1DT12H36M0.12S"))))))
	})

	bad := []struct {
		name string
		r    req
		msg  string
	}{
		{"duration a hundredth off the signed one", func() req {
			st := withDuration("P1DT12H36M0.13S")
			st["id"] = uuid.NewString()
			return signedRequest(t, st, s.jws(t, "RS256", true, []byte(js(t, withDuration("P1DT12H36M0.1237S")))))
		}(), "signature payload does not match the statement"},
		{"wrong alg", signedRequest(t, stmtWith(uuid.NewString()), s.jws(t, "HS256", true, payload)), "RS256, RS384 or RS512"},
		{"no alg", signedRequest(t, stmtWith(uuid.NewString()), s.jws(t, "", false, payload)), "algorithm"},
		{"tampered payload", func() req {
			st := stmtWith(uuid.NewString())
			tampered := stmtWith("")
			tampered["verb"] = map[string]any{"id": "http://adlnet.gov/expapi/verbs/passed"}
			return signedRequest(t, st, s.jws(t, "RS256", true, []byte(js(t, tampered))))
		}(), "signature payload does not match the statement"},
		{"tampered payload without x5c", func() req {
			st := stmtWith(uuid.NewString())
			tampered := stmtWith("")
			tampered["object"] = map[string]any{"id": "http://example.com/act/other"}
			return signedRequest(t, st, s.jws(t, "RS256", false, []byte(js(t, tampered))))
		}(), "signature payload does not match the statement"},
		{"payload not a statement", signedRequest(t, stmtWith(uuid.NewString()), s.jws(t, "RS256", true, []byte(`{"hello":1}`))), "does not match"},
		{"bad signature", func() req {
			st := stmtWith(uuid.NewString())
			j := s.jws(t, "RS256", true, []byte(js(t, st)))
			dot := strings.LastIndexByte(j, '.')
			sig, _ := base64.RawURLEncoding.DecodeString(j[dot+1:])
			sig[10] ^= 0xff
			return signedRequest(t, st, j[:dot+1]+base64.RawURLEncoding.EncodeToString(sig))
		}(), "does not verify"},
		{"signed by another key", func() req {
			st := stmtWith(uuid.NewString())
			j := other.jws(t, "RS256", false, []byte(js(t, st)))
			hdr := base64.RawURLEncoding.EncodeToString([]byte(js(t, map[string]any{"alg": "RS256", "x5c": []string{base64.StdEncoding.EncodeToString(s.cert)}})))
			return signedRequest(t, st, hdr+j[strings.IndexByte(j, '.'):])
		}(), "does not verify"},
		{"not a JWS", signedRequest(t, stmtWith(uuid.NewString()), "not-a-jws"), "JWS Compact Serialization"},
		{"bad x5c", func() req {
			st := stmtWith(uuid.NewString())
			j := s.jws(t, "RS256", false, []byte(js(t, st)))
			hdr := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","x5c":["AAAA"]}`))
			return signedRequest(t, st, hdr+j[strings.IndexByte(j, '.'):])
		}(), "certificate"},
		{"wrong contentType", func() req {
			st := stmtWith(uuid.NewString())
			j := s.jws(t, "RS256", true, []byte(js(t, st)))
			signed := stmtWith(st["id"].(string), attachment(usageSignature, "text/plain", j))
			return req{method: "POST", path: "/xapi/statements", header: multipartCT, body: multipartBody(js(t, signed), bin("text/plain", j))}
		}(), "application/octet-stream"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			r := e.expect(400, c.r)
			if _, msg := errorCode(t, r); !strings.Contains(msg, c.msg) {
				t.Errorf("message %q does not contain %q", msg, c.msg)
			}
		})
	}
}
