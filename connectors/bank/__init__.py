"""Bank statements: MT940 files pulled daily over SFTP, validated, deduplicated and reconciled.

Modules: `settings` (BankSettings, LG_BANK_*), `sftp_fetch` (pinned-key SFTP, stable files, archive moves),
`mt940_parse` (decode Big5/UTF-8, split statements, mt-940 library), `validate` (per-statement rules),
`dedup` (seen-statement store), `exceptions_log` (rejection records), `importer` (all-or-nothing import),
`pull` (one pull end to end), `schedule` (06:00 Asia/Taipei loop), `statement` (typed result + JSON),
`book_payments` (w500.payment_record loader), `reconcile` (bank vs book matching),
`measure_throughput` (timing script: statements parsed + validated per second).
"""
