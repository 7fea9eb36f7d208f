"""Row models of every captured table, one module per legacy module (W100 … W700)."""
