"""Bank statements: MT940 files pulled daily over SFTP, validated, deduplicated, published and reconciled.

Modules: `settings` (BankSettings, the `bank` branch of the settings tree, LG_BANK__*), `sftp_fetch`
(pinned-key SFTP, stable files, archive moves), `framing` + `mt940_parse` (decode Big5/UTF-8, split the file
into messages, read tags and fields), `fields` (SWIFT field formats), `currency` (ISO 4217 decimals),
`details` (structured :86: sub-fields), `pages` (statements split over several messages), `validate`
(per-statement and per-file rules, what is tolerated and what is fatal), `dedup` (seen-statement store in
PostgreSQL), `exceptions_log` (rejection records), `importer` (all-or-nothing import), `pull` (one pull end
to end), `schedule` (06:00 Asia/Taipei loop), `publish` (accepted files and rejections to Kafka), `service`
(the running import: `python -m connectors.bank`), `statement` (typed result + JSON), `book_payments`
(w500.payment_record loader), `reconcile` (bank vs book matching), `measure_throughput` (timing script).
"""
