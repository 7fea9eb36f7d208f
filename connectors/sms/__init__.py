"""SMS alerts through a Taiwan Mobile-style REST gateway (protocol: gateway_openapi.yaml).

Modules: `settings` (SmsSettings, LG_SMS_*), `encoding` (GSM-7/UCS-2 detection, unit counting, segments),
`policy` (no off-domain links or phone numbers: NCC rule; Taiwan mobile recipients), `templates`
(Traditional Chinese alerts that fit one 70-unit segment), `ratelimit` (global sliding-window limit in
Redis, Lua), `retry` (backoff + jitter, Retry-After), `client` (async httpx client with idempotency keys),
`signature` (HMAC of receipt callbacks), `receipts` (DeliveryReceipt, ReceiptStore: memory + Redis),
`fake_gateway` (local stand-in for the provider, real HTTP), `errors` (typed errors).
The receipt callback route is `api/routes/sms_receipts.py`.
"""
