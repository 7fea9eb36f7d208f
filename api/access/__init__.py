"""Who may see what: the role model (`policy`, `roles.yaml`), masking of personal data (`masking`), bearer token
verification (`tokens`) and the current principal with its dependencies (`principal`).

Import from the modules themselves (`from api.access.principal import CurrentPrincipal, require_family`);
this package imports nothing, so any of them loads without the others.
"""
