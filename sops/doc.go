// Package sops decrypts Kubernetes objects encrypted with SOPS
// (https://getsops.io), as Flux's kustomize-controller does for a
// Kustomization with spec.decryption.provider "sops", with the age and
// OpenPGP private keys of a decryption Secret.
//
// # Keys
//
// [ParseKeys] reads the data of a Flux decryption Secret: an entry whose
// name ends in ".agekey" holds age identities (AGE-SECRET-KEY-1…, one per
// line, # comments), one ending in ".asc" an armored OpenPGP private key.
// Flux's entries for cloud key services (sops.aws-kms, sops.azure-kv,
// sops.gcp-kms, sops.vault-token) are ignored: decrypting with them would
// reach the network, and a document encrypted only for such services fails
// with [ErrNoKey].
//
// # Decryption
//
// [Keys.Decrypt] decrypts one document decoded from YAML or JSON (an
// object's map, as an unstructured.Unstructured of k8s.io/apimachinery
// holds it): the data key is
// opened with the first age or OpenPGP recipient the keys match, then each
// value the document's rules say is encrypted (encrypted_regex,
// unencrypted_suffix and the like) is opened with AES-256-GCM, which
// authenticates every value with its path; the "sops" metadata is removed.
// As in Flux, the document-wide MAC is not checked: it covers values in
// file order, which a kustomize build does not keep, and the labels and
// patches a build adds. A document whose data key is split between key
// groups (Shamir) fails with [ErrUnsupported].
//
// # Files
//
// A kustomize secretGenerator puts files in a Secret as they are in Git,
// encrypted or not. [Keys.DecryptFile] decrypts one such data value (a
// YAML, JSON, binary or dotenv file the sops command wrote;
// [IsEncryptedFile] tells them), and [Keys.DecryptDotenv] the entries a
// secretGenerator's envs make of an encrypted dotenv file, whose metadata
// arrives as sops_* entries ([IsEncryptedDotenv]).
//
// The decoder is written on filippo.io/age and ProtonMail/go-crypto rather
// than on SOPS's own packages, which bring every cloud key service's SDK,
// a gRPC key service and process-wide loggers into a program that imports
// them. Its compatibility is tested against documents encrypted with the
// sops command, v3.13.3.
//
// Errors never contain a decrypted value or a key.
package sops
