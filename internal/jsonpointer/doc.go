// Package jsonpointer parses JSON pointers (RFC 6901), such as
// "/spec/replicas", and removes the fields they name from decoded JSON
// objects: the one implementation of the ignore rules of package apply and
// of the drift ignore rules of package helmrelease.
package jsonpointer
