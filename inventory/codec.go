package inventory

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// formatVersion is the version of the serialised form written by [Marshal].
const formatVersion = 1

// storeBelow is the size of serialised JSON below which [Marshal] stores it
// rather than compressing it.
const storeBelow = 16 << 10

// maxDecodedSize bounds what [Unmarshal] inflates, against corrupt or
// hostile input: far more than any inventory etcd can store compressed.
const maxDecodedSize = 64 << 20

// wire is the serialised form: entries grouped by group, version, kind and
// namespace, so that repeated parts are written once.
type wire struct {
	Format int         `json:"format"`
	Groups []wireGroup `json:"groups"`
}

type wireGroup struct {
	Group     string `json:"g,omitempty"`
	Version   string `json:"v"`
	Kind      string `json:"k"`
	Namespace string `json:"ns,omitempty"`
	// Objects are [name, hash, resourceVersion, fingerprint], the
	// fingerprint left out when empty (as format 1 wrote them before
	// fingerprints: readers of either ignore what they do not know).
	Objects [][]string `json:"o"`
}

// Marshal serialises the inventory's entries as gzip-compressed JSON (only
// stored, not compressed, when under 16 KiB, about 150 entries). The
// entries are sorted first (on a copy), so equal inventories give equal
// bytes. 10,000 entries take about 250 KiB, 350 KiB with fingerprints.
func Marshal(inv Inventory) ([]byte, error) {
	raw, err := json.Marshal(wire{Format: formatVersion, Groups: groupsOf(inv)})
	if err != nil {
		return nil, fmt.Errorf("inventory: encode: %w", err)
	}
	return gzipJSON(append(raw, '\n'))
}

// groupsOf returns the inventory's entries grouped for the wire, sorted (on
// a copy).
func groupsOf(inv Inventory) []wireGroup {
	sorted := Inventory{Entries: append([]Entry(nil), inv.Entries...)}
	sorted.Sort()
	groups := []wireGroup{}
	for _, e := range sorted.Entries {
		n := len(groups)
		if n == 0 || groups[n-1].Group != e.Group || groups[n-1].Version != e.Version ||
			groups[n-1].Kind != e.Kind || groups[n-1].Namespace != e.Namespace {
			groups = append(groups, wireGroup{Group: e.Group, Version: e.Version, Kind: e.Kind, Namespace: e.Namespace})
			n++
		}
		o := []string{e.Name, e.Hash, e.ResourceVersion}
		if e.Fingerprint != "" {
			o = append(o, e.Fingerprint)
		}
		groups[n-1].Objects = append(groups[n-1].Objects, o)
	}
	return groups
}

// entriesOf returns the entries of wire groups.
func entriesOf(groups []wireGroup) Inventory {
	var inv Inventory
	for _, g := range groups {
		for _, o := range g.Objects {
			var f [4]string // missing fields are empty
			copy(f[:], o)
			inv.Entries = append(inv.Entries, Entry{Group: g.Group, Version: g.Version, Kind: g.Kind,
				Namespace: g.Namespace, Name: f[0], Hash: f[1], ResourceVersion: f[2], Fingerprint: f[3]})
		}
	}
	return inv
}

// gzipJSON returns raw as a gzip stream.
func gzipJSON(raw []byte) ([]byte, error) {
	// A compressor costs hundreds of KiB of allocations (its window and
	// hash tables) whatever the input and level: a run of 1,000 small
	// units spent half of its allocations there. Small inventories are
	// stored (a gzip stream of one stored block, read by every version),
	// large ones compressed to fit.
	if len(raw) < storeBelow {
		return storedGzip(raw), nil
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(raw); err != nil {
		return nil, fmt.Errorf("inventory: compress: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("inventory: compress: %w", err)
	}
	return buf.Bytes(), nil
}

// storedGzip returns data as a gzip stream (RFC 1952) of one stored
// deflate block (RFC 1951, 3.2.4): no compressor, no allocation but the
// result. len(data) must be below 65,536.
func storedGzip(data []byte) []byte {
	out := make([]byte, 0, 10+5+len(data)+8)
	// Header: magic, deflate, no flags, no mtime, no extra flags, OS unknown.
	out = append(out, 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff)
	// The final block, stored: its length and the length's complement.
	n := uint16(len(data))
	out = append(out, 1)
	out = binary.LittleEndian.AppendUint16(out, n)
	out = binary.LittleEndian.AppendUint16(out, ^n)
	out = append(out, data...)
	// Trailer: CRC-32 and size of the data.
	out = binary.LittleEndian.AppendUint32(out, crc32.ChecksumIEEE(data))
	return binary.LittleEndian.AppendUint32(out, uint32(len(data)))
}

// ErrCorrupt is returned (wrapped) by [Unmarshal] for data that is not an
// inventory written by [Marshal].
var ErrCorrupt = errors.New("inventory: corrupt data")

// Unmarshal parses data written by [Marshal].
func Unmarshal(data []byte) (Inventory, error) {
	var w wire
	if err := gunzipJSON(data, &w); err != nil {
		return Inventory{}, err
	}
	if w.Format != formatVersion {
		return Inventory{}, fmt.Errorf("%w: format %d, want %d", ErrCorrupt, w.Format, formatVersion)
	}
	return entriesOf(w.Groups), nil
}

// gunzipJSON inflates data (at most maxDecodedSize bytes) and decodes the
// JSON in it into v; errors wrap [ErrCorrupt].
func gunzipJSON(data []byte, v any) error {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	raw, err := io.ReadAll(io.LimitReader(zr, maxDecodedSize+1))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if len(raw) > maxDecodedSize {
		return fmt.Errorf("%w: larger than %d bytes uncompressed", ErrCorrupt, maxDecodedSize)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return nil
}
