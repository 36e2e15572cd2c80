package sops

import "errors"

var (
	// ErrNoKey: none of the keys opens the document's data key.
	ErrNoKey = errors.New("sops: no key given decrypts the document")
	// ErrInvalid: the document's metadata or an encrypted value is
	// malformed, or a value does not authenticate (it was altered, or
	// moved to another path).
	ErrInvalid = errors.New("sops: invalid encrypted document")
	// ErrInvalidKey: an entry of the key Secret is no usable key.
	ErrInvalidKey = errors.New("sops: invalid key")
	// ErrUnsupported: the document uses a feature this package does not
	// implement (a data key split between several key groups).
	ErrUnsupported = errors.New("sops: unsupported")
)
