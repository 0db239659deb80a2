"""Reports: pure functions from results tables to tables, figures, Markdown and HTML."""
