"""Reports: model-card sections, tables and plots built from run results."""
