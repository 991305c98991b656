"""The studio: a local web page and an HTTP API (`moviefactory serve`) over the same make_film, plan,
render and run directories as the CLI, on a job queue in SQLite that survives restarts."""
