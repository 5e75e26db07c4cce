package forward

import "errors"

// ScanObject calls fn with each member of the JSON object raw, in order:
// its key as written (quotes included) and its value as written (without
// the spaces around it). It checks the object's shape (braces, strings,
// colons, commas, nothing after it), not the values' contents; an error of
// fn ends the scan and is returned. The obligations read three members of
// every stored statement with it, and the xAPI destination removes
// members from statements it sends: both without a decode.
func ScanObject(raw []byte, fn func(key, value []byte) error) error {
	i := jsonSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return ErrNotObject
	}
	i = jsonSpace(raw, i+1)
	if i < len(raw) && raw[i] == '}' {
		return jsonEnd(raw, i+1)
	}
	for {
		end, err := jsonStringEnd(raw, i)
		if err != nil {
			return err
		}
		key := raw[i:end]
		i = jsonSpace(raw, end)
		if i >= len(raw) || raw[i] != ':' {
			return ErrNotObject
		}
		vStart := jsonSpace(raw, i+1)
		vEnd, err := jsonValueEnd(raw, vStart)
		if err != nil {
			return err
		}
		if err := fn(key, raw[vStart:vEnd]); err != nil {
			return err
		}
		i = jsonSpace(raw, vEnd)
		switch {
		case i < len(raw) && raw[i] == ',':
			i = jsonSpace(raw, i+1)
		case i < len(raw) && raw[i] == '}':
			return jsonEnd(raw, i+1)
		default:
			return ErrNotObject
		}
	}
}

// ErrNotObject: ScanObject's input is not a JSON object.
var ErrNotObject = errors.New("not a JSON object")

// jsonEnd checks that only spaces follow b[i].
func jsonEnd(b []byte, i int) error {
	if jsonSpace(b, i) != len(b) {
		return ErrNotObject
	}
	return nil
}

func jsonSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// jsonStringEnd returns the end of the string starting at b[i].
func jsonStringEnd(b []byte, i int) (int, error) {
	if i >= len(b) || b[i] != '"' {
		return 0, ErrNotObject
	}
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1, nil
		}
	}
	return 0, ErrNotObject
}

// jsonValueEnd returns the end of the value starting at b[i].
func jsonValueEnd(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, ErrNotObject
	}
	switch b[i] {
	case '"':
		return jsonStringEnd(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				end, err := jsonStringEnd(b, i)
				if err != nil {
					return 0, err
				}
				i = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, nil
				}
			}
		}
		return 0, ErrNotObject
	default: // number, true, false, null
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
			j++
		}
		if j == i {
			return 0, ErrNotObject
		}
		return j, nil
	}
}
