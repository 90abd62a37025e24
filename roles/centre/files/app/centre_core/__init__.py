"""The Citizen's Centre's domain core: the service catalogue, processes run by SpiffWorkflow with a restricted
expression evaluator, reference numbers, one-time tracking codes and the hash-chained audit trail.

Plain Python with no web framework: the Django project next to it (and any command or test) calls these
functions; only `store` talks to PostgreSQL (psycopg), and nothing here reads the clock: time is passed in."""
