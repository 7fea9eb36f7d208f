"""Report archive on Google Cloud Storage: compressed, client-side encrypted, versioned, lifecycle-managed.

Modules: `settings` (ArchiveSettings, LG_ARCHIVE_*), `keys` (KeyProvider protocol, Keyring from env or key
file, rotation by key id), `crypto` (gzip + AES-256-GCM sealing, metadata, verification), `naming` (object
names), `policy` (lifecycle rules, tax retention, bucket creation/alignment), `access_log` (JSONL log of every
access), `archive` (ReportArchive: put/get/versions/delete/ensure_buckets/link_for), `errors` (typed errors),
`local_fake_gcs` (fake-gcs-server as a local process, for tests and measurements), `measure_throughput`
(MB/s of put and get).
"""
