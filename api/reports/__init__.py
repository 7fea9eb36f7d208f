"""The report catalog: one definition per report (`library/`), run under the caller's access, in several formats."""
