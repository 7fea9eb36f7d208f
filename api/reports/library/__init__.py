"""The report definitions, one module per group of the spec (W100 customers … W700 dispatch, bank)."""
