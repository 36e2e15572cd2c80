package sops

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

// markers are what every file the sops command encrypts holds, by
// format: the MAC entry of its metadata.
var markers = [][]byte{
	[]byte("mac: ENC["),     // YAML
	[]byte(`"mac": "ENC[`),  // JSON and binary (a JSON envelope)
	[]byte("sops_mac=ENC["), // dotenv
}

// IsEncryptedFile says whether data is a file the sops command encrypted
// (YAML, JSON, binary or dotenv), as a Secret's data value of a
// secretGenerator's files holds one.
func IsEncryptedFile(data []byte) bool {
	for _, m := range markers {
		if bytes.Contains(data, m) {
			return true
		}
	}
	return false
}

// DecryptFile decrypts a file the sops command encrypted, named name (a
// Secret's data key: its extension says the format to write, as in
// Flux): a dotenv file (KEY=VALUE lines) stays dotenv; a binary file
// (sops's {"data": …} envelope) gives back its bytes, unless name ends in
// .json, .yaml or .yml; a YAML or JSON document is written as JSON when
// name ends in .json or is .dockerconfigjson, as YAML otherwise. Comments
// and the order of a YAML or JSON document's keys are not kept. INI files
// are an [ErrUnsupported].
func (k *Keys) DecryptFile(name string, data []byte) ([]byte, error) {
	if bytes.Contains(data, markers[2]) {
		return k.decryptDotenvFile(data)
	}
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("[")) {
		return nil, fmt.Errorf("%w: %s looks like an INI file", ErrUnsupported, name)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%w: %s is no YAML, JSON or dotenv document", ErrInvalid, name)
	}
	plain, err := k.Decrypt(doc)
	if err != nil {
		return nil, err
	}
	ext := path.Ext(name)
	if s, ok := plain["data"].(string); ok && len(plain) == 1 && ext != ".json" && ext != ".yaml" && ext != ".yml" {
		return []byte(s), nil
	}
	if ext == ".json" || name == ".dockerconfigjson" {
		return json.Marshal(plain)
	}
	return yaml.Marshal(plain)
}

// dotenvPrefix starts the entries of a dotenv file's SOPS metadata.
const dotenvPrefix = "sops_"

// IsEncryptedDotenv says whether entries are the KEY=VALUE pairs of a
// dotenv file the sops command encrypted, as a secretGenerator's envs
// make the data of a Secret of one.
func IsEncryptedDotenv(entries map[string]string) bool {
	return strings.HasPrefix(entries[dotenvPrefix+"mac"], "ENC[")
}

// DecryptDotenv decrypts the entries of a dotenv file the sops command
// encrypted, and leaves out its metadata entries (sops_*).
func (k *Keys) DecryptDotenv(entries map[string]string) (map[string]string, error) {
	plain, _, err := k.decryptDotenv(entries)
	return plain, err
}

func (k *Keys) decryptDotenv(entries map[string]string) (map[string]string, *decrypter, error) {
	doc := map[string]any{}
	meta := map[string]string{}
	for key, v := range entries {
		if name, ok := strings.CutPrefix(key, dotenvPrefix); ok {
			meta[name] = strings.ReplaceAll(v, `\n`, "\n")
			continue
		}
		doc[key] = v
	}
	md, err := unflatten(meta)
	if err != nil {
		return nil, nil, err
	}
	d, err := k.decrypter(md)
	if err != nil {
		return nil, nil, err
	}
	out := make(map[string]string, len(doc))
	for _, key := range sortedKeys(doc) {
		v, err := d.value(doc[key], []string{key})
		if err != nil {
			return nil, nil, err
		}
		s, ok := v.(string)
		if !ok {
			return nil, nil, fmt.Errorf("%w: dotenv entry %s decrypts to a %T", ErrInvalid, key, v)
		}
		out[key] = s
	}
	return out, d, nil
}

// decryptDotenvFile decrypts a dotenv file, keeping its order and its
// comments (decrypted when sops encrypted them).
func (k *Keys) decryptDotenvFile(data []byte) ([]byte, error) {
	lines := strings.Split(string(data), "\n")
	entries := map[string]string{}
	for i, line := range lines {
		if line == "" || line[0] == '#' {
			continue
		}
		key, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%w: dotenv line %d has no '='", ErrInvalid, i+1)
		}
		if _, dup := entries[key]; dup {
			return nil, fmt.Errorf("%w: dotenv key %s twice", ErrInvalid, key)
		}
		entries[key] = v
	}
	plain, d, err := k.decryptDotenv(entries)
	if err != nil {
		return nil, err
	}
	var out strings.Builder
	for _, line := range lines {
		switch {
		case line == "":
		case line[0] == '#':
			comment := line[1:]
			if encForm.MatchString(comment) {
				v, err := d.open(comment, nil)
				if err != nil {
					return nil, err
				}
				comment = v.(string)
			}
			out.WriteString("#" + comment + "\n")
		default:
			key, _, _ := strings.Cut(line, "=")
			if v, ok := plain[key]; ok {
				out.WriteString(key + "=" + strings.ReplaceAll(v, "\n", `\n`) + "\n")
			}
		}
	}
	return []byte(out.String()), nil
}

// flatToken splits a flattened metadata key ("age__list_0__map_enc").
var flatToken = regexp.MustCompile(`__(list|map)_`)

// unflatten rebuilds the metadata map of a dotenv file from its entries:
// sops writes a nested key as its path, maps joined by "__map_" and list
// positions by "__list_N".
func unflatten(flat map[string]string) (map[string]any, error) {
	root := map[string]any{}
	for key, v := range flat {
		bounds := flatToken.FindAllStringSubmatchIndex(key, -1)
		parts := []string{}
		kinds := []string{"map"}
		last := 0
		for _, b := range bounds {
			parts = append(parts, key[last:b[0]])
			kinds = append(kinds, key[b[2]:b[3]])
			last = b[1]
		}
		parts = append(parts, key[last:])
		if _, err := place(root, parts, kinds, v); err != nil {
			return nil, fmt.Errorf("%w: dotenv metadata %s%s: %w", ErrInvalid, dotenvPrefix, key, err)
		}
	}
	return root, nil
}

// place sets the value at the path of parts (each a map key or, where
// kinds says "list", a list position) in node, making maps and lists on
// the way, and returns node.
func place(node any, parts, kinds []string, v string) (any, error) {
	const maxList = 1 << 10
	if len(parts) == 0 {
		return v, nil
	}
	switch kinds[0] {
	case "map":
		m, ok := node.(map[string]any)
		if node == nil {
			m, ok = map[string]any{}, true
		}
		if !ok {
			return nil, fmt.Errorf("both a list and a map")
		}
		child, err := place(m[parts[0]], parts[1:], kinds[1:], v)
		if err != nil {
			return nil, err
		}
		m[parts[0]] = child
		return m, nil
	default:
		i, err := strconv.Atoi(parts[0])
		if err != nil || i < 0 || i >= maxList {
			return nil, fmt.Errorf("list position %q", parts[0])
		}
		l, ok := node.([]any)
		if node == nil {
			l, ok = nil, true
		}
		if !ok {
			return nil, fmt.Errorf("both a map and a list")
		}
		for len(l) <= i {
			l = append(l, nil)
		}
		child, err := place(l[i], parts[1:], kinds[1:], v)
		if err != nil {
			return nil, err
		}
		l[i] = child
		return l, nil
	}
}
