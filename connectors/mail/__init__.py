"""Report distribution by email: SMTP submission with STARTTLS on 587 and OAuth2 (XOAUTH2).

Modules: `settings` (MailSettings, LG_MAIL_*; TokenProvider, StaticTokenProvider), `addresses`
(normalization), `content` (validated content of each mail kind), `rendering` (Jinja2 templates in
`templates/`, zh-TW and English, branded header/footer, CSS inlined, plain-text part), `compose` (MIME
tree, RFC 2231 file names, 25 MB limit measured on the wire, oversize attachments replaced by archive
links), `client` (MailSender: suppression check before connecting, STARTTLS + XOAUTH2, retries on 4xx
only), `suppression` (SuppressionList: memory + Redis), `bounces` (RFC 3464 DSN parsing + flufl.bounce
heuristics; hard bounces suppressed), `errors` (typed errors).
"""
