"""Integration tests of connectors.bank (a real asyncssh SFTP server started by the tests)."""
