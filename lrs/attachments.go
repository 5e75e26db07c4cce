package lrs

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"strings"

	"github.com/lrs-project/lrs/schema"
)

// AttachmentBody is the raw data of one attachment, known by its SHA-2
// (lower-case hex, as in the attachment's sha2 property).
type AttachmentBody struct {
	SHA2        string
	ContentType string
	Data        []byte
}

// AttachmentStore keeps attachment bodies, once per (organization, sha2).
// Every engine implements it next to Store.
type AttachmentStore interface {
	// PutAttachments stores bodies. Idempotent by SHA2: a body whose SHA2 is
	// already stored in the organization is not stored again (the first
	// one stays). Engines may refuse bodies too large for them (ETOOLARGE).
	PutAttachments(ctx context.Context, org string, atts []AttachmentBody) error

	// GetAttachments returns the stored bodies among sha2s, keyed by SHA2.
	// Missing ones are simply absent from the map.
	GetAttachments(ctx context.Context, org string, sha2s []string) (map[string]AttachmentBody, error)
}

// SignatureUsageType is the usageType of a JWS signature attachment.
const SignatureUsageType = "http://adlnet.gov/expapi/attachments/signature"

// signatureContentType is the contentType a signature attachment must have.
const signatureContentType = "application/octet-stream"

// checkAttachments applies the attachment rules and returns the distinct
// bodies to store.
func (s *Service) checkAttachments(stmts []*schema.Statement, v schema.Version, parts []AttachmentBody) ([]AttachmentBody, error) {
	byHash := make(map[string]AttachmentBody, len(parts))
	order := make([]string, 0, len(parts))
	for i, p := range parts {
		h := strings.ToLower(strings.TrimSpace(p.SHA2))
		if h == "" {
			return nil, Errorf(EINVALID, "attachment part %d has no X-Experience-API-Hash", i+1)
		}
		sum, err := hashHex(h, p.Data)
		if err != nil {
			return nil, Errorf(EINVALID, "attachment part %d: %s", i+1, err.Error())
		}
		if sum != h {
			return nil, Errorf(EINVALID, "attachment part %d: its data hashes to %s, not to its X-Experience-API-Hash %s", i+1, sum, h)
		}
		if _, dup := byHash[h]; !dup {
			p.SHA2 = h
			byHash[h] = p
			order = append(order, h)
		}
	}

	used := make(map[string]bool, len(byHash))
	for i, st := range stmts {
		for j, a := range st.Attachments() {
			h := strings.ToLower(a.SHA2)
			part, ok := byHash[h]
			if ok {
				used[h] = true
				if part.ContentType == "" {
					part.ContentType = a.ContentType
					byHash[h] = part
				}
			}
			if a.UsageType == SignatureUsageType {
				if a.ContentType != signatureContentType {
					return nil, Errorf(EINVALID, "$[%d].attachments[%d]: a signature attachment must have contentType %s, not %q", i, j, signatureContentType, a.ContentType)
				}
				if ok {
					if err := schema.VerifySignature(st, part.Data, v); err != nil {
						return nil, Errorf(EINVALID, "$[%d].attachments[%d]: signature: %s", i, j, err.Error())
					}
				}
			}
			if !ok && a.FileURL == "" {
				return nil, Errorf(EINVALID, "$[%d].attachments[%d]: missing part for attachment sha2 %s (an attachment without fileUrl needs its data in a multipart/mixed part)", i, j, a.SHA2)
			}
		}
	}
	out := make([]AttachmentBody, 0, len(order))
	for _, h := range order {
		if !used[h] {
			return nil, Errorf(EINVALID, "extra part: the attachment part with X-Experience-API-Hash %s matches no attachment of the statements", h)
		}
		out = append(out, byHash[h])
	}
	return out, nil
}

// hashHex hashes data with the SHA-2 function whose hex length is that of
// want (SHA-256, SHA-384 or SHA-512).
func hashHex(want string, data []byte) (string, error) {
	var h hash.Hash
	switch len(want) {
	case 64:
		h = sha256.New()
	case 96:
		h = sha512.New384()
	case 128:
		h = sha512.New()
	default:
		return "", fmt.Errorf("the hash %q is not a hex SHA-256, SHA-384 or SHA-512", want)
	}
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// AttachmentsFor returns the distinct stored bodies of the attachments of
// statements (stored statements, format=exact), in order of first use, for a
// response with attachments=true. Attachments whose body was never received
// (fileUrl only) are left out.
func (s *Service) AttachmentsFor(ctx context.Context, org string, statements [][]byte) ([]AttachmentBody, error) {
	seen := map[string]bool{}
	var want []string
	for _, raw := range statements {
		var st struct {
			Attachments []struct {
				SHA2 string `json:"sha2"`
			} `json:"attachments"`
		}
		if err := json.Unmarshal(raw, &st); err != nil {
			return nil, fmt.Errorf("read attachments of a stored statement: %w", err)
		}
		for _, a := range st.Attachments {
			h := strings.ToLower(a.SHA2)
			if h != "" && !seen[h] {
				seen[h] = true
				want = append(want, h)
			}
		}
	}
	if len(want) == 0 || s.attachments == nil {
		return nil, nil
	}
	got, err := s.attachments.GetAttachments(ctx, org, want)
	if err != nil {
		return nil, fmt.Errorf("get attachments: %w", err)
	}
	out := make([]AttachmentBody, 0, len(got))
	for _, h := range want {
		if b, ok := got[h]; ok {
			out = append(out, b)
		}
	}
	return out, nil
}
