"""The run report: ``report.json`` (schema ``edgekd.report/1``) and its Markdown rendering."""
