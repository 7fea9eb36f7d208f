"""The bank's SFTP server stand-in for the local stack: `server` (asyncssh, chrooted, key-only) and `runner`
(keys, start, health, stop as a managed background process)."""
