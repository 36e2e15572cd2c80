package source

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"testing"
)

// FuzzUntarGzip feeds arbitrary tar streams (gzip-compressed here, so that
// the fuzzer explores the tar format) to the extractor: it must never
// panic, never write outside the directory and never go over the limits.
func FuzzUntarGzip(f *testing.F) {
	seed := func(entries ...tar.Header) []byte {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, h := range entries {
			body := []byte("x")
			if h.Typeflag == tar.TypeReg {
				h.Size = int64(len(body))
			}
			_ = tw.WriteHeader(&h)
			if h.Typeflag == tar.TypeReg {
				_, _ = tw.Write(body)
			}
		}
		_ = tw.Close()
		return buf.Bytes()
	}
	f.Add(seed(tar.Header{Typeflag: tar.TypeReg, Name: "a/b.yaml", Mode: 0o644}))
	f.Add(seed(tar.Header{Typeflag: tar.TypeReg, Name: "../out", Mode: 0o644}))
	f.Add(seed(tar.Header{Typeflag: tar.TypeSymlink, Name: "l", Linkname: "../outside"},
		tar.Header{Typeflag: tar.TypeReg, Name: "l/x", Mode: 0o644}))
	f.Add(seed(tar.Header{Typeflag: tar.TypeDir, Name: "d/", Mode: 0o755},
		tar.Header{Typeflag: tar.TypeLink, Name: "d/h", Linkname: "../outside/f"}))
	f.Fuzz(func(t *testing.T, raw []byte) {
		base := t.TempDir()
		dir, outside := filepath.Join(base, "art"), filepath.Join(base, "outside")
		for _, d := range []string{dir, outside} {
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(outside, "f"), []byte("keep"), 0o644); err != nil {
			t.Fatal(err)
		}
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		_, _ = zw.Write(raw)
		_ = zw.Close()
		limits := Limits{MaxFiles: 20, MaxBytes: 1 << 16, MaxPackBytes: 1 << 20}
		_ = untarGzip(t.Context(), &gz, dir, limits)
		entries, err := os.ReadDir(outside)
		if err != nil || len(entries) != 1 {
			t.Fatalf("outside holds %v (%v), want only f", entries, err)
		}
		if b, _ := os.ReadFile(filepath.Join(outside, "f")); string(b) != "keep" {
			t.Fatalf("outside/f changed to %q", b)
		}
		if others, _ := os.ReadDir(base); len(others) != 2 {
			t.Fatalf("the base directory holds %v", others)
		}
		files, size := 0, int64(0)
		_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err != nil || p == dir || d.IsDir() {
				return nil
			}
			files++
			if fi, err := d.Info(); err == nil && fi.Mode().IsRegular() {
				size += fi.Size()
			}
			return nil
		})
		if files > limits.MaxFiles || size > limits.MaxBytes {
			t.Fatalf("extracted %d files, %d bytes: over the limits", files, size)
		}
	})
}
