package sops_test

import (
	"fmt"
	"log"
	"os"

	"sigs.k8s.io/yaml"

	"github.com/gitopskit/gitopskit/sops"
)

// Decrypt a Secret encrypted with `sops --encrypt --age …
// --encrypted-regex '^(data|stringData)$'`, with the key Flux would read
// from the Kustomization's spec.decryption.secretRef.
func ExampleKeys_Decrypt() {
	key, err := os.ReadFile("testdata/keys/age.agekey")
	if err != nil {
		log.Fatal(err)
	}
	keys, err := sops.ParseKeys(map[string][]byte{"age.agekey": key})
	if err != nil {
		log.Fatal(err)
	}
	encrypted, err := os.ReadFile("testdata/secret.age.yaml")
	if err != nil {
		log.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(encrypted, &doc); err != nil {
		log.Fatal(err)
	}
	fmt.Println("encrypted:", sops.IsEncrypted(doc))

	secret, err := keys.Decrypt(doc)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("encrypted:", sops.IsEncrypted(secret))
	fmt.Println(secret["stringData"])
	// Output:
	// encrypted: true
	// encrypted: false
	// map[password:s3cr3t-Pa55w0rd username:admin]
}
