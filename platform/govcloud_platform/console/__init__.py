"""The web console (issue 15, docs/console.md): the platform's own web app, served by the box behind its nginx.

Framework: Flask 3.1 (Werkzeug + Jinja2), already in the venv. The console is a handful of server-rendered pages
and a small JSON API over the platform's own functions; it has no models, forms framework or ORM to gain from
Django (whose settings module, apps registry and middleware stack would cost more start time and memory per
gunicorn worker than the whole console), and Flask's signed-cookie session is all the sign-in needs. Only the
console process imports this package (`wsgi.py`, under gunicorn): the CLI never does, so `govcloud` stays instant.

Layout: `authz` (who sees what: pure), `signin` (the OIDC code flow with PKCE: pure), `tokens` (verifying the IdP's
JWTs: a thin adapter over PyJWT), `data` (the registry and `status`, read through the platform's functions),
`openapi`, `texts` (English and Urdu), `app` (the routes), `work` (onboarding requests, the audit log),
`jobs` (long operations run by the console's worker threads) and `apps_backups` (an agency's apps and backups)."""
